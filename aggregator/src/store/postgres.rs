//! PostgreSQL store for several aggregator replicas sharing one database. Each batch locks its
//! round row (`SELECT ... FOR UPDATE`), so concurrent replicas add to the sum one after another
//! and lose nothing; the nonce primary key rejects a replay whichever replica receives it.
//!
//! The connection heals: when it is gone (the database restarted, the network dropped), the
//! next call reconnects, and while the database stays unreachable calls fail fast with
//! [`StoreError::Unreachable`] between attempts spaced by a doubling backoff (0.1 s to 5 s).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use shop_personalizer::sync::UpdateMessage;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls};

use shop_personalizer::measure::LiftSums;

use super::{
    bucket_code, stored_sums, stored_u64, weights_from_bytes, weights_to_bytes, BatchOutcome, CurrentState, Fate,
    LiftEntry, NextModel, RoundTotals, Store, StoreError, StoredModel,
};
use crate::aggregation::Contribution;
use crate::policy::{accumulate, sum_from_bytes, sum_to_bytes};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS aggregator_settings (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS aggregator_models (version BIGINT PRIMARY KEY, weights BYTEA NOT NULL, signed BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS aggregator_rounds (
    version BIGINT PRIMARY KEY, sum BYTEA NOT NULL, updates BIGINT NOT NULL, closed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS aggregator_nonces (version BIGINT NOT NULL, nonce BYTEA NOT NULL, PRIMARY KEY (version, nonce));
CREATE TABLE IF NOT EXISTS aggregator_round_members (
    version BIGINT NOT NULL, nonce BYTEA NOT NULL, step BIGINT NOT NULL, vals BYTEA NOT NULL, PRIMARY KEY (version, nonce)
);
CREATE TABLE IF NOT EXISTS aggregator_lift_sums (
    fingerprint BYTEA NOT NULL, bucket BIGINT NOT NULL, reports BIGINT NOT NULL, sums BYTEA NOT NULL,
    PRIMARY KEY (fingerprint, bucket)
);
CREATE TABLE IF NOT EXISTS aggregator_lift_nonces (nonce BYTEA PRIMARY KEY);
";

/// Key of the advisory lock that serializes schema creation and the first model across replicas.
const SETUP_LOCK: i64 = 0x5350_4147;

/// The first wait before reconnecting; it doubles per failed attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection, or when the next attempt to make one is due.
struct Link {
    client: Option<Client>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

/// PostgreSQL-backed [`Store`] over one connection, re-established when it is lost.
pub struct PostgresStore {
    url: String,
    /// The PostgreSQL schema the tables live in (`None`: the connection's default).
    schema: Option<&'static str>,
    link: Mutex<Link>,
}

/// Connects to `url` and creates the tables if missing (idempotent, under an advisory lock), in
/// `schema` when given (created if missing, and the connection's `search_path`).
async fn open(url: &str, schema: Option<&'static str>) -> Result<Client, StoreError> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("aggregator: PostgreSQL connection closed: {error}");
        }
    });
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK]).await?;
    if let Some(schema) = schema {
        // A plain `SET` in a committed transaction lasts for the session.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}")).await?;
    }
    tx.batch_execute(SCHEMA).await?;
    tx.batch_execute(super::dap_postgres::DAP_SCHEMA).await?;
    tx.commit().await?;
    Ok(client)
}

impl PostgresStore {
    /// Connects to `url` (e.g. `postgres://user@127.0.0.1:5432/db`) and creates the schema if missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open_in(url, None).await
    }

    /// Connects to `url` with the tables in their own `schema` (a plain identifier of this
    /// program's, e.g. the holdout lift task's): a second store in the same database.
    pub async fn connect_in_schema(url: &str, schema: &'static str) -> Result<Self, StoreError> {
        if !schema.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(StoreError::Corrupt(format!("{schema:?} is not a plain schema name")));
        }
        Self::open_in(url, Some(schema)).await
    }

    async fn open_in(url: &str, schema: Option<&'static str>) -> Result<Self, StoreError> {
        let client = open(url, schema).await?;
        let link = Link { client: Some(client), retry_at: None, backoff: FIRST_BACKOFF };
        Ok(Self { url: url.to_owned(), schema, link: Mutex::new(link) })
    }

    /// The live connection: reconnects when it is gone and an attempt is due, otherwise fails fast.
    pub(super) async fn client(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        let mut link = self.link.lock().await;
        if link.client.as_ref().is_some_and(Client::is_closed) {
            eprintln!("aggregator: the PostgreSQL connection is gone; reconnecting");
            link.client = None;
        }
        if link.client.is_none() {
            let now = Instant::now();
            if let Some(wait) = link.retry_at.and_then(|at| at.checked_duration_since(now)) {
                return Err(StoreError::Unreachable(format!("next reconnection attempt in {} ms", wait.as_millis())));
            }
            let attempt = tokio::time::timeout(CONNECT_TIMEOUT, open(&self.url, self.schema)).await;
            match attempt {
                Ok(Ok(client)) => {
                    eprintln!("aggregator: reconnected to PostgreSQL");
                    *link = Link { client: Some(client), retry_at: None, backoff: FIRST_BACKOFF };
                }
                failed => {
                    let reason = match failed {
                        Ok(Err(error)) => error.to_string(),
                        _ => format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
                    };
                    link.retry_at = Some(now + link.backoff);
                    link.backoff = (link.backoff * 2).min(MAX_BACKOFF);
                    return Err(StoreError::Unreachable(reason));
                }
            }
        }
        MutexGuard::try_map(link, |link| link.client.as_mut())
            .map_err(|_| StoreError::Unreachable("no connection".to_owned()))
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
        let client = self.client().await?;
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
        let mut client = self.client().await?;
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
        let client = self.client().await?;
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
        keep_members: bool,
    ) -> Result<BatchOutcome, StoreError> {
        let mut client = self.client().await?;
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
        let mut fates = Vec::with_capacity(updates.len());
        let (mut fresh, mut forgotten) = (0_i64, Vec::new());
        let (mut kept_nonces, mut kept_steps, mut kept_values) = (Vec::new(), Vec::new(), Vec::new());
        for update in &updates {
            if !fresh_nonces.remove(&update.nonce[..]) {
                fates.push(Fate::Replayed);
                continue;
            }
            // The member's step and the sum's are the same `fixed_step`: both fit or neither.
            match Contribution::of(update) {
                Ok(member) if accumulate(&mut sum, update).is_ok() => {
                    if keep_members {
                        kept_nonces.push(update.nonce.to_vec());
                        kept_steps.push(member.step);
                        kept_values.push(member.values_to_bytes());
                    }
                    fresh += 1;
                    fates.push(Fate::Added);
                }
                _ => {
                    forgotten.push(update.nonce.to_vec());
                    fates.push(Fate::Overflow);
                }
            }
        }
        if !forgotten.is_empty() {
            tx.execute(
                "DELETE FROM aggregator_nonces WHERE version = $1 AND nonce = ANY($2::bytea[])",
                &[&(version as i64), &forgotten],
            )
            .await?;
        }
        if !kept_nonces.is_empty() {
            tx.execute(
                "INSERT INTO aggregator_round_members (version, nonce, step, vals) \
                 SELECT $1, n, s, v FROM unnest($2::bytea[], $3::int8[], $4::bytea[]) AS t(n, s, v)",
                &[&(version as i64), &kept_nonces, &kept_steps, &kept_values],
            )
            .await?;
        }
        let count = count as i64 + fresh;
        tx.execute(
            "UPDATE aggregator_rounds SET sum = $1, updates = $2 WHERE version = $3",
            &[&sum_to_bytes(&sum), &count, &(version as i64)],
        )
        .await?;
        tx.commit().await?;
        Ok(BatchOutcome::Committed { fates, round_updates: stored_u64(count, "round updates")? })
    }

    async fn close_round(
        &self,
        version: u64,
        dimension: usize,
        min_updates: u64,
        next: NextModel,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let round = lock_open_round(&tx, version, dimension).await?;
        let Some((sum, count)) = round.filter(|(_, count)| *count >= min_updates) else {
            return Ok(false);
        };
        let current = read_model(&tx, version).await?;
        let members = tx
            .query("SELECT step, vals FROM aggregator_round_members WHERE version = $1", &[&(version as i64)])
            .await?
            .iter()
            .map(|row| {
                Contribution::from_stored(row.get(0), &row.get::<_, Vec<u8>>(1), dimension).ok_or_else(|| {
                    StoreError::Corrupt(format!("a kept update of round {version} is not {dimension} values"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let published = next(&current.weights, RoundTotals { sum, count, members });
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
        tx.execute("DELETE FROM aggregator_round_members WHERE version <= $1", &[&(version as i64)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn add_lift_report(&self, entry: LiftEntry) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
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
        let client = self.client().await?;
        let personalized = read_sums(&*client, &fingerprint, 0, dimension, false).await?;
        Ok((personalized, read_sums(&*client, &fingerprint, 1, dimension, false).await?))
    }
}
