//! PostgreSQL store for several aggregator replicas sharing one database. Each batch locks its
//! round row (`SELECT ... FOR UPDATE`), so concurrent replicas add to the sum one after another
//! and lose nothing; the nonce primary key rejects a replay whichever replica receives it.

use std::collections::HashSet;

use shop_personalizer::sync::UpdateMessage;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use shop_personalizer::measure::LiftSums;

use super::{
    bucket_code, stored_sums, stored_u64, weights_from_bytes, weights_to_bytes, BatchOutcome, CurrentState, LiftEntry,
    NextModel, Store, StoreError, StoredModel,
};
use crate::policy::{accumulate, sum_from_bytes, sum_to_bytes};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS aggregator_settings (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS aggregator_models (version BIGINT PRIMARY KEY, weights BYTEA NOT NULL, signed BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS aggregator_rounds (
    version BIGINT PRIMARY KEY, sum BYTEA NOT NULL, updates BIGINT NOT NULL, closed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS aggregator_nonces (version BIGINT NOT NULL, nonce BYTEA NOT NULL, PRIMARY KEY (version, nonce));
CREATE TABLE IF NOT EXISTS aggregator_lift_sums (
    fingerprint BYTEA NOT NULL, bucket BIGINT NOT NULL, reports BIGINT NOT NULL, sums BYTEA NOT NULL,
    PRIMARY KEY (fingerprint, bucket)
);
CREATE TABLE IF NOT EXISTS aggregator_lift_nonces (nonce BYTEA PRIMARY KEY);
";

/// Key of the advisory lock that serializes schema creation and the first model across replicas.
const SETUP_LOCK: i64 = 0x5350_4147;

/// PostgreSQL-backed [`Store`] over one connection.
pub struct PostgresStore {
    client: Mutex<Client>,
}

impl PostgresStore {
    /// Connects to `url` (e.g. `postgres://user@127.0.0.1:5432/db`) and creates the schema if missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("aggregator: PostgreSQL connection closed: {error}");
            }
        });
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK]).await?;
        tx.batch_execute(SCHEMA).await?;
        tx.commit().await?;
        Ok(Self { client: Mutex::new(client) })
    }
}

async fn read_model(client: &impl tokio_postgres::GenericClient, version: u64) -> Result<StoredModel, StoreError> {
    let row = client
        .query_one("SELECT weights, signed FROM aggregator_models WHERE version = $1", &[&(version as i64)])
        .await?;
    let weights: Vec<u8> = row.get(0);
    Ok(StoredModel { version, weights: weights_from_bytes(&weights)?, signed: row.get(1) })
}

/// Locks the round row of `version` until the transaction ends and returns its running sum and
/// count, or `None` if it is missing or closed.
async fn lock_open_round(
    tx: &tokio_postgres::Transaction<'_>,
    version: u64,
    dimension: usize,
) -> Result<Option<(Vec<i64>, u64)>, StoreError> {
    let round = tx
        .query_opt(
            "SELECT sum, updates, closed FROM aggregator_rounds WHERE version = $1 FOR UPDATE",
            &[&(version as i64)],
        )
        .await?;
    let Some(round) = round.filter(|row| !row.get::<_, bool>(2)) else {
        return Ok(None);
    };
    let sum_bytes: Vec<u8> = round.get(0);
    let sum = sum_from_bytes(&sum_bytes, dimension)
        .ok_or_else(|| StoreError::Corrupt(format!("round {version} sum is not {dimension} values")))?;
    Ok(Some((sum, stored_u64(round.get(1), "round updates")?)))
}

/// The sums of one bucket of `fingerprint` (locked until the transaction ends when `lock`),
/// empty when the bucket has no row yet.
async fn read_sums(
    client: &impl tokio_postgres::GenericClient,
    fingerprint: &[u8],
    bucket: i64,
    dimension: usize,
    lock: bool,
) -> Result<LiftSums, StoreError> {
    let query = if lock {
        "SELECT sums FROM aggregator_lift_sums WHERE fingerprint = $1 AND bucket = $2 FOR UPDATE"
    } else {
        "SELECT sums FROM aggregator_lift_sums WHERE fingerprint = $1 AND bucket = $2"
    };
    let row = client.query_opt(query, &[&fingerprint, &bucket]).await?;
    row.map_or_else(|| Ok(LiftSums::new(dimension)), |row| stored_sums(&row.get::<_, Vec<u8>>(0), dimension))
}

impl Store for PostgresStore {
    async fn signing_key_seed(&self, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        let client = self.client.lock().await;
        client
            .execute(
                "INSERT INTO aggregator_settings (name, value) VALUES ('signing_key_seed', $1) ON CONFLICT DO NOTHING",
                &[&candidate.to_vec()],
            )
            .await?;
        let row =
            client.query_one("SELECT value FROM aggregator_settings WHERE name = 'signing_key_seed'", &[]).await?;
        let stored: Vec<u8> = row.get(0);
        stored.try_into().map_err(|_| StoreError::Corrupt("signing key seed is not 32 bytes".to_owned()))
    }

    async fn ensure_initial_model(&self, initial: StoredModel) -> Result<(), StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK]).await?;
        let existing: i64 = tx.query_one("SELECT COUNT(*) FROM aggregator_models", &[]).await?.get(0);
        if existing == 0 {
            let version = initial.version as i64;
            tx.execute(
                "INSERT INTO aggregator_models (version, weights, signed) VALUES ($1, $2, $3)",
                &[&version, &weights_to_bytes(&initial.weights), &initial.signed],
            )
            .await?;
            tx.execute(
                "INSERT INTO aggregator_rounds (version, sum, updates) VALUES ($1, $2, 0)",
                &[&version, &sum_to_bytes(&vec![0; initial.weights.len()])],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn current(&self) -> Result<CurrentState, StoreError> {
        let client = self.client.lock().await;
        let version: i64 = client.query_one("SELECT MAX(version) FROM aggregator_models", &[]).await?.get(0);
        let model = read_model(&*client, stored_u64(version, "model version")?).await?;
        let round_updates: i64 =
            client.query_one("SELECT updates FROM aggregator_rounds WHERE version = $1", &[&version]).await?.get(0);
        let last_closed = client
            .query_opt("SELECT version, updates FROM aggregator_rounds WHERE closed ORDER BY version DESC LIMIT 1", &[])
            .await?;
        let last_closed = match last_closed {
            Some(row) => Some((stored_u64(row.get(0), "round version")?, stored_u64(row.get(1), "round updates")?)),
            None => None,
        };
        Ok(CurrentState { model, round_updates: stored_u64(round_updates, "round updates")?, last_closed })
    }

    async fn commit_batch(
        &self,
        version: u64,
        dimension: usize,
        updates: Vec<UpdateMessage>,
    ) -> Result<BatchOutcome, StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let Some((mut sum, count)) = lock_open_round(&tx, version, dimension).await? else {
            return Ok(BatchOutcome::Stale);
        };
        let nonces: Vec<Vec<u8>> = updates.iter().map(|update| update.nonce.to_vec()).collect();
        let inserted = tx
            .query(
                "INSERT INTO aggregator_nonces (version, nonce) SELECT $1, n FROM unnest($2::bytea[]) AS n \
                 ON CONFLICT DO NOTHING RETURNING nonce",
                &[&(version as i64), &nonces],
            )
            .await?;
        let mut fresh_nonces: HashSet<Vec<u8>> = inserted.iter().map(|row| row.get(0)).collect();
        let mut replayed = Vec::with_capacity(updates.len());
        let mut fresh = 0_i64;
        for update in &updates {
            let is_fresh = fresh_nonces.remove(&update.nonce[..]);
            if is_fresh {
                accumulate(&mut sum, update);
                fresh += 1;
            }
            replayed.push(!is_fresh);
        }
        let count = count as i64 + fresh;
        tx.execute(
            "UPDATE aggregator_rounds SET sum = $1, updates = $2 WHERE version = $3",
            &[&sum_to_bytes(&sum), &count, &(version as i64)],
        )
        .await?;
        tx.commit().await?;
        Ok(BatchOutcome::Committed { replayed, round_updates: stored_u64(count, "round updates")? })
    }

    async fn close_round(
        &self,
        version: u64,
        dimension: usize,
        min_updates: u64,
        next: NextModel,
    ) -> Result<bool, StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let round = lock_open_round(&tx, version, dimension).await?;
        let Some((sum, count)) = round.filter(|(_, count)| *count >= min_updates) else {
            return Ok(false);
        };
        let current = read_model(&tx, version).await?;
        let published = next(&current.weights, sum, count);
        let next_version = published.version as i64;
        tx.execute(
            "INSERT INTO aggregator_models (version, weights, signed) VALUES ($1, $2, $3)",
            &[&next_version, &weights_to_bytes(&published.weights), &published.signed],
        )
        .await?;
        tx.execute(
            "INSERT INTO aggregator_rounds (version, sum, updates) VALUES ($1, $2, 0)",
            &[&next_version, &sum_to_bytes(&vec![0; dimension])],
        )
        .await?;
        tx.execute(
            "UPDATE aggregator_rounds SET closed = TRUE, sum = ''::bytea WHERE version = $1",
            &[&(version as i64)],
        )
        .await?;
        tx.execute("DELETE FROM aggregator_nonces WHERE version <= $1", &[&(version as i64)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn add_lift_report(&self, entry: LiftEntry) -> Result<bool, StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let fresh = tx
            .execute(
                "INSERT INTO aggregator_lift_nonces (nonce) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&&entry.nonce[..]],
            )
            .await?
            == 1;
        if !fresh {
            return Ok(false);
        }
        let (fingerprint, bucket) = (&entry.fingerprint[..], bucket_code(entry.bucket));
        let dimension = entry.values.len();
        // The row exists before it is locked, so concurrent replicas serialize on it.
        tx.execute(
            "INSERT INTO aggregator_lift_sums (fingerprint, bucket, reports, sums) VALUES ($1, $2, 0, $3) \
             ON CONFLICT DO NOTHING",
            &[&fingerprint, &bucket, &LiftSums::new(dimension).to_bytes()],
        )
        .await?;
        let mut sums = read_sums(&tx, fingerprint, bucket, dimension, true).await?;
        sums.add(&entry.values);
        tx.execute(
            "UPDATE aggregator_lift_sums SET reports = $3, sums = $4 WHERE fingerprint = $1 AND bucket = $2",
            &[&fingerprint, &bucket, &(sums.reports() as i64), &sums.to_bytes()],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn lift_sums(&self, fingerprint: [u8; 8], dimension: usize) -> Result<(LiftSums, LiftSums), StoreError> {
        let client = self.client.lock().await;
        let personalized = read_sums(&*client, &fingerprint, 0, dimension, false).await?;
        Ok((personalized, read_sums(&*client, &fingerprint, 1, dimension, false).await?))
    }
}
