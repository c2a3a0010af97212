//! The VDAF of model updates and the fixed-point encoding of an update into its measurement.
//!
//! `Prio3FixedPointBoundedL2VecSum<FixedI16<U15>>` (prio 0.16, VDAF-08): each entry is a 16-bit
//! fixed-point number in [-1, 1), and the proof shows the vector's squared L2 norm is below 1.
//! The device divides its clipped update by the clip bound `C` and by `1 / MAX_NORM` (headroom
//! for the rounding of 90 entries to 2^-15), so every honest update passes and no dishonest one
//! moves the sum by more than `C` in L2: the sensitivity the Gaussian accounting assumes.

use fixed::types::extra::U15;
use fixed::FixedI16;
use prio::vdaf::prio3::Prio3FixedPointBoundedL2VecSum;

use super::DapError;

/// The VDAF every model-update task uses.
pub type ModelUpdateVdaf = Prio3FixedPointBoundedL2VecSum<FixedI16<U15>>;

/// The norm an update is scaled to before encoding: rounding each of d entries to 2^-16 moves
/// the norm by at most sqrt(d)·2^-16 (1.5e-4 at d = 90), far inside this margin.
pub const MAX_NORM: f64 = 0.999;

/// The largest dimension a device reports (the proof's size grows with it).
pub const MAX_DIMENSION: usize = 4096;

/// The `t` of the noise tail bound in [`measurement_bound`]: a sample's norm exceeds it with
/// probability at most `e^-t` (`e^-32` = 1.3e-14).
pub const NOISE_TAIL: f64 = 32.0;

/// The L2 norm a clipped and noised update is encoded under: the clip bound `C` plus a bound on
/// the norm of the device's Gaussian noise share (std `noise_std` per coordinate, `dimension`
/// coordinates) that a sample exceeds with probability at most `e^-32` (Laurent–Massart:
/// `P(χ²_d ≥ d + 2√(td) + 2t) ≤ e^-t`).
///
/// Why scale rather than clip after the noise: clipping `x + n` to `C` would shrink almost every
/// honest report (its norm is about `√(C² + dσ²)`), so the sum would no longer be the clipped
/// updates plus Gaussian noise and the accounting would not hold. Scaling by `1/B` is exact and
/// invertible: the sum of `K` reports decodes to `Σ xᵢ + Σ nᵢ`, the Gaussian mechanism of the
/// sum, except when some device's noise norm passes the bound (probability ≤ `K·e^-32`), where
/// [`encode_measurement`] scales that report onto the bound; that event adds at most
/// `(1 + e^ε)·K·e^-32` to `δ` (4e-10 for ε = 5.76, K = 100). The price: the proof bounds a
/// report by `B`, not `C`, so a malicious device can move the sum by `B` (2.7·C at z = 1, K = 100,
/// d = 106) where an honest one moves it by `C`.
pub fn measurement_bound(clip_bound: f64, noise_std: f64, dimension: usize) -> f64 {
    let d = dimension as f64;
    clip_bound + noise_std * (d + 2.0 * (NOISE_TAIL * d).sqrt() + 2.0 * NOISE_TAIL).sqrt()
}

/// The VDAF instance for updates of `dimension` (two aggregators).
pub fn model_update_vdaf(dimension: usize) -> Result<ModelUpdateVdaf, DapError> {
    if dimension == 0 || dimension > MAX_DIMENSION {
        return Err(DapError::Dimension { got: dimension, expected: MAX_DIMENSION });
    }
    ModelUpdateVdaf::new_fixedpoint_boundedl2_vec_sum(2, dimension).map_err(|error| DapError::Vdaf(error.to_string()))
}

/// The measurement of a clipped update: `update · MAX_NORM / C`, entries rounded to 2^-15.
/// An update whose norm exceeds `C` (the caller did not clip) is scaled onto the bound here, so
/// the device never makes a report its own proof cannot carry.
pub fn encode_measurement(update: &[f32], clip_bound: f64) -> Result<Vec<FixedI16<U15>>, DapError> {
    if !(clip_bound.is_finite() && clip_bound > 0.0) {
        return Err(DapError::BadClipBound);
    }
    if let Some(index) = update.iter().position(|value| !value.is_finite()) {
        return Err(DapError::NonFinite { index });
    }
    let norm = update.iter().map(|&value| f64::from(value).powi(2)).sum::<f64>().sqrt();
    let scale = MAX_NORM / clip_bound.max(norm);
    Ok(update.iter().map(|&value| FixedI16::<U15>::saturating_from_num(f64::from(value) * scale)).collect())
}

/// The sum of the original updates from the VDAF's aggregate (the sum of the measurements).
pub fn decode_sum(aggregate: &[f64], clip_bound: f64) -> Vec<f64> {
    aggregate.iter().map(|value| value * clip_bound / MAX_NORM).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clipped_update_scales_by_max_norm_over_c() {
        // C = 2, update (1.2, -1.6) has norm 2: entries become (0.5994, -0.7992) to 2^-15.
        let measurement = encode_measurement(&[1.2, -1.6], 2.0).unwrap();
        assert!((measurement[0].to_num::<f64>() - 0.5994).abs() < 4e-5);
        assert!((measurement[1].to_num::<f64>() + 0.7992).abs() < 4e-5);
    }

    #[test]
    fn an_unclipped_update_is_scaled_onto_the_bound() {
        let measurement = encode_measurement(&[30.0, 40.0], 1.0).unwrap();
        let norm = measurement.iter().map(|v| v.to_num::<f64>().powi(2)).sum::<f64>().sqrt();
        assert!((norm - MAX_NORM).abs() < 1e-4, "{norm}");
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert_eq!(encode_measurement(&[f32::NAN], 1.0), Err(DapError::NonFinite { index: 0 }));
        assert_eq!(encode_measurement(&[0.1], 0.0), Err(DapError::BadClipBound));
    }

    #[test]
    fn the_measurement_bound_is_c_plus_the_noise_tail() {
        // d = 106, t = 32: 106 + 2·√3392 + 64 = 286.4818; √ = 16.92577; C + 0.1·16.92577 = 2.692577.
        assert!((measurement_bound(1.0, 0.1, 106) - 2.692_577).abs() < 1e-6);
        assert_eq!(measurement_bound(2.0, 0.0, 106), 2.0);
    }

    #[test]
    fn decode_sum_undoes_the_scale() {
        assert_eq!(decode_sum(&[0.999, -1.998], 2.0), vec![2.0, -4.0]);
    }
}
