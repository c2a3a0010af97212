use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::{HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeConfigList, HpkeKdfId, HpkeKemId, HpkePublicKey};
use prio::codec::Encode;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_core06::OsRng;

use super::*;
use crate::error_code::{Coded, ErrorCode};
use crate::privacy::{PrivacyConfig, UpdateBuilder, UpdateInputs};
use crate::sync::dap::HpkeKeypair;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn setup() -> SecureAggregationSetup {
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    SecureAggregationSetup {
        leader_url: "https://leader.example/".into(),
        helper_url: "https://helper.example".into(),
        task_id: b64(&[7; 32]),
        leader_hpke_config: b64(&leader.config.get_encoded().unwrap()),
        // The helper's as its `/hpke_config` serves it: a list.
        helper_hpke_config: b64(&HpkeConfigList::new(vec![helper.config]).get_encoded().unwrap()),
        time_precision_secs: None,
        min_batch_size: None,
    }
}

fn params(noise_multiplier: f64, clip_bound: f64) -> PrivacyParams {
    let config = PrivacyConfig { noise_multiplier, clip_bound, period_budget_epsilon: 1e6, ..Default::default() };
    PrivacyParams::new(config).expect("valid")
}

#[test]
fn a_valid_task_divides_the_noise_among_100_reports_by_default() {
    let device = DapDevice::new(&setup(), &params(1.0, 1.0), 106).expect("valid");
    assert_eq!(device.reports_url(), format!("https://leader.example/tasks/{}/reports", b64(&[7; 32])));
    assert_eq!(device.cohort(), DAP_MAX_NOISE_COHORT);
    assert!((device.noise_std() - 0.1).abs() < 1e-12, "z·C/√K = 1/10");
    assert!((device.task().clip_bound - measurement_bound(1.0, 0.1, 106)).abs() < 1e-12);
    assert_eq!(device.task().time_precision_secs, DEFAULT_TIME_PRECISION_SECS);
    // K = 100, z = 1: ρ = 50, ε = 50 + 2·√(50·13.815511) = 102.566 if the two aggregators collude.
    assert!((device.collusion_epsilon(&params(1.0, 1.0)) - 102.566).abs() < 1e-3);
    let small = SecureAggregationSetup { min_batch_size: Some(25), ..setup() };
    let device = DapDevice::new(&small, &params(2.0, 0.5), 106).expect("valid");
    assert!((device.noise_std() - 0.2).abs() < 1e-12, "2·0.5/√25");
}

#[test]
fn every_bad_setting_is_a_typed_invalid_config_error() {
    let other_suite = HpkeConfig::new(
        HpkeConfigId::from(1),
        HpkeKemId::P256HkdfSha256,
        HpkeKdfId::HkdfSha256,
        HpkeAeadId::Aes128Gcm,
        HpkePublicKey::from(vec![4; 65]),
    );
    let cases: Vec<(SecureAggregationSetup, DapError)> = vec![
        (
            SecureAggregationSetup { leader_url: "ftp://leader".into(), ..setup() },
            DapError::BadUrl { field: "secureAggregation.leaderUrl" },
        ),
        (
            SecureAggregationSetup { helper_url: "helper.example".into(), ..setup() },
            DapError::BadUrl { field: "secureAggregation.helperUrl" },
        ),
        (
            SecureAggregationSetup { leader_url: format!("https://{}", "a".repeat(2048)), ..setup() },
            DapError::BadUrl { field: "secureAggregation.leaderUrl" },
        ),
        (SecureAggregationSetup { task_id: "not base64!".into(), ..setup() }, DapError::TaskIdNotBase64Url),
        (SecureAggregationSetup { task_id: format!("{}=", b64(&[7; 32])), ..setup() }, DapError::TaskIdNotBase64Url),
        (SecureAggregationSetup { task_id: b64(&[7; 16]), ..setup() }, DapError::TaskIdLength { got: 16 }),
        (
            SecureAggregationSetup { leader_hpke_config: "%%%".into(), ..setup() },
            DapError::BadHpkeConfig { field: "secureAggregation.leaderHpkeConfig" },
        ),
        (
            SecureAggregationSetup { helper_hpke_config: b64(b"not an hpke config"), ..setup() },
            DapError::BadHpkeConfig { field: "secureAggregation.helperHpkeConfig" },
        ),
        (
            SecureAggregationSetup { leader_hpke_config: b64(&other_suite.get_encoded().unwrap()), ..setup() },
            DapError::UnsupportedHpkeConfig,
        ),
        (SecureAggregationSetup { time_precision_secs: Some(0), ..setup() }, DapError::BadTimePrecision(0)),
        (
            SecureAggregationSetup { min_batch_size: Some(101), ..setup() },
            DapError::MinBatchSize { got: 101, max: 100 },
        ),
        (SecureAggregationSetup { min_batch_size: Some(0), ..setup() }, DapError::MinBatchSize { got: 0, max: 100 }),
    ];
    for (bad, want) in cases {
        let got = DapDevice::new(&bad, &params(1.0, 1.0), 106).expect_err("refused");
        assert_eq!(got, want);
        assert_eq!(got.code(), ErrorCode::InvalidConfig, "{got}");
    }
    let error = DapDevice::new(&setup(), &params(1.0, 1.0), 0).expect_err("no dimension");
    assert_eq!(error.code(), ErrorCode::InvalidConfig);
}

/// The sample standard deviation of `devices` noise shares of a zero update (local = base).
fn measured_share_std(builder: &UpdateBuilder, cohort: u32, devices: usize) -> f64 {
    let base = [0.25_f32; 106];
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let (mut sum, mut squares, mut n) = (0.0, 0.0, 0.0);
    for device in 0..devices {
        let inputs = UpdateInputs {
            base_version: 1,
            base_weights: &base,
            local_weights: &base,
            labelled_impressions: 100,
            full_consent: true,
            now_unix_seconds: device as u64,
        };
        let (noised, rho) =
            builder.clip_noise_and_book(&inputs, cohort, &mut PrivacyLedger::default(), &mut rng).expect("built");
        assert!((rho - builder.params().rho_per_update()).abs() < 1e-12, "the sum's ρ is booked, whatever K");
        for value in noised {
            (sum, squares, n) = (sum + value, squares + value * value, n + 1.0);
        }
    }
    (squares / n - (sum / n).powi(2)).sqrt()
}

#[test]
fn a_devices_noise_share_has_std_z_c_over_root_k() {
    // 300 devices × 106 coordinates: the sample std's relative standard error is 1/√(2·31,800) =
    // 0.4%; the bounds are ±3% (over 7 standard errors).
    let builder = UpdateBuilder::new(params(1.0, 1.0));
    for (cohort, want) in [(100, 0.1), (25, 0.2), (1, 1.0)] {
        let got = measured_share_std(&builder, cohort, 300);
        println!("K = {cohort}: measured noise share std {got:.5}, z·C/√K = {want}");
        assert!((got / want - 1.0).abs() < 0.03, "K = {cohort}: std {got}, want {want}");
    }
    let builder = UpdateBuilder::new(params(2.0, 0.5));
    let got = measured_share_std(&builder, 100, 300);
    println!("z = 2, C = 0.5, K = 100: measured noise share std {got:.5}, z·C/√K = 0.1");
    assert!((got / 0.1 - 1.0).abs() < 0.03, "z = 2, C = 0.5, K = 100: std {got}, want 0.1");
}
