//! The helper's side: answer the leader's aggregation jobs (verify each report, keep the output
//! shares of the valid ones in the batch's aggregate share) and release a batch's aggregate
//! share, sealed to the collector, once it holds at least `min_batch_size` reports.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use janus_messages::query_type::FixedSize;
use janus_messages::{
    AggregateShare, AggregateShareAad, AggregateShareReq, AggregationJobInitializeReq, AggregationJobResp,
    PrepareError, PrepareResp, PrepareStepResult, Role,
};
use prio::codec::{Decode, Encode};
use sha2::{Digest, Sha256};
use shop_personalizer::sync::dap::hpke_seal::{seal, HpkeLabel};

use super::prepare::{helper_step, in_parallel, merge_outputs, open_share};
use super::{DapTaskConfig, Rejection};
use crate::store::dap::Merge;
use crate::store::dap_store::DapStore;
use crate::store::StoreError;

/// Why a request of the leader was refused (the HTTP layer maps each to a DAP problem type).
#[derive(Debug, thiserror::Error)]
pub enum DapRequestError {
    #[error("the message does not decode: {0}")]
    InvalidMessage(String),
    #[error("the aggregation job id was used for another request")]
    JobChanged,
    #[error("the report count or checksum differs from this aggregator's batch")]
    BatchMismatch,
    #[error("the batch holds {got} reports; at least {need} are needed")]
    InvalidBatchSize { got: u64, need: u64 },
    #[error("a report of the job was aggregated meanwhile, or its batch was collected: retry")]
    Conflict,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the helper failed: {0}")]
    Internal(String),
}

/// The helper's state.
pub struct HelperState {
    pub task: DapTaskConfig,
    pub store: DapStore,
    /// Jobs run one at a time, so a report in two concurrent jobs is counted once.
    pub jobs: tokio::sync::Mutex<()>,
    /// Aggregation jobs being answered right now (`GET /dap/status` shows it as `running`).
    pub running: AtomicU64,
}

/// Counts one running job for as long as it lives.
struct Running<'a>(&'a AtomicU64);

impl<'a> Running<'a> {
    fn start(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers `PUT /tasks/{task}/aggregation_jobs/{job}`: the same request twice gets the same answer.
pub async fn aggregation_job(
    state: Arc<HelperState>,
    job_id: [u8; 16],
    body: Vec<u8>,
) -> Result<Vec<u8>, DapRequestError> {
    let request_hash: [u8; 32] = Sha256::digest(&body).into();
    let _guard = state.jobs.lock().await;
    let _running = Running::start(&state.running);
    if let Some((hash, response)) = state.store.dap_helper_job(job_id).await? {
        return if hash == request_hash { Ok(response) } else { Err(DapRequestError::JobChanged) };
    }
    let request = AggregationJobInitializeReq::<FixedSize>::get_decoded(&body)
        .map_err(|error| DapRequestError::InvalidMessage(error.to_string()))?;
    let batch_id = *request.batch_selector().batch_identifier().as_ref();
    let ids: Vec<[u8; 16]> =
        request.prepare_inits().iter().map(|init| *init.report_share().metadata().id().as_ref()).collect();
    let seen = state.store.dap_seen(ids.clone()).await?;
    let worker = Arc::clone(&state);
    let (responses, outputs, accepted, rejections) = tokio::task::spawn_blocking(move || {
        let task = &worker.task;
        let mut in_job = HashSet::new();
        let (mut responses, mut outputs, mut accepted, mut rejections) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let items: Vec<_> = request
            .prepare_inits()
            .iter()
            .zip(&ids)
            .zip(seen)
            .map(|((init, id), seen)| (init, id, seen || !in_job.insert(*id)))
            .collect();
        let steps = crate::with_vdaf!(task, vdaf => in_parallel(&items, |&(init, id, replayed)| {
            let share = init.report_share();
            if replayed {
                return Err(Rejection::Replayed);
            }
            open_share(
                task,
                &vdaf,
                &task.hpke,
                Role::Helper,
                share.metadata(),
                share.public_share(),
                share.encrypted_input_share(),
            )
            .and_then(|opened| helper_step(task, &vdaf, id, &opened, init.message()))
        }));
        for (&(init, id, _), step) in items.iter().zip(steps) {
            let share = init.report_share();
            let result = match step {
                Ok((output, message)) => {
                    outputs.push(output);
                    accepted.push(*id);
                    PrepareStepResult::Continue { message }
                }
                Err(rejection) => {
                    rejections.push(rejection.reason());
                    PrepareStepResult::Reject(prepare_error(rejection))
                }
            };
            responses.push(PrepareResp::new(*share.metadata().id(), result));
        }
        (responses, outputs, accepted, rejections)
    })
    .await
    .map_err(|error| DapRequestError::Internal(error.to_string()))?;
    let response =
        AggregationJobResp::new(responses).get_encoded().map_err(|e| DapRequestError::Internal(e.to_string()))?;
    let merge: Merge =
        crate::with_vdaf!(state.task, vdaf => Box::new(move |stored| merge_outputs(&vdaf, stored, outputs)));
    let stored = state
        .store
        .dap_finish_helper_job(job_id, request_hash, batch_id, accepted, rejections, merge, response.clone())
        .await?;
    if stored {
        Ok(response)
    } else {
        Err(DapRequestError::Conflict)
    }
}

/// The DAP error a rejection is reported with.
fn prepare_error(rejection: Rejection) -> PrepareError {
    match rejection {
        Rejection::HpkeDecrypt => PrepareError::HpkeDecryptError,
        Rejection::MalformedShare => PrepareError::InvalidMessage,
        Rejection::InvalidProof | Rejection::RejectedByHelper => PrepareError::VdafPrepError,
        Rejection::Replayed => PrepareError::ReportReplayed,
    }
}

/// Answers `POST /tasks/{task}/aggregate_shares`: the batch's aggregate share sealed to the
/// collector, only when the leader's count and checksum match and the batch is large enough.
pub async fn aggregate_share(state: Arc<HelperState>, body: Vec<u8>) -> Result<Vec<u8>, DapRequestError> {
    let request = AggregateShareReq::<FixedSize>::get_decoded(&body)
        .map_err(|error| DapRequestError::InvalidMessage(error.to_string()))?;
    let batch_id = *request.batch_selector().batch_identifier().as_ref();
    let batch = state.store.dap_batch(batch_id).await?.ok_or(DapRequestError::BatchMismatch)?;
    if batch.reports != request.report_count() || batch.checksum[..] != request.checksum().as_ref()[..] {
        return Err(DapRequestError::BatchMismatch);
    }
    if batch.reports < state.task.min_batch_size {
        return Err(DapRequestError::InvalidBatchSize { got: batch.reports, need: state.task.min_batch_size });
    }
    let share = batch.share.ok_or(DapRequestError::BatchMismatch)?;
    let share = state.task.released_share(&batch_id, &share).map_err(DapRequestError::Internal)?;
    state.store.dap_mark_collected(batch_id).await?;
    let aad = AggregateShareAad::new(state.task.task_id, Vec::new(), request.batch_selector().clone())
        .get_encoded()
        .map_err(|e| DapRequestError::Internal(e.to_string()))?;
    let sealed = seal(
        &state.task.collector_config,
        HpkeLabel::AggregateShare,
        Role::Helper,
        Role::Collector,
        &share,
        &aad,
        &mut rand_core06::OsRng,
    )
    .map_err(|e| DapRequestError::Internal(e.to_string()))?;
    AggregateShare::new(sealed).get_encoded().map_err(|e| DapRequestError::Internal(e.to_string()))
}
