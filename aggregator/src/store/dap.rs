//! DAP state in the SQLite store: the leader's uploaded reports and their fate, each batch's
//! aggregate share (bytes the VDAF merges), count and report-id checksum, the helper's seen
//! report ids and answered aggregation jobs, and rejection counts by reason. Every step that
//! adds output shares to a batch marks its reports in the same transaction, so a restart (or
//! kill -9) loses no accepted report and adds none twice.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::sqlite::SqliteStore;
use super::StoreError;

pub const DAP_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dap_reports (
    report_id BLOB PRIMARY KEY, body BLOB NOT NULL, state INTEGER NOT NULL DEFAULT 0, job_id BLOB, batch_id BLOB
);
CREATE INDEX IF NOT EXISTS dap_reports_state ON dap_reports (state, job_id);
CREATE TABLE IF NOT EXISTS dap_batches (
    batch_id BLOB PRIMARY KEY, share BLOB, reports INTEGER NOT NULL DEFAULT 0,
    checksum BLOB NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000',
    collected INTEGER NOT NULL DEFAULT 0, open INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dap_seen (report_id BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dap_jobs (job_id BLOB PRIMARY KEY, request_hash BLOB NOT NULL, response BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dap_rejections (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dap_collection_jobs (job_id BLOB PRIMARY KEY, request BLOB NOT NULL, answer BLOB);
CREATE TABLE IF NOT EXISTS dap_collections (
    batch_id BLOB PRIMARY KEY, reports INTEGER NOT NULL, sum BLOB NOT NULL, model_version INTEGER NOT NULL
);
";

/// Report states on the leader.
pub(super) const PENDING: i64 = 0;
pub(super) const IN_JOB: i64 = 1;
pub(super) const AGGREGATED: i64 = 2;
pub(super) const REJECTED: i64 = 3;

/// Merges output shares into a batch's stored aggregate share (`None` when it has none yet).
pub type Merge = Box<dyn FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, String> + Send>;

/// A leader aggregation job: its id, batch, and the stored reports it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderJob {
    pub job_id: [u8; 16],
    pub batch_id: [u8; 32],
    pub reports: Vec<([u8; 16], Vec<u8>)>,
}

/// The helper's counts, as `GET /dap/status` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelperCounts {
    pub jobs: u64,
    pub aggregated: u64,
    pub batches: u64,
    pub collected_batches: u64,
}

/// A batch as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBatch {
    pub share: Option<Vec<u8>>,
    pub reports: u64,
    pub checksum: [u8; 32],
    pub collected: bool,
}

/// The new checksum after adding `ids`: XOR of SHA-256 of each report id (DAP-09 §4.4.4.1).
pub fn checksum_with(mut checksum: [u8; 32], ids: &[[u8; 16]]) -> [u8; 32] {
    for id in ids {
        for (byte, hashed) in checksum.iter_mut().zip(Sha256::digest(id)) {
            *byte ^= hashed;
        }
    }
    checksum
}

pub(super) fn count_rejections(tx: &Connection, reasons: &[&'static str]) -> Result<(), StoreError> {
    for reason in reasons {
        tx.execute(
            "INSERT INTO dap_rejections (reason, count) VALUES (?1, 1) ON CONFLICT (reason) DO UPDATE SET count = count + 1",
            params![reason],
        )?;
    }
    Ok(())
}

pub(super) fn read_batch(tx: &Connection, batch_id: &[u8; 32]) -> Result<Option<StoredBatch>, StoreError> {
    tx.query_row(
        "SELECT share, reports, checksum, collected FROM dap_batches WHERE batch_id = ?1",
        params![&batch_id[..]],
        |row| Ok((row.get::<_, Option<Vec<u8>>>(0)?, row.get::<_, i64>(1)?, row.get::<_, Vec<u8>>(2)?, row.get(3)?)),
    )
    .optional()?
    .map(|(share, reports, checksum, collected)| {
        let checksum = checksum.try_into().map_err(|_| StoreError::Corrupt("batch checksum is not 32 bytes".into()))?;
        Ok(StoredBatch { share, reports: super::stored_u64(reports, "batch reports")?, checksum, collected })
    })
    .transpose()
}

/// Adds `accepted` to batch `batch_id` (created if missing) with `merge`; refuses a collected batch.
pub(super) fn add_to_batch(
    tx: &Connection,
    batch_id: &[u8; 32],
    accepted: &[[u8; 16]],
    merge: Merge,
) -> Result<bool, StoreError> {
    tx.execute("INSERT OR IGNORE INTO dap_batches (batch_id) VALUES (?1)", params![&batch_id[..]])?;
    let batch = read_batch(tx, batch_id)?.ok_or_else(|| StoreError::Corrupt("batch vanished".into()))?;
    if batch.collected {
        return Ok(false);
    }
    if accepted.is_empty() {
        return Ok(true);
    }
    let share = merge(batch.share).map_err(StoreError::Corrupt)?;
    tx.execute(
        "UPDATE dap_batches SET share = ?2, reports = reports + ?3, checksum = ?4 WHERE batch_id = ?1",
        params![&batch_id[..], share, accepted.len() as i64, &checksum_with(batch.checksum, accepted)[..]],
    )?;
    Ok(true)
}

impl SqliteStore {
    /// Binds this store to DAP task `task_id` on first use; false if it holds another task's state.
    pub async fn dap_bind_task(&self, task_id: [u8; 32]) -> Result<bool, StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO settings (name, value) VALUES ('dap_task_id', ?1)",
                params![&task_id[..]],
            )?;
            let bound: Vec<u8> =
                c.query_row("SELECT value FROM settings WHERE name = 'dap_task_id'", [], |r| r.get(0))?;
            Ok(bound == task_id)
        })
        .await
    }

    /// A batch by id.
    pub async fn dap_batch(&self, batch_id: [u8; 32]) -> Result<Option<StoredBatch>, StoreError> {
        self.with(move |c| read_batch(c, &batch_id)).await
    }

    /// The helper's stored answer to job `job_id`, with the hash of the request it answered.
    pub async fn dap_helper_job(&self, job_id: [u8; 16]) -> Result<Option<([u8; 32], Vec<u8>)>, StoreError> {
        self.with(move |c| {
            let row: Option<(Vec<u8>, Vec<u8>)> = c
                .query_row("SELECT request_hash, response FROM dap_jobs WHERE job_id = ?1", params![&job_id[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            row.map(|(hash, response)| {
                Ok((hash.try_into().map_err(|_| StoreError::Corrupt("job hash".into()))?, response))
            })
            .transpose()
        })
        .await
    }

    /// Which of `ids` the helper has already aggregated.
    pub async fn dap_seen(&self, ids: Vec<[u8; 16]>) -> Result<Vec<bool>, StoreError> {
        self.with(move |c| {
            let mut statement = c.prepare_cached("SELECT 1 FROM dap_seen WHERE report_id = ?1")?;
            ids.iter().map(|id| Ok(statement.exists(params![&id[..]])?)).collect()
        })
        .await
    }

    /// Ends a helper job in one transaction: records the accepted ids as seen, adds their output
    /// shares to the batch, counts the rejections and stores the answer. False (nothing stored)
    /// when an accepted id was seen meanwhile or the batch is collected.
    #[allow(clippy::too_many_arguments)]
    pub async fn dap_finish_helper_job(
        &self,
        job_id: [u8; 16],
        request_hash: [u8; 32],
        batch_id: [u8; 32],
        accepted: Vec<[u8; 16]>,
        rejections: Vec<&'static str>,
        merge: Merge,
        response: Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for id in &accepted {
                if tx.execute("INSERT OR IGNORE INTO dap_seen (report_id) VALUES (?1)", params![&id[..]])? == 0 {
                    return Ok(false);
                }
            }
            if !add_to_batch(&tx, &batch_id, &accepted, merge)? {
                return Ok(false);
            }
            count_rejections(&tx, &rejections)?;
            tx.execute(
                "INSERT INTO dap_jobs (job_id, request_hash, response) VALUES (?1, ?2, ?3)",
                params![&job_id[..], &request_hash[..], response],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// Marks a batch collected on the helper (no more jobs may add to it).
    pub async fn dap_mark_collected(&self, batch_id: [u8; 32]) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute("UPDATE dap_batches SET collected = 1 WHERE batch_id = ?1", params![&batch_id[..]])?;
            Ok(())
        })
        .await
    }

    /// The helper's counts: answered jobs, aggregated report ids, batches and collected batches.
    pub async fn dap_helper_counts(&self) -> Result<HelperCounts, StoreError> {
        self.with(|c| {
            let count = |sql: &str| -> Result<u64, StoreError> {
                super::stored_u64(c.query_row(sql, [], |r| r.get::<_, i64>(0))?, "helper count")
            };
            Ok(HelperCounts {
                jobs: count("SELECT COUNT(*) FROM dap_jobs")?,
                aggregated: count("SELECT COUNT(*) FROM dap_seen")?,
                batches: count("SELECT COUNT(*) FROM dap_batches")?,
                collected_batches: count("SELECT COUNT(*) FROM dap_batches WHERE collected = 1")?,
            })
        })
        .await
    }

    /// Rejections by reason, and how many reports were rejected at upload-free stages in all.
    pub async fn dap_rejections(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|c| {
            let mut statement = c.prepare("SELECT reason, count FROM dap_rejections ORDER BY reason")?;
            let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            rows.map(|row| {
                let (reason, count) = row?;
                Ok((reason, super::stored_u64(count, "rejections")?))
            })
            .collect()
        })
        .await
    }
}
