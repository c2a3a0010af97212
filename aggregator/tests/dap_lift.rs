//! Lift reports as DAP-09 reports (Prio3SumVec) through our leader and helper: reports made by
//! the device engine are verified by both and their sums become `GET /v1/lift`; malicious
//! devices (an out-of-range entry proved honestly, a tampered measurement share, a forged proof,
//! a share sealed to the wrong key) are rejected, counted and never summed: the collected sum
//! is exactly the honest measurements' sum.

mod common;
mod dap_support;

use std::sync::Arc;

use aggregator::dap::helper::HelperState;
use aggregator::dap::leader::{collect, run_aggregation_job, JobSummary, LeaderState};
use aggregator::dap::lift_release::{lift_router, lift_sums};
use aggregator::dap::{DapTaskConfig, LiftTask, TaskKind};
use aggregator::store::dap_store::DapStore;
use aggregator::store::postgres::PostgresStore;
use axum::body::Body;
use axum::http::Request;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use janus_messages::{Report, ReportId};
use prio::codec::{Decode, Encode};
use prio::vdaf::Client;
use rand_core06::{OsRng, RngCore};
use shop_personalizer::measure::{LiftReportConfig, NoiseMode};
use shop_personalizer::sync::dap::report::seal_shares;
use shop_personalizer::sync::dap::{build_lift_report, DapTask, LiftEncoding};
use shop_personalizer::sync::secure_aggregation::parse_lift_dap_booked;

use dap_support::lying_sum::lying_sum_vdaf;
use dap_support::*;

const K: u32 = 10;

struct LiftPair {
    leader: Arc<LeaderState>,
    helper: Arc<HelperState>,
    device: DapTask,
    encoding: LiftEncoding,
    leader_config: janus_messages::HpkeConfig,
    helper_config: janus_messages::HpkeConfig,
    _dir: tempfile::TempDir,
}

fn lift_config() -> shop_personalizer::measure::CheckedReportConfig {
    LiftReportConfig { noise: NoiseMode::Local, ..LiftReportConfig::default() }.check().expect("valid")
}

async fn lift_pair() -> LiftPair {
    lift_pair_on(None).await
}

/// The pair on SQLite stores in a temporary folder, or on the given (PostgreSQL) stores.
async fn lift_pair_on(stores: Option<(DapStore, DapStore)>) -> LiftPair {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[4; 32]);
    let mut keys = keys(u64::from(K));
    let config = lift_config();
    let encoding = LiftEncoding::new(&config, K).expect("encoding");
    let lift = LiftTask { config, encoding: encoding.clone(), min_cohort: K, min_reports_per_bucket: 3 };
    let lift_task = |task: &DapTaskConfig| DapTaskConfig {
        dimension: encoding.length(),
        kind: TaskKind::Lift(Box::new(lift.clone())),
        ..task.clone()
    };
    keys.leader = lift_task(&keys.leader);
    keys.helper = lift_task(&keys.helper);
    let (leader_store, helper_store): (DapStore, DapStore) = match stores {
        Some(stores) => stores,
        None => (
            store(&dir.path().join("leader.sqlite3"), &key).await.into(),
            store(&dir.path().join("helper.sqlite3"), &key).await.into(),
        ),
    };
    let helper = Arc::new(HelperState {
        task: keys.helper.clone(),
        store: helper_store,
        jobs: Default::default(),
        running: Default::default(),
    });
    let helper_url = serve_helper(Arc::clone(&helper)).await;
    let mut leader = leader_state(&keys, store(&dir.path().join("unused.sqlite3"), &key).await, &helper_url, key);
    Arc::get_mut(&mut leader).expect("not shared yet").store = leader_store;
    let device = DapTask { dimension: encoding.length(), ..keys.device.clone() };
    let (leader_config, helper_config) = (keys.leader.hpke.config.clone(), keys.helper.hpke.config.clone());
    LiftPair { leader, helper, device, encoding, leader_config, helper_config, _dir: dir }
}

/// A lift report made by the device engine (`liftReport.noise` `secureAggregation`): `clicks`
/// clicks at "home", in the holdout or not. Returns the DAP report bytes.
fn engine_report(pair: &LiftPair, holdout: bool, clicks: usize, seed: u8) -> Vec<u8> {
    let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
    let key = hex::encode(SigningKey::from_bytes(&[4; 32]).verifying_key().to_bytes());
    let task = serde_json::json!({
        "leaderUrl": "https://lift-leader.example", "helperUrl": "https://lift-helper.example",
        "taskId": b64(vec![9; 32]),
        "leaderHpkeConfig": b64(pair.leader_config.get_encoded().unwrap()),
        "helperHpkeConfig": b64(pair.helper_config.get_encoded().unwrap()),
    });
    let setup = serde_json::json!({
        "aggregatorUrl": "http://127.0.0.1:1", "modelPublicKey": key, "autoSync": false,
        "liftReport": { "noise": { "kind": "secureAggregation", "minCohort": K, "task": task } },
    });
    let booked = common::device_lift_report(setup, holdout, clicks, seed);
    parse_lift_dap_booked(&booked).expect("a lift DAP report").1.to_vec()
}

async fn upload_bytes(leader: &Arc<LeaderState>, body: Vec<u8>) -> u16 {
    upload(leader, &Report::get_decoded(&body).expect("decodes")).await
}

fn fresh_id() -> [u8; 16] {
    let mut id = [0; 16];
    OsRng.fill_bytes(&mut id);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_engine_reports_are_verified_summed_and_released_as_the_lift_estimate() {
    let pair = lift_pair().await;
    for device in 0..12u8 {
        let body = engine_report(&pair, device % 3 == 0, 1 + usize::from(device % 4), device);
        assert_eq!(upload_bytes(&pair.leader, body).await, 200);
    }
    let summary = run_aggregation_job(&pair.leader, 100).await.expect("job").expect("pending");
    assert_eq!(summary, JobSummary { accepted: 12, rejected: 0 });
    let collected = collect(&pair.leader).await.expect("collect").expect("12 ≥ K reports");
    assert_eq!((collected.reports, collected.model_version), (12, 0), "no model is published");
    let collections = pair.leader.store.dap_collections(10).await.unwrap();
    let TaskKind::Lift(lift) = &pair.leader.task.kind else { unreachable!() };
    let (personalized, holdout) = lift_sums(lift, &collections).expect("sums");
    assert_eq!((personalized.reports(), holdout.reports()), (8, 4), "devices 0, 3, 6, 9 are holdout");
    let router = lift_router(Arc::clone(&pair.leader));
    let (status, _, body) = common::call(&router, Request::get("/v1/lift").body(Body::empty()).unwrap()).await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["status"], "ready", "{answer}");
    assert_eq!(answer["estimate"]["personalizedReports"], 8);
    assert_eq!(answer["settings"]["noise"]["kind"], "secureAggregation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_lift_reports_are_rejected_counted_and_never_summed() {
    malicious_reports_on(lift_pair().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_too() {
    let Some(leader_db) = common::postgres_server::PostgresServer::start() else {
        eprintln!("SKIPPED: PostgreSQL is not installed; the lift task ran on SQLite only");
        return;
    };
    let helper_db = common::postgres_server::PostgresServer::start().expect("a second server");
    let leader = PostgresStore::connect(&leader_db.url).await.expect("leader database");
    let helper = PostgresStore::connect(&helper_db.url).await.expect("helper database");
    let pair = lift_pair_on(Some((leader.into(), helper.into()))).await;
    malicious_reports_on(pair).await;
}

async fn malicious_reports_on(pair: LiftPair) {
    let vdaf = pair.encoding.vdaf().unwrap();
    let mut honest_total = vec![0_u128; pair.encoding.length()];
    for i in 0..10 {
        let values: Vec<f64> = (0..11).map(|j| ((i * 7 + j * 3) % 5) as f64).collect();
        let measurement = pair.encoding.measurement(&values, i % 2 == 0, &mut OsRng).unwrap();
        for (total, entry) in honest_total.iter_mut().zip(&measurement) {
            *total += entry;
        }
        let report = build_lift_report(&pair.device, &pair.encoding, &measurement, 1_700_000_000, &mut OsRng).unwrap();
        assert_eq!(upload(&pair.leader, &report).await, 200);
    }
    let raw = |id: [u8; 16], public: Vec<u8>, shares: [Vec<u8>; 2]| {
        seal_shares(&pair.device, ReportId::from(id), 1_700_000_000, public, shares, &mut OsRng).expect("seals")
    };
    let zeros = vec![0_u128; pair.encoding.length()];
    // 1. Out of range: 2^40 in a bit of the indicator, proved honestly (2 reports).
    let lying = lying_sum_vdaf(pair.encoding.bits(), pair.encoding.length(), pair.encoding.chunk_length());
    for _ in 0..2 {
        let id = fresh_id();
        let (public, shares) = lying.shard(&zeros, &id).unwrap();
        let shares = [shares[0].get_encoded().unwrap(), shares[1].get_encoded().unwrap()];
        upload(&pair.leader, &raw(id, public.get_encoded().unwrap(), shares)).await;
    }
    // 2. A tampered measurement share; 3. a forged proof share.
    for forge_proof in [false, true] {
        let id = fresh_id();
        let (public, shares) = vdaf.shard(&zeros, &id).unwrap();
        let mut shares = [shares[0].get_encoded().unwrap(), shares[1].get_encoded().unwrap()];
        // The leader's share: measurement share, proof share, then the 16-byte joint-randomness blind.
        let index = if forge_proof { shares[0].len() - 16 - 8 } else { 0 };
        shares[0][index] ^= 0x40;
        upload(&pair.leader, &raw(id, public.get_encoded().unwrap(), shares)).await;
    }
    // 4. A helper share sealed to the leader's key.
    let wrong_key = DapTask { helper_config: pair.device.leader_config.clone(), ..pair.device.clone() };
    let measurement = pair.encoding.measurement(&[1.0; 11], true, &mut OsRng).unwrap();
    let report = build_lift_report(&wrong_key, &pair.encoding, &measurement, 1_700_000_000, &mut OsRng).unwrap();
    upload(&pair.leader, &report).await;

    let summary = run_aggregation_job(&pair.leader, 100).await.expect("job").expect("pending");
    assert_eq!(summary, JobSummary { accepted: 10, rejected: 5 });
    let collected = collect(&pair.leader).await.expect("collect").expect("10 honest reports");
    assert_eq!(collected.reports, 10);
    let want: Vec<f64> = honest_total.iter().map(|&entry| entry as f64).collect();
    assert_eq!(collected.sum, want, "exactly the honest measurements' sum");
    let counts = pair.helper.store.dap_rejections().await.unwrap();
    let count = |reason: &str| counts.iter().find(|(r, _)| r == reason).map_or(0, |(_, n)| *n);
    assert_eq!((count("invalid_proof"), count("hpke_decrypt")), (4, 1), "{counts:?}");
}
