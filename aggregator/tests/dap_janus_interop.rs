//! Interoperability with Divvi Up's Janus, the production DAP-09 implementation: reports made by
//! the `janus_client` crate go through our leader and helper (over HTTP, HPKE configs fetched
//! from `/hpke_config`), the `janus_collector` crate collects the batch from our leader and
//! unshards it itself, and a report made by our device code decodes and prepares with
//! `janus_messages`, Janus's HPKE and `prio` alone. The VDAF is the task's own:
//! Prio3FixedPointBoundedL2VecSum over 16-bit fixed point, dimension 90 (Janus's
//! `Prio3FixedPointBoundedL2VecSum { bitsize: BitSize16, length: 90 }`).

mod common;
mod dap_support;

use std::sync::Arc;

use aggregator::dap::http::{dap_router, DapServer};
use aggregator::dap::leader::{collect, run_aggregation_job, JobSummary, LeaderState};
use aggregator::listener::{serve, ConnectionLimits};
use ed25519_dalek::SigningKey;
use janus_collector::{Collector, PollResult};
use janus_core::auth_tokens::AuthenticationToken;
use janus_core::hpke::{self, HpkeApplicationInfo, HpkeKeypair, HpkePrivateKey, Label};
use janus_messages::query_type::FixedSize;
use janus_messages::{FixedSizeQuery, InputShareAad, PlaintextInputShare, Query, Report, Role};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::vdaf::prio3::{Prio3InputShare, Prio3PublicShare};
use prio::vdaf::{Aggregator, Collector as _};
use rand_core06::OsRng;
use shop_personalizer::sync::dap::{build_report, decode_sum, encode_measurement, model_update_vdaf};
use url::Url;

use dap_support::*;

const REPORTS: usize = 12;

/// Serves the leader's DAP router on 127.0.0.1 and returns its URL.
async fn serve_leader(state: Arc<LeaderState>) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let limits = ConnectionLimits { max_connections: 64, read_timeout: std::time::Duration::from_secs(10) };
    tokio::spawn(serve(listener, dap_router(DapServer::Leader(state)), limits, std::future::pending()));
    Url::parse(&url).expect("url")
}

struct Deployment {
    keys: Keys,
    leader: Arc<LeaderState>,
    leader_url: Url,
    helper_url: Url,
    _dir: tempfile::TempDir,
}

async fn deployment(min_batch_size: u64) -> Deployment {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[4; 32]);
    let keys = keys(min_batch_size);
    let helper = helper_state(keys.helper.clone(), store(&dir.path().join("helper.sqlite3"), &key).await);
    let helper_url = serve_helper(helper).await;
    let leader = leader_state(&keys, store(&dir.path().join("leader.sqlite3"), &key).await, &helper_url, key);
    // The collector is another party: this leader holds no collector key and never collects itself.
    let mut leader = Arc::into_inner(leader).expect("the only reference");
    leader.collector = None;
    let leader = Arc::new(leader);
    let leader_url = serve_leader(Arc::clone(&leader)).await;
    let helper_url = Url::parse(&format!("{helper_url}/")).expect("url");
    Deployment { keys, leader, leader_url, helper_url, _dir: dir }
}

/// The collector's credential in Janus's types: the task's collector keypair.
fn janus_collector_keypair(keys: &Keys) -> HpkeKeypair {
    HpkeKeypair::new(keys.collector.config.clone(), HpkePrivateKey::from(keys.collector.private_key.clone()))
}

fn collector(deployment: &Deployment, token: &str) -> Collector<shop_personalizer::sync::dap::ModelUpdateVdaf> {
    Collector::new(
        deployment.keys.leader.task_id,
        deployment.leader_url.clone(),
        AuthenticationToken::new_bearer_token_from_string(token).expect("a bearer token"),
        janus_collector_keypair(&deployment.keys),
        model_update_vdaf(DIMENSION).expect("vdaf"),
    )
    .expect("collector")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn janus_client_reports_are_verified_by_our_pair_and_janus_collector_collects_their_sum() {
    let deployment = deployment(10).await;
    let task_id = deployment.keys.leader.task_id;
    // janus_client fetches both HPKE configs from our `/hpke_config` endpoints.
    let client = janus_client::Client::builder(
        task_id,
        deployment.leader_url.clone(),
        deployment.helper_url.clone(),
        janus_messages::Duration::from_seconds(3_600),
        model_update_vdaf(DIMENSION).expect("vdaf"),
    )
    .build()
    .await
    .expect("janus_client fetches our HPKE configs");
    let mut measured_sum = vec![0.0_f64; DIMENSION];
    for i in 0..REPORTS {
        let measurement = encode_measurement(&honest_update(i), CLIP).expect("measurement");
        for (total, value) in measured_sum.iter_mut().zip(&measurement) {
            *total += value.to_num::<f64>();
        }
        client.upload(&measurement).await.expect("our leader takes janus_client's report");
    }

    // A wrong token is refused; the right one starts a job that waits for the batch.
    let wrong = collector(&deployment, "not-the-collector-token");
    let current = Query::<FixedSize>::new_fixed_size(FixedSizeQuery::CurrentBatch);
    assert!(wrong.start_collection(current.clone(), &()).await.is_err(), "a wrong collector token is refused");
    let collector = collector(&deployment, COLLECTOR_TOKEN);
    let job = collector.start_collection(current, &()).await.expect("collection job created");
    assert!(
        matches!(collector.poll_once(&job).await.expect("poll"), PollResult::NotReady(_)),
        "nothing is aggregated yet"
    );

    let summary = run_aggregation_job(&deployment.leader, 100).await.expect("job").expect("pending reports");
    assert_eq!(summary, JobSummary { accepted: REPORTS, rejected: 0 }, "every janus_client proof verifies");
    assert!(collect(&deployment.leader).await.expect("collect").is_none(), "the leader does not collect for itself");

    let PollResult::CollectionResult(collection) = collector.poll_once(&job).await.expect("poll") else {
        panic!("a batch of {REPORTS} >= 10 reports is released");
    };
    assert_eq!(collection.report_count(), REPORTS as u64);
    let sum = collection.aggregate_result();
    assert_eq!(sum.len(), DIMENSION);
    // Fixed-point values sum exactly: the aggregate is the sum of the measurements.
    for (j, (got, want)) in sum.iter().zip(&measured_sum).enumerate() {
        assert!((got - want).abs() <= 1e-9, "coordinate {j}: {got} vs {want}");
    }
    // And, decoded with the task's bound, the sum of the updates.
    assert_close(&decode_sum(sum, CLIP), &honest_sum(0..REPORTS), REPORTS);
    // A job answers the same on every poll; the batch is released to no second job.
    let again = collector.poll_once(&job).await.expect("poll again");
    assert!(matches!(again, PollResult::CollectionResult(ref c) if c == &collection));
    let second = collector
        .start_collection(Query::<FixedSize>::new_fixed_size(FixedSizeQuery::CurrentBatch), &())
        .await
        .expect("second job");
    assert!(matches!(collector.poll_once(&second).await.expect("poll"), PollResult::NotReady(_)));
    collector.delete_collection_job(&second).await.expect("deleted");
    assert!(collector.poll_once(&second).await.is_err(), "a deleted job is unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_report_decodes_and_prepares_with_janus_messages_janus_hpke_and_prio_alone() {
    let keys = keys(10);
    let update = honest_update(3);
    let now = 1_700_000_123;
    let bytes = build_report(&keys.device, &update, now, &mut OsRng).expect("report").get_encoded().expect("encodes");
    let report = Report::get_decoded(&bytes).expect("a standard DAP-09 Report");
    assert_eq!(report.metadata().time().as_seconds_since_epoch() % 3_600, 0, "time rounded to the precision");
    assert_eq!(report.get_encoded().expect("re-encodes"), bytes, "no bytes outside the standard encoding");

    let vdaf = model_update_vdaf(DIMENSION).expect("vdaf");
    let aad = InputShareAad::new(keys.device.task_id, report.metadata().clone(), report.public_share().to_vec())
        .get_encoded()
        .expect("aad");
    let public_share = Prio3PublicShare::get_decoded_with_param(&vdaf, report.public_share()).expect("public share");
    let open = |keypair: &shop_personalizer::sync::dap::HpkeKeypair, role: Role, ciphertext| {
        let janus_keypair = HpkeKeypair::new(keypair.config.clone(), HpkePrivateKey::from(keypair.private_key.clone()));
        let info = HpkeApplicationInfo::new(&Label::InputShare, &Role::Client, &role);
        let plaintext = hpke::open(&janus_keypair, &info, ciphertext, &aad).expect("Janus's HPKE opens it");
        let plaintext = PlaintextInputShare::get_decoded(&plaintext).expect("a PlaintextInputShare");
        assert!(plaintext.extensions().is_empty());
        let index = role.index().expect("an aggregator");
        Prio3InputShare::get_decoded_with_param(&(&vdaf, index), plaintext.payload()).expect("an input share")
    };
    let leader_share = open(&keys.leader.hpke, Role::Leader, report.leader_encrypted_input_share());
    let helper_share = open(&keys.helper.hpke, Role::Helper, report.helper_encrypted_input_share());

    // prio's own preparation over both shares verifies the proof and gives back the measurement.
    let verify_key = [7u8; 16];
    let id = report.metadata().id().as_ref();
    let (leader_state, leader_prep) =
        vdaf.prepare_init(&verify_key, 0, &(), id, &public_share, &leader_share).expect("leader prepares");
    let (helper_state, helper_prep) =
        vdaf.prepare_init(&verify_key, 1, &(), id, &public_share, &helper_share).expect("helper prepares");
    let message = vdaf.prepare_shares_to_prepare_message(&(), [leader_prep, helper_prep]).expect("the proof verifies");
    let finish = |state| match vdaf.prepare_next(state, message.clone()).expect("finishes") {
        prio::vdaf::PrepareTransition::Finish(output) => output,
        _ => panic!("one round"),
    };
    let outputs = [finish(leader_state), finish(helper_state)];
    let aggregates = outputs.map(|output| vdaf.aggregate(&(), [output]).expect("aggregates"));
    let total = vdaf.unshard(&(), aggregates, 1).expect("unshards");
    let measured = encode_measurement(&update, CLIP).expect("measurement");
    for (j, (got, want)) in total.iter().zip(&measured).enumerate() {
        assert!((got - want.to_num::<f64>()).abs() <= 1e-9, "coordinate {j}: {got} vs {want}");
    }
}
