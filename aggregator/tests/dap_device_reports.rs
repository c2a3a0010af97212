//! Reports made by the device's own sync path (clip to C, add the noise share of a sum of K,
//! encode under the measurement bound, shard, seal) through our leader and helper: the collected
//! sum is the sum of the devices' clipped, noised updates, and it carries the noise.

mod common;
mod dap_support;

use aggregator::dap::leader::{collect, run_aggregation_job, JobSummary};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use janus_messages::Report;
use prio::codec::{Decode, Encode};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use shop_personalizer::privacy::update::clip_to_norm;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams, UpdateInputs};
use shop_personalizer::sync::dap::{DapDevice, MAX_NORM};
use shop_personalizer::sync::secure_aggregation::parse_dap_booked;
use shop_personalizer::sync::{DeviceSync, SecureAggregationSetup, SharedModel, SyncConfig};

use dap_support::*;

const K: u32 = 10;
const NOW: u64 = 1_700_000_000;

fn device_setup(keys: &Keys) -> SecureAggregationSetup {
    let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
    SecureAggregationSetup {
        leader_url: "http://127.0.0.1:1".into(),
        helper_url: "http://127.0.0.1:2".into(),
        task_id: b64(keys.device.task_id.get_encoded().unwrap()),
        leader_hpke_config: b64(keys.leader.hpke.config.get_encoded().unwrap()),
        helper_hpke_config: b64(keys.helper.hpke.config.get_encoded().unwrap()),
        time_precision_secs: Some(3_600),
        min_batch_size: Some(K),
    }
}

/// Device `i`'s local weights against the all-zero model 1: four times an honest update, so
/// most are longer than C and get clipped.
fn local_weights(i: usize) -> Vec<f32> {
    honest_update(i).iter().map(|v| v * 4.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sum_of_k_device_reports_is_the_sum_of_their_clipped_noised_updates() {
    let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
    let mut keys = keys(u64::from(K));
    let dap = DapDevice::new(&device_setup(&keys), &privacy, DIMENSION).expect("valid task");
    // The aggregators decode the sum with the bound the devices encode under.
    let bound = dap.task().clip_bound;
    (keys.leader.clip_bound, keys.helper.clip_bound) = (bound, bound);

    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[4; 32]);
    let helper = helper_state(keys.helper.clone(), store(&dir.path().join("helper.sqlite3"), &key).await);
    let helper_url = serve_helper(std::sync::Arc::clone(&helper)).await;
    let leader = leader_state(&keys, store(&dir.path().join("leader.sqlite3"), &key).await, &helper_url, key.clone());

    let config = SyncConfig {
        aggregator_url: "http://127.0.0.1:1".into(),
        model_public_key: hex::encode(key.verifying_key().to_bytes()),
        max_jitter_ms: 0,
    };
    let mut device = DeviceSync::new(&config, privacy.clone(), DIMENSION).expect("valid config");
    let zeros = vec![0.0_f32; DIMENSION];
    device.install_model(&SharedModel { version: 1, weights: zeros.clone() }.encode_signed(&key)).expect("model 1");

    let (mut noised_sum, mut clipped_sum) = (vec![0.0_f64; DIMENSION], vec![0.0_f64; DIMENSION]);
    let mut report_bytes = 0;
    for i in 0..K as usize {
        let local = local_weights(i);
        let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
        // What the device's builder makes from the same seed: the clipped delta plus the noise share.
        let inputs = UpdateInputs {
            base_version: 1,
            base_weights: &zeros,
            local_weights: &local,
            labelled_impressions: 100,
            full_consent: true,
            now_unix_seconds: NOW,
        };
        let (noised, _) = device
            .builder()
            .clip_noise_and_book(&inputs, K, &mut PrivacyLedger::default(), &mut rng.clone())
            .expect("built");
        let mut clipped: Vec<f64> = local.iter().map(|&v| f64::from(v)).collect();
        clip_to_norm(&mut clipped, privacy.clip_bound());
        for j in 0..DIMENSION {
            noised_sum[j] += noised[j];
            clipped_sum[j] += clipped[j];
        }
        let mut ledger = PrivacyLedger::default();
        let pending = dap.prepare_upload(&device, &local, 100, NOW, &mut ledger, &mut rng).expect("report");
        assert_eq!(ledger.summary(&privacy, NOW).current_period_updates, 1, "booked before it leaves");
        let (version, bytes) = parse_dap_booked(&pending.body).expect("a booked DAP report");
        assert_eq!(version, 1);
        report_bytes = bytes.len();
        let report = Report::get_decoded(bytes).expect("decodes with janus_messages");
        assert_eq!(upload(&leader, &report).await, 200);
    }
    println!("report of dimension {DIMENSION}: {report_bytes} bytes; measurement bound {bound:.4}");
    assert!(report_bytes <= 32 * 1024);

    let summary = run_aggregation_job(&leader, 100).await.expect("job").expect("pending reports");
    assert_eq!(summary, JobSummary { accepted: K as usize, rejected: 0 }, "every proof verifies");
    let collected = collect(&leader).await.expect("collect").expect("a batch of K");
    assert_eq!(collected.reports, u64::from(K));
    // Each report rounds every entry to 2^-16 of the scaled unit (bound / MAX_NORM), plus f32.
    let tolerance = f64::from(K) * (bound / MAX_NORM / 65_536.0 + 1e-6);
    for (j, (got, want)) in collected.sum.iter().zip(&noised_sum).enumerate() {
        assert!((got - want).abs() <= tolerance, "coordinate {j}: {got} vs {want} (tolerance {tolerance})");
    }
    // The sum carries N(0, (z·C)²) = N(0, 1) per coordinate over the clipped sum: its sample std
    // over 90 coordinates is within 0.6..1.4 (a 4-sigma band for 90 samples).
    let deviations: Vec<f64> = collected.sum.iter().zip(&clipped_sum).map(|(got, clipped)| got - clipped).collect();
    let std = (deviations.iter().map(|d| d * d).sum::<f64>() / DIMENSION as f64).sqrt();
    println!("noise std of the sum of {K} reports: {std:.3} (z·C = 1)");
    assert!((0.6..1.4).contains(&std), "the sum's noise std {std}");
}
