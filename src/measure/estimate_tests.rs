use super::*;
use crate::measure::counters::{ItemClass, LiftCounters};
use crate::measure::gaussian::decision_rng;
use crate::measure::report::{noised_report, LiftReportConfig, NoiseMode};
use rand::RngExt;

fn config(epsilon: f64, noise: NoiseMode) -> CheckedReportConfig {
    LiftReportConfig { epsilon, noise, ..LiftReportConfig::default() }.check().unwrap()
}

/// A hand-made report: `sessions` and recommended `orders`, nothing else.
fn report(config: &CheckedReportConfig, bucket: LiftBucket, sessions: f64, orders: f64) -> LiftReport {
    let mut values = vec![0.0; config.dimension()];
    values[0] = sessions;
    values[1 + 3] = orders;
    LiftReport { version: LIFT_REPORT_VERSION, bucket, values, noise_multiplier: config.noise_multiplier() }
}

fn orders_per_session(estimate: &LiftEstimate) -> RatioLift {
    estimate.metrics[0].estimate.clone().unwrap()
}

#[test]
fn normal_quantiles() {
    assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
    assert!(normal_quantile(0.5).abs() < 1e-12);
    assert!((normal_quantile(0.005) + 2.575_829_304).abs() < 1e-8);
}

#[test]
fn delta_method_matches_the_hand_computed_case() {
    let c = config(8.0, NoiseMode::Local);
    let mut estimator = LiftEstimator::new(c.clone());
    for (s, o) in [(1.0, 1.0), (2.0, 0.0), (3.0, 2.0)] {
        estimator.add(&report(&c, LiftBucket::Personalized, s, o)).unwrap();
    }
    for (s, o) in [(2.0, 1.0), (2.0, 0.0), (2.0, 1.0)] {
        estimator.add(&report(&c, LiftBucket::Holdout, s, o)).unwrap();
    }
    let lift = orders_per_session(&estimator.estimate(0.5).unwrap());
    // R_p = 3/6 = 0.5 (sessions 1, 2, 3; orders 1, 0, 2), R_h = 2/6 = 1/3 (sessions 2, 2, 2;
    // orders 1, 0, 1); T = (1 · 2) / (2 · 2/3) = 1.5, lift 0.5.
    // Pivot variance: c0 = 4·Var(o_p)/3 = 4/3; c1 = 2·Cov(2 o_p, −⅔ s_p)/3 = −4/9;
    // c2 = (4/9)·Var(s_p)/3 + 4·Var(o_h)/3 = 4/27 + 4/9 = 16/27.
    // Delta-method variance of T: (4/3 − (4/9)·1.5 + (16/27)·2.25) / (4/3)² = 2 / (16/9) = 1.125.
    assert!((lift.treatment - 0.5).abs() < 1e-12);
    assert!((lift.control - 1.0 / 3.0).abs() < 1e-12);
    assert!((lift.lift - 0.5).abs() < 1e-12);
    assert!((lift.std_error - 1.125f64.sqrt()).abs() < 1e-9);
    // Fieller at 50% (z = 0.674490, z² = 0.454936): qa = 16/9 − z²·16/27 = 1.508186,
    // qb = −(2·2·4/3 − z²·4/9) = −5.131139, qc = 4 − z²·4/3 = 3.393419,
    // T ∈ [0.898769, 2.503424], so lift ∈ [−0.101231, 1.503424].
    assert!((lift.ci_low + 0.101_231).abs() < 1e-5, "{}", lift.ci_low);
    assert!((lift.ci_high - 1.503_424).abs() < 1e-5, "{}", lift.ci_high);
    // At 95% the holdout's 3 reports cannot bound the ratio: qa = 16/9 − 3.841459·16/27 < 0.
    let wide = estimator.estimate(0.95).unwrap();
    assert!(wide.metrics[0].estimate.is_none());
    assert!(wide.metrics[0].note.as_deref().unwrap().contains("point estimate +50.0% but no bounded interval"));
}

/// Simulates `devices` devices: Poisson-like sessions, each converting with 5% (× `lift` when
/// personalized); returns the orders-per-session estimate (`None`: no bounded interval).
fn simulate(seed: u64, devices: usize, lift: f64, c: &CheckedReportConfig) -> Option<RatioLift> {
    let mut rng = decision_rng(seed, 0);
    let mut estimator = LiftEstimator::new(c.clone());
    for _ in 0..devices {
        let bucket = if rng.random::<f64>() < 0.3 { LiftBucket::Holdout } else { LiftBucket::Personalized };
        let rate = if bucket == LiftBucket::Personalized { 0.05 * (1.0 + lift) } else { 0.05 };
        let mut counters = LiftCounters::default();
        for _ in 0..rng.random_range(1..6) {
            counters.record_session();
            if rng.random::<f64>() < rate {
                counters.record_order("home", ItemClass::Recommended, 40.0).unwrap();
            }
        }
        estimator.add(&noised_report(&counters, bucket, c, &mut rng)).unwrap();
    }
    estimator.estimate(0.95).unwrap().metrics[0].estimate.clone()
}

#[test]
fn intervals_cover_the_injected_lift_and_widen_with_noise() {
    let quiet = config(64.0, NoiseMode::Distributed { min_cohort: 10_000 });
    let noisy = config(64.0, NoiseMode::Local);
    let runs = 40u32;
    let mut covered = [0, 0];
    let mut bounded = [0, 0];
    let mut width = [0.0, 0.0];
    for seed in 0..runs {
        for (k, c) in [&quiet, &noisy].into_iter().enumerate() {
            // An unbounded Fieller set covers every value; count it as covering.
            let Some(e) = simulate(u64::from(seed), 3000, 0.3, c) else {
                covered[k] += 1;
                continue;
            };
            bounded[k] += 1;
            covered[k] += usize::from(e.ci_low <= 0.3 && 0.3 <= e.ci_high);
            width[k] += e.ci_high - e.ci_low;
        }
    }
    // 95% intervals: expect ≈ 38 of 40; 33 is more than 3 binomial sds below.
    assert!(covered[0] >= 33 && covered[1] >= 33, "covered {covered:?}");
    assert_eq!(bounded[0], runs, "without noise every interval is bounded");
    assert!(bounded[1] >= 30, "bounded {bounded:?}");
    let mean = |k: usize| width[k] / f64::from(bounded[k]);
    assert!(mean(1) > 1.2 * mean(0), "noise must widen the interval: {} vs {}", mean(1), mean(0));
}

#[test]
fn recommended_vs_other_items_is_paired_within_personalized() {
    let c = config(8.0, NoiseMode::Local);
    let mut estimator = LiftEstimator::new(c.clone());
    for k in 0..50 {
        let mut values = vec![0.0; c.dimension()];
        let impressions = 10.0 + f64::from(k % 5);
        values[1] = impressions; // recommended impressions
        values[1 + 1] = 0.2 * impressions; // recommended clicks: 20%
        values[1 + 5] = impressions; // other impressions
        values[1 + 6] = 0.1 * impressions + f64::from(k % 3) * 0.01; // other clicks: ~10%
        let r = LiftReport {
            version: LIFT_REPORT_VERSION,
            bucket: LiftBucket::Personalized,
            values,
            noise_multiplier: c.noise_multiplier(),
        };
        estimator.add(&r).unwrap();
    }
    let e = estimator.estimate(0.9).unwrap();
    let paired = e.metrics.iter().find(|m| m.metric.starts_with("click-through, recommended")).unwrap();
    let lift = paired.estimate.clone().unwrap();
    assert!((lift.treatment - 0.2).abs() < 1e-12);
    assert!((lift.lift - (0.2 / lift.control - 1.0)).abs() < 1e-12);
    assert!(lift.lift > 0.95 && lift.lift < 1.0, "{}", lift.lift);
    assert!(lift.ci_low < lift.lift && lift.lift < lift.ci_high);
    // No holdout reports: the between-bucket metrics say why they are missing.
    assert!(e.metrics[0].estimate.is_none());
    assert!(e.metrics[0].note.as_deref().unwrap().contains("not enough reports"));
}

#[test]
fn mismatched_or_broken_reports_are_refused() {
    let c = config(8.0, NoiseMode::Local);
    let mut estimator = LiftEstimator::new(c.clone());
    let mut short = report(&c, LiftBucket::Holdout, 1.0, 0.0);
    short.values.pop();
    assert_eq!(estimator.add(&short), Err(EstimateError::WrongDimension { got: 10, expected: 11 }));
    let mut nan = report(&c, LiftBucket::Holdout, 1.0, 0.0);
    nan.values[3] = f64::NAN;
    assert_eq!(estimator.add(&nan), Err(EstimateError::NotFinite));
    let mut other_noise = report(&c, LiftBucket::Holdout, 1.0, 0.0);
    other_noise.noise_multiplier *= 2.0;
    assert!(matches!(estimator.add(&other_noise), Err(EstimateError::NoiseMismatch { .. })));
    let mut future = report(&c, LiftBucket::Holdout, 1.0, 0.0);
    future.version = 9;
    assert_eq!(estimator.add(&future), Err(EstimateError::WrongVersion(9)));
    assert_eq!(estimator.estimate(1.0), Err(EstimateError::BadConfidence(1.0)));
}
