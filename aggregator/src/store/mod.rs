//! Durable aggregation state behind one trait: the published models, each round's running sum
//! (O(dimension)), its count, the nonces it has seen and, for a trimmed-mean round, the open
//! round's admitted updates (deleted when it closes); and for
//! lift reports, each bucket's sums (`measure::LiftSums`, O(D²), never the individual reports)
//! per lift configuration fingerprint, and the report nonces seen.
//!
//! [`sqlite::SqliteStore`] is the embedded default; [`postgres::PostgresStore`] lets several
//! replicas share one database (row locks serialize their batches, unique nonces reject replays
//! across replicas).

pub mod dap;
pub mod dap_collection_jobs;
pub mod dap_leader;
pub mod dap_postgres;
pub mod dap_store;
pub mod postgres;
pub mod share_pending;
pub mod shares;
pub mod sqlite;

use std::future::Future;

use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::LiftSums;
use shop_personalizer::sync::UpdateMessage;
use thiserror::Error;

use crate::aggregation::Contribution;

/// Why storage failed. The update was not accepted; the client may retry.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("stored state is inconsistent: {0}")]
    Corrupt(String),
    #[error("storage task stopped: {0}")]
    Task(String),
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
}

/// A published model: its weights and the signed body devices download.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub version: u64,
    pub weights: Vec<f32>,
    pub signed: Vec<u8>,
}

/// The current model, the open round's count, and the last closed round.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentState {
    pub model: StoredModel,
    /// Updates accepted in the open round (which aggregates updates against `model.version`).
    pub round_updates: u64,
    /// `(version, updates)` of the last closed round.
    pub last_closed: Option<(u64, u64)>,
}

/// What a batch commit did with one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Added,
    /// Its nonce was already seen: not added.
    Replayed,
    /// The running sum could not take it without overflowing: not added, nonce not recorded.
    Overflow,
}

/// What a batch commit did.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// Committed. `fates[i]` is what happened to update `i`.
    Committed { fates: Vec<Fate>, round_updates: u64 },
    /// The round for this version is closed (another replica may have closed it): nothing stored.
    Stale,
}

/// What a closing round aggregated.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundTotals {
    /// The fixed-point running sum.
    pub sum: Vec<i64>,
    /// Updates added.
    pub count: u64,
    /// The kept updates (empty unless the round was committed with `keep_members`).
    pub members: Vec<Contribution>,
}

/// Computes the next model from the current weights and the closing round's totals.
pub type NextModel = Box<dyn FnOnce(&[f32], RoundTotals) -> StoredModel + Send>;

/// Durable aggregation state. Every method is one transaction.
pub trait Store: Send + Sync + 'static {
    /// Creates the schema if missing and returns the signing key seed, storing `candidate` if
    /// none is stored yet (so replicas share one key).
    fn signing_key_seed(&self, candidate: [u8; 32]) -> impl Future<Output = Result<[u8; 32], StoreError>> + Send;

    /// Publishes `initial` as the first model and opens its round, unless a model exists.
    fn ensure_initial_model(&self, initial: StoredModel) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest model and the state of its round.
    fn current(&self) -> impl Future<Output = Result<CurrentState, StoreError>> + Send;

    /// Adds the updates with fresh nonces to the open round of `version` (with checked
    /// arithmetic) and records their nonces, atomically; with `keep_members` also keeps each
    /// added update until the round closes. All updates must be already admitted for `version`.
    fn commit_batch(
        &self,
        version: u64,
        dimension: usize,
        updates: Vec<UpdateMessage>,
        keep_members: bool,
    ) -> impl Future<Output = Result<BatchOutcome, StoreError>> + Send;

    /// If the round of `version` is open with at least `min_updates`, closes it, publishes the
    /// model `next` computes as `version + 1`, and opens that round. Returns whether it closed.
    fn close_round(
        &self,
        version: u64,
        dimension: usize,
        min_updates: u64,
        next: NextModel,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Adds an admitted lift report to its bucket's sums and records its nonce, atomically.
    /// Returns false (and adds nothing) when the nonce was already seen.
    fn add_lift_report(&self, entry: LiftEntry) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The (personalized, holdout) sums of configuration `fingerprint` (empty when none arrived).
    fn lift_sums(
        &self,
        fingerprint: [u8; 8],
        dimension: usize,
    ) -> impl Future<Output = Result<(LiftSums, LiftSums), StoreError>> + Send;
}

/// What one lift report adds: under which configuration, to which bucket, with which nonce.
#[derive(Debug, Clone, PartialEq)]
pub struct LiftEntry {
    pub fingerprint: [u8; 8],
    pub bucket: LiftBucket,
    pub nonce: [u8; 16],
    pub values: Vec<f64>,
}

/// The stored bucket number of `bucket`.
pub fn bucket_code(bucket: LiftBucket) -> i64 {
    match bucket {
        LiftBucket::Personalized => 0,
        LiftBucket::Holdout => 1,
    }
}

/// Reads stored sums of `dimension`, or says what is wrong.
pub fn stored_sums(bytes: &[u8], dimension: usize) -> Result<LiftSums, StoreError> {
    LiftSums::from_bytes(bytes, dimension)
        .ok_or_else(|| StoreError::Corrupt(format!("lift sums are not {dimension}-dimensional finite sums")))
}

/// Decodes little-endian f32 weights.
pub fn weights_from_bytes(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    if bytes.len() % 4 != 0 {
        return Err(StoreError::Corrupt(format!("weights blob of {} bytes", bytes.len())));
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Encodes f32 weights little-endian.
pub fn weights_to_bytes(weights: &[f32]) -> Vec<u8> {
    weights.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Converts a stored integer to the u64 it was written from.
pub fn stored_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
