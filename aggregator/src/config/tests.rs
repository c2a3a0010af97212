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
        "--lift-peer-token",
        "s3cret",
    ];
    let leader = ServerConfig::from_args(args(&[&flags[..], &["--lift-role", "leader"]].concat())).expect("parses");
    assert_eq!(leader.lift_role, Some(LiftRole::Leader));
    let checked = leader.check().expect("valid");
    let helper_url = "http://helper:9000".to_owned();
    assert_eq!(checked.lift.config().noise, NoiseMode::SharedSums { min_cohort: 200, helper_url });
    let helper = ServerConfig::from_args(args(&[&flags[..], &["--lift-role", "helper"]].concat())).expect("parses");
    assert_eq!(
        helper.clone().check().expect("valid").lift.fingerprint(),
        checked.lift.fingerprint(),
        "one settings fingerprint"
    );
    let no_role = ServerConfig::from_args(args(&flags)).expect("parses");
    assert!(matches!(no_role.check(), Err(ConfigError::SharedSumsIncomplete)));
    let tokenless = ServerConfig { lift_peer_token: None, ..helper.clone() };
    assert_eq!(tokenless.check(), Err(ConfigError::PeerTokenRequired), "issue 14: an open helper can be jammed");
    let empty = ServerConfig { lift_peer_token: Some(String::new()), ..helper };
    assert_eq!(empty.check(), Err(ConfigError::PeerTokenRequired));
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

#[test]
fn hardening_flags_parse_and_are_checked() {
    let config = ServerConfig::from_args(args(&[
        "--round-rule",
        "trimmed-mean:0.2",
        "--trusted-proxy",
        "10.0.0.0/8",
        "--trusted-proxy",
        "::1",
        "--read-rate-limit-per-minute",
        "30",
        "--max-connections",
        "64",
        "--read-timeout-seconds",
        "2.5",
        "--lift-share-ttl-seconds",
        "3600",
    ]))
    .expect("parses");
    assert_eq!(config.round_rule, RoundRule::TrimmedMean { trim_fraction: 0.2 });
    assert_eq!(config.trusted_proxies.len(), 2);
    assert!(config.trusted_proxies[0].contains("10.9.8.7".parse().expect("address")));
    assert_eq!((config.read_rate_limit_per_minute, config.max_connections), (30, 64));
    assert_eq!(config.read_timeout, std::time::Duration::from_millis(2_500));
    assert_eq!(config.lift_share_ttl_seconds, 3_600);
    config.clone().check().expect("valid");
    for (flag, value) in [
        ("--round-rule", "trimmed-mean:0.5"),
        ("--round-rule", "median-window:-1"),
        ("--max-connections", "0"),
        ("--read-timeout-seconds", "0"),
        ("--lift-share-ttl-seconds", "0"),
    ] {
        let bad = ServerConfig::from_args(args(&[flag, value])).expect("parses");
        assert!(matches!(bad.check(), Err(ConfigError::Invalid { flag: f, .. }) if f == flag), "{flag} {value}");
    }
    assert!(matches!(
        ServerConfig::from_args(args(&["--round-rule", "median"])),
        Err(ConfigError::Invalid { flag: "--round-rule", .. })
    ));
    assert!(matches!(
        ServerConfig::from_args(args(&["--trusted-proxy", "10.0.0.0/40"])),
        Err(ConfigError::Invalid { flag: "--trusted-proxy", .. })
    ));
    let central = ServerConfig { central_noise_multiplier: Some(1.0), ..ServerConfig::default() };
    assert_eq!(central.clone().check(), Err(ConfigError::CentralNoiseNeedsPlainMean));
    ServerConfig { round_rule: RoundRule::Mean, ..central }.check().expect("the plain mean takes central noise");
}

#[test]
fn learning_rate_and_central_noise_have_the_ceilings_devices_bound_a_round_by() {
    let fast = ServerConfig { server_learning_rate: 1.5, ..ServerConfig::default() };
    assert!(matches!(fast.check(), Err(ConfigError::Invalid { flag: "--server-learning-rate", .. })));
    let loud =
        ServerConfig { central_noise_multiplier: Some(11.0), round_rule: RoundRule::Mean, ..ServerConfig::default() };
    assert!(matches!(loud.check(), Err(ConfigError::Invalid { flag: "--central-noise-multiplier", .. })));
    let ceiling =
        ServerConfig { central_noise_multiplier: Some(10.0), round_rule: RoundRule::Mean, ..ServerConfig::default() };
    ceiling.check().expect("the ceilings themselves are allowed");
}

#[test]
fn an_initial_model_file_sets_the_first_weights_and_each_bad_file_names_its_code() {
    use shop_personalizer::sync::SharedModel;
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let weights: Vec<f32> = (0..NUM_FEATURES).map(|i| i as f32 / 10.0 - 2.0).collect();
    let good = write("good.bin", &SharedModel { version: 1, weights: weights.clone() }.encode_file());
    let config = ServerConfig::from_args(args(&["--initial-model", good.to_str().expect("utf-8")])).expect("parses");
    // Served as devices use them: the monotone weights below 0 (the server's score, its log and
    // its rank among them) clamped at 0, the rest as the file has them.
    let served = crate::rounds::within_ranker_constraint(weights.clone());
    assert!(served[..3] == [0.0; 3] && weights[..3].iter().all(|&w| w < 0.0) && served[3] == weights[3]);
    assert_eq!(config.clone().check().expect("valid").initial_weights, served);
    let both = ServerConfig { initial_weights: Some(good.clone()), ..config };
    assert_eq!(both.check(), Err(ConfigError::TwoInitialModels));

    let code = |path: PathBuf| match (ServerConfig { initial_model: Some(path), ..ServerConfig::default() }).check() {
        Err(ConfigError::InitialModel { error, .. }) => error.code(),
        other => panic!("expected a model file error, got {other:?}"),
    };
    let mut version = SharedModel { version: 1, weights: weights.clone() }.encode_file();
    version[4] = 9;
    assert_eq!(code(write("version.bin", &version)), "model_file_wrong_version");
    let mut corrupt = SharedModel { version: 1, weights: weights.clone() }.encode_file();
    corrupt[40] ^= 0x10;
    assert_eq!(code(write("corrupt.bin", &corrupt)), "model_file_bad_checksum");
    let short = SharedModel { version: 1, weights: weights[..10].to_vec() }.encode_file();
    assert_eq!(code(write("short.bin", &short)), "model_file_wrong_dimension");
    let mut nan = weights.clone();
    nan[7] = f32::NAN;
    let nan = SharedModel { version: 1, weights: nan }.encode_file();
    assert_eq!(code(write("nan.bin", &nan)), "model_file_non_finite_weight");
    let message = (ServerConfig { initial_model: Some(dir.path().join("version.bin")), ..ServerConfig::default() })
        .check()
        .expect_err("refused")
        .to_string();
    assert!(message.contains("--initial-model") && message.contains("[model_file_wrong_version]"), "{message}");
    let missing = ServerConfig { initial_model: Some(dir.path().join("absent.bin")), ..ServerConfig::default() };
    assert!(matches!(missing.check(), Err(ConfigError::InitialModelRead { .. })));
}

#[test]
fn dap_flags_go_together_and_exclude_shared_lift_sums() {
    let config = ServerConfig::from_args(args(&["--dap-role", "helper", "--dap-task", "task.json"])).expect("parses");
    assert_eq!(config.dap_role, Some(crate::dap::task_file::DapRole::Helper));
    assert!(config.clone().check().is_ok(), "the file itself is read at start");
    let alone = ServerConfig::from_args(args(&["--dap-role", "leader"])).expect("parses");
    assert_eq!(alone.check(), Err(ConfigError::DapIncomplete));
    let file_alone = ServerConfig::from_args(args(&["--dap-task", "task.json"])).expect("parses");
    assert_eq!(file_alone.check(), Err(ConfigError::DapIncomplete));
    let both = ServerConfig { lift_role: Some(LiftRole::Leader), ..config.clone() };
    assert_eq!(both.check(), Err(ConfigError::DapWithLiftRole));
    let idle = ServerConfig { dap_interval_ms: 0, ..config };
    assert!(matches!(idle.check(), Err(ConfigError::Invalid { flag: "--dap-interval-ms", .. })));
    let bad = ServerConfig::from_args(args(&["--dap-role", "collector"]));
    assert!(matches!(bad, Err(ConfigError::Invalid { flag: "--dap-role", .. })));
}
