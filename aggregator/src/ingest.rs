//! The writer task: admitted updates queue here, are committed in groups (one transaction and
//! one fsync per group), and each request is answered only after its group is durable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shop_personalizer::sync::UpdateMessage;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::config::CheckedConfig;
use crate::policy::AdmitError;
use crate::rounds::next_model;
use crate::store::{BatchOutcome, CurrentState, Fate, Store, StoreError};

/// Requests that may wait for the writer; beyond this the server answers 503.
pub const QUEUE_CAPACITY: usize = 16_384;
/// How often the writer re-reads the store to see models other replicas published.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Why the writer did not store an admitted update.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IngestError {
    /// A round closed while the update waited: it was computed against the previous model.
    #[error(transparent)]
    Stale(#[from] AdmitError),
    #[error("this nonce was already received: each update or lift report is accepted once")]
    Replayed,
    #[error("the round's fixed-point sum cannot take this update without overflowing: it was not added")]
    SumOverflow,
    #[error("the update could not be stored: retry later")]
    Storage,
    /// The writer's queue is full (or the writer stopped).
    #[error("the server is overloaded: retry later")]
    Overloaded,
}

/// The latest model and round state, shared with the HTTP handlers.
#[derive(Debug, Default)]
pub struct SharedState {
    current: RwLock<Option<Arc<CurrentState>>>,
}

impl SharedState {
    pub fn new(state: CurrentState) -> Self {
        Self { current: RwLock::new(Some(Arc::new(state))) }
    }

    /// The latest snapshot (`None` only before startup finished).
    pub fn get(&self) -> Option<Arc<CurrentState>> {
        self.current.read().ok().and_then(|guard| guard.clone())
    }

    fn set(&self, state: CurrentState) {
        if let Ok(mut guard) = self.current.write() {
            *guard = Some(Arc::new(state));
        }
    }

    fn set_round_updates(&self, version: u64, round_updates: u64) {
        if let Ok(mut guard) = self.current.write() {
            if let Some(current) = guard.as_ref().filter(|current| current.model.version == version) {
                let mut next = CurrentState::clone(current);
                next.round_updates = round_updates;
                *guard = Some(Arc::new(next));
            }
        }
    }
}

/// Whether the store answered the writer's last call, and why not: what `/healthz` reports.
/// The writer calls the store at least every [`REFRESH_INTERVAL`], so this is never older.
#[derive(Debug)]
pub struct StoreHealth {
    healthy: AtomicBool,
    reason: Mutex<String>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self { healthy: AtomicBool::new(true), reason: Mutex::new(String::new()) }
    }
}

impl StoreHealth {
    /// `Err(reason)` when the store's last call failed.
    pub fn check(&self) -> Result<(), String> {
        if self.healthy.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(self.reason.lock().map_or_else(|_| "unknown".to_owned(), |reason| reason.clone()))
        }
    }

    fn record<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.healthy.store(true, Ordering::Release),
            Err(error) => {
                if let Ok(mut reason) = self.reason.lock() {
                    *reason = error.to_string();
                }
                self.healthy.store(false, Ordering::Release);
            }
        }
    }
}

struct Job {
    update: UpdateMessage,
    reply: oneshot::Sender<Result<(), IngestError>>,
}

/// Where handlers submit admitted updates.
#[derive(Clone)]
pub struct IngestHandle {
    jobs: mpsc::Sender<Job>,
}

impl IngestHandle {
    /// Queues `update` and waits until it is durably stored (or refused).
    pub async fn submit(&self, update: UpdateMessage) -> Result<(), IngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(Job { update, reply }).map_err(|_| IngestError::Overloaded)?;
        answer.await.map_err(|_| IngestError::Overloaded)?
    }
}

/// Starts the writer task over `store`.
pub fn spawn_writer<S: Store>(
    store: Arc<S>,
    config: Arc<CheckedConfig>,
    key: SigningKey,
    state: Arc<SharedState>,
    health: Arc<StoreHealth>,
    seed: u64,
) -> IngestHandle {
    let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE_CAPACITY);
    tokio::spawn(async move {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut refresh = tokio::time::interval(REFRESH_INTERVAL);
        loop {
            tokio::select! {
                job = queue.recv() => {
                    let Some(first) = job else { break };
                    let mut batch = vec![first];
                    while batch.len() < config.max_batch {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    commit(&*store, &config, &state, &health, batch).await;
                    close_if_full(&*store, &config, &key, &state, rng.next_u64()).await;
                }
                _ = refresh.tick() => {
                    health.record(&reload(&*store, &state).await);
                    close_if_full(&*store, &config, &key, &state, rng.next_u64()).await;
                }
            }
        }
    });
    IngestHandle { jobs }
}

async fn reload<S: Store>(store: &S, state: &SharedState) -> Result<(), StoreError> {
    match store.current().await {
        Ok(current) => {
            state.set(current);
            Ok(())
        }
        Err(error) => {
            eprintln!("aggregator: could not read the current model: {error}");
            Err(error)
        }
    }
}

async fn commit<S: Store>(
    store: &S,
    config: &CheckedConfig,
    state: &SharedState,
    health: &StoreHealth,
    batch: Vec<Job>,
) {
    let Some(current) = state.get() else { return };
    let version = current.model.version;
    let (updates, replies): (Vec<UpdateMessage>, Vec<_>) = batch
        .into_iter()
        .filter_map(|job| {
            if job.update.model_version == version {
                Some((job.update, job.reply))
            } else {
                let _ = job.reply.send(Err(AdmitError::WrongModelVersion {
                    got: job.update.model_version,
                    current: version,
                }
                .into()));
                None
            }
        })
        .unzip();
    if updates.is_empty() {
        return;
    }
    let keep_members = config.round_rule.keeps_updates();
    let outcome = store.commit_batch(version, config.dimension, updates, keep_members).await;
    health.record(&outcome);
    match outcome {
        Ok(BatchOutcome::Committed { fates, round_updates }) => {
            state.set_round_updates(version, round_updates);
            for (reply, fate) in replies.into_iter().zip(fates) {
                let _ = reply.send(match fate {
                    Fate::Added => Ok(()),
                    Fate::Replayed => Err(IngestError::Replayed),
                    Fate::Overflow => Err(IngestError::SumOverflow),
                });
            }
        }
        Ok(BatchOutcome::Stale) => {
            let _ = reload(store, state).await;
            let now = state.get().map_or(version, |current| current.model.version);
            for reply in replies {
                let _ = reply.send(Err(AdmitError::WrongModelVersion { got: version, current: now }.into()));
            }
        }
        Err(error) => {
            eprintln!("aggregator: storing a batch failed: {error}");
            for reply in replies {
                let _ = reply.send(Err(IngestError::Storage));
            }
        }
    }
}

async fn close_if_full<S: Store>(
    store: &S,
    config: &CheckedConfig,
    key: &SigningKey,
    state: &SharedState,
    noise_seed: u64,
) {
    let Some(current) = state.get() else { return };
    if current.round_updates < config.min_updates_per_round {
        return;
    }
    let version = current.model.version;
    let next = next_model(config, key.clone(), version, noise_seed);
    match store.close_round(version, config.dimension, config.min_updates_per_round, next).await {
        Ok(_) => {
            let _ = reload(store, state).await;
        }
        Err(error) => eprintln!("aggregator: closing round {version} failed: {error}"),
    }
}
