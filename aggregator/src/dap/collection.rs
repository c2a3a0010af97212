//! The leader's collector-facing side (DAP-09 §4.6): a collector (Divvi Up's `janus_collector`,
//! or any DAP-09 collector holding the task's collector HPKE key) creates a collection job with
//! `PUT /tasks/{task}/collection_jobs/{job}`, polls it with `POST` on the same path, and may drop it
//! with `DELETE`. The task is
//! fixed-size: the query is `current_batch` or `by_batch_id`; the leader answers with the batch's
//! report count and both aggregate shares sealed to the collector (its own and the helper's),
//! once the batch holds at least `min_batch_size` reports. A batch is released once, to whichever
//! asks first: a collection job, or the leader's own driver when the leader holds the collector's
//! private key and publishes models ([`super::leader::collect`]).
//!
//! Jobs live in the store (`store/dap_collection_jobs.rs`): a job's answer is written in the
//! transaction that marks its batch collected, so a restart between the release and the
//! collector's next poll answers that poll with the same bytes. Bounds: at most
//! [`MAX_COLLECTION_JOBS`] jobs without an answer at once; a request is one `CollectionReq` of a
//! few dozen bytes.

use janus_messages::query_type::FixedSize;
use janus_messages::{
    AggregateShare, AggregateShareAad, AggregateShareReq, BatchId, BatchSelector, Collection, CollectionReq, Duration,
    FixedSizeQuery, Interval, PartialBatchSelector, ReportIdChecksum, Role, Time,
};
use prio::codec::{Decode, Encode};
use shop_personalizer::sync::dap::hpke_seal::{seal, HpkeLabel};

use super::helper::DapRequestError;
use super::leader::{LeaderError, LeaderState};

/// The most collection jobs without an answer the leader keeps at once.
pub const MAX_COLLECTION_JOBS: usize = 64;
/// The time precision the collection's interval is aligned to (the devices' default).
pub const COLLECTION_TIME_PRECISION_SECS: u64 = 3_600;

/// Serializes the leader's collection-job requests (the jobs themselves are in its store).
#[derive(Default)]
pub struct CollectionJobs {
    lock: tokio::sync::Mutex<()>,
}

/// What a poll found.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// The encoded `Collection` (the same bytes on every poll).
    Ready(Vec<u8>),
    /// The batch is still below `min_batch_size`, or a job is running in it: poll again.
    NotReady,
}

/// Why a collection request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    #[error("{0}")]
    Request(#[from] DapRequestError),
    #[error("{0}")]
    Leader(#[from] LeaderError),
    #[error("no collection job {0} here")]
    UnknownJob(String),
    #[error("the leader already holds {MAX_COLLECTION_JOBS} collection jobs")]
    TooManyJobs,
}

/// Starts collection job `job_id` (`PUT`): the same request twice is accepted once.
pub async fn start(state: &LeaderState, job_id: [u8; 16], body: Vec<u8>) -> Result<(), CollectionError> {
    query_of(&body)?;
    let _jobs = state.collection_jobs.lock.lock().await;
    if let Some((request, _)) = state.store.dap_collection_job(job_id).await.map_err(DapRequestError::from)? {
        return if request == body { Ok(()) } else { Err(DapRequestError::JobChanged.into()) };
    }
    let max = MAX_COLLECTION_JOBS as u64;
    if !state.store.dap_put_collection_job(job_id, body, max).await.map_err(DapRequestError::from)? {
        return Err(CollectionError::TooManyJobs);
    }
    Ok(())
}

/// The fixed-size query of an encoded `CollectionReq` without an aggregation parameter.
fn query_of(body: &[u8]) -> Result<FixedSizeQuery, DapRequestError> {
    let request = CollectionReq::<FixedSize>::get_decoded(body)
        .map_err(|error| DapRequestError::InvalidMessage(error.to_string()))?;
    if !request.aggregation_parameter().is_empty() {
        return Err(DapRequestError::InvalidMessage("Prio3 takes no aggregation parameter".into()));
    }
    Ok(request.query().fixed_size_query().clone())
}

/// Forgets collection job `job_id` (`DELETE`); a batch it released stays collected.
pub async fn delete(state: &LeaderState, job_id: [u8; 16]) -> Result<(), CollectionError> {
    let _jobs = state.collection_jobs.lock.lock().await;
    if state.store.dap_delete_collection_job(job_id).await.map_err(DapRequestError::from)? {
        Ok(())
    } else {
        Err(CollectionError::UnknownJob(hex::encode(job_id)))
    }
}

/// Polls collection job `job_id` (`POST`): releases the batch once it is large enough.
pub async fn poll(state: &LeaderState, job_id: [u8; 16], now_secs: u64) -> Result<Poll, CollectionError> {
    let _jobs = state.collection_jobs.lock.lock().await;
    let job = state.store.dap_collection_job(job_id).await.map_err(DapRequestError::from)?;
    let (request, answer) = job.ok_or_else(|| CollectionError::UnknownJob(hex::encode(job_id)))?;
    if let Some(answer) = answer {
        return Ok(Poll::Ready(answer));
    }
    let query = query_of(&request)?;
    let _guard = state.driver.lock().await;
    let Some((batch_id, batch)) =
        state.store.dap_batch_to_collect(state.task.min_batch_size).await.map_err(DapRequestError::from)?
    else {
        return Ok(Poll::NotReady);
    };
    if let FixedSizeQuery::ByBatchId { batch_id: wanted } = &query {
        if wanted.as_ref() != &batch_id {
            return Err(DapRequestError::BatchMismatch.into());
        }
    }
    let internal = |error: &dyn std::fmt::Display| DapRequestError::Internal(error.to_string());
    let selector = BatchSelector::<FixedSize>::new_fixed_size(BatchId::from(batch_id));
    let request =
        AggregateShareReq::new(selector.clone(), Vec::new(), batch.reports, ReportIdChecksum::from(batch.checksum))
            .get_encoded()
            .map_err(|e| internal(&e))?;
    let path = format!("/tasks/{}/aggregate_shares", state.task.task_id);
    let answer = state
        .helper
        .dap_request(hyper::Method::POST, &path, AggregateShareReq::<FixedSize>::MEDIA_TYPE, request)
        .await
        .map_err(LeaderError::from)?;
    let helper_share = AggregateShare::get_decoded(&answer)
        .map_err(|error| LeaderError::BadHelperAnswer(error.to_string()))?
        .encrypted_aggregate_share()
        .clone();
    let aad =
        AggregateShareAad::new(state.task.task_id, Vec::new(), selector).get_encoded().map_err(|e| internal(&e))?;
    let leader_share = batch.share.as_deref().ok_or(DapRequestError::BatchMismatch)?;
    let leader_share = state.task.released_share(&batch_id, leader_share).map_err(DapRequestError::Internal)?;
    let leader_share = seal(
        &state.task.collector_config,
        HpkeLabel::AggregateShare,
        Role::Leader,
        Role::Collector,
        &leader_share,
        &aad,
        &mut rand_core06::OsRng,
    )
    .map_err(|e| internal(&e))?;
    let collection = Collection::new(
        PartialBatchSelector::new_fixed_size(BatchId::from(batch_id)),
        batch.reports,
        batch_interval(now_secs)?,
        leader_share,
        helper_share,
    )
    .get_encoded()
    .map_err(|e| internal(&e))?;
    state.store.dap_release_collection(job_id, batch_id, collection.clone()).await.map_err(DapRequestError::from)?;
    Ok(Poll::Ready(collection))
}

/// The interval the collection names. The store keeps no report timestamps, so it is the widest
/// honest one: from the epoch to `now` rounded up to [`COLLECTION_TIME_PRECISION_SECS`] (DAP-09
/// asks for the smallest interval holding the batch's reports; collectors only report it).
fn batch_interval(now_secs: u64) -> Result<Interval, DapRequestError> {
    let end = now_secs.div_ceil(COLLECTION_TIME_PRECISION_SECS).max(1) * COLLECTION_TIME_PRECISION_SECS;
    Interval::new(Time::from_seconds_since_epoch(0), Duration::from_seconds(end))
        .map_err(|error| DapRequestError::Internal(error.to_string()))
}
