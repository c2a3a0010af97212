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
    let report = noised_report(&counters(10, 2), LiftBucket::Personalized, &config, &mut ChaCha8Rng::seed_from_u64(1));
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
        let report =
            noised_report(&counters((seed % 11) as u32, (seed % 3) as u32), LiftBucket::Holdout, &config, &mut noise);
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
    assert!(matches!(combine(&config, 1, &shares.leader[1..], &shares.helper), Err(ShareError::WrongLength { .. })));
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
