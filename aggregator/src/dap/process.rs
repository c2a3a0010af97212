//! One aggregator process in a DAP role (`--dap-role leader|helper --dap-task FILE`), on the
//! embedded SQLite store or PostgreSQL. The helper serves only the helper's DAP endpoints and `/healthz`. The
//! leader serves the model API beside the leader's DAP endpoints and drives the pair in a loop:
//! aggregation jobs over the pending reports (a job the helper could not answer is retried, the
//! same request under the same id), then a collection once the batch holds `minBatchSize`.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;

use super::helper::HelperState;
use super::http::{dap_router, dap_router_for_origins, DapServer};
use super::leader::{collect, run_aggregation_job, LeaderState};
use super::task_file::{LoadedTask, TaskFileError};
use crate::helper_client::HelperClient;
use crate::server::StartError;
use crate::store::dap_store::DapStore;

/// Most reports in one aggregation job.
pub const MAX_JOB_REPORTS: usize = 256;

/// The helper process's router: the helper's DAP endpoints and `/healthz`.
pub fn helper_router(loaded: LoadedTask, store: DapStore) -> Router {
    let state =
        Arc::new(HelperState { task: loaded.task, store, jobs: Default::default(), running: Default::default() });
    let health = Router::new().route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }));
    dap_router(DapServer::Helper(state)).merge(health)
}

/// The leader's state, its DAP router (CORS for `origins`), and the driver loop started.
pub fn start_leader(
    loaded: LoadedTask,
    store: DapStore,
    signing_key: SigningKey,
    learning_rate: f64,
    interval: Duration,
    origins: &[String],
) -> Result<(Arc<LeaderState>, Router), StartError> {
    let missing = |field| TaskFileError::Field { field, rule: "required in the leader's file" };
    let url = loaded.helper_url.ok_or_else(|| missing("helperUrl"))?;
    let helper = HelperClient::new(&url, Some(&loaded.task.peer_token))?;
    let collector = loaded.collector;
    let state = Arc::new(LeaderState {
        task: loaded.task,
        store,
        helper,
        collector,
        signing_key,
        learning_rate,
        driver: Default::default(),
        collection_jobs: Default::default(),
    });
    tokio::spawn(drive(Arc::clone(&state), interval));
    let router = dap_router_for_origins(DapServer::Leader(Arc::clone(&state)), origins);
    Ok((state, router))
}

/// Runs jobs while reports are pending, collects when a batch is full, sleeps `interval` when
/// there is nothing to do or the helper failed. Logs each collection and each failure.
async fn drive(state: Arc<LeaderState>, interval: Duration) {
    loop {
        let worked = match run_aggregation_job(&state, MAX_JOB_REPORTS).await {
            Ok(Some(summary)) => {
                println!("dap: aggregation job: {} accepted, {} rejected", summary.accepted, summary.rejected);
                true
            }
            Ok(None) => false,
            Err(error) => {
                eprintln!("dap: aggregation job failed (retried): {error}");
                tokio::time::sleep(interval).await;
                continue;
            }
        };
        let collected = match collect(&state).await {
            Ok(Some(collected)) if collected.model_version == 0 => {
                println!("dap: collected {} lift reports", collected.reports);
                true
            }
            Ok(Some(collected)) => {
                println!("dap: collected {} reports, published model {}", collected.reports, collected.model_version);
                true
            }
            Ok(None) => false,
            Err(error) => {
                eprintln!("dap: collection failed (retried): {error}");
                false
            }
        };
        if !worked && !collected {
            tokio::time::sleep(interval).await;
        }
    }
}
