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
    let other = ServerConfig {
        dimension: 5,
        ..ServerConfig::default()
    }
    .check()
    .expect("valid");
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
        Err(ConfigError::Invalid {
            flag: "--clip-bound",
            ..
        })
    ));
    assert_eq!(
        ServerConfig::from_args(args(&["--nope", "1"])),
        Err(ConfigError::UnknownFlag("--nope".to_owned()))
    );
    assert_eq!(
        ServerConfig::from_args(args(&["--seed"])),
        Err(ConfigError::MissingValue("--seed".to_owned()))
    );
    let negative = ServerConfig {
        noise_multiplier: -1.0,
        ..ServerConfig::default()
    };
    assert!(matches!(
        negative.check(),
        Err(ConfigError::Invalid {
            flag: "--noise-multiplier",
            ..
        })
    ));
}
