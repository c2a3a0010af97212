//! Two-server additive secret sharing of lift reports (Prio-style; honest-but-curious servers
//! that do not collude).
//!
//! Encoding: a noised report `v` (length D) is scaled by its caps, `u_j = v_j / cap_j`, clamped
//! to `[−t·z, 1 + t·z]` (`t` = [`range_sigmas`], `z` the per-report noise multiplier: an honest
//! report leaves that range with probability below 1e-9, and clamping after noising is
//! post-processing) and extended by the upper triangle of `u uᵀ` — the estimator's variances need
//! the sums of products, which additive shares of `u` alone cannot give. The `L = D + D(D+1)/2`
//! numbers are written in fixed point, `round(x · 2^20)` as a two's-complement `i64` read as
//! `u64`, and split with a crypto random stream `r`: the leader's share is `r`, the helper's is
//! `w − r mod 2^64`. Each share alone is uniformly distributed whatever the counts.
//!
//! Range: with `|u| ≤ B = 1 + t·z` every product is at most `B²`, so the sums of up to
//! [`MAX_SUMMED_REPORTS`] = 10^7 reports stay below `2^63` (and decode exactly, mod 2^64) when
//! `B ≤ 937`; [`check_fixed_point_range`] refuses configurations beyond that. Resolution:
//! `2^-20` of a cap per report (rounding to nearest; at most 10^7 · 2^-21 ≈ 4.8 caps on a sum).

use rand::Rng;
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

use super::report::{CheckedReportConfig, LiftReport, ReportError};
use super::sums::LiftSums;

/// Fractional bits of the fixed-point encoding.
pub const FIXED_POINT_BITS: i32 = 20;
/// Most reports a sum may hold without overflowing (see the module docs).
pub const MAX_SUMMED_REPORTS: u64 = 10_000_000;
/// Probability that an honest report (or an honest sum) fails a range check.
pub const RANGE_CHECK_FALSE_REJECTION: f64 = 1e-9;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ShareError {
    #[error("share sums have {got} numbers, expected {expected}: the servers run other lift settings")]
    WrongLength { got: usize, expected: usize },
    #[error("{reports} reports are more than the {max} a fixed-point sum holds: start fresh sums (new settings)")]
    TooManyReports { reports: u64, max: u64 },
    #[error(
        "the combined sums are impossible for {reports} honest reports (number {index} is {value}, allowed \
         {low}..={high}): a device sent a malformed share or the servers summed different reports; nothing is released"
    )]
    ImpossibleSum { reports: u64, index: usize, value: f64, low: f64, high: f64 },
}

impl Coded for ShareError {
    /// Share sums come from the two servers; the device never sees these.
    fn code(&self) -> ErrorCode {
        match self {
            ShareError::WrongLength { .. } | ShareError::ImpossibleSum { .. } => ErrorCode::InvalidSyncData,
            ShareError::TooManyReports { .. } => ErrorCode::InvalidConfig,
        }
    }
}

/// How many noise standard deviations an honest coordinate may stray beyond `[0, cap]`: `t`
/// with `2 D · P(Z > t) ≤ 1e-9`, bounded through `P(Z > t) ≤ exp(−t²/2)`.
pub fn range_sigmas(dimension: usize) -> f64 {
    (2.0 * (2.0 * dimension as f64 / RANGE_CHECK_FALSE_REJECTION).ln()).sqrt()
}

/// The range `[low, high]` of one cap-scaled value of an honest report.
pub fn scaled_value_range(config: &CheckedReportConfig) -> (f64, f64) {
    let slack = range_sigmas(config.dimension()) * config.noise_multiplier();
    (-slack, 1.0 + slack)
}

/// Largest `|u|` for which sums of [`MAX_SUMMED_REPORTS`] products fit in `i64` fixed point.
pub fn max_scaled_magnitude() -> f64 {
    (2_f64.powi(63 - FIXED_POINT_BITS) / MAX_SUMMED_REPORTS as f64).sqrt()
}

/// Refuses a configuration whose scaled values could overflow the fixed-point sums.
pub fn check_fixed_point_range(config: &CheckedReportConfig) -> Result<(), ReportError> {
    let (_, bound) = scaled_value_range(config);
    let max = max_scaled_magnitude();
    if bound > max {
        return Err(ReportError::FixedPointRange { bound, max });
    }
    Ok(())
}

/// `L = D + D(D+1)/2`: how many numbers a share of a `D`-dimensional report has.
pub fn shared_length(dimension: usize) -> usize {
    dimension + dimension * (dimension + 1) / 2
}

/// `round(x · 2^20)` as two's complement.
pub fn encode_fixed(x: f64) -> u64 {
    (x * 2_f64.powi(FIXED_POINT_BITS)).round() as i64 as u64
}

/// The number a (summed) fixed-point word stands for.
pub fn decode_fixed(word: u64) -> f64 {
    word as i64 as f64 / 2_f64.powi(FIXED_POINT_BITS)
}

/// The fixed-point words of `report`: scaled, clamped values, then the upper triangle of their
/// products, row by row. Stays on the device; only its shares leave.
pub fn encode_report(report: &LiftReport, config: &CheckedReportConfig) -> Vec<u64> {
    let (low, high) = scaled_value_range(config);
    let scaled: Vec<f64> =
        report.values.iter().zip(config.caps()).map(|(value, cap)| (value / cap).clamp(low, high)).collect();
    let mut words: Vec<u64> = scaled.iter().map(|u| encode_fixed(*u)).collect();
    for (i, ui) in scaled.iter().enumerate() {
        words.extend(scaled[i..].iter().map(|uj| encode_fixed(ui * uj)));
    }
    words
}

/// The two additive shares of one report: each alone is uniformly random.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportShares {
    pub leader: Vec<u64>,
    pub helper: Vec<u64>,
}

/// Splits `words` into two shares that add up to them mod 2^64. `rng` must be a crypto random
/// stream (ChaCha20 seeded from the browser's crypto source; fixed seeds in tests).
pub fn split(words: &[u64], rng: &mut impl Rng) -> ReportShares {
    let leader: Vec<u64> = words.iter().map(|_| rng.next_u64()).collect();
    let helper = words.iter().zip(&leader).map(|(w, r)| w.wrapping_sub(*r)).collect();
    ReportShares { leader, helper }
}

/// Adds `share` into the running `sum`, mod 2^64 (the servers' only arithmetic).
pub fn add_share(sum: &mut [u64], share: &[u64]) {
    for (s, x) in sum.iter_mut().zip(share) {
        *s = s.wrapping_add(*x);
    }
}

/// Combines the two servers' share sums over the same `reports` reports of one bucket into the
/// estimator's sums, refusing results no set of honest reports can produce: a scaled value sum
/// outside `n·[low, high]` or (statistically, failing honest data with probability below 1e-9)
/// further than `t·z·√n` from `[0, n]`, or a product sum outside `[−n B², n B²]` (diagonal: `[0, n B²]`).
pub fn combine(
    config: &CheckedReportConfig,
    reports: u64,
    leader: &[u64],
    helper: &[u64],
) -> Result<LiftSums, ShareError> {
    let d = config.dimension();
    let expected = shared_length(d);
    for got in [leader.len(), helper.len()] {
        if got != expected {
            return Err(ShareError::WrongLength { got, expected });
        }
    }
    if reports > MAX_SUMMED_REPORTS {
        return Err(ShareError::TooManyReports { reports, max: MAX_SUMMED_REPORTS });
    }
    let mut words = leader.to_vec();
    add_share(&mut words, helper);
    let scaled: Vec<f64> = words.iter().map(|w| decode_fixed(*w)).collect();
    let n = reports as f64;
    let (low, high) = scaled_value_range(config);
    let bound = low.abs().max(high);
    let spread = range_sigmas(d) * config.noise_multiplier() * n.sqrt();
    let allowed = |index: usize| -> (f64, f64) {
        if index < d {
            ((n * low).max(-spread), (n * high).min(n + spread))
        } else if is_diagonal(index - d, d) {
            (0.0, n * bound * bound)
        } else {
            (-n * bound * bound, n * bound * bound)
        }
    };
    for (index, value) in scaled.iter().enumerate() {
        let (low, high) = allowed(index);
        // Fixed-point rounding of n values may stray by n · 2^-21 beyond an exact bound.
        let rounding = n * 2_f64.powi(-FIXED_POINT_BITS - 1);
        if !(low - rounding..=high + rounding).contains(value) {
            return Err(ShareError::ImpossibleSum { reports, index, value: *value, low, high });
        }
    }
    let caps = config.caps();
    let sum: Vec<f64> = scaled[..d].iter().zip(caps).map(|(s, cap)| s * cap).collect();
    let mut upper = Vec::with_capacity(expected - d);
    for i in 0..d {
        upper.extend((i..d).map(|j| caps[i] * caps[j]));
    }
    let cross: Vec<f64> = scaled[d..].iter().zip(&upper).map(|(s, scale)| s * scale).collect();
    Ok(LiftSums::from_parts(reports, sum, &cross))
}

/// Whether position `k` of the row-by-row upper triangle of a `d × d` matrix is on its diagonal.
fn is_diagonal(mut k: usize, d: usize) -> bool {
    for row_len in (1..=d).rev() {
        if k == 0 {
            return true;
        }
        if k < row_len {
            return false;
        }
        k -= row_len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::holdout::LiftBucket;
    use crate::measure::report::{noised_report, LiftReportConfig, NoiseMode};
    use crate::measure::{ItemClass, LiftCounters};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::{ChaCha20Rng, ChaCha8Rng};

    fn shared_config(min_cohort: u32) -> CheckedReportConfig {
        let noise = NoiseMode::SharedSums { min_cohort, helper_url: "https://helper.example".to_owned() };
        LiftReportConfig { noise, ..LiftReportConfig::default() }.check().expect("valid")
    }

    fn counters(sessions: u32, orders: u32) -> LiftCounters {
        let mut counters = LiftCounters::default();
        for _ in 0..sessions {
            counters.record_session();
        }
        for _ in 0..orders {
            counters.record_order("home", ItemClass::Recommended, 40.0).expect("valid order");
        }
        counters
    }

    #[test]
    fn fixed_point_matches_a_hand_computation_and_wraps() {
        assert_eq!(encode_fixed(1.5), 1_572_864, "1.5 · 2^20");
        assert_eq!(encode_fixed(-1.0), u64::MAX - (1 << 20) + 1, "two's complement of 2^20");
        assert_eq!(decode_fixed(encode_fixed(-3.25)), -3.25);
        let mut sum = vec![encode_fixed(-1.0)];
        add_share(&mut sum, &[encode_fixed(2.5)]);
        assert_eq!(decode_fixed(sum[0]), 1.5, "the mod 2^64 wrap carries the sign");
        // sqrt(2^43 / 10^7) = sqrt(879,609.3) = 937.87.
        assert!((max_scaled_magnitude() - 937.87).abs() < 0.01);
        assert_eq!(shared_length(11), 11 + 66);
    }

    #[test]
    fn diagonal_positions_of_the_upper_triangle() {
        // d = 3, row by row: (0,0) (0,1) (0,2) (1,1) (1,2) (2,2).
        let diagonal: Vec<bool> = (0..6).map(|k| is_diagonal(k, 3)).collect();
        assert_eq!(diagonal, [true, false, false, true, false, true]);
    }

    #[test]
    fn configurations_that_could_overflow_are_refused() {
        assert!(check_fixed_point_range(&shared_config(100)).is_ok());
        let noise = NoiseMode::SharedSums { min_cohort: 2, helper_url: "https://helper.example".to_owned() };
        let tiny_epsilon = LiftReportConfig { epsilon: 0.001, noise, ..LiftReportConfig::default() };
        assert!(matches!(tiny_epsilon.check(), Err(ReportError::FixedPointRange { .. })));
        let noise = NoiseMode::SharedSums { min_cohort: 100, helper_url: "ftp://helper".to_owned() };
        assert!(matches!(
            LiftReportConfig { noise, ..LiftReportConfig::default() }.check(),
            Err(ReportError::BadHelperUrl(_))
        ));
    }

    #[test]
    fn shared_sums_book_the_configured_rho_not_k_times_it() {
        let shared = shared_config(100);
        // ε = 2 at δ = 1e-6 is ρ = 0.067574 (report_tests); one report alone carries 100 times that.
        assert!((shared.booked_rho() - 0.067_574).abs() < 1e-5);
        assert!((shared.booked_epsilon() - 2.0).abs() < 1e-9);
        assert!((shared.single_report_rho() - 6.7574).abs() < 1e-3);
    }

    /// Histogram of the top 4 bits of the helper's first three numbers over `runs` seeds.
    fn helper_share_histogram(config: &CheckedReportConfig, counters: &LiftCounters, runs: u64) -> [f64; 16] {
        let mut bins = [0.0; 16];
        for seed in 0..runs {
            let mut noise = ChaCha8Rng::seed_from_u64(seed);
            let report = noised_report(counters, LiftBucket::Personalized, config, &mut noise);
            let shares = split(&encode_report(&report, config), &mut ChaCha20Rng::seed_from_u64(1_000_000 + seed));
            for word in &shares.helper[..3] {
                bins[(word >> 60) as usize] += 1.0;
            }
        }
        bins
    }

    fn chi_square(observed: &[f64; 16], expected: &[f64; 16]) -> f64 {
        observed.iter().zip(expected).map(|(o, e)| (o - e) * (o - e) / e).sum()
    }

    #[test]
    fn a_share_is_uniform_whatever_the_counts() {
        // Nearly noiseless, so the encoded values differ a lot between the two devices.
        let config = shared_config(10_000_000);
        let runs = 4_000;
        let idle = helper_share_histogram(&config, &counters(0, 0), runs);
        let busy = helper_share_histogram(&config, &counters(10, 2), runs);
        let uniform = [3.0 * runs as f64 / 16.0; 16];
        // χ² with 15 degrees of freedom exceeds 37.7 with probability 0.001.
        assert!(chi_square(&idle, &uniform) < 37.7, "{idle:?}");
        assert!(chi_square(&busy, &uniform) < 37.7, "{busy:?}");
        let pooled: Vec<f64> = idle.iter().zip(&busy).map(|(a, b)| (a + b) / 2.0).collect();
        let two_sample: f64 =
            idle.iter().zip(&busy).zip(&pooled).map(|((a, b), p)| ((a - p).powi(2) + (b - p).powi(2)) / p).sum();
        assert!(two_sample < 37.7, "the two devices' shares are told apart: {two_sample}");
        // The encoded values themselves are far from uniform: the test can tell.
        let mut plain = [0.0; 16];
        let report =
            noised_report(&counters(10, 2), LiftBucket::Personalized, &config, &mut ChaCha8Rng::seed_from_u64(1));
        for word in &encode_report(&report, &config)[..3] {
            plain[(word >> 60) as usize] += runs as f64;
        }
        assert!(chi_square(&plain, &uniform) > 1_000.0);
    }

    #[test]
    fn combined_shares_give_the_sums_of_the_clamped_reports() {
        let config = shared_config(20);
        let (mut leader, mut helper) = (vec![0_u64; shared_length(11)], vec![0_u64; shared_length(11)]);
        let mut plain = LiftSums::new(11);
        let (low, high) = scaled_value_range(&config);
        for seed in 0..300_u64 {
            let mut noise = ChaCha8Rng::seed_from_u64(seed);
            let report = noised_report(
                &counters((seed % 11) as u32, (seed % 3) as u32),
                LiftBucket::Holdout,
                &config,
                &mut noise,
            );
            let clamped: Vec<f64> =
                report.values.iter().zip(config.caps()).map(|(v, cap)| (v / cap).clamp(low, high) * cap).collect();
            plain.add(&clamped);
            let shares = split(&encode_report(&report, &config), &mut ChaCha20Rng::seed_from_u64(seed + 7));
            add_share(&mut leader, &shares.leader);
            add_share(&mut helper, &shares.helper);
        }
        let combined = combine(&config, 300, &leader, &helper).expect("honest sums");
        assert_eq!(combined.reports(), 300);
        for i in 0..11 {
            let f: Vec<f64> = (0..11).map(|j| if j == i { 1.0 } else { 0.0 }).collect();
            let cap = config.caps()[i];
            // 300 roundings of at most 2^-21 caps each.
            assert!(
                (combined.mean(&f) - plain.mean(&f)).abs() * 300.0 <= 300.0 * 2_f64.powi(-21) * cap + 1e-9,
                "value {i}"
            );
            for j in i..11 {
                let tolerance = 300.0 * 2_f64.powi(-21) * cap * config.caps()[j] + 1e-6;
                assert!((combined.cross_at(i, j) - plain.cross_at(i, j)).abs() <= tolerance, "product ({i}, {j})");
            }
        }
    }

    #[test]
    fn impossible_combined_sums_are_refused() {
        let config = shared_config(20);
        let report = noised_report(&counters(3, 1), LiftBucket::Holdout, &config, &mut ChaCha8Rng::seed_from_u64(3));
        let mut shares = split(&encode_report(&report, &config), &mut ChaCha20Rng::seed_from_u64(4));
        assert!(combine(&config, 1, &shares.leader, &shares.helper).is_ok());
        // A malicious device adds a million sessions' worth to its helper share.
        shares.helper[0] = shares.helper[0].wrapping_add(encode_fixed(1e5));
        assert!(matches!(
            combine(&config, 1, &shares.leader, &shares.helper),
            Err(ShareError::ImpossibleSum { index: 0, .. })
        ));
        assert!(matches!(
            combine(&config, 1, &shares.leader[1..], &shares.helper),
            Err(ShareError::WrongLength { .. })
        ));
    }

    proptest! {
        #[test]
        fn shares_add_up_to_the_words(words in proptest::collection::vec(any::<u64>(), 1..100), seed in any::<u64>()) {
            let shares = split(&words, &mut ChaCha20Rng::seed_from_u64(seed));
            let mut sum = shares.leader.clone();
            add_share(&mut sum, &shares.helper);
            prop_assert_eq!(sum, words);
        }

        #[test]
        fn fixed_point_sums_are_exact_within_rounding(values in proptest::collection::vec(-900.0_f64..900.0, 1..200)) {
            let mut sum = vec![0_u64];
            for v in &values {
                add_share(&mut sum, &[encode_fixed(*v)]);
            }
            let exact: f64 = values.iter().sum();
            prop_assert!((decode_fixed(sum[0]) - exact).abs() <= values.len() as f64 * 2_f64.powi(-21) + 1e-9);
        }
    }
}
