//! The lift task: handlers hand admitted lift reports and reads of the sums to one task that
//! owns the store handle, so the HTTP state stays independent of the store type. Each report is
//! one transaction, committed before the request is answered.

use std::sync::Arc;

use shop_personalizer::measure::LiftSums;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::store::{LiftEntry, Store};

/// Requests that may wait for the lift task; beyond this the server answers 503.
pub const LIFT_QUEUE_CAPACITY: usize = 1_024;

/// Why the lift task did not store a report or read the sums.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LiftIngestError {
    #[error("this nonce was already received: each update or lift report is accepted once")]
    Replayed,
    #[error("the update could not be stored: retry later")]
    Storage,
    /// The lift task's queue is full (or the task stopped).
    #[error("the server is overloaded: retry later")]
    Overloaded,
}

enum LiftJob {
    Add(LiftEntry, oneshot::Sender<Result<bool, LiftIngestError>>),
    Read([u8; 8], usize, oneshot::Sender<Result<(LiftSums, LiftSums), LiftIngestError>>),
}

/// Where handlers submit lift reports and read the sums.
#[derive(Clone)]
pub struct LiftHandle {
    jobs: mpsc::Sender<LiftJob>,
}

impl LiftHandle {
    /// Stores `entry` durably; `Err(Replayed)` when its nonce was already seen.
    pub async fn add(&self, entry: LiftEntry) -> Result<(), LiftIngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(LiftJob::Add(entry, reply)).map_err(|_| LiftIngestError::Overloaded)?;
        match answer.await.map_err(|_| LiftIngestError::Overloaded)?? {
            true => Ok(()),
            false => Err(LiftIngestError::Replayed),
        }
    }

    /// The (personalized, holdout) sums of configuration `fingerprint`.
    pub async fn sums(&self, fingerprint: [u8; 8], dimension: usize) -> Result<(LiftSums, LiftSums), LiftIngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(LiftJob::Read(fingerprint, dimension, reply)).map_err(|_| LiftIngestError::Overloaded)?;
        answer.await.map_err(|_| LiftIngestError::Overloaded)?
    }
}

/// Starts the lift task over `store`.
pub fn spawn_lift_task<S: Store>(store: Arc<S>) -> LiftHandle {
    let (jobs, mut queue) = mpsc::channel::<LiftJob>(LIFT_QUEUE_CAPACITY);
    tokio::spawn(async move {
        while let Some(job) = queue.recv().await {
            match job {
                LiftJob::Add(entry, reply) => {
                    let result = store.add_lift_report(entry).await.map_err(|error| {
                        eprintln!("aggregator: storing a lift report failed: {error}");
                        LiftIngestError::Storage
                    });
                    let _ = reply.send(result);
                }
                LiftJob::Read(fingerprint, dimension, reply) => {
                    let result = store.lift_sums(fingerprint, dimension).await.map_err(|error| {
                        eprintln!("aggregator: reading the lift sums failed: {error}");
                        LiftIngestError::Storage
                    });
                    let _ = reply.send(result);
                }
            }
        }
    });
    LiftHandle { jobs }
}
