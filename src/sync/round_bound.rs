//! What one aggregation round can do, from settings the device and the aggregator share: the
//! largest update the aggregator admits ([`max_scale`], [`norm_bound`]) and the largest change one
//! round can make to a published weight ([`max_round_step`]). The aggregator admits updates and
//! bounds its own settings with these functions and constants; a device refuses a downloaded
//! model that moved further than them from the one it has. Nothing here is read from a model or
//! an update: the sender of either cannot choose the bound.

use crate::privacy::sampling::QUANT_LEVELS;

/// Probability that an honest update fails the norm check or the scale check (noise tails),
/// and that an honest round's central noise exceeds its bound.
pub const NORM_CHECK_FALSE_REJECTION: f64 = 1e-9;
/// Declared parameters must match the server's within this relative tolerance (f32 round trip).
pub const PARAMETER_TOLERANCE: f64 = 1e-5;
/// No round closes with fewer updates than this, whatever the aggregator's config says.
pub const MIN_UPDATES_PER_ROUND_FLOOR: u64 = 20;
/// The largest server learning rate `η` the aggregator accepts (`w ← w + η · aggregate`).
pub const MAX_SERVER_LEARNING_RATE: f64 = 1.0;
/// The largest central noise multiplier `z_c` the aggregator accepts (noise `z_c·C` on a round's sum).
pub const MAX_CENTRAL_NOISE_MULTIPLIER: f64 = 10.0;

/// `√(2 ln(2d/p))`: all `d` coordinates of a standard Gaussian lie within it except with
/// probability `p` = [`NORM_CHECK_FALSE_REJECTION`] (union bound).
fn coordinate_tail(dimension: usize) -> f64 {
    (2.0 * (2.0 * dimension.max(1) as f64 / NORM_CHECK_FALSE_REJECTION).ln()).sqrt()
}

/// The largest quantization scale an honest device declares, except with probability
/// [`NORM_CHECK_FALSE_REJECTION`]. The device's scale is `max|x_i| / 127` (one f32 step up) of
/// `x` = clipped delta (each `|δ_i| ≤ C`) plus noise of sd `zC`, whose largest coordinate is
/// below `zC·√(2 ln(2d/p))` except with probability `p`.
pub fn max_scale(clip_bound: f64, noise_multiplier: f64, dimension: usize) -> f64 {
    let tail = coordinate_tail(dimension);
    (clip_bound + noise_multiplier * clip_bound * tail) / f64::from(QUANT_LEVELS) * (1.0 + PARAMETER_TOLERANCE)
}

/// The largest L2 norm an honest update can have, except with probability
/// [`NORM_CHECK_FALSE_REJECTION`]: clipped delta `C`, plus Gaussian noise whose norm exceeds
/// `σ(√d + t)` with probability at most `exp(−t²/2)` (the norm is 1-Lipschitz and its mean is
/// below `σ√d`), plus stochastic rounding that moves each coordinate by less than one step,
/// at most [`max_scale`].
pub fn norm_bound(clip_bound: f64, noise_multiplier: f64, dimension: usize) -> f64 {
    let tail = (2.0 * (1.0 / NORM_CHECK_FALSE_REJECTION).ln()).sqrt();
    let root_d = (dimension as f64).sqrt();
    let rounding = max_scale(clip_bound, noise_multiplier, dimension) * root_d;
    clip_bound + noise_multiplier * clip_bound * (root_d + tail) + rounding
}

/// The largest change one round can make to one published weight, whatever the updates (honest
/// or not) and whichever `--round-rule`:
///
/// * every admitted coordinate is `q · s` with `|q| ≤ 128` (an i8) and `s ≤` [`max_scale`];
///   the mean, the trimmed mean and the median-window mean of such values all stay within
///   `128 · s_max`;
/// * the plain mean may add central noise `N(0, (z_c C)²)` to the sum of `n ≥ K` updates:
///   per weight at most `z_c C · √(2 ln(2d/p)) / K` except with probability `p`;
/// * the server learning rate scales both, and is at most [`MAX_SERVER_LEARNING_RATE`].
///
/// No L2 bound adds anything: a coordinate-wise rule can take each weight's extreme from
/// another update, so the L2 norm of a step is only bounded by `√d` times this.
pub fn max_round_step(clip_bound: f64, noise_multiplier: f64, dimension: usize) -> f64 {
    let value = (f64::from(QUANT_LEVELS) + 1.0) * max_scale(clip_bound, noise_multiplier, dimension);
    let central =
        MAX_CENTRAL_NOISE_MULTIPLIER * clip_bound * coordinate_tail(dimension) / MIN_UPDATES_PER_ROUND_FLOOR as f64;
    MAX_SERVER_LEARNING_RATE * (value + central)
}

/// The first weight of `next` that moved further than `step` from `previous` (beyond f32
/// rounding), as (index, change); `None` when every weight is within the step.
pub fn first_oversized_change(previous: &[f32], next: &[f32], step: f64) -> Option<(usize, f64)> {
    previous.iter().zip(next).enumerate().find_map(|(index, (&old, &new))| {
        let change = (f64::from(new) - f64::from(old)).abs();
        let rounding = f64::from(f32::EPSILON) * (f64::from(old).abs() + f64::from(new).abs());
        (change.is_nan() || change > step * (1.0 + PARAMETER_TOLERANCE) + rounding).then_some((index, change))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_match_a_hand_computation() {
        // d = 4096: sqrt(2 ln(8192e9)) = 7.711573, s_max = (1 + 7.711573) / 127 * 1.00001 =
        // 0.0685957; the norm bound is 1 + (64 + 6.437898) + 0.0685957 * 64 = 75.828026.
        assert!((max_scale(1.0, 1.0, 4096) - 0.068_595_7).abs() < 1e-7);
        assert!((norm_bound(1.0, 1.0, 4096) - 75.828_026).abs() < 1e-5);
        // d = 90, C = 1, z = 1: tail sqrt(2 ln(180e9)) = 7.199475 -> s_max = 8.199475 / 127 *
        // 1.00001 = 0.0645634; 128 s_max = 8.264121; central 10 * 7.199475 / 20 = 3.599738:
        // step 11.863858.
        let step = max_round_step(1.0, 1.0, 90);
        assert!((step - 11.863_858).abs() < 1e-5, "{step}");
        // Everything scales with C when z stays.
        assert!((max_round_step(0.5, 1.0, 90) - step / 2.0).abs() < 1e-9);
    }

    #[test]
    fn changes_beyond_the_step_are_found_and_rounding_is_not() {
        assert_eq!(first_oversized_change(&[0.0, 1.0], &[0.5, 1.5], 0.5), None);
        assert_eq!(first_oversized_change(&[0.0, 1.0], &[0.5, 1.6], 0.5).map(|(i, _)| i), Some(1));
        // Near 5e4 one f32 step is 2^-8 and the rounding allowance 1.19e-7 * 1e5 = 0.0119:
        // 0.508 is stored as 0.5078 (passes), 0.52 as 0.5195 (refused).
        let big = 50_000.0_f32;
        assert_eq!(first_oversized_change(&[big], &[big + 0.508], 0.5), None, "f32 rounding near 5e4");
        assert!(first_oversized_change(&[big], &[big + 0.52], 0.5).is_some());
        assert_eq!(first_oversized_change(&[0.0], &[big], 11.9).map(|(i, _)| i), Some(0));
        assert!(first_oversized_change(&[0.0], &[f32::NAN], 1.0).is_some());
    }
}
