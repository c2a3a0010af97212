//! Whole-update screening (`--round-rule screened:k`): before the coordinate-wise median window,
//! drop every update that lies farther from the round's centre than honest updates do.
//!
//! An honest update is its clipped delta (norm at most `C`) plus isotropic Gaussian noise, so
//! its distance from the round's centre is about `zC·√d`, give or take `zC/√2`: the distances
//! of honest updates bunch tightly. A hostile update that spends the norm bound on one direction
//! (a `flip`, the whole bound against the update's own delta) hides inside the honest spread
//! coordinate by coordinate, but not as a whole: its distance is nearly the whole norm bound,
//! many standard deviations beyond the honest bunch. The screen measures each update's
//! Euclidean distance from the coordinate-wise median (which a minority cannot move far) and
//! keeps the updates within `k` robust standard deviations (1.4826 × the median absolute
//! deviation) of the median distance, and never less than `floor` (the clip bound `C`) beyond
//! it: honest deltas alone differ in length by up to `C`, so a round of nearly noiseless or
//! identical updates, whose deviation is about 0, keeps them; at least half are always kept.
//! What it keeps is averaged under the median window, so a spike inside the screen is still cut.
//!
//! Cost: one decode, `d` sorts of `n` values for the centre, `n·d` for the distances, one sort
//! of `n` distances, then the window's `d` sorts: O(n·d·log n), a few milliseconds for
//! thousands of 90-dim updates (`cargo run --release -p aggregator --example round_cost`).
//! Each distance is computed over one update's coordinates in a fixed order and every median
//! is of a sorted column, so the outcome does not depend on the order the updates arrived in.

use crate::aggregation::{median_window_mean, Contribution};
use crate::policy::FIXED_POINT_BITS;

/// Scale from a median absolute deviation to a standard deviation for Gaussian data.
const MAD_TO_SD: f64 = 1.482_6;

/// The members within `sigmas` robust standard deviations (and at least `floor`) of the median
/// distance from the coordinate-wise median; `None` when there is no member or a member has
/// another dimension.
pub fn screened(members: &[Contribution], dimension: usize, sigmas: f64, floor: f64) -> Option<Vec<Contribution>> {
    if members.is_empty() || members.iter().any(|member| member.values.len() != dimension) {
        return None;
    }
    let unit = 1.0 / f64::from(1_u32 << FIXED_POINT_BITS);
    let decoded: Vec<Vec<f64>> =
        members.iter().map(|m| m.values.iter().map(|&v| f64::from(v) * m.step as f64 * unit).collect()).collect();
    let mut column: Vec<f64> = Vec::with_capacity(members.len());
    let centre: Vec<f64> = (0..dimension)
        .map(|index| {
            column.clear();
            column.extend(decoded.iter().map(|values| values[index]));
            lower_median(&mut column)
        })
        .collect();
    let distances: Vec<f64> = decoded
        .iter()
        .map(|values| values.iter().zip(&centre).map(|(v, c)| (v - c) * (v - c)).sum::<f64>().sqrt())
        .collect();
    column.clear();
    column.extend(&distances);
    let median = lower_median(&mut column);
    column.iter_mut().for_each(|d| *d = (*d - median).abs());
    let spread = MAD_TO_SD * lower_median(&mut column);
    let reach = median + (sigmas.max(0.0) * spread).max(floor.max(0.0));
    Some(members.iter().zip(&distances).filter(|(_, &d)| d <= reach).map(|(m, _)| m.clone()).collect())
}

/// The median window's mean of the members [`screened`] keeps.
pub fn screened_window_mean(
    members: &[Contribution],
    dimension: usize,
    sigmas: f64,
    floor: f64,
    half_width: f64,
) -> Option<Vec<f64>> {
    median_window_mean(&screened(members, dimension, sigmas, floor)?, dimension, half_width)
}

/// The lower median of `values` (sorted in place); `values` is not empty.
fn lower_median(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(values: &[i8]) -> Contribution {
        Contribution { step: 1_i64 << FIXED_POINT_BITS, values: values.to_vec() }
    }

    #[test]
    fn a_far_update_is_dropped_and_close_ones_kept() {
        // Distances from the median (0, 0): 1 (x4: (±1, 0), (0, ±1)), 0 for (0, 0), and 10 for
        // (10, 0) -> median 1, deviations 0,0,0,0,1,9 -> MAD 0: reach 1, the (10, 0) dropped.
        let members = [[1, 0], [-1, 0], [0, 1], [0, -1], [0, 0], [10, 0]].map(|v| member(&v));
        let kept = screened(&members, 2, 3.0, 0.5).expect("members");
        assert_eq!(kept.len(), 5);
        assert!(kept.iter().all(|m| m.values != [10, 0]));
        // Its window mean is the mean of the five kept: (0, 0).
        let mean = screened_window_mean(&members, 2, 3.0, 0.5, 100.0).expect("members");
        // A floor of 9 (the clip bound) keeps it: 10 is within 1 + 9.
        assert_eq!(screened(&members, 2, 3.0, 9.0).expect("members").len(), 6);
        assert!(mean.iter().all(|m| m.abs() < 1e-12), "{mean:?}");
    }

    #[test]
    fn a_spread_of_distances_widens_the_reach() {
        // One coordinate: values 0..=8 and 20; median 4; distances 4,3,2,1,0,1,2,3,4,16 ->
        // median distance 2, deviations 2,1,0,1,2,1,0,1,2,14 -> MAD 1, sd 1.4826: at k = 3 the
        // reach is 6.45, so 0..=8 stay and 20 goes; at k = 10 (reach 16.8) 20 stays.
        let members: Vec<Contribution> = (0..=8).chain([20]).map(|v| member(&[v])).collect();
        assert_eq!(screened(&members, 1, 3.0, 0.0).expect("members").len(), 9);
        assert_eq!(screened(&members, 1, 10.0, 0.0).expect("members").len(), 10);
    }

    #[test]
    fn the_order_of_arrival_does_not_matter_and_bad_input_is_refused() {
        let members: Vec<Contribution> = (0..40).map(|i| member(&[(i % 7) as i8, (i % 5) as i8 * 3])).collect();
        let mut reversed = members.clone();
        reversed.reverse();
        let forward = screened_window_mean(&members, 2, 2.0, 0.5, 4.0).expect("members");
        assert_eq!(forward, screened_window_mean(&reversed, 2, 2.0, 0.5, 4.0).expect("members"));
        assert_eq!(screened(&[], 2, 3.0, 0.5), None);
        assert_eq!(screened(&[member(&[1])], 2, 3.0, 0.5), None);
    }
}
