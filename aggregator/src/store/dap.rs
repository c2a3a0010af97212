//! DAP state in the SQLite store: the leader's uploaded reports and their fate, each batch's
//! aggregate share (bytes the VDAF merges), count and report-id checksum, the helper's seen
//! report ids and answered aggregation jobs, and rejection counts by reason. Every step that
//! adds output shares to a batch marks its reports in the same transaction, so a restart (or
//! kill -9) loses no accepted report and adds none twice.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::sqlite::SqliteStore;
use super::{weights_to_bytes, StoreError, StoredModel};
use crate::policy::sum_to_bytes;

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
";

/// Report states on the leader.
const PENDING: i64 = 0;
const IN_JOB: i64 = 1;
const AGGREGATED: i64 = 2;
const REJECTED: i64 = 3;

/// Merges output shares into a batch's stored aggregate share (`None` when it has none yet).
pub type Merge = Box<dyn FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, String> + Send>;

/// A leader aggregation job: its id, batch, and the stored reports it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderJob {
    pub job_id: [u8; 16],
    pub batch_id: [u8; 32],
    pub reports: Vec<([u8; 16], Vec<u8>)>,
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

fn count_rejections(tx: &Connection, reasons: &[&'static str]) -> Result<(), StoreError> {
    for reason in reasons {
        tx.execute(
            "INSERT INTO dap_rejections (reason, count) VALUES (?1, 1) ON CONFLICT (reason) DO UPDATE SET count = count + 1",
            params![reason],
        )?;
    }
    Ok(())
}

fn read_batch(tx: &Connection, batch_id: &[u8; 32]) -> Result<Option<StoredBatch>, StoreError> {
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
fn add_to_batch(tx: &Connection, batch_id: &[u8; 32], accepted: &[[u8; 16]], merge: Merge) -> Result<bool, StoreError> {
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
    /// Keeps an uploaded report; false when its id was already uploaded.
    pub async fn dap_put_report(&self, report_id: [u8; 16], body: Vec<u8>) -> Result<bool, StoreError> {
        self.with(move |c| {
            Ok(c.execute(
                "INSERT OR IGNORE INTO dap_reports (report_id, body) VALUES (?1, ?2)",
                params![&report_id[..], body],
            )? == 1)
        })
        .await
    }

    /// The unfinished job (after a restart), or a new job over up to `max` pending reports in
    /// the open batch (`fresh_ids` names a new job or batch if needed); `None` when nothing is pending.
    pub async fn dap_claim_job(
        &self,
        max: usize,
        fresh_job: [u8; 16],
        fresh_batch: [u8; 32],
    ) -> Result<Option<LeaderJob>, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let unfinished: Option<(Vec<u8>, Vec<u8>)> = tx
                .query_row("SELECT job_id, batch_id FROM dap_reports WHERE state = ?1 LIMIT 1", params![IN_JOB], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let (job_id, batch_id) = match unfinished {
                Some((job, batch)) => (job, batch),
                None => {
                    let open: Option<Vec<u8>> =
                        tx.query_row("SELECT batch_id FROM dap_batches WHERE open = 1", [], |r| r.get(0)).optional()?;
                    let batch = match open {
                        Some(batch) => batch,
                        None => {
                            tx.execute(
                                "INSERT INTO dap_batches (batch_id, open) VALUES (?1, 1)",
                                params![&fresh_batch[..]],
                            )?;
                            fresh_batch.to_vec()
                        }
                    };
                    let claimed = tx.execute(
                        "UPDATE dap_reports SET state = ?1, job_id = ?2, batch_id = ?3 WHERE report_id IN \
                         (SELECT report_id FROM dap_reports WHERE state = ?4 LIMIT ?5)",
                        params![IN_JOB, &fresh_job[..], batch, PENDING, max as i64],
                    )?;
                    if claimed == 0 {
                        tx.commit()?;
                        return Ok(None);
                    }
                    (fresh_job.to_vec(), batch)
                }
            };
            let mut statement =
                tx.prepare("SELECT report_id, body FROM dap_reports WHERE job_id = ?1 AND state = ?2")?;
            let rows = statement.query_map(params![job_id, IN_JOB], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?)))?;
            let mut reports = Vec::new();
            for row in rows {
                let (id, body) = row?;
                reports.push((id.try_into().map_err(|_| StoreError::Corrupt("report id".into()))?, body));
            }
            drop(statement);
            tx.commit()?;
            let corrupt = |what: &str| StoreError::Corrupt(format!("stored {what} has the wrong length"));
            Ok(Some(LeaderJob {
                job_id: job_id.try_into().map_err(|_| corrupt("job id"))?,
                batch_id: batch_id.try_into().map_err(|_| corrupt("batch id"))?,
                reports,
            }))
        })
        .await
    }

    /// Ends a leader job: adds the accepted reports' output shares to its batch and marks every
    /// report of the job aggregated or rejected (with its reason), in one transaction.
    pub async fn dap_finish_leader_job(
        &self,
        job: [u8; 16],
        batch_id: [u8; 32],
        accepted: Vec<[u8; 16]>,
        rejected: Vec<([u8; 16], &'static str)>,
        merge: Merge,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !add_to_batch(&tx, &batch_id, &accepted, merge)? {
                return Err(StoreError::Corrupt("a job's batch was collected before the job finished".into()));
            }
            for id in &accepted {
                tx.execute(
                    "UPDATE dap_reports SET state = ?2, body = x'' WHERE report_id = ?1",
                    params![&id[..], AGGREGATED],
                )?;
            }
            for (id, _) in &rejected {
                tx.execute(
                    "UPDATE dap_reports SET state = ?2, body = x'' WHERE report_id = ?1",
                    params![&id[..], REJECTED],
                )?;
            }
            count_rejections(&tx, &rejected.iter().map(|(_, reason)| *reason).collect::<Vec<_>>())?;
            let _ = job;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The open batch's id and what it holds.
    pub async fn dap_open_batch(&self) -> Result<Option<([u8; 32], StoredBatch)>, StoreError> {
        self.with(|c| {
            let id: Option<Vec<u8>> =
                c.query_row("SELECT batch_id FROM dap_batches WHERE open = 1", [], |r| r.get(0)).optional()?;
            let Some(id) = id else { return Ok(None) };
            let id: [u8; 32] = id.try_into().map_err(|_| StoreError::Corrupt("batch id".into()))?;
            Ok(read_batch(c, &id)?.map(|batch| (id, batch)))
        })
        .await
    }

    /// A batch by id.
    pub async fn dap_batch(&self, batch_id: [u8; 32]) -> Result<Option<StoredBatch>, StoreError> {
        self.with(move |c| read_batch(c, &batch_id)).await
    }

    /// Closes batch `batch_id` and publishes the model `next` computes from the current model's
    /// weights and the batch, atomically; false if the batch was already collected.
    pub async fn dap_publish_collected(
        &self,
        batch_id: [u8; 32],
        next: Box<dyn FnOnce(&StoredModel) -> StoredModel + Send>,
    ) -> Result<bool, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let collected: Option<bool> = tx
                .query_row("SELECT collected FROM dap_batches WHERE batch_id = ?1", params![&batch_id[..]], |r| {
                    r.get(0)
                })
                .optional()?;
            if collected != Some(false) {
                return Ok(false);
            }
            let version: i64 = tx.query_row("SELECT MAX(version) FROM models", [], |r| r.get(0))?;
            let (weights, signed): (Vec<u8>, Vec<u8>) =
                tx.query_row("SELECT weights, signed FROM models WHERE version = ?1", params![version], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let current = StoredModel {
                version: super::stored_u64(version, "model version")?,
                weights: super::weights_from_bytes(&weights)?,
                signed,
            };
            let published = next(&current);
            tx.execute(
                "INSERT INTO models (version, weights, signed) VALUES (?1, ?2, ?3)",
                params![published.version as i64, weights_to_bytes(&published.weights), published.signed],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO rounds (version, sum, updates) VALUES (?1, ?2, 0)",
                params![published.version as i64, sum_to_bytes(&vec![0; published.weights.len()])],
            )?;
            tx.execute("UPDATE rounds SET closed = 1 WHERE version = ?1", params![version])?;
            tx.execute("UPDATE dap_batches SET collected = 1, open = 0 WHERE batch_id = ?1", params![&batch_id[..]])?;
            tx.commit()?;
            Ok(true)
        })
        .await
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
