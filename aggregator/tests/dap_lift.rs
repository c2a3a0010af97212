//! Lift reports as DAP-09 reports (Prio3SumVec), one DAP task per bucket, through our leader and
//! helper, each one process's state for both tasks as a task file pair from `dap-task-pair`
//! configures them (the holdout task in its own store): reports made by the device engine go to
//! their bucket's task, are verified by both aggregators and their sums become `GET /v1/lift`,
//! the same estimate as from the plain sums of the measurements; each task collects only batches
//! of at least K of its own reports; malicious devices (an out-of-range entry proved honestly, a
//! tampered measurement share, a forged proof, a share sealed to the wrong key, a report sealed
//! for the other bucket's task) are rejected, counted and never summed: the collected sum is
//! exactly the honest measurements' sum.

mod common;
mod dap_support;

use std::sync::Arc;

use aggregator::dap::helper::HelperState;
use aggregator::dap::http::{dap_router, DapServer};
use aggregator::dap::leader::{collect, run_aggregation_job, JobSummary, LeaderState};
use aggregator::dap::lift_release::lift_router;
use aggregator::dap::task_file::{DapRole, LoadedTask};
use aggregator::dap::task_pair::{generate, settings_from_args};
use aggregator::helper_client::HelperClient;
use aggregator::listener::{serve, ConnectionLimits};
use aggregator::server::HOLDOUT_SCHEMA;
use aggregator::store::dap_store::DapStore;
use aggregator::store::postgres::PostgresStore;
use aggregator::store::sqlite::SqliteStore;
use axum::body::Body;
use axum::http::Request;
use ed25519_dalek::SigningKey;
use janus_messages::{Report, ReportId};
use prio::codec::Encode;
use prio::vdaf::Client;
use rand_core06::{OsRng, RngCore};
use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::{CheckedReportConfig, LiftEstimator, LiftReportConfig, LiftSums, NoiseMode};
use shop_personalizer::sync::dap::report::seal_shares;
use shop_personalizer::sync::dap::{build_lift_report, DapTask, LiftDapDevice};
use shop_personalizer::sync::secure_aggregation::parse_lift_dap_booked;

use dap_support::lying_sum::lying_sum_vdaf;

const K: u32 = 10;

/// The two lift tasks on one leader and one helper (each serving both), and the device's view.
struct LiftPair {
    /// `[personalized, holdout]`.
    leaders: [Arc<LeaderState>; 2],
    leader_router: axum::Router,
    helper_router: axum::Router,
    /// The page's `liftReport` (device.json).
    device_json: serde_json::Value,
    device: LiftDapDevice,
    config: CheckedReportConfig,
    _dir: tempfile::TempDir,
}

/// One store per task (`[personalized, holdout]`): SQLite files in `dir`, or PostgreSQL at
/// `url`, the holdout task in its own schema (as `aggregator::server` opens them).
async fn stores(dir: &std::path::Path, name: &str, url: Option<&str>) -> Vec<DapStore> {
    match url {
        Some(url) => vec![
            PostgresStore::connect(url).await.expect("database").into(),
            PostgresStore::connect_in_schema(url, HOLDOUT_SCHEMA).await.expect("holdout schema").into(),
        ],
        None => [format!("{name}.sqlite3"), format!("{name}-holdout.sqlite3")]
            .iter()
            .map(|file| SqliteStore::open(&dir.join(file)).expect("store").into())
            .collect(),
    }
}

fn tasks_of(loaded: &LoadedTask) -> Vec<aggregator::dap::DapTaskConfig> {
    std::iter::once(loaded.task.clone()).chain(loaded.holdout.clone()).collect()
}

/// The pair of a fresh `dap-task-pair --lift-min-cohort 10`, on SQLite or on the given
/// PostgreSQL databases (leader, helper).
async fn lift_pair_on(postgres: Option<(String, String)>) -> LiftPair {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let helper_url = format!("http://{}", listener.local_addr().expect("address"));
    let args = [
        "--min-batch-size",
        "10",
        "--lift-min-cohort",
        "10",
        "--lift-min-reports-per-bucket",
        "10",
        "--max-batch-size",
        "100",
        "--helper-url",
        &helper_url,
    ];
    let (leader_file, helper_file, device_json) =
        generate(&settings_from_args(args.map(String::from)).expect("flags")).expect("a lift task pair");
    let (leader, helper) =
        (leader_file.check(DapRole::Leader).expect("leader"), helper_file.check(DapRole::Helper).expect("helper"));
    let urls = postgres.as_ref().map(|(l, h)| (l.as_str(), h.as_str()));
    let helper_stores = stores(dir.path(), "helper", urls.map(|u| u.1)).await;
    let helpers: Vec<Arc<HelperState>> = tasks_of(&helper)
        .into_iter()
        .zip(helper_stores)
        .map(|(task, store)| {
            Arc::new(HelperState { task, store, jobs: Default::default(), running: Default::default() })
        })
        .collect();
    let helper_router = dap_router(DapServer::Helpers(helpers));
    let limits = ConnectionLimits { max_connections: 64, read_timeout: std::time::Duration::from_secs(10) };
    tokio::spawn(serve(listener, helper_router.clone(), limits, std::future::pending()));
    let leader_stores = stores(dir.path(), "leader", urls.map(|u| u.0)).await;
    let leaders: Vec<Arc<LeaderState>> = tasks_of(&leader)
        .into_iter()
        .zip(leader_stores)
        .map(|(task, store)| {
            Arc::new(LeaderState {
                helper: HelperClient::new(&helper_url, Some(&task.peer_token)).expect("helper url"),
                task,
                store,
                collector: leader.collector.clone(),
                signing_key: SigningKey::from_bytes(&[4; 32]),
                learning_rate: 0.0,
                driver: Default::default(),
                collection_jobs: Default::default(),
            })
        })
        .collect();
    let leaders: [Arc<LeaderState>; 2] = leaders.try_into().unwrap_or_else(|_| panic!("two lift tasks"));
    let lift = lift_router(Arc::clone(&leaders[0]), Arc::clone(&leaders[1]));
    let leader_router = dap_router(DapServer::Leaders(leaders.to_vec())).merge(lift);
    let report: LiftReportConfig = serde_json::from_value(device_json.clone()).expect("device.json is a liftReport");
    let config = report.clone().check().expect("valid");
    let NoiseMode::SecureAggregation { min_cohort, tasks } = report.noise.clone() else {
        panic!("device.json's noise is secureAggregation")
    };
    assert_eq!(min_cohort, K);
    let device = LiftDapDevice::new(&tasks, &config, K).expect("the device accepts the tasks");
    LiftPair { leaders, leader_router, helper_router, device_json, device, config, _dir: dir }
}

fn index(bucket: LiftBucket) -> usize {
    usize::from(bucket == LiftBucket::Holdout)
}

/// A lift report made by the device engine with the page's liftReport (device.json): `clicks`
/// clicks at "home", in the holdout or not. Returns its bucket and the DAP report bytes.
fn engine_report(pair: &LiftPair, holdout: bool, clicks: usize, seed: u8) -> (LiftBucket, Vec<u8>) {
    let key = hex::encode(SigningKey::from_bytes(&[4; 32]).verifying_key().to_bytes());
    let setup = serde_json::json!({
        "aggregatorUrl": "http://127.0.0.1:1", "modelPublicKey": key, "autoSync": false,
        "liftReport": pair.device_json,
    });
    let booked = common::device_lift_report(setup, holdout, clicks, seed);
    let (bucket, report) = parse_lift_dap_booked(&booked).expect("a lift DAP report");
    (bucket, report.to_vec())
}

/// Uploads `body` to the task of `bucket` through the leader's router; the HTTP status.
async fn upload_to(pair: &LiftPair, bucket: LiftBucket, body: Vec<u8>) -> u16 {
    let uri = format!("/tasks/{}/reports", pair.leaders[index(bucket)].task.task_id);
    let request = Request::put(uri).header("content-type", Report::MEDIA_TYPE).body(Body::from(body)).unwrap();
    common::call(&pair.leader_router, request).await.0.as_u16()
}

async fn get_json(router: &axum::Router, path: &str) -> serde_json::Value {
    let (status, _, body) = common::call(router, Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, 200, "{path}");
    serde_json::from_slice(&body).expect("json")
}

/// Runs one aggregation job and a collection on the task of `bucket`.
async fn aggregate_and_collect(pair: &LiftPair, bucket: LiftBucket) -> (JobSummary, Option<u64>) {
    let leader = &pair.leaders[index(bucket)];
    let summary = run_aggregation_job(leader, 100).await.expect("job").unwrap_or_default();
    let collected = collect(leader).await.expect("collect").map(|c| c.reports);
    (summary, collected)
}

fn fresh_id() -> [u8; 16] {
    let mut id = [0; 16];
    OsRng.fill_bytes(&mut id);
    id
}

/// A made measurement of `values` and its report for the task of `bucket`.
fn made_report(pair: &LiftPair, bucket: LiftBucket, values: &[f64]) -> (Vec<u128>, Report) {
    let encoding = pair.device.encoding();
    let measurement = encoding.measurement(values, &mut OsRng).unwrap();
    let report = build_lift_report(pair.device.task(bucket), encoding, &measurement, 1_700_000_000, &mut OsRng);
    (measurement, report.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_engine_reports_go_to_their_buckets_task_and_are_released_as_the_lift_estimate() {
    let pair = lift_pair_on(None).await;
    for device in 0..20u8 {
        let (bucket, body) = engine_report(&pair, device % 2 == 0, 1 + usize::from(device % 4), device);
        assert_eq!(bucket == LiftBucket::Holdout, device % 2 == 0);
        assert_eq!(upload_to(&pair, bucket, body).await, 200);
    }
    for bucket in [LiftBucket::Personalized, LiftBucket::Holdout] {
        let (summary, collected) = aggregate_and_collect(&pair, bucket).await;
        assert_eq!((summary, collected), (JobSummary { accepted: 10, rejected: 0 }, Some(10)), "{bucket:?}");
    }
    let status = get_json(&pair.leader_router, "/dap/status").await;
    assert_eq!((status["aggregated"].as_u64(), status["collectedBatches"].as_u64()), (Some(20), Some(2)), "{status}");
    let each: Vec<u64> =
        status["tasks"].as_array().unwrap().iter().map(|t| t["collectedReports"].as_u64().unwrap()).collect();
    assert_eq!(each, [10, 10], "each task's batch holds its own bucket's reports");
    let answer = get_json(&pair.leader_router, "/v1/lift").await;
    assert_eq!(answer["status"], "ready", "{answer}");
    assert_eq!(
        (answer["estimate"]["personalizedReports"].as_u64(), answer["estimate"]["holdoutReports"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(answer["settings"]["noise"]["kind"], "secureAggregation");
    assert_eq!(answer["settings"]["noise"]["tasks"]["holdout"], pair.leaders[1].task.task_id.to_string());
    let helper_status = get_json(&pair.helper_router, "/dap/status").await;
    assert_eq!(helper_status["aggregated"].as_u64(), Some(20), "{helper_status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lift_of_the_two_tasks_is_the_lift_of_the_plain_sums() {
    let pair = lift_pair_on(None).await;
    let encoding = pair.device.encoding().clone();
    let mut plain = [vec![0_u128; encoding.length()], vec![0_u128; encoding.length()]];
    for i in 0..20_usize {
        let bucket = if i % 2 == 0 { LiftBucket::Holdout } else { LiftBucket::Personalized };
        // Sessions, then impressions, clicks, add-to-carts, orders, revenue of recommended items.
        let lift = if bucket == LiftBucket::Personalized { 1 } else { 0 };
        let values: Vec<f64> = (0..11).map(|j| ((i * 7 + j * 3) % 4 + lift * (j % 2)) as f64).collect();
        let (measurement, report) = made_report(&pair, bucket, &values);
        for (sum, entry) in plain[index(bucket)].iter_mut().zip(&measurement) {
            *sum += entry;
        }
        assert_eq!(upload_to(&pair, bucket, report.get_encoded().unwrap()).await, 200);
    }
    for bucket in [LiftBucket::Personalized, LiftBucket::Holdout] {
        assert_eq!(aggregate_and_collect(&pair, bucket).await.1, Some(10));
    }
    let sums = |bucket: LiftBucket| {
        let decoded = encoding.decode(&plain[index(bucket)], 10).expect("decodes");
        LiftSums::from_parts(decoded.reports, decoded.sums, &decoded.products)
    };
    let direct =
        LiftEstimator::from_sums(pair.config.clone(), sums(LiftBucket::Personalized), sums(LiftBucket::Holdout))
            .expect("sums")
            .estimate(0.95)
            .expect("an estimate");
    let answer = get_json(&pair.leader_router, "/v1/lift").await;
    assert_eq!(answer["status"], "ready", "{answer}");
    assert_eq!(answer["estimate"], serde_json::to_value(&direct).unwrap(), "the same estimate as from the plain sums");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_collects_only_batches_of_at_least_k_of_its_own_reports() {
    let pair = lift_pair_on(None).await;
    for i in 0..24_usize {
        let bucket = if i < 9 { LiftBucket::Holdout } else { LiftBucket::Personalized };
        let (_, report) = made_report(&pair, bucket, &[1.0; 11]);
        assert_eq!(upload_to(&pair, bucket, report.get_encoded().unwrap()).await, 200);
    }
    // 15 personalized reports: one batch collected; 9 holdout reports: nothing, however many
    // the other task holds.
    assert_eq!(aggregate_and_collect(&pair, LiftBucket::Personalized).await.1, Some(15));
    let (summary, collected) = aggregate_and_collect(&pair, LiftBucket::Holdout).await;
    assert_eq!((summary.accepted, collected), (9, None), "9 < K holdout reports are not collected");
    let answer = get_json(&pair.leader_router, "/v1/lift").await;
    assert_eq!(answer["status"], "notEnoughReports", "{answer}");
    assert_eq!((answer["personalizedReports"].as_u64(), answer["holdoutReports"].as_u64()), (Some(15), Some(0)));
    let (_, report) = made_report(&pair, LiftBucket::Holdout, &[1.0; 11]);
    assert_eq!(upload_to(&pair, LiftBucket::Holdout, report.get_encoded().unwrap()).await, 200);
    assert_eq!(aggregate_and_collect(&pair, LiftBucket::Holdout).await.1, Some(10), "the tenth holdout report");
    assert_eq!(get_json(&pair.leader_router, "/v1/lift").await["status"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_lift_reports_are_rejected_counted_and_never_summed() {
    malicious_reports_on(lift_pair_on(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_too() {
    let Some(leader_db) = common::postgres_server::PostgresServer::start() else {
        eprintln!("SKIPPED: PostgreSQL is not installed; the lift tasks ran on SQLite only");
        return;
    };
    let helper_db = common::postgres_server::PostgresServer::start().expect("a second server");
    let pair = lift_pair_on(Some((leader_db.url.clone(), helper_db.url.clone()))).await;
    malicious_reports_on(pair).await;
}

async fn malicious_reports_on(pair: LiftPair) {
    let encoding = pair.device.encoding().clone();
    let vdaf = encoding.vdaf().unwrap();
    let personalized = LiftBucket::Personalized;
    let device: DapTask = pair.device.task(personalized).clone();
    let mut honest_total = vec![0_u128; encoding.length()];
    for i in 0..10 {
        let values: Vec<f64> = (0..11).map(|j| ((i * 7 + j * 3) % 5) as f64).collect();
        let (measurement, report) = made_report(&pair, personalized, &values);
        for (total, entry) in honest_total.iter_mut().zip(&measurement) {
            *total += entry;
        }
        assert_eq!(upload_to(&pair, personalized, report.get_encoded().unwrap()).await, 200);
    }
    let raw = |id: [u8; 16], public: Vec<u8>, shares: [Vec<u8>; 2]| {
        seal_shares(&device, ReportId::from(id), 1_700_000_000, public, shares, &mut OsRng).expect("seals")
    };
    let zeros = vec![0_u128; encoding.length()];
    let mut uploads = Vec::new();
    // 1. Out of range: 2^40 in a bit of the first entry, proved honestly (2 reports).
    let lying = lying_sum_vdaf(encoding.bits(), encoding.length(), encoding.chunk_length());
    for _ in 0..2 {
        let id = fresh_id();
        let (public, shares) = lying.shard(&zeros, &id).unwrap();
        let shares = [shares[0].get_encoded().unwrap(), shares[1].get_encoded().unwrap()];
        uploads.push(raw(id, public.get_encoded().unwrap(), shares));
    }
    // 2. A tampered measurement share; 3. a forged proof share.
    for forge_proof in [false, true] {
        let id = fresh_id();
        let (public, shares) = vdaf.shard(&zeros, &id).unwrap();
        let mut shares = [shares[0].get_encoded().unwrap(), shares[1].get_encoded().unwrap()];
        // The leader's share: measurement share, proof share, then the 16-byte joint-randomness blind.
        let index = if forge_proof { shares[0].len() - 16 - 8 } else { 0 };
        shares[0][index] ^= 0x40;
        uploads.push(raw(id, public.get_encoded().unwrap(), shares));
    }
    // 4. A helper share sealed to the leader's key.
    let wrong_key = DapTask { helper_config: device.leader_config.clone(), ..device.clone() };
    let measurement = encoding.measurement(&[1.0; 11], &mut OsRng).unwrap();
    uploads.push(build_lift_report(&wrong_key, &encoding, &measurement, 1_700_000_000, &mut OsRng).unwrap());
    // 5. A holdout device's report (sealed for the holdout task) sent to the personalized task.
    uploads.push(made_report(&pair, LiftBucket::Holdout, &[1.0; 11]).1);
    for report in uploads {
        upload_to(&pair, personalized, report.get_encoded().unwrap()).await;
    }

    let (summary, collected) = aggregate_and_collect(&pair, personalized).await;
    assert_eq!((summary, collected), (JobSummary { accepted: 10, rejected: 6 }, Some(10)));
    let collections = pair.leaders[0].store.dap_collections(10).await.unwrap();
    let want: Vec<f64> = honest_total.iter().map(|&entry| entry as f64).collect();
    assert_eq!(collections[0].sum, want, "exactly the honest measurements' sum");
    let helper = get_json(&pair.helper_router, "/dap/rejections").await;
    assert_eq!((helper["invalid_proof"].as_u64(), helper["hpke_decrypt"].as_u64()), (Some(4), Some(1)), "{helper}");
    let leader = get_json(&pair.leader_router, "/dap/rejections").await;
    assert_eq!(leader["hpke_decrypt"].as_u64(), Some(1), "the report sealed for the other bucket's task: {leader}");
}
