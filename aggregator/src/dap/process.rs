//! One aggregator process in a DAP role (`--dap-role leader|helper --dap-task FILE`), on the
//! embedded SQLite store or PostgreSQL. The helper serves only the helper's DAP endpoints and `/healthz`. The
//! leader serves the model API beside the leader's DAP endpoints and drives the pair in a loop:
//! aggregation jobs over the pending reports (a job the helper could not answer is retried, the
//! same request under the same id), then a collection once the batch holds `minBatchSize`.
//! A lift task file names two tasks, one per bucket: the process runs both, each with its own
//! store, state and (on the leader) driver loop.

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

/// The tasks of a loaded task file, each with its store (`stores` in the same order: the
/// file's task, then a lift file's holdout task).
fn with_stores(loaded: &LoadedTask, stores: Vec<DapStore>) -> Vec<(super::DapTaskConfig, DapStore)> {
    let tasks = std::iter::once(loaded.task.clone()).chain(loaded.holdout.clone());
    tasks.zip(stores).collect()
}

/// The helper process's router: the helper's DAP endpoints of every task and `/healthz`.
pub fn helper_router(loaded: LoadedTask, stores: Vec<DapStore>) -> Router {
    let states: Vec<Arc<HelperState>> = with_stores(&loaded, stores)
        .into_iter()
        .map(|(task, store)| {
            Arc::new(HelperState { task, store, jobs: Default::default(), running: Default::default() })
        })
        .collect();
    let health = Router::new().route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }));
    let server = match <[_; 1]>::try_from(states) {
        Ok([state]) => DapServer::Helper(state),
        Err(states) => DapServer::Helpers(states),
    };
    dap_router(server).merge(health)
}

/// The leader's state of every task (the file's task first), its DAP router (CORS for
/// `origins`), and one driver loop per task started.
pub fn start_leader(
    loaded: LoadedTask,
    stores: Vec<DapStore>,
    signing_key: SigningKey,
    learning_rate: f64,
    interval: Duration,
    origins: &[String],
) -> Result<(Vec<Arc<LeaderState>>, Router), StartError> {
    let missing = |field| TaskFileError::Field { field, rule: "required in the leader's file" };
    let url = loaded.helper_url.clone().ok_or_else(|| missing("helperUrl"))?;
    let mut states = Vec::new();
    for (task, store) in with_stores(&loaded, stores) {
        let helper = HelperClient::new(&url, Some(&task.peer_token))?;
        let state = Arc::new(LeaderState {
            task,
            store,
            helper,
            collector: loaded.collector.clone(),
            signing_key: signing_key.clone(),
            learning_rate,
            driver: Default::default(),
            collection_jobs: Default::default(),
        });
        tokio::spawn(drive(Arc::clone(&state), interval));
        states.push(state);
    }
    let server = match states.as_slice() {
        [state] => DapServer::Leader(Arc::clone(state)),
        _ => DapServer::Leaders(states.clone()),
    };
    Ok((states, dap_router_for_origins(server, origins)))
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
