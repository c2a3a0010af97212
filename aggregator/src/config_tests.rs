//! Settings: defaults, flags, floors.
use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn defaults_check_and_listen_on_loopback() {
    let checked = ServerConfig::default().check().expect("defaults are valid");
    assert!(checked.listen.ip().is_loopback());
    assert_eq!(checked.initial_weights, DEFAULT_WEIGHTS.to_vec());
    assert_eq!(checked.max_body_bytes(), 45 + NUM_FEATURES);
    let other = ServerConfig { dimension: 5, ..ServerConfig::default() }.check().expect("valid");
    assert_eq!(other.initial_weights, vec![0.0; 5]);
}

#[test]
fn lift_flags_configure_reports_and_the_release_threshold() {
    let config = ServerConfig::from_args(args(&[
        "--lift-placements",
        "home, product",
        "--lift-epsilon",
        "1.5",
        "--lift-min-cohort",
        "200",
        "--lift-min-reports-per-bucket",
        "150",
    ]))
    .expect("parses");
    assert_eq!(config.lift_report.placements, vec!["home".to_owned(), "product".to_owned()]);
    assert_eq!(config.lift_report.noise, NoiseMode::Distributed { min_cohort: 200 });
    assert_eq!(config.clone().check(), Err(ConfigError::LiftReportsBelowFloor { got: 150, floor: 200 }));
    let ok = ServerConfig { lift_min_reports_per_bucket: 200, ..config }.check().expect("valid");
    assert_eq!(ok.lift.dimension(), 31);
    assert_eq!(ok.lift.config().delta, 1e-6);
    let few = ServerConfig { lift_min_reports_per_bucket: 5, ..ServerConfig::default() };
    assert!(matches!(few.check(), Err(ConfigError::LiftReportsBelowFloor { got: 5, floor: 20 })));
    let bad = ServerConfig::from_args(args(&["--lift-epsilon", "-1"])).expect("parses");
    assert!(matches!(bad.check(), Err(ConfigError::LiftReport(_))));
}

#[test]
fn the_round_size_cannot_go_below_the_floor() {
    let config = ServerConfig::from_args(args(&["--min-updates-per-round", "5"])).expect("parses");
    assert_eq!(config.check(), Err(ConfigError::RoundBelowFloor { got: 5, floor: 20 }));
}

#[test]
fn flags_override_defaults_and_bad_values_are_named() {
    let config = ServerConfig::from_args(args(&[
        "--dimension",
        "4096",
        "--allowed-origin",
        "http://shop.test",
        "--central-noise-multiplier",
        "0.5",
    ]))
    .expect("parses");
    assert_eq!(config.dimension, 4096);
    assert_eq!(config.allowed_origins, vec!["http://shop.test".to_owned()]);
    assert_eq!(config.central_noise_multiplier, Some(0.5));
    assert!(matches!(
        ServerConfig::from_args(args(&["--clip-bound", "x"])),
        Err(ConfigError::Invalid { flag: "--clip-bound", .. })
    ));
    assert_eq!(ServerConfig::from_args(args(&["--nope", "1"])), Err(ConfigError::UnknownFlag("--nope".to_owned())));
    assert_eq!(ServerConfig::from_args(args(&["--seed"])), Err(ConfigError::MissingValue("--seed".to_owned())));
    let negative = ServerConfig { noise_multiplier: -1.0, ..ServerConfig::default() };
    assert!(matches!(negative.check(), Err(ConfigError::Invalid { flag: "--noise-multiplier", .. })));
}

#[test]
fn shared_sums_need_role_helper_url_and_cohort_together() {
    let flags = [
        "--lift-min-cohort",
        "200",
        "--lift-min-reports-per-bucket",
        "200",
        "--lift-helper-url",
        "http://helper:9000/",
    ];
    let leader = ServerConfig::from_args(args(&[&flags[..], &["--lift-role", "leader"]].concat())).expect("parses");
    assert_eq!(leader.lift_role, Some(LiftRole::Leader));
    let checked = leader.check().expect("valid");
    let helper_url = "http://helper:9000".to_owned();
    assert_eq!(checked.lift.config().noise, NoiseMode::SharedSums { min_cohort: 200, helper_url });
    let helper = ServerConfig::from_args(args(&[&flags[..], &["--lift-role", "helper"]].concat())).expect("parses");
    assert_eq!(
        helper.check().expect("valid").lift.fingerprint(),
        checked.lift.fingerprint(),
        "one settings fingerprint"
    );
    let no_role = ServerConfig::from_args(args(&flags)).expect("parses");
    assert!(matches!(no_role.check(), Err(ConfigError::SharedSumsIncomplete)));
    let no_cohort =
        ServerConfig::from_args(args(&["--lift-role", "helper", "--lift-helper-url", "http://h:1"])).expect("parses");
    assert!(matches!(no_cohort.check(), Err(ConfigError::SharedSumsIncomplete)));
    assert!(ServerConfig::from_args(args(&["--lift-role", "boss"])).is_err());
    let postgres = ServerConfig::from_args(args(
        &[&flags[..], &["--lift-role", "leader", "--database-url", "postgres://x"]].concat(),
    ))
    .expect("parses");
    assert!(matches!(postgres.check(), Err(ConfigError::SharedSumsNeedSqlite)));
}
