use super::*;
use crate::measure::counters::{ItemClass, LiftMetric};
use rand::SeedableRng;

fn config(noise: NoiseMode) -> CheckedReportConfig {
    LiftReportConfig { placements: vec!["home".into()], epsilon: 8.0, noise, ..LiftReportConfig::default() }
        .check()
        .unwrap()
}

#[test]
fn zcdp_conversion_round_trips_and_matches_a_hand_value() {
    // ε = 8, δ = 1e-6: ln(1/δ) = 13.8155; √ρ = √21.8155 − √13.8155 = 4.67071 − 3.71692 = 0.95379.
    let rho = rho_for(8.0, 1e-6);
    assert!((rho - 0.909_72).abs() < 1e-3, "{rho}");
    assert!((epsilon_for(rho, 1e-6) - 8.0).abs() < 1e-9);
}

#[test]
fn vector_layout_and_clipping() {
    let checked = config(NoiseMode::Local);
    assert_eq!(checked.dimension(), 21);
    let mut counters = LiftCounters::default();
    counters.record_session();
    counters.record("home", ItemClass::Recommended, LiftMetric::Clicks, 3.0).unwrap();
    counters.record("search", ItemClass::NotRecommended, LiftMetric::Orders, 5.0).unwrap();
    counters.record("cart", ItemClass::NotRecommended, LiftMetric::Orders, 1.0).unwrap();
    let raw = checked.raw_vector(&counters);
    assert_eq!(raw[0], 1.0);
    assert_eq!(raw[1 + 1], 3.0, "home, recommended, clicks");
    assert_eq!(raw[11 + 5 + 3], 6.0, "(other), not recommended, orders pools search and cart");
    // With the noise switched off by a huge ε the report is the clipped vector.
    let quiet = LiftReportConfig { placements: vec!["home".into()], epsilon: 64.0, ..LiftReportConfig::default() }
        .check()
        .unwrap();
    let report = noised_report(&counters, LiftBucket::Holdout, &quiet, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(report.bucket, LiftBucket::Holdout);
    // Orders clip at 2; noise sd = 2 × z with z ≈ 0.38 at ε = 64.
    assert!((report.values[19] - 2.0).abs() < 4.0 * 2.0 * quiet.noise_multiplier());
}

#[test]
fn noise_has_the_stated_scale() {
    let checked = config(NoiseMode::Local);
    let rho = rho_for(8.0, 1e-6);
    let z = (21.0 / (2.0 * rho)).sqrt();
    assert!((checked.noise_multiplier() - z).abs() < 1e-12);
    assert!((checked.single_report_epsilon() - 8.0).abs() < 1e-9);
    let counters = LiftCounters::default();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 4000;
    let sessions: Vec<f64> =
        (0..n).map(|_| noised_report(&counters, LiftBucket::Personalized, &checked, &mut rng).values[0]).collect();
    let sd = (sessions.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    let expected = 10.0 * z;
    assert!((sd / expected - 1.0).abs() < 0.05, "sd {sd} vs {expected}");
}

#[test]
fn distributed_noise_divides_by_the_cohort() {
    let local = config(NoiseMode::Local);
    let split = config(NoiseMode::Distributed { min_cohort: 100 });
    assert!((split.noise_multiplier() * 10.0 - local.noise_multiplier()).abs() < 1e-9);
    assert!(split.single_report_epsilon() > 8.0 * 10.0);
}

#[test]
fn bad_configs_are_refused() {
    let base = LiftReportConfig::default();
    for bad in [
        LiftReportConfig { epsilon: 0.0, ..base.clone() },
        LiftReportConfig { delta: 0.5, ..base.clone() },
        LiftReportConfig { caps: MetricCaps { orders: 0.0, ..MetricCaps::default() }, ..base.clone() },
        LiftReportConfig { noise: NoiseMode::Distributed { min_cohort: 1 }, ..base.clone() },
    ] {
        assert!(matches!(bad.check(), Err(ReportError::BadParameter { .. })));
    }
    let dup = LiftReportConfig { placements: vec!["home".into(), "home".into()], ..base.clone() };
    assert!(matches!(dup.check(), Err(ReportError::BadPlacements(_))));
    let reserved = LiftReportConfig { placements: vec![OTHER_PLACEMENT.into()], ..base };
    assert!(matches!(reserved.check(), Err(ReportError::BadPlacements(_))));
}

#[test]
fn the_default_report_spends_rho_of_epsilon_two() {
    let checked = LiftReportConfig::default().check().unwrap();
    // ε = 2, δ = 1e-6: √ρ = √15.815511 − √13.815511 = 3.976872 − 3.716922 = 0.259950, ρ = 0.067574.
    assert!((checked.single_report_rho() - 0.067_574).abs() < 1e-5);
    assert!((checked.single_report_epsilon() - 2.0).abs() < 1e-9);
    let split = LiftReportConfig { noise: NoiseMode::Distributed { min_cohort: 4 }, ..LiftReportConfig::default() };
    let split = split.check().unwrap();
    assert!((split.single_report_rho() - 4.0 * 0.067_574).abs() < 1e-4, "K reports' worth of ρ");
}

#[test]
fn fingerprints_tell_configurations_apart() {
    let base = LiftReportConfig::default().check().unwrap();
    assert_eq!(base.fingerprint(), LiftReportConfig::default().check().unwrap().fingerprint());
    let others = [
        LiftReportConfig { placements: vec!["home".into()], ..LiftReportConfig::default() },
        LiftReportConfig { epsilon: 2.5, ..LiftReportConfig::default() },
        LiftReportConfig { noise: NoiseMode::Distributed { min_cohort: 10 }, ..LiftReportConfig::default() },
        LiftReportConfig { caps: MetricCaps { orders: 3.0, ..MetricCaps::default() }, ..LiftReportConfig::default() },
    ];
    for other in others {
        assert_ne!(other.check().unwrap().fingerprint(), base.fingerprint());
    }
}

#[test]
fn a_partial_json_config_takes_the_defaults() {
    let parsed: LiftReportConfig = serde_json::from_str(r#"{"placements":["home"],"caps":{"orders":3}}"#).unwrap();
    assert_eq!(parsed.epsilon, DEFAULT_LIFT_EPSILON);
    assert_eq!(parsed.caps.orders, 3.0);
    assert_eq!(parsed.caps.revenue, MetricCaps::default().revenue);
    assert!(serde_json::from_str::<LiftReportConfig>(r#"{"epsilonn":1}"#).is_err(), "typos are refused");
}
