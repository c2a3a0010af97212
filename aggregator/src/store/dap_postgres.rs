//! DAP state in PostgreSQL: the same tables, states and transactions as the SQLite store
//! (`dap.rs`, `dap_leader.rs`), for a leader or a helper whose data lives in PostgreSQL. One
//! aggregator process per database: the leader's driver runs one job or collection at a time.

use tokio_postgres::GenericClient;

use super::dap::{checksum_with, HelperCounts, LeaderJob, Merge, StoredBatch};
use super::dap::{AGGREGATED, IN_JOB, PENDING, REJECTED};
use super::dap_leader::{Collection, LeaderCounts};
use super::postgres::PostgresStore;
use super::{stored_u64, weights_from_bytes, weights_to_bytes, StoreError, StoredModel};
use crate::policy::sum_to_bytes;

pub const DAP_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS aggregator_dap_reports (
    report_id BYTEA PRIMARY KEY, body BYTEA NOT NULL, state BIGINT NOT NULL DEFAULT 0, job_id BYTEA, batch_id BYTEA
);
CREATE INDEX IF NOT EXISTS aggregator_dap_reports_state ON aggregator_dap_reports (state, job_id);
CREATE TABLE IF NOT EXISTS aggregator_dap_batches (
    batch_id BYTEA PRIMARY KEY, share BYTEA, reports BIGINT NOT NULL DEFAULT 0,
    checksum BYTEA NOT NULL DEFAULT '\\x0000000000000000000000000000000000000000000000000000000000000000',
    collected BOOLEAN NOT NULL DEFAULT FALSE, open BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS aggregator_dap_seen (report_id BYTEA PRIMARY KEY);
CREATE TABLE IF NOT EXISTS aggregator_dap_jobs (job_id BYTEA PRIMARY KEY, request_hash BYTEA NOT NULL, response BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS aggregator_dap_rejections (reason TEXT PRIMARY KEY, count BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS aggregator_dap_collection_jobs (job_id BYTEA PRIMARY KEY, request BYTEA NOT NULL, answer BYTEA);
CREATE TABLE IF NOT EXISTS aggregator_dap_collections (
    batch_id BYTEA PRIMARY KEY, reports BIGINT NOT NULL, sum BYTEA NOT NULL, model_version BIGINT NOT NULL
);
";

fn id_array<const N: usize>(bytes: Vec<u8>, what: &str) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(format!("stored {what} has the wrong length")))
}

async fn count_rejections(tx: &impl GenericClient, reasons: &[&'static str]) -> Result<(), StoreError> {
    for reason in reasons {
        tx.execute(
            "INSERT INTO aggregator_dap_rejections (reason, count) VALUES ($1, 1) \
             ON CONFLICT (reason) DO UPDATE SET count = aggregator_dap_rejections.count + 1",
            &[reason],
        )
        .await?;
    }
    Ok(())
}

async fn read_batch(tx: &impl GenericClient, batch_id: &[u8]) -> Result<Option<StoredBatch>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT share, reports, checksum, collected FROM aggregator_dap_batches WHERE batch_id = $1",
            &[&batch_id],
        )
        .await?;
    row.map(|row| {
        Ok(StoredBatch {
            share: row.get(0),
            reports: stored_u64(row.get(1), "batch reports")?,
            checksum: id_array(row.get(2), "batch checksum")?,
            collected: row.get(3),
        })
    })
    .transpose()
}

/// Adds `accepted` to batch `batch_id` (created if missing) with `merge`; refuses a collected batch.
async fn add_to_batch(
    tx: &impl GenericClient,
    batch_id: &[u8; 32],
    accepted: &[[u8; 16]],
    merge: Merge,
) -> Result<bool, StoreError> {
    tx.execute("INSERT INTO aggregator_dap_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING", &[&&batch_id[..]])
        .await?;
    tx.execute("SELECT 1 FROM aggregator_dap_batches WHERE batch_id = $1 FOR UPDATE", &[&&batch_id[..]]).await?;
    let batch = read_batch(tx, batch_id).await?.ok_or_else(|| StoreError::Corrupt("batch vanished".into()))?;
    if batch.collected {
        return Ok(false);
    }
    if accepted.is_empty() {
        return Ok(true);
    }
    let share = merge(batch.share).map_err(StoreError::Corrupt)?;
    let checksum = checksum_with(batch.checksum, accepted).to_vec();
    tx.execute(
        "UPDATE aggregator_dap_batches SET share = $2, reports = reports + $3, checksum = $4 WHERE batch_id = $1",
        &[&&batch_id[..], &share, &(accepted.len() as i64), &checksum],
    )
    .await?;
    Ok(true)
}

/// Closes `batch_id` as collected and keeps its sum under `number` (the model version it
/// published, or a lift task's collection sequence), in the caller's transaction.
async fn record_collection(
    tx: &impl GenericClient,
    batch_id: &[u8; 32],
    reports: u64,
    sum: &[f64],
    number: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE aggregator_dap_batches SET collected = TRUE, open = FALSE WHERE batch_id = $1",
        &[&&batch_id[..]],
    )
    .await?;
    let sum_bytes: Vec<u8> = sum.iter().flat_map(|value| value.to_le_bytes()).collect();
    tx.execute(
        "INSERT INTO aggregator_dap_collections (batch_id, reports, sum, model_version) VALUES ($1, $2, $3, $4)",
        &[&&batch_id[..], &(reports as i64), &sum_bytes, &number],
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    pub async fn dap_bind_task(&self, task_id: [u8; 32]) -> Result<bool, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO aggregator_settings (name, value) VALUES ('dap_task_id', $1) ON CONFLICT DO NOTHING",
                &[&&task_id[..]],
            )
            .await?;
        let row = client.query_one("SELECT value FROM aggregator_settings WHERE name = 'dap_task_id'", &[]).await?;
        Ok(row.get::<_, Vec<u8>>(0) == task_id)
    }

    pub async fn dap_put_report(&self, report_id: [u8; 16], body: Vec<u8>) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let sql = "INSERT INTO aggregator_dap_reports (report_id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        Ok(client.execute(sql, &[&&report_id[..], &body]).await? == 1)
    }

    pub async fn dap_claim_job(
        &self,
        max: usize,
        max_batch: u64,
        fresh_job: [u8; 16],
        fresh_batch: [u8; 32],
    ) -> Result<Option<LeaderJob>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let unfinished = tx
            .query_opt("SELECT job_id, batch_id FROM aggregator_dap_reports WHERE state = $1 LIMIT 1", &[&IN_JOB])
            .await?;
        let (job_id, batch_id): (Vec<u8>, Vec<u8>) = match unfinished {
            Some(row) => (row.get(0), row.get(1)),
            None => {
                let pending = "SELECT 1 FROM aggregator_dap_reports WHERE state = $1 LIMIT 1";
                if tx.query_opt(pending, &[&PENDING]).await?.is_none() {
                    return Ok(None);
                }
                let open = tx.query_opt("SELECT batch_id, reports FROM aggregator_dap_batches WHERE open", &[]).await?;
                let (batch, held): (Vec<u8>, i64) = match open {
                    Some(row) => (row.get(0), row.get(1)),
                    None => {
                        tx.execute(
                            "INSERT INTO aggregator_dap_batches (batch_id, open) VALUES ($1, TRUE)",
                            &[&&fresh_batch[..]],
                        )
                        .await?;
                        (fresh_batch.to_vec(), 0)
                    }
                };
                let room = max_batch.saturating_sub(stored_u64(held, "batch reports")?).min(max as u64) as i64;
                let claimed = tx
                    .execute(
                        "UPDATE aggregator_dap_reports SET state = $1, job_id = $2, batch_id = $3 WHERE report_id IN \
                         (SELECT report_id FROM aggregator_dap_reports WHERE state = $4 ORDER BY report_id LIMIT $5)",
                        &[&IN_JOB, &&fresh_job[..], &batch, &PENDING, &room],
                    )
                    .await?;
                if claimed == 0 {
                    tx.commit().await?;
                    return Ok(None);
                }
                (fresh_job.to_vec(), batch)
            }
        };
        let rows = tx
            .query(
                "SELECT report_id, body FROM aggregator_dap_reports WHERE job_id = $1 AND state = $2 ORDER BY report_id",
                &[&job_id, &IN_JOB],
            )
            .await?;
        let reports = rows
            .into_iter()
            .map(|row| Ok((id_array(row.get(0), "report id")?, row.get(1))))
            .collect::<Result<_, StoreError>>()?;
        tx.commit().await?;
        Ok(Some(LeaderJob { job_id: id_array(job_id, "job id")?, batch_id: id_array(batch_id, "batch id")?, reports }))
    }

    pub async fn dap_finish_leader_job(
        &self,
        batch_id: [u8; 32],
        accepted: Vec<[u8; 16]>,
        rejected: Vec<([u8; 16], &'static str)>,
        merge: Merge,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !add_to_batch(&tx, &batch_id, &accepted, merge).await? {
            return Err(StoreError::Corrupt("a job's batch was collected before the job finished".into()));
        }
        let mark = "UPDATE aggregator_dap_reports SET state = $2, body = ''::bytea WHERE report_id = $1 AND state = $3";
        let mark = tx.prepare(mark).await?;
        for id in &accepted {
            tx.execute(&mark, &[&&id[..], &AGGREGATED, &IN_JOB]).await?;
        }
        for (id, _) in &rejected {
            tx.execute(&mark, &[&&id[..], &REJECTED, &IN_JOB]).await?;
        }
        count_rejections(&tx, &rejected.iter().map(|(_, reason)| *reason).collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn dap_open_batch(&self) -> Result<Option<([u8; 32], StoredBatch)>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client.query_opt("SELECT batch_id FROM aggregator_dap_batches WHERE open", &[]).await? else {
            return Ok(None);
        };
        let id: [u8; 32] = id_array(row.get(0), "batch id")?;
        Ok(read_batch(&*client, &id).await?.map(|batch| (id, batch)))
    }

    pub async fn dap_batch_to_collect(&self, min_batch: u64) -> Result<Option<([u8; 32], StoredBatch)>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let closing = tx
            .query_opt("SELECT batch_id FROM aggregator_dap_batches WHERE NOT open AND NOT collected LIMIT 1", &[])
            .await?;
        let id: [u8; 32] = match closing {
            Some(row) => id_array(row.get(0), "batch id")?,
            None => {
                let Some(row) = tx.query_opt("SELECT batch_id FROM aggregator_dap_batches WHERE open", &[]).await?
                else {
                    return Ok(None);
                };
                let id: [u8; 32] = id_array(row.get(0), "batch id")?;
                let running: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM aggregator_dap_reports WHERE batch_id = $1 AND state = $2",
                        &[&&id[..], &IN_JOB],
                    )
                    .await?
                    .get(0);
                let held = read_batch(&tx, &id).await?.map_or(0, |batch| batch.reports);
                if running > 0 || held < min_batch {
                    return Ok(None);
                }
                tx.execute("UPDATE aggregator_dap_batches SET open = FALSE WHERE batch_id = $1", &[&&id[..]]).await?;
                id
            }
        };
        let batch = read_batch(&tx, &id).await?.ok_or_else(|| StoreError::Corrupt("batch vanished".into()))?;
        tx.commit().await?;
        Ok(Some((id, batch)))
    }

    pub async fn dap_publish_collected(
        &self,
        batch_id: [u8; 32],
        sum: Vec<f64>,
        next: Box<dyn FnOnce(&StoredModel) -> StoredModel + Send>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(batch) = read_batch(&tx, &batch_id).await?.filter(|batch| !batch.collected) else {
            return Ok(false);
        };
        let row = tx
            .query_one(
                "SELECT version, weights, signed FROM aggregator_models ORDER BY version DESC LIMIT 1 FOR UPDATE",
                &[],
            )
            .await?;
        let version: i64 = row.get(0);
        let current = StoredModel {
            version: stored_u64(version, "model version")?,
            weights: weights_from_bytes(&row.get::<_, Vec<u8>>(1))?,
            signed: row.get(2),
        };
        let published = next(&current);
        let next_version = published.version as i64;
        tx.execute(
            "INSERT INTO aggregator_models (version, weights, signed) VALUES ($1, $2, $3)",
            &[&next_version, &weights_to_bytes(&published.weights), &published.signed],
        )
        .await?;
        tx.execute(
            "INSERT INTO aggregator_rounds (version, sum, updates) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
            &[&next_version, &sum_to_bytes(&vec![0; published.weights.len()])],
        )
        .await?;
        tx.execute("UPDATE aggregator_rounds SET closed = TRUE, sum = ''::bytea WHERE version = $1", &[&version])
            .await?;
        record_collection(&tx, &batch_id, batch.reports, &sum, next_version).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// See [`super::sqlite::SqliteStore::dap_record_collected`].
    pub async fn dap_record_collected(&self, batch_id: [u8; 32], sum: Vec<f64>) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(batch) = read_batch(&tx, &batch_id).await?.filter(|batch| !batch.collected) else {
            return Ok(false);
        };
        tx.execute("LOCK TABLE aggregator_dap_collections IN EXCLUSIVE MODE", &[]).await?;
        let sequence: i64 = tx
            .query_one("SELECT COALESCE(MAX(model_version), 0) + 1 FROM aggregator_dap_collections", &[])
            .await?
            .get(0);
        record_collection(&tx, &batch_id, batch.reports, &sum, sequence).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[path = "dap_postgres_reads.rs"]
mod reads;
