//! DAP-09 secure aggregation end to end: devices' reports through our leader and helper (two
//! stores, the helper over HTTP), honest and malicious devices, a restart mid-job.

mod common;
mod dap_support;

use aggregator::dap::leader::{collect, run_aggregation_job, JobSummary};
use ed25519_dalek::SigningKey;
use janus_messages::ReportId;
use prio::codec::Encode;
use prio::vdaf::Client;
use rand_core06::{OsRng, RngCore};
use shop_personalizer::rank::RISES_WITH_SERVER;
use shop_personalizer::sync::dap::report::seal_shares;
use shop_personalizer::sync::dap::{encode_measurement, model_update_vdaf, DapTask};

use dap_support::lying::lying_vdaf;
use dap_support::*;

struct Pair {
    keys: Keys,
    leader: std::sync::Arc<aggregator::dap::leader::LeaderState>,
    helper: std::sync::Arc<aggregator::dap::helper::HelperState>,
    helper_url: String,
    dir: tempfile::TempDir,
    key: SigningKey,
}

async fn pair(min_batch_size: u64) -> Pair {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[4; 32]);
    let keys = keys(min_batch_size);
    let helper = helper_state(keys.helper.clone(), store(&dir.path().join("helper.sqlite3"), &key).await);
    let helper_url = serve_helper(std::sync::Arc::clone(&helper)).await;
    let leader = leader_state(&keys, store(&dir.path().join("leader.sqlite3"), &key).await, &helper_url, key.clone());
    Pair { keys, leader, helper, helper_url, dir, key }
}

/// A report of raw encoded shares, as a modified client would send.
fn raw_report(task: &DapTask, id: [u8; 16], public: Vec<u8>, shares: [Vec<u8>; 2]) -> janus_messages::Report {
    seal_shares(task, ReportId::from(id), 1_700_000_000, public, shares, &mut OsRng).expect("seals")
}

/// An honest measurement's encoded shares under report id `id`, for tampering.
fn honest_shares(i: usize, id: [u8; 16]) -> (Vec<u8>, [Vec<u8>; 2]) {
    let vdaf = model_update_vdaf(DIMENSION).expect("vdaf");
    let measurement = encode_measurement(&honest_update(i), CLIP).expect("measurement");
    let (public, shares) = vdaf.shard(&measurement, &id).expect("shard");
    (public.get_encoded().unwrap(), [shares[0].get_encoded().unwrap(), shares[1].get_encoded().unwrap()])
}

fn fresh_id() -> [u8; 16] {
    let mut id = [0; 16];
    OsRng.fill_bytes(&mut id);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_batch_sums_exactly_and_becomes_the_next_model() {
    let pair = pair(10).await;
    for i in 0..12 {
        assert_eq!(upload(&pair.leader, &honest_report(&pair.keys, i)).await, 200);
    }
    assert!(collect(&pair.leader).await.expect("collect").is_none(), "nothing aggregated yet");
    let summary = run_aggregation_job(&pair.leader, 100).await.expect("job").expect("pending reports");
    assert_eq!(summary, JobSummary { accepted: 12, rejected: 0 });
    assert!(run_aggregation_job(&pair.leader, 100).await.expect("job").is_none());
    let collected = collect(&pair.leader).await.expect("collect").expect("batch of 12 >= 10");
    assert_eq!((collected.reports, collected.model_version), (12, 2));
    let want = honest_sum(0..12);
    assert_close(&collected.sum, &want, 12);
    let model = pair.leader.store.current_model().await.expect("current");
    // The next model is the mean update with the weights that rise with the server's placement
    // kept >= 0 (the leader projects as the device does).
    let mean: Vec<f64> = want.iter().map(|s| s / 12.0).collect();
    let projected: Vec<f64> =
        mean.iter().zip(RISES_WITH_SERVER).map(|(&m, rises)| if rises { m.max(0.0) } else { m }).collect();
    assert!(mean.iter().zip(RISES_WITH_SERVER).any(|(&m, rises)| rises && m < 0.0), "some monotone mean is < 0");
    assert_close(&model.weights.iter().map(|&w| f64::from(w)).collect::<Vec<_>>(), &projected, 1);
    assert!(collect(&pair.leader).await.expect("collect").is_none(), "a batch is collected once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_smaller_than_k_is_never_released() {
    let pair = pair(10).await;
    for i in 0..9 {
        upload(&pair.leader, &honest_report(&pair.keys, i)).await;
    }
    run_aggregation_job(&pair.leader, 100).await.expect("job");
    assert!(collect(&pair.leader).await.expect("collect").is_none());
    // Asked directly, the helper refuses too (it counts its own reports).
    let (batch_id, batch) = pair.leader.store.dap_open_batch().await.unwrap().unwrap();
    assert_eq!(batch.reports, 9);
    let request = janus_messages::AggregateShareReq::new(
        janus_messages::BatchSelector::new_fixed_size(janus_messages::BatchId::from(batch_id)),
        Vec::new(),
        9,
        janus_messages::ReportIdChecksum::from(batch.checksum),
    );
    let answer = pair
        .leader
        .helper
        .dap_request(
            hyper::Method::POST,
            &format!("/tasks/{}/aggregate_shares", pair.keys.leader.task_id),
            "application/dap-aggregate-share-req",
            request.get_encoded().unwrap(),
        )
        .await;
    assert!(format!("{answer:?}").contains("invalidBatchSize"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_devices_are_rejected_counted_and_never_summed() {
    let pair = pair(10).await;
    let task = &pair.keys.device;
    for i in 0..10 {
        upload(&pair.leader, &honest_report(&pair.keys, i)).await;
    }
    // 1. Out of bound: entries near +1 on 20 coordinates (norm² ≈ 20) claiming norm 0, proved honestly.
    let lying = lying_vdaf(DIMENSION, 20);
    for _ in 0..3 {
        let id = fresh_id();
        let (public, shares) = lying.shard(&encode_measurement(&[0.0; DIMENSION], CLIP).unwrap(), &id).unwrap();
        let shares = [shares[0].get_encoded().unwrap(), shares[1].get_encoded().unwrap()];
        upload(&pair.leader, &raw_report(task, id, public.get_encoded().unwrap(), shares)).await;
    }
    // 2. Tampered measurement share: one field element of the leader's share moved by 1.
    let id = fresh_id();
    let (public, mut shares) = honest_shares(50, id);
    shares[0][0] ^= 1;
    upload(&pair.leader, &raw_report(task, id, public, shares)).await;
    // 3. Forged proof: a byte of the helper's proof share (inside its seed-expanded share the helper
    //    cannot be told apart, so forge the leader's proof share, the last elements before the blind).
    let id = fresh_id();
    let (public, mut shares) = honest_shares(51, id);
    let at = shares[0].len() - 16 - 8;
    shares[0][at] ^= 0x40;
    upload(&pair.leader, &raw_report(task, id, public, shares)).await;
    // 4. Tampered public share (the joint randomness parts).
    let id = fresh_id();
    let (mut public, shares) = honest_shares(52, id);
    public[3] ^= 0x10;
    upload(&pair.leader, &raw_report(task, id, public, shares)).await;
    // 5. A ciphertext altered in transit, and a helper share sealed to the wrong key.
    let honest = honest_report(&pair.keys, 53);
    let sealed = honest.leader_encrypted_input_share();
    let mut payload = sealed.payload().to_vec();
    payload[0] ^= 1;
    let altered = janus_messages::Report::new(
        honest.metadata().clone(),
        honest.public_share().to_vec(),
        janus_messages::HpkeCiphertext::new(*sealed.config_id(), sealed.encapsulated_key().to_vec(), payload),
        honest.helper_encrypted_input_share().clone(),
    );
    upload(&pair.leader, &altered).await;
    let wrong_key = DapTask { helper_config: pair.keys.device.leader_config.clone(), ..task.clone() };
    let report =
        shop_personalizer::sync::dap::build_report(&wrong_key, &honest_update(54), 1_700_000_000, &mut OsRng).unwrap();
    upload(&pair.leader, &report).await;

    let summary = run_aggregation_job(&pair.leader, 100).await.expect("job").expect("pending");
    assert_eq!(summary, JobSummary { accepted: 10, rejected: 8 });
    let collected = collect(&pair.leader).await.expect("collect").expect("10 honest reports");
    assert_eq!(collected.reports, 10);
    assert_close(&collected.sum, &honest_sum(0..10), 10);

    let helper_counts = pair.helper.store.dap_rejections().await.unwrap();
    let leader_counts = pair.leader.store.dap_rejections().await.unwrap();
    let count =
        |counts: &[(String, u64)], reason: &str| counts.iter().find(|(r, _)| r == reason).map_or(0, |(_, n)| *n);
    // The helper sees 7 (the altered leader ciphertext never reaches it): 6 bad proofs, 1 HPKE.
    assert_eq!(count(&helper_counts, "invalid_proof"), 6, "{helper_counts:?}");
    assert_eq!(count(&helper_counts, "hpke_decrypt"), 1, "{helper_counts:?}");
    assert_eq!(count(&leader_counts, "hpke_decrypt"), 1, "{leader_counts:?}");
    assert_eq!(count(&leader_counts, "rejected_by_helper"), 7, "{leader_counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_job_loses_no_report_and_a_replay_counts_none_twice() {
    let pair = pair(10).await;
    let reports: Vec<_> = (0..12).map(|i| honest_report(&pair.keys, i)).collect();
    for report in &reports {
        upload(&pair.leader, report).await;
        upload(&pair.leader, report).await; // a retried upload is stored once
    }
    // The leader claims a job and dies before it reaches the helper.
    let claimed = pair.leader.store.dap_claim_job(100, 1_000, [1; 16], [2; 32]).await.unwrap().unwrap();
    assert_eq!(claimed.reports.len(), 12);
    let path = pair.dir.path().join("leader.sqlite3");
    drop(pair.leader);
    let reopened = store(&path, &pair.key).await;
    let leader = leader_state(&pair.keys, reopened, &pair.helper_url, pair.key.clone());
    let summary = run_aggregation_job(&leader, 100).await.unwrap().expect("the unfinished job resumes");
    assert_eq!(summary, JobSummary { accepted: 12, rejected: 0 });
    assert!(run_aggregation_job(&leader, 100).await.unwrap().is_none());

    // The same reports through a second leader (another store) reach the helper again: replays.
    let dir = tempfile::tempdir().unwrap();
    let other = leader_state(
        &pair.keys,
        store(&dir.path().join("l2.sqlite3"), &pair.key).await,
        &pair.helper_url,
        pair.key.clone(),
    );
    for report in &reports[..3] {
        upload(&other, report).await;
    }
    let replayed = run_aggregation_job(&other, 100).await.unwrap().unwrap();
    assert_eq!(replayed, JobSummary { accepted: 0, rejected: 3 });

    let collected = collect(&leader).await.unwrap().expect("12 reports");
    assert_eq!(collected.reports, 12);
    assert_close(&collected.sum, &honest_sum(0..12), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_dying_between_the_helpers_share_and_the_model_collects_the_same_batch_after_restart() {
    let pair = pair(10).await;
    for i in 0..12 {
        upload(&pair.leader, &honest_report(&pair.keys, i)).await;
    }
    run_aggregation_job(&pair.leader, 100).await.unwrap().expect("12 pending");
    // The leader decides to collect (the batch closes), the helper releases its share, and the
    // leader dies before it publishes.
    let (batch_id, batch) = pair.leader.store.dap_batch_to_collect(10).await.unwrap().expect("a full batch");
    let request = janus_messages::AggregateShareReq::new(
        janus_messages::BatchSelector::new_fixed_size(janus_messages::BatchId::from(batch_id)),
        Vec::new(),
        batch.reports,
        janus_messages::ReportIdChecksum::from(batch.checksum),
    );
    let path = format!("/tasks/{}/aggregate_shares", pair.keys.leader.task_id);
    let media = "application/dap-aggregate-share-req";
    pair.leader.helper.dap_request(hyper::Method::POST, &path, media, request.get_encoded().unwrap()).await.unwrap();
    let path_on_disk = pair.dir.path().join("leader.sqlite3");
    drop(pair.leader);

    // Restarted, it takes new reports into a fresh batch (the helper refuses more in the collected
    // one), and collects the closing batch with the very count and checksum the helper holds.
    let leader = leader_state(&pair.keys, store(&path_on_disk, &pair.key).await, &pair.helper_url, pair.key.clone());
    for i in 12..17 {
        upload(&leader, &honest_report(&pair.keys, i)).await;
    }
    let summary = run_aggregation_job(&leader, 100).await.unwrap().expect("5 pending");
    assert_eq!(summary, JobSummary { accepted: 5, rejected: 0 });
    let collected = collect(&leader).await.unwrap().expect("the interrupted collection completes");
    assert_eq!((collected.reports, collected.model_version), (12, 2));
    assert_close(&collected.sum, &honest_sum(0..12), 12);
    assert!(collect(&leader).await.unwrap().is_none(), "the fresh batch holds 5 < 10");
    let (_, open) = leader.store.dap_open_batch().await.unwrap().expect("the fresh batch");
    assert_eq!(open.reports, 5);
}

/// A collector request to the leader's router: its status.
async fn collector_call(
    leader: &std::sync::Arc<aggregator::dap::leader::LeaderState>,
    method: &str,
    job: &str,
    auth: Option<(&str, &str)>,
    body: Vec<u8>,
) -> u16 {
    use aggregator::dap::http::{dap_router, DapServer};
    let router = dap_router(DapServer::Leader(std::sync::Arc::clone(leader)));
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(format!("/tasks/{}/collection_jobs/{job}", leader.task.task_id))
        .header("content-type", "application/dap-collect-req");
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    let (status, _, _) = common::call(&router, request.body(axum::body::Body::from(body)).unwrap()).await;
    status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_jobs_are_authenticated_and_bounded() {
    use janus_messages::query_type::{FixedSize, TimeInterval};
    use janus_messages::{CollectionJobId, CollectionReq, FixedSizeQuery, Interval, Query};
    let pair = pair(10).await;
    let current = collection_request(FixedSizeQuery::CurrentBatch);
    let job = |n: u8| CollectionJobId::try_from(&[n; 16][..]).unwrap().to_string();
    let bearer = format!("Bearer {COLLECTOR_TOKEN}");
    let ok = Some(("authorization", bearer.as_str()));
    // The token, as a bearer token or as DAP-Auth-Token; none, the peer's or a wrong one is refused.
    assert_eq!(collector_call(&pair.leader, "PUT", &job(1), None, current.clone()).await, 403);
    assert_eq!(
        collector_call(&pair.leader, "PUT", &job(1), Some(("DAP-Auth-Token", TOKEN)), current.clone()).await,
        403
    );
    assert_eq!(
        collector_call(&pair.leader, "PUT", &job(1), Some(("authorization", "Bearer x")), current.clone()).await,
        403
    );
    assert_eq!(collector_call(&pair.leader, "PUT", &job(1), ok, current.clone()).await, 201);
    assert_eq!(collector_call(&pair.leader, "PUT", &job(1), ok, current.clone()).await, 201, "the same request again");
    assert_eq!(
        collector_call(&pair.leader, "PUT", &job(2), Some(("DAP-Auth-Token", COLLECTOR_TOKEN)), current.clone()).await,
        201
    );
    assert_eq!(collector_call(&pair.leader, "POST", &job(1), ok, Vec::new()).await, 202, "no batch yet");
    assert_eq!(collector_call(&pair.leader, "POST", &job(9), ok, Vec::new()).await, 404, "an unknown job");
    assert_eq!(collector_call(&pair.leader, "POST", "not-an-id", ok, Vec::new()).await, 400);
    // Another request under a used id, a time-interval query, an aggregation parameter, junk, too large.
    let by_id = collection_request(FixedSizeQuery::ByBatchId { batch_id: janus_messages::BatchId::from([1; 32]) });
    assert_eq!(collector_call(&pair.leader, "PUT", &job(1), ok, by_id).await, 409);
    let interval =
        Interval::new(janus_messages::Time::from_seconds_since_epoch(0), janus_messages::Duration::from_seconds(3_600));
    let time_interval = CollectionReq::new(Query::<TimeInterval>::new_time_interval(interval.unwrap()), Vec::new());
    assert_eq!(collector_call(&pair.leader, "PUT", &job(3), ok, time_interval.get_encoded().unwrap()).await, 400);
    let with_param = CollectionReq::new(Query::<FixedSize>::new_fixed_size(FixedSizeQuery::CurrentBatch), vec![1]);
    assert_eq!(collector_call(&pair.leader, "PUT", &job(3), ok, with_param.get_encoded().unwrap()).await, 400);
    assert_eq!(collector_call(&pair.leader, "PUT", &job(3), ok, vec![7; 3]).await, 400);
    let mut large = current.clone();
    large.resize(aggregator::dap::http::MAX_COLLECTION_REQ_BYTES + 1, 0);
    assert_eq!(collector_call(&pair.leader, "PUT", &job(3), ok, large).await, 400);
    // At most MAX_COLLECTION_JOBS at once (2 held so far).
    for n in 10..(10 + aggregator::dap::collection::MAX_COLLECTION_JOBS as u8 - 2) {
        assert_eq!(collector_call(&pair.leader, "PUT", &job(n), ok, current.clone()).await, 201);
    }
    assert_eq!(collector_call(&pair.leader, "PUT", &job(200), ok, current.clone()).await, 503);
    assert_eq!(collector_call(&pair.leader, "DELETE", &job(10), ok, Vec::new()).await, 204);
    assert_eq!(collector_call(&pair.leader, "PUT", &job(200), ok, current.clone()).await, 201);
    // A leader whose task has no collector token serves no collection jobs.
    let mut keys = keys(10);
    keys.leader.collector_token = None;
    let dir = tempfile::tempdir().unwrap();
    let tokenless =
        leader_state(&keys, store(&dir.path().join("l.sqlite3"), &pair.key).await, &pair.helper_url, pair.key.clone());
    assert_eq!(collector_call(&tokenless, "PUT", &job(1), ok, current).await, 403);
}
