//! A leader and a helper on two SQLite stores, the helper on a loopback socket, and devices
//! that make reports with the device code (or, for the attacks, with a lying client).
#![allow(dead_code)]

/// The `Type` methods a lying client takes unchanged from its `honest` type: only its encoder
/// (and the result type it decodes to) differ.
macro_rules! forward_to_honest {
    () => {
        fn gadget(&self) -> Vec<Box<dyn prio::flp::Gadget<Field128>>> {
            self.honest.gadget()
        }
        fn valid(
            &self,
            gadgets: &mut Vec<Box<dyn prio::flp::Gadget<Field128>>>,
            input: &[Field128],
            joint_rand: &[Field128],
            num_shares: usize,
        ) -> Result<Field128, FlpError> {
            self.honest.valid(gadgets, input, joint_rand, num_shares)
        }
        fn truncate(&self, input: Vec<Field128>) -> Result<Vec<Field128>, FlpError> {
            self.honest.truncate(input)
        }
        fn input_len(&self) -> usize {
            self.honest.input_len()
        }
        fn proof_len(&self) -> usize {
            self.honest.proof_len()
        }
        fn verifier_len(&self) -> usize {
            self.honest.verifier_len()
        }
        fn output_len(&self) -> usize {
            self.honest.output_len()
        }
        fn joint_rand_len(&self) -> usize {
            self.honest.joint_rand_len()
        }
        fn prove_rand_len(&self) -> usize {
            self.honest.prove_rand_len()
        }
        fn query_rand_len(&self) -> usize {
            self.honest.query_rand_len()
        }
    };
}
pub(crate) use forward_to_honest;

pub mod lying;
pub mod lying_sum;
pub mod processes;

use std::sync::Arc;

use aggregator::dap::helper::HelperState;
use aggregator::dap::http::{dap_router, DapServer};
use aggregator::dap::leader::LeaderState;
use aggregator::dap::DapTaskConfig;
use aggregator::helper_client::HelperClient;
use aggregator::listener::{serve, ConnectionLimits};
use aggregator::rounds::publish;
use aggregator::store::sqlite::SqliteStore;
use aggregator::store::Store;
use axum::body::Body;
use axum::http::Request;
use ed25519_dalek::SigningKey;
use janus_messages::{Report, TaskId};
use prio::codec::Encode;
use rand_core06::OsRng;
use shop_personalizer::sync::dap::{build_report, DapTask, HpkeKeypair};

pub const DIMENSION: usize = 90;
pub const CLIP: f64 = 1.0;
pub const TOKEN: &str = "peer-token";
pub const COLLECTOR_TOKEN: &str = "collector-token-0123456789";

/// Both aggregators' task views and the device's.
pub struct Keys {
    pub leader: DapTaskConfig,
    pub helper: DapTaskConfig,
    pub collector: HpkeKeypair,
    pub device: DapTask,
}

pub fn keys(min_batch_size: u64) -> Keys {
    let collector = HpkeKeypair::generate(3, &mut OsRng);
    let task_id = TaskId::from([9; 32]);
    let aggregator = |hpke: HpkeKeypair| DapTaskConfig {
        task_id,
        dimension: DIMENSION,
        clip_bound: CLIP,
        verify_key: [5; 16],
        min_batch_size,
        max_batch_size: 1_000,
        hpke,
        peer_token: TOKEN.to_owned(),
        collector_token: Some(COLLECTOR_TOKEN.to_owned()),
        collector_config: collector.config.clone(),
        kind: aggregator::dap::TaskKind::ModelUpdate,
        aggregator_noise_epsilon: None,
    };
    let (leader, helper) =
        (aggregator(HpkeKeypair::generate(1, &mut OsRng)), aggregator(HpkeKeypair::generate(2, &mut OsRng)));
    let device = DapTask {
        task_id,
        leader_config: leader.hpke.config.clone(),
        helper_config: helper.hpke.config.clone(),
        dimension: DIMENSION,
        clip_bound: CLIP,
        time_precision_secs: 3600,
    };
    Keys { leader, helper, collector, device }
}

/// A store at `path` with model 1 (all zeros) published.
pub async fn store(path: &std::path::Path, key: &SigningKey) -> SqliteStore {
    let store = SqliteStore::open(path).expect("store opens");
    store.ensure_initial_model(publish(1, vec![0.0; DIMENSION], key)).await.expect("initial model");
    store
}

/// Serves the helper on 127.0.0.1 and returns its URL.
pub async fn serve_helper(state: Arc<HelperState>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let limits = ConnectionLimits { max_connections: 64, read_timeout: std::time::Duration::from_secs(10) };
    tokio::spawn(serve(listener, dap_router(DapServer::Helper(state)), limits, std::future::pending()));
    url
}

pub fn helper_state(task: DapTaskConfig, store: SqliteStore) -> Arc<HelperState> {
    Arc::new(HelperState { task, store: store.into(), jobs: Default::default(), running: Default::default() })
}

pub fn leader_state(keys: &Keys, store: SqliteStore, helper_url: &str, key: SigningKey) -> Arc<LeaderState> {
    Arc::new(LeaderState {
        task: keys.leader.clone(),
        store: store.into(),
        helper: HelperClient::new(helper_url, Some(TOKEN)).expect("helper url"),
        collector: Some(keys.collector.clone()),
        signing_key: key,
        learning_rate: 1.0,
        driver: Default::default(),
        collection_jobs: Default::default(),
    })
}

/// An honest device's update number `i`: small, distinct, norm below the clip bound.
pub fn honest_update(i: usize) -> Vec<f32> {
    (0..DIMENSION).map(|j| (((i * 31 + j * 7) % 19) as f32 - 9.0) * 0.008).collect()
}

pub fn honest_report(keys: &Keys, i: usize) -> Report {
    build_report(&keys.device, &honest_update(i), 1_700_000_000, &mut OsRng).expect("report")
}

/// Uploads `report` through the leader's router; the HTTP status.
pub async fn upload(leader: &Arc<LeaderState>, report: &Report) -> u16 {
    let router = dap_router(DapServer::Leader(Arc::clone(leader)));
    let uri = format!("/tasks/{}/reports", leader.task.task_id);
    let request = Request::put(uri)
        .header("content-type", Report::MEDIA_TYPE)
        .body(Body::from(report.get_encoded().expect("encodes")))
        .expect("request");
    let (status, _, _) = crate::common::call(&router, request).await;
    status.as_u16()
}

/// The coordinate-wise sum of honest updates `ids`.
pub fn honest_sum(ids: impl Iterator<Item = usize>) -> Vec<f64> {
    let mut sum = vec![0.0; DIMENSION];
    for i in ids {
        for (total, value) in sum.iter_mut().zip(honest_update(i)) {
            *total += f64::from(value);
        }
    }
    sum
}

/// Asserts two sums agree within the fixed-point rounding of `n` reports (2^-16 · C / 0.999 each).
pub fn assert_close(got: &[f64], want: &[f64], n: usize) {
    let tolerance = n as f64 * CLIP / 0.999 / 65_536.0 + 1e-9;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tolerance, "coordinate {i}: {g} vs {w} (tolerance {tolerance})");
    }
}

/// The encoded collection request of a fixed-size `query` (no aggregation parameter).
pub fn collection_request(query: janus_messages::FixedSizeQuery) -> Vec<u8> {
    use janus_messages::query_type::FixedSize;
    use janus_messages::{CollectionReq, Query};
    CollectionReq::new(Query::<FixedSize>::new_fixed_size(query), Vec::new()).get_encoded().unwrap()
}
