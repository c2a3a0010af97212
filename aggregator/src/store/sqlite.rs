//! The embedded default store: one SQLite file in WAL mode with `synchronous = FULL`, so a
//! commit is on disk before the server answers 2xx.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use shop_personalizer::sync::UpdateMessage;

use shop_personalizer::measure::LiftSums;

use super::{
    bucket_code, stored_sums, stored_u64, weights_from_bytes, weights_to_bytes, BatchOutcome, CurrentState, Fate,
    LiftEntry, NextModel, RoundTotals, Store, StoreError, StoredModel,
};
use crate::aggregation::Contribution;
use crate::policy::{accumulate, sum_from_bytes, sum_to_bytes};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS models (version INTEGER PRIMARY KEY, weights BLOB NOT NULL, signed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    version INTEGER PRIMARY KEY, sum BLOB NOT NULL, updates INTEGER NOT NULL, closed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS nonces (version INTEGER NOT NULL, nonce BLOB NOT NULL, PRIMARY KEY (version, nonce)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS round_members (
    version INTEGER NOT NULL, nonce BLOB NOT NULL, step INTEGER NOT NULL, vals BLOB NOT NULL, PRIMARY KEY (version, nonce)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lift_sums (
    fingerprint BLOB NOT NULL, bucket INTEGER NOT NULL, reports INTEGER NOT NULL, sums BLOB NOT NULL,
    PRIMARY KEY (fingerprint, bucket)
);
CREATE TABLE IF NOT EXISTS lift_nonces (nonce BLOB PRIMARY KEY) WITHOUT ROWID;
";

/// SQLite-backed [`Store`]. Calls run on tokio's blocking pool, one at a time.
#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(SCHEMA)?;
        connection.execute_batch(super::shares::SHARE_SCHEMA)?;
        connection.execute_batch(super::dap::DAP_SCHEMA)?;
        super::share_pending::migrate(&connection, super::unix_now())?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)) })
    }

    /// Runs `work` on the connection in this thread (callers in async code use `spawn_blocking`).
    pub(super) fn blocking<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard =
            self.connection.lock().map_err(|_| StoreError::Task("SQLite connection poisoned".to_owned()))?;
        work(&mut guard)
    }

    pub(super) async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().map_err(|_| StoreError::Task("SQLite connection poisoned".to_owned()))?;
            work(&mut guard)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }
}

pub(super) fn read_model(connection: &Connection, version: u64) -> Result<StoredModel, StoreError> {
    let (weights, signed): (Vec<u8>, Vec<u8>) = connection.query_row(
        "SELECT weights, signed FROM models WHERE version = ?1",
        params![version as i64],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(StoredModel { version, weights: weights_from_bytes(&weights)?, signed })
}

/// The running sum and count of the round of `version`, or `None` if it is missing or closed.
fn open_round(connection: &Connection, version: u64, dimension: usize) -> Result<Option<(Vec<i64>, u64)>, StoreError> {
    let round: Option<(Vec<u8>, i64, bool)> = connection
        .query_row("SELECT sum, updates, closed FROM rounds WHERE version = ?1", params![version as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((sum_bytes, count, false)) = round else {
        return Ok(None);
    };
    let sum = sum_from_bytes(&sum_bytes, dimension)
        .ok_or_else(|| StoreError::Corrupt(format!("round {version} sum is not {dimension} values")))?;
    Ok(Some((sum, stored_u64(count, "round updates")?)))
}

/// The kept updates of the round of `version`.
fn read_members(connection: &Connection, version: u64, dimension: usize) -> Result<Vec<Contribution>, StoreError> {
    let mut statement = connection.prepare_cached("SELECT step, vals FROM round_members WHERE version = ?1")?;
    let rows =
        statement.query_map(params![version as i64], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
    rows.map(|row| {
        let (step, values) = row?;
        Contribution::from_stored(step, &values, dimension)
            .ok_or_else(|| StoreError::Corrupt(format!("a kept update of round {version} is not {dimension} values")))
    })
    .collect()
}

/// The sums of one bucket of `fingerprint`, empty when the bucket has no row yet.
fn read_sums(
    connection: &Connection,
    fingerprint: &[u8],
    bucket: i64,
    dimension: usize,
) -> Result<LiftSums, StoreError> {
    let stored: Option<Vec<u8>> = connection
        .query_row(
            "SELECT sums FROM lift_sums WHERE fingerprint = ?1 AND bucket = ?2",
            params![fingerprint, bucket],
            |row| row.get(0),
        )
        .optional()?;
    stored.map_or_else(|| Ok(LiftSums::new(dimension)), |bytes| stored_sums(&bytes, dimension))
}

impl Store for SqliteStore {
    async fn signing_key_seed(&self, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        self.with(move |connection| {
            connection.execute(
                "INSERT OR IGNORE INTO settings (name, value) VALUES ('signing_key_seed', ?1)",
                params![candidate.to_vec()],
            )?;
            let stored: Vec<u8> =
                connection
                    .query_row("SELECT value FROM settings WHERE name = 'signing_key_seed'", [], |row| row.get(0))?;
            stored.try_into().map_err(|_| StoreError::Corrupt("signing key seed is not 32 bytes".to_owned()))
        })
        .await
    }

    async fn ensure_initial_model(&self, initial: StoredModel) -> Result<(), StoreError> {
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: i64 = tx.query_row("SELECT COUNT(*) FROM models", [], |row| row.get(0))?;
            if existing == 0 {
                let version = initial.version as i64;
                tx.execute(
                    "INSERT INTO models (version, weights, signed) VALUES (?1, ?2, ?3)",
                    params![version, weights_to_bytes(&initial.weights), initial.signed],
                )?;
                tx.execute(
                    "INSERT INTO rounds (version, sum, updates) VALUES (?1, ?2, 0)",
                    params![version, sum_to_bytes(&vec![0; initial.weights.len()])],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn current(&self) -> Result<CurrentState, StoreError> {
        self.with(|connection| {
            let version: i64 = connection.query_row("SELECT MAX(version) FROM models", [], |row| row.get(0))?;
            let version = stored_u64(version, "model version")?;
            let model = read_model(connection, version)?;
            let round_updates: i64 = connection.query_row(
                "SELECT updates FROM rounds WHERE version = ?1",
                params![version as i64],
                |row| row.get(0),
            )?;
            let last_closed: Option<(i64, i64)> = connection
                .query_row(
                    "SELECT version, updates FROM rounds WHERE closed = 1 ORDER BY version DESC LIMIT 1",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let last_closed = match last_closed {
                Some((v, n)) => Some((stored_u64(v, "round version")?, stored_u64(n, "round updates")?)),
                None => None,
            };
            Ok(CurrentState { model, round_updates: stored_u64(round_updates, "round updates")?, last_closed })
        })
        .await
    }

    async fn commit_batch(
        &self,
        version: u64,
        dimension: usize,
        updates: Vec<UpdateMessage>,
        keep_members: bool,
    ) -> Result<BatchOutcome, StoreError> {
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some((mut sum, count)) = open_round(&tx, version, dimension)? else {
                return Ok(BatchOutcome::Stale);
            };
            let count = count as i64;
            let mut fates = Vec::with_capacity(updates.len());
            let mut fresh = 0_i64;
            {
                let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO nonces (version, nonce) VALUES (?1, ?2)")?;
                let mut forget = tx.prepare_cached("DELETE FROM nonces WHERE version = ?1 AND nonce = ?2")?;
                let mut keep = tx
                    .prepare_cached("INSERT INTO round_members (version, nonce, step, vals) VALUES (?1, ?2, ?3, ?4)")?;
                for update in &updates {
                    let nonce = (version as i64, &update.nonce[..]);
                    if insert.execute(params![nonce.0, nonce.1])? == 0 {
                        fates.push(Fate::Replayed);
                        continue;
                    }
                    // The member's step and the sum's are the same `fixed_step`: both fit or neither.
                    match Contribution::of(update) {
                        Ok(member) if accumulate(&mut sum, update).is_ok() => {
                            if keep_members {
                                keep.execute(params![nonce.0, nonce.1, member.step, member.values_to_bytes()])?;
                            }
                            fresh += 1;
                            fates.push(Fate::Added);
                        }
                        _ => {
                            forget.execute(params![nonce.0, nonce.1])?;
                            fates.push(Fate::Overflow);
                        }
                    }
                }
            }
            let count = count + fresh;
            tx.execute(
                "UPDATE rounds SET sum = ?1, updates = ?2 WHERE version = ?3",
                params![sum_to_bytes(&sum), count, version as i64],
            )?;
            tx.commit()?;
            Ok(BatchOutcome::Committed { fates, round_updates: stored_u64(count, "round updates")? })
        })
        .await
    }

    async fn close_round(
        &self,
        version: u64,
        dimension: usize,
        min_updates: u64,
        next: NextModel,
    ) -> Result<bool, StoreError> {
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some((sum, count)) = open_round(&tx, version, dimension)?.filter(|(_, count)| *count >= min_updates)
            else {
                return Ok(false);
            };
            let current = read_model(&tx, version)?;
            let members = read_members(&tx, version, dimension)?;
            let published = next(&current.weights, RoundTotals { sum, count, members });
            let next_version = published.version as i64;
            tx.execute(
                "INSERT INTO models (version, weights, signed) VALUES (?1, ?2, ?3)",
                params![next_version, weights_to_bytes(&published.weights), published.signed],
            )?;
            tx.execute(
                "INSERT INTO rounds (version, sum, updates) VALUES (?1, ?2, 0)",
                params![next_version, sum_to_bytes(&vec![0; dimension])],
            )?;
            tx.execute("UPDATE rounds SET closed = 1, sum = x'' WHERE version = ?1", params![version as i64])?;
            tx.execute("DELETE FROM nonces WHERE version <= ?1", params![version as i64])?;
            tx.execute("DELETE FROM round_members WHERE version <= ?1", params![version as i64])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn add_lift_report(&self, entry: LiftEntry) -> Result<bool, StoreError> {
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let fresh =
                tx.execute("INSERT OR IGNORE INTO lift_nonces (nonce) VALUES (?1)", params![&entry.nonce[..]])? == 1;
            if !fresh {
                return Ok(false);
            }
            let bucket = bucket_code(entry.bucket);
            let mut sums = read_sums(&tx, &entry.fingerprint, bucket, entry.values.len())?;
            sums.add(&entry.values);
            tx.execute(
                "INSERT INTO lift_sums (fingerprint, bucket, reports, sums) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (fingerprint, bucket) DO UPDATE SET reports = excluded.reports, sums = excluded.sums",
                params![&entry.fingerprint[..], bucket, sums.reports() as i64, sums.to_bytes()],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn lift_sums(&self, fingerprint: [u8; 8], dimension: usize) -> Result<(LiftSums, LiftSums), StoreError> {
        self.with(move |connection| {
            let personalized = read_sums(connection, &fingerprint, 0, dimension)?;
            Ok((personalized, read_sums(connection, &fingerprint, 1, dimension)?))
        })
        .await
    }
}
