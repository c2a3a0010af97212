//! The leader's side: take uploads, drive aggregation jobs with the helper (both verify every
//! report), and collect a batch of at least `min_batch_size` reports into the next model.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use janus_messages::query_type::FixedSize;
use janus_messages::{
    AggregateShare, AggregateShareAad, AggregateShareReq, AggregationJobId, AggregationJobInitializeReq,
    AggregationJobResp, BatchId, BatchSelector, PartialBatchSelector, PrepareInit, PrepareStepResult, Report,
    ReportIdChecksum, ReportShare, Role,
};
use prio::codec::{Decode, Encode};
use prio::vdaf::Collector;
use rand_core06::{OsRng, RngCore};
use shop_personalizer::sync::dap::{decode_sum, HpkeKeypair, HpkeLabel};

use super::helper::DapRequestError;
use super::prepare::{decode_aggregate, in_parallel, leader_finish, leader_init, merge_outputs, open_share};
use super::{lift_vdaf, DapTaskConfig, Rejection, TaskKind};
use crate::helper_client::{HelperClient, HelperError};
use crate::rounds::publish;
use crate::store::dap::Merge;
use crate::store::dap_store::DapStore;
use crate::store::StoreError;

/// Why a leader step failed; nothing it did is lost (a job resumes, a collection retries).
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("{0}")]
    Request(#[from] DapRequestError),
    #[error("the helper: {0}")]
    Helper(#[from] HelperError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the helper's answer is malformed or does not open: {0}")]
    BadHelperAnswer(String),
}

/// The leader's state.
pub struct LeaderState {
    pub task: DapTaskConfig,
    pub store: DapStore,
    pub helper: HelperClient,
    /// The collector's keypair when this leader is also the collector that turns sums into
    /// models; `None`: it never collects for itself (a DAP collector does, [`super::collection`]).
    pub collector: Option<HpkeKeypair>,
    pub signing_key: SigningKey,
    pub learning_rate: f64,
    /// One job or collection at a time.
    pub driver: tokio::sync::Mutex<()>,
    /// The collection jobs of DAP collectors ([`super::collection`]).
    pub collection_jobs: super::collection::CollectionJobs,
}

/// What one aggregation job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobSummary {
    pub accepted: usize,
    pub rejected: usize,
}

/// Keeps an uploaded report (`PUT /tasks/{task}/reports`). A report sealed to another leader
/// config is refused; a repeated report id is taken silently and stored once.
pub async fn upload(state: &LeaderState, body: Vec<u8>) -> Result<(), DapRequestError> {
    let report = Report::get_decoded(&body).map_err(|error| DapRequestError::InvalidMessage(error.to_string()))?;
    if report.leader_encrypted_input_share().config_id() != state.task.hpke.config.id() {
        return Err(DapRequestError::InvalidMessage("outdated HPKE config: fetch /hpke_config again".into()));
    }
    state.store.dap_put_report(*report.metadata().id().as_ref(), body).await?;
    Ok(())
}

/// Runs one aggregation job over up to `max` pending reports (or resumes the unfinished one);
/// `None` when nothing is pending.
pub async fn run_aggregation_job(state: &Arc<LeaderState>, max: usize) -> Result<Option<JobSummary>, LeaderError> {
    let _guard = state.driver.lock().await;
    let (mut job_id, mut batch_id) = ([0u8; 16], [0u8; 32]);
    OsRng.fill_bytes(&mut job_id);
    OsRng.fill_bytes(&mut batch_id);
    let Some(job) = state.store.dap_claim_job(max, state.task.max_batch_size, job_id, batch_id).await? else {
        return Ok(None);
    };
    let worker = Arc::clone(state);
    let reports = job.reports.clone();
    let (inits, states, mut rejected) = tokio::task::spawn_blocking(move || {
        let task = &worker.task;
        let (mut inits, mut states, mut rejected) = (Vec::new(), HashMap::new(), Vec::new());
        let steps = crate::with_vdaf!(task, vdaf => in_parallel(&reports, |(id, body)| {
            Report::get_decoded(body).map_err(|_| Rejection::MalformedShare).and_then(|report| {
                let opened = open_share(
                    task,
                    &vdaf,
                    &task.hpke,
                    Role::Leader,
                    report.metadata(),
                    report.public_share(),
                    report.leader_encrypted_input_share(),
                )?;
                let (prep_state, message) = leader_init(task, &vdaf, id, &opened)?;
                let share = ReportShare::new(
                    report.metadata().clone(),
                    report.public_share().to_vec(),
                    report.helper_encrypted_input_share().clone(),
                );
                Ok((prep_state, PrepareInit::new(share, message)))
            })
        }));
        for ((id, _), step) in reports.iter().zip(steps) {
            let id = *id;
            match step {
                Ok((prep_state, init)) => {
                    states.insert(id, prep_state);
                    inits.push(init);
                }
                Err(rejection) => rejected.push((id, rejection.reason())),
            }
        }
        (inits, states, rejected)
    })
    .await
    .map_err(|error| LeaderError::BadHelperAnswer(error.to_string()))?;
    let mut outputs = Vec::new();
    let mut accepted = Vec::new();
    if !inits.is_empty() {
        let request = AggregationJobInitializeReq::<FixedSize>::new(
            Vec::new(),
            PartialBatchSelector::new_fixed_size(BatchId::from(job.batch_id)),
            inits,
        )
        .get_encoded()
        .map_err(|error| LeaderError::BadHelperAnswer(error.to_string()))?;
        let path = format!("/tasks/{}/aggregation_jobs/{}", state.task.task_id, AggregationJobId::from(job.job_id));
        let answer = state
            .helper
            .dap_request(hyper::Method::PUT, &path, AggregationJobInitializeReq::<FixedSize>::MEDIA_TYPE, request)
            .await?;
        let answer =
            AggregationJobResp::get_decoded(&answer).map_err(|e| LeaderError::BadHelperAnswer(e.to_string()))?;
        let mut states = states;
        crate::with_vdaf!(state.task, vdaf => {
        for resp in answer.prepare_resps() {
            let id = *resp.report_id().as_ref();
            let Some(prep_state) = states.remove(&id) else { continue };
            match resp.result() {
                PrepareStepResult::Continue { message } => match leader_finish(&vdaf, prep_state, message) {
                    Ok(output) => {
                        outputs.push(output);
                        accepted.push(id);
                    }
                    Err(rejection) => rejected.push((id, rejection.reason())),
                },
                _ => rejected.push((id, Rejection::RejectedByHelper.reason())),
            }
        }
        });
        rejected.extend(states.into_keys().map(|id| (id, Rejection::RejectedByHelper.reason())));
    }
    let summary = JobSummary { accepted: accepted.len(), rejected: rejected.len() };
    let merge: Merge =
        crate::with_vdaf!(state.task, vdaf => Box::new(move |stored| merge_outputs(&vdaf, stored, outputs)));
    state.store.dap_finish_leader_job(job.batch_id, accepted, rejected, merge).await?;
    Ok(Some(summary))
}

/// The weights the leader publishes after collecting a batch of `reports` reports whose updates
/// sum to `sum`: `w + η · sum / n`.
pub fn next_weights(current: &[f32], sum: &[f64], reports: u64, learning_rate: f64) -> Vec<f32> {
    let count = reports.max(1) as f64;
    current.iter().zip(sum).map(|(&w, s)| (f64::from(w) + learning_rate * s / count) as f32).collect()
}

/// What a collection did.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    pub reports: u64,
    /// The sum of the devices' clipped updates.
    pub sum: Vec<f64>,
    pub model_version: u64,
}

/// Collects the open batch once it holds `min_batch_size` reports (closing it first, so no job
/// adds to it while it is collected, nor after a restart), or the batch a restart left closing:
/// the helper's sealed aggregate share plus the leader's give the sum, and the next model is
/// `w + η · sum / n`, published in the same transaction that marks the batch collected. `None`
/// while the batch is too small or a job is running in it, and always when this leader holds no
/// collector key (a DAP collector collects).
pub async fn collect(state: &LeaderState) -> Result<Option<Collected>, LeaderError> {
    let Some(collector) = &state.collector else { return Ok(None) };
    let _guard = state.driver.lock().await;
    let Some((batch_id, batch)) = state.store.dap_batch_to_collect(state.task.min_batch_size).await? else {
        return Ok(None);
    };
    let selector = BatchSelector::<FixedSize>::new_fixed_size(BatchId::from(batch_id));
    let request =
        AggregateShareReq::new(selector.clone(), Vec::new(), batch.reports, ReportIdChecksum::from(batch.checksum))
            .get_encoded()
            .map_err(|error| LeaderError::BadHelperAnswer(error.to_string()))?;
    let path = format!("/tasks/{}/aggregate_shares", state.task.task_id);
    let answer = state
        .helper
        .dap_request(hyper::Method::POST, &path, AggregateShareReq::<FixedSize>::MEDIA_TYPE, request)
        .await?;
    let bad = |error: &dyn std::fmt::Display| LeaderError::BadHelperAnswer(error.to_string());
    let answer = AggregateShare::get_decoded(&answer).map_err(|e| bad(&e))?;
    let aad = AggregateShareAad::new(state.task.task_id, Vec::new(), selector).get_encoded().map_err(|e| bad(&e))?;
    let helper_share = collector
        .open(answer.encrypted_aggregate_share(), HpkeLabel::AggregateShare, Role::Helper, Role::Collector, &aad)
        .map_err(|e| bad(&e))?;
    let leader_bytes =
        state.task.released_share(&batch_id, batch.share.as_deref().unwrap_or_default()).map_err(|e| bad(&e))?;
    let leader_bytes = leader_bytes.as_slice();
    let lift = match &state.task.kind {
        TaskKind::Lift(lift) => lift,
        TaskKind::ModelUpdate => {
            let vdaf = state.task.model_vdaf();
            let helper_share = decode_aggregate(&vdaf, &helper_share).map_err(|e| bad(&e))?;
            let leader_share = decode_aggregate(&vdaf, leader_bytes).map_err(|e| bad(&e))?;
            let total = vdaf.unshard(&(), [leader_share, helper_share], batch.reports as usize).map_err(|e| bad(&e))?;
            return publish_collected(state, batch_id, batch.reports, decode_sum(&total, state.task.clip_bound)).await;
        }
    };
    let vdaf = lift_vdaf(lift);
    let helper_share = decode_aggregate(&vdaf, &helper_share).map_err(|e| bad(&e))?;
    let leader_share = decode_aggregate(&vdaf, leader_bytes).map_err(|e| bad(&e))?;
    let total = vdaf.unshard(&(), [leader_share, helper_share], batch.reports as usize).map_err(|e| bad(&e))?;
    // Each entry of a sum of at most 100,000 reports of 32 bits fits a double exactly.
    let sum: Vec<f64> = total.iter().map(|&entry| entry as f64).collect();
    if !state.store.dap_record_collected(batch_id, sum.clone()).await? {
        return Ok(None);
    }
    Ok(Some(Collected { reports: batch.reports, sum, model_version: 0 }))
}

/// Publishes `w + η · sum / n` as the next model in the transaction that marks the batch collected.
async fn publish_collected(
    state: &LeaderState,
    batch_id: [u8; 32],
    reports: u64,
    sum: Vec<f64>,
) -> Result<Option<Collected>, LeaderError> {
    let (key, rate, count, step) = (state.signing_key.clone(), state.learning_rate, reports, sum.clone());
    let next = Box::new(move |current: &crate::store::StoredModel| {
        publish(current.version + 1, next_weights(&current.weights, &step, count, rate), &key)
    });
    if !state.store.dap_publish_collected(batch_id, sum.clone(), next).await? {
        return Ok(None);
    }
    let model_version = state.store.current_model().await?.version;
    Ok(Some(Collected { reports, sum, model_version }))
}
