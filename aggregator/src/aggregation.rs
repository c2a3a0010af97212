//! Robust aggregation (`--round-rule`): each admitted update is kept until its round closes, as
//! its fixed-point step and quantized values, and for every coordinate the round sorts the `n`
//! contributions and averages
//!
//! * [`median_window_mean`]: those within a fixed half-width of the median — the honest range
//!   of one coordinate (clipped delta plus noise tails), known from the server's settings; or
//! * [`trimmed_mean`]: those left after dropping the `⌊β·n⌋` smallest and largest;
//!
//! or first screens whole updates (`crate::screening`), then takes the median window.
//!
//! Either way a hostile value far from the honest ones is dropped, so a minority cannot spike a
//! coordinate. They differ for values hidden inside the honest spread: the window averages them
//! like the plain mean does, while symmetric trimming also drops honest values on the far side
//! and so amplifies a one-sided shift (see `simulation/README.md`). Integer arithmetic: exact
//! and order-independent.

use shop_personalizer::sync::UpdateMessage;

use crate::policy::{fixed_step, SumOverflow, FIXED_POINT_BITS};
use crate::screening::screened_window_mean;

/// One admitted update as the round keeps it: coordinate `i` is `values[i] · step / 2^24`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    pub step: i64,
    pub values: Vec<i8>,
}

impl Contribution {
    /// The update's contribution; refused when its scale has no exact fixed-point step.
    pub fn of(update: &UpdateMessage) -> Result<Self, SumOverflow> {
        Ok(Self { step: fixed_step(update.quantization_scale)?, values: update.values.clone() })
    }

    /// The stored values: i8 as bytes.
    pub fn values_to_bytes(&self) -> Vec<u8> {
        self.values.iter().map(|v| *v as u8).collect()
    }

    /// Reads stored values back; `None` when the step is negative or a length is wrong.
    pub fn from_stored(step: i64, bytes: &[u8], dimension: usize) -> Option<Self> {
        (step >= 0 && bytes.len() == dimension).then(|| Self { step, values: bytes.iter().map(|b| *b as i8).collect() })
    }
}

/// A robust rule with its parameter resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Robust {
    /// Trimmed mean with this fraction per side.
    Trim(f64),
    /// Median-window mean with this half-width (in the weights' units).
    Window(f64),
    /// Whole-update screening at this many robust sds (reaching at least `floor` beyond the
    /// median distance), then the median window of this half-width.
    Screened { sigmas: f64, floor: f64, half_width: f64 },
}

/// The rule's coordinate-wise aggregate of `members`.
pub fn robust_mean(members: &[Contribution], dimension: usize, rule: Robust) -> Option<Vec<f64>> {
    match rule {
        Robust::Trim(fraction) => trimmed_mean(members, dimension, fraction),
        Robust::Window(half_width) => median_window_mean(members, dimension, half_width),
        Robust::Screened { sigmas, floor, half_width } => {
            screened_window_mean(members, dimension, sigmas, floor, half_width)
        }
    }
}

/// The coordinate-wise mean of the values within `half_width` of each coordinate's median
/// (the lower median for an even count: itself a value, so at least one is kept); `None` when
/// there is no member or a member has another dimension.
pub fn median_window_mean(members: &[Contribution], dimension: usize, half_width: f64) -> Option<Vec<f64>> {
    if members.is_empty() || members.iter().any(|member| member.values.len() != dimension) {
        return None;
    }
    let unit = f64::from(1_u32 << FIXED_POINT_BITS);
    let reach = (half_width.max(0.0) * unit).min(1e30) as i128;
    let mut column: Vec<i128> = Vec::with_capacity(members.len());
    let mean = (0..dimension)
        .map(|index| {
            column.clear();
            column.extend(members.iter().map(|m| i128::from(m.values[index]) * i128::from(m.step)));
            column.sort_unstable();
            let median = column[(column.len() - 1) / 2];
            let low = column.partition_point(|v| *v < median - reach);
            let high = column.partition_point(|v| *v <= median + reach);
            let total: i128 = column[low..high].iter().sum();
            total as f64 / unit / (high - low) as f64
        })
        .collect();
    Some(mean)
}

/// How many contributions of `count` the trimmed mean drops at each end.
pub fn trimmed_per_side(count: usize, trim_fraction: f64) -> usize {
    let per_side = (trim_fraction.clamp(0.0, 0.5) * count as f64).floor() as usize;
    // Keep at least one value whatever the fraction.
    per_side.min(count.saturating_sub(1) / 2)
}

/// The coordinate-wise trimmed mean of `members` (each of `dimension` values), as floating
/// point; `None` when there is no member or a member has another dimension.
pub fn trimmed_mean(members: &[Contribution], dimension: usize, trim_fraction: f64) -> Option<Vec<f64>> {
    if members.is_empty() || members.iter().any(|member| member.values.len() != dimension) {
        return None;
    }
    let cut = trimmed_per_side(members.len(), trim_fraction);
    let kept = (members.len() - 2 * cut) as f64;
    let unit = 1.0 / f64::from(1_u32 << FIXED_POINT_BITS);
    let mut column: Vec<i128> = Vec::with_capacity(members.len());
    let mean = (0..dimension)
        .map(|index| {
            column.clear();
            column.extend(members.iter().map(|m| i128::from(m.values[index]) * i128::from(m.step)));
            column.sort_unstable();
            // i8 × (step ≤ 2^53) summed over fewer than 2^60 members cannot leave i128.
            let total: i128 = column[cut..column.len() - cut].iter().sum();
            total as f64 * unit / kept
        })
        .collect();
    Some(mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(step: i64, values: &[i8]) -> Contribution {
        Contribution { step, values: values.to_vec() }
    }

    #[test]
    fn the_trimmed_mean_matches_a_hand_computation() {
        let unit = 1_i64 << FIXED_POINT_BITS;
        // Coordinate 0 over 10 members: 1..=9 and one hostile 127; β = 0.1 drops 1 per side:
        // mean of 2..=9 = 5.5. Coordinate 1: all 2 -> 2.
        let mut members: Vec<Contribution> = (1..=9).map(|v| member(unit, &[v, 2])).collect();
        members.push(member(unit, &[127, 2]));
        let mean = trimmed_mean(&members, 2, 0.1).expect("members");
        assert!((mean[0] - 5.5).abs() < 1e-12 && (mean[1] - 2.0).abs() < 1e-12, "{mean:?}");
        // β = 0 is the plain mean: (45 + 127) / 10 = 17.2.
        let plain = trimmed_mean(&members, 2, 0.0).expect("members");
        assert!((plain[0] - 17.2).abs() < 1e-12);
        // Steps differ per member: values 4 at step 1/2 and 1 at step 2 are both 2.
        let mixed = [member(unit / 2, &[4]), member(unit * 2, &[1]), member(unit, &[-100])];
        assert!((trimmed_mean(&mixed, 1, 0.0).expect("members")[0] + 32.0).abs() < 1e-12);
    }

    #[test]
    fn a_hostile_minority_moves_a_coordinate_only_within_the_honest_range() {
        let unit = 1_i64 << FIXED_POINT_BITS;
        let honest: Vec<Contribution> = (0..90).map(|i| member(unit / 100, &[(i % 21) as i8 - 10, 3])).collect();
        let (low, high) = (-0.1, 0.1);
        for hostile_value in [127_i8, -127] {
            let mut members = honest.clone();
            members.extend((0..10).map(|_| member(unit / 100, &[hostile_value, hostile_value])));
            let mean = trimmed_mean(&members, 2, 0.1).expect("members");
            assert!((low..=high).contains(&mean[0]), "{mean:?}");
            assert!((mean[1] - 0.03).abs() < 1e-6, "every hostile value trimmed: {mean:?}");
        }
    }

    #[test]
    fn the_median_window_drops_only_values_far_from_the_median() {
        let unit = 1_i64 << FIXED_POINT_BITS;
        // Coordinate 0: 1..=9 and a hostile 127, median 5, window ±4: 1..=9 kept -> 5 (a 0.1
        // trimmed mean gives 5.5). Coordinate 1: 0, 0, 0, 3, 3, 3, 3, 3, 3, 9 (median 3, window
        // ±4): 0s and 3s kept, 9 dropped -> 18/9 = 2.
        let column1 = [0, 0, 0, 3, 3, 3, 3, 3, 3, 9];
        let mut members: Vec<Contribution> = (1..=9).map(|v| member(unit, &[v, column1[v as usize - 1]])).collect();
        members.push(member(unit, &[127, column1[9]]));
        let mean = median_window_mean(&members, 2, 4.0).expect("members");
        assert!((mean[0] - 5.0).abs() < 1e-12 && (mean[1] - 2.0).abs() < 1e-12, "{mean:?}");
        // A shift hidden inside the window is averaged, not amplified: 9 honest 0s and one 3
        // with window 4 -> 0.3, the plain mean.
        let mut inlier: Vec<Contribution> = (0..9).map(|_| member(unit, &[0])).collect();
        inlier.push(member(unit, &[3]));
        assert!((median_window_mean(&inlier, 1, 4.0).expect("members")[0] - 0.3).abs() < 1e-12);
        assert_eq!(robust_mean(&inlier, 1, Robust::Trim(0.1)), trimmed_mean(&inlier, 1, 0.1));
        assert_eq!(median_window_mean(&[], 1, 4.0), None);
    }

    #[test]
    fn trimming_keeps_at_least_one_value_and_refuses_mismatched_members() {
        assert_eq!(trimmed_per_side(20, 0.1), 2);
        assert_eq!(trimmed_per_side(19, 0.1), 1);
        assert_eq!(trimmed_per_side(3, 0.49), 1);
        assert_eq!(trimmed_per_side(2, 0.49), 0);
        assert_eq!(trimmed_mean(&[], 2, 0.1), None);
        assert_eq!(trimmed_mean(&[member(1, &[1])], 2, 0.1), None);
        let stored = member(7, &[-3, 127]);
        assert_eq!(Contribution::from_stored(7, &stored.values_to_bytes(), 2), Some(stored));
        assert_eq!(Contribution::from_stored(-1, &[0, 0], 2), None);
    }
}
