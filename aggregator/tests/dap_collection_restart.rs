//! Collection jobs live in the leader's store: a job started before a restart is still known
//! after it, and a batch released to a job before a restart is answered with the same bytes
//! after it (before, the answer lived in memory and a restarted leader held a collected batch
//! no collector could read).

mod common;
mod dap_support;

use std::sync::Arc;

use aggregator::dap::collection::{delete, poll, start, Poll};
use aggregator::dap::leader::{run_aggregation_job, LeaderState};
use aggregator::helper_client::HelperClient;
use aggregator::store::dap_store::DapStore;
use aggregator::store::postgres::PostgresStore;
use ed25519_dalek::SigningKey;
use janus_messages::query_type::FixedSize;
use janus_messages::{Collection, FixedSizeQuery};
use prio::codec::Decode;

use dap_support::*;

/// Where the leader keeps its state: reopened as is after a restart.
enum LeaderDb {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

async fn leader_on(db: &LeaderDb, keys: &Keys, helper_url: &str, key: &SigningKey) -> Arc<LeaderState> {
    let store: DapStore = match db {
        LeaderDb::Sqlite(path) => store(path, key).await.into(),
        LeaderDb::Postgres(url) => PostgresStore::connect(url).await.expect("leader database").into(),
    };
    // The leader's own collecting driver does not run here: the collection jobs collect.
    Arc::new(LeaderState {
        task: keys.leader.clone(),
        store,
        helper: HelperClient::new(helper_url, Some(TOKEN)).expect("helper url"),
        collector: Some(keys.collector.clone()),
        signing_key: key.clone(),
        learning_rate: 1.0,
        driver: Default::default(),
        collection_jobs: Default::default(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_collection_and_a_pending_job_survive_a_leader_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    survives_a_restart(LeaderDb::Sqlite(dir.path().join("leader.sqlite3")), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_too() {
    let Some(server) = common::postgres_server::PostgresServer::start() else {
        eprintln!("SKIPPED: PostgreSQL is not installed; the collection jobs ran on SQLite only");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    survives_a_restart(LeaderDb::Postgres(server.url.clone()), dir.path()).await;
}

async fn survives_a_restart(db: LeaderDb, dir: &std::path::Path) {
    let key = SigningKey::from_bytes(&[4; 32]);
    let keys = keys(10);
    let helper = helper_state(keys.helper.clone(), store(&dir.join("helper.sqlite3"), &key).await);
    let helper_url = serve_helper(helper).await;
    let leader = leader_on(&db, &keys, &helper_url, &key).await;
    let request = collection_request(FixedSizeQuery::CurrentBatch);
    let (first, second) = ([1; 16], [2; 16]);
    start(&leader, first, request.clone()).await.expect("starts");
    start(&leader, second, request.clone()).await.expect("starts");
    assert_eq!(poll(&leader, first, 1_700_000_000).await.expect("polls"), Poll::NotReady);
    for i in 0..12 {
        assert_eq!(upload(&leader, &honest_report(&keys, i)).await, 200);
    }
    run_aggregation_job(&leader, 100).await.expect("job").expect("pending reports");
    let Poll::Ready(answer) = poll(&leader, first, 1_700_000_000).await.expect("polls") else {
        panic!("a batch of 12 >= 10 is released")
    };
    let collection = Collection::<FixedSize>::get_decoded(&answer).expect("a DAP-09 Collection");
    assert_eq!(collection.report_count(), 12);

    // A restart: the same store file, a fresh process state.
    drop(leader);
    let leader = leader_on(&db, &keys, &helper_url, &key).await;
    assert_eq!(poll(&leader, first, 1_700_000_500).await.expect("polls"), Poll::Ready(answer.clone()));
    // The second job is still known, and its batch (the next one) is not ready: the first batch
    // was released once.
    assert_eq!(poll(&leader, second, 1_700_000_500).await.expect("polls"), Poll::NotReady);
    // The same request again is accepted once; another under the same id is refused.
    start(&leader, first, request.clone()).await.expect("the same request again");
    let by_id = collection_request(FixedSizeQuery::ByBatchId { batch_id: janus_messages::BatchId::from([1; 32]) });
    assert!(start(&leader, first, by_id).await.is_err(), "a changed request under a used id");
    delete(&leader, first).await.expect("deletes");
    assert!(poll(&leader, first, 1_700_000_500).await.is_err(), "a deleted job is unknown");
}
