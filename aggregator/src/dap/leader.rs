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
use crate::rounds::{publish, within_ranker_constraint};
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
/// sum to `sum`: `w + η · sum / n`, projected onto the ranker's monotone constraint
/// ([`within_ranker_constraint`]), so a published model never breaks it.
pub fn next_weights(current: &[f32], sum: &[f64], reports: u64, learning_rate: f64) -> Vec<f32> {
    let count = reports.max(1) as f64;
    let next: Vec<f32> =
        current.iter().zip(sum).map(|(&w, s)| (f64::from(w) + learning_rate * s / count) as f32).collect();
    within_ranker_constraint(next)
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

/// Publishes `w + η · sum / n` (projected, [`next_weights`]) as the next model in the transaction
/// that marks the batch collected.
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

#[cfg(test)]
mod tests {
    use shop_personalizer::rank::{NUM_FEATURES, RISES_WITH_SERVER};

    use super::next_weights;

    #[test]
    fn the_next_weights_are_the_fedavg_step_with_the_monotone_weights_clamped_at_zero() {
        // Features 0-2 (the server's score, its log, its rank) rise with the server's placement,
        // feature 3 (in the answer) does not. Two reports, rate 0.5: w + sum / 4.
        assert!(RISES_WITH_SERVER[..3].iter().all(|&rises| rises) && !RISES_WITH_SERVER[3]);
        // The rest of the ranker's weights stay 0 with a zero sum.
        let mut current = vec![0.0_f32; NUM_FEATURES];
        current[..4].copy_from_slice(&[0.5, 0.1, 0.0, 0.2]);
        let mut sum = vec![0.0; NUM_FEATURES];
        sum[..4].copy_from_slice(&[-0.4, -1.0, 0.6, -2.0]);
        let next = next_weights(&current, &sum, 2, 0.5);
        assert!(next[4..].iter().all(|&w| w == 0.0));
        // 0.5 - 0.1 = 0.4 stays; 0.1 - 0.25 = -0.15 -> 0; 0 + 0.15 = 0.15; 0.2 - 0.5 = -0.3 stays.
        let want = [0.4_f32, 0.0, 0.15, -0.3];
        for (i, (got, want)) in next.iter().zip(want).enumerate() {
            assert!((got - want).abs() < 1e-6, "weight {i}: {got} vs {want}");
        }
    }

    #[test]
    fn no_monotone_weight_is_published_below_zero_and_every_other_weight_moves_freely() {
        // Every weight is pushed down by 1 from 0.25: the monotone ones stop at 0.
        let current = vec![0.25_f32; NUM_FEATURES];
        let sum = vec![-10.0; NUM_FEATURES];
        let next = next_weights(&current, &sum, 10, 1.0);
        assert!(RISES_WITH_SERVER.iter().filter(|&&rises| rises).count() >= 3);
        for (i, (&got, rises)) in next.iter().zip(RISES_WITH_SERVER).enumerate() {
            let want = if rises { 0.0 } else { -0.75 };
            assert!((got - want).abs() < 1e-6, "weight {i} (monotone: {rises}): {got}");
        }
        // A step that keeps them >= 0 is published as it is (no report: the sum over one).
        let up = next_weights(&current, &vec![0.5; NUM_FEATURES], 0, 1.0);
        assert!(up.iter().all(|&w| (w - 0.75).abs() < 1e-6), "{up:?}");
    }

    #[test]
    fn projecting_a_monotone_model_never_moves_a_weight_further_than_the_unprojected_step() {
        // From weights that already keep the constraint, clamping at 0 only shortens a step, so
        // the devices' bound on one round's change still holds.
        let current: Vec<f32> = (0..NUM_FEATURES).map(|i| (i % 5) as f32 * 0.1).collect();
        let sum: Vec<f64> = (0..NUM_FEATURES).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
        let next = next_weights(&current, &sum, 10, 1.0);
        let mut clamped = 0;
        for (i, ((&old, &new), &s)) in current.iter().zip(&next).zip(&sum).enumerate() {
            let step = (f64::from(new) - f64::from(old)).abs();
            assert!(step <= (s / 10.0).abs() + 1e-6, "weight {i}: moved {step}, the step was {}", s / 10.0);
            clamped += usize::from(RISES_WITH_SERVER[i] && f64::from(old) + s / 10.0 < 0.0);
        }
        assert!(clamped > 0, "the case clamps some weight");
    }
}
