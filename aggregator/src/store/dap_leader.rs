//! The leader's DAP state in the SQLite store: uploaded reports move pending → in a job →
//! aggregated or rejected, and a batch moves open → closing → collected. Each move is one
//! transaction, and a job's request is rebuilt identically after a restart (same job id, same
//! reports in the same order), so the helper answers a retried job from its stored answer: a
//! kill -9 at any point loses no accepted report and counts none twice.
//!
//! A batch is *closing* once the leader decided to collect it: no job adds to it any more, so
//! the count and checksum the leader asks the helper for cannot change under a restart between
//! the helper's answer and the publication of the model.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::dap::{add_to_batch, count_rejections, read_batch, LeaderJob, Merge, StoredBatch};
use super::dap::{AGGREGATED, IN_JOB, PENDING, REJECTED};
use super::sqlite::{read_model, SqliteStore};
use super::{stored_u64, weights_to_bytes, StoreError, StoredModel};
use crate::policy::sum_to_bytes;

/// The leader's counts, as `GET /dap/status` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderCounts {
    pub pending: u64,
    pub in_job: u64,
    pub aggregated: u64,
    pub rejected: u64,
    /// Reports in the open (or closing) batch, and its id (hex), if there is one.
    pub open_batch_reports: u64,
    pub open_batch_id: Option<String>,
    pub collected_batches: u64,
    pub collected_reports: u64,
}

/// One collected batch: the sum the next model was published from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    pub batch_id: String,
    pub reports: u64,
    pub model_version: u64,
    pub sum: Vec<f64>,
}

fn id_array<const N: usize>(bytes: Vec<u8>, what: &str) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(format!("stored {what} has the wrong length")))
}

/// The batch new jobs go to (created as `fresh` if none is open).
fn open_batch_id(tx: &Connection, fresh: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
    let open: Option<Vec<u8>> =
        tx.query_row("SELECT batch_id FROM dap_batches WHERE open = 1", [], |r| r.get(0)).optional()?;
    if let Some(batch) = open {
        return Ok(batch);
    }
    tx.execute("INSERT INTO dap_batches (batch_id, open) VALUES (?1, 1)", params![&fresh[..]])?;
    Ok(fresh.to_vec())
}

/// Closes `batch_id` as collected and keeps its sum under `number` (the model version it
/// published, or a lift task's collection sequence), in the caller's transaction.
fn record_collection(
    tx: &rusqlite::Transaction<'_>,
    batch_id: &[u8; 32],
    reports: u64,
    sum: &[f64],
    number: i64,
) -> Result<(), StoreError> {
    tx.execute("UPDATE dap_batches SET collected = 1, open = 0 WHERE batch_id = ?1", params![&batch_id[..]])?;
    let sum_bytes: Vec<u8> = sum.iter().flat_map(|value| value.to_le_bytes()).collect();
    tx.execute(
        "INSERT INTO dap_collections (batch_id, reports, sum, model_version) VALUES (?1, ?2, ?3, ?4)",
        params![&batch_id[..], reports as i64, sum_bytes, number],
    )?;
    Ok(())
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
    /// the open batch, never filling the batch past `max_batch` reports (`fresh_job` and
    /// `fresh_batch` name a new job or batch if needed); `None` when nothing is pending or the
    /// open batch is full (collect it first). A job's reports come in report-id order, so a
    /// resumed job sends the helper the very request it may already have answered.
    pub async fn dap_claim_job(
        &self,
        max: usize,
        max_batch: u64,
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
                    let pending = tx
                        .query_row("SELECT 1 FROM dap_reports WHERE state = ?1 LIMIT 1", params![PENDING], |_| Ok(()))
                        .optional()?;
                    if pending.is_none() {
                        return Ok(None);
                    }
                    let batch = open_batch_id(&tx, &fresh_batch)?;
                    let held: i64 =
                        tx.query_row("SELECT reports FROM dap_batches WHERE batch_id = ?1", params![batch], |r| {
                            r.get(0)
                        })?;
                    let room = max_batch.saturating_sub(stored_u64(held, "batch reports")?).min(max as u64);
                    let claimed = tx.execute(
                        "UPDATE dap_reports SET state = ?1, job_id = ?2, batch_id = ?3 WHERE report_id IN \
                         (SELECT report_id FROM dap_reports WHERE state = ?4 ORDER BY report_id LIMIT ?5)",
                        params![IN_JOB, &fresh_job[..], batch, PENDING, room as i64],
                    )?;
                    if claimed == 0 {
                        tx.commit()?;
                        return Ok(None);
                    }
                    (fresh_job.to_vec(), batch)
                }
            };
            let mut statement = tx.prepare(
                "SELECT report_id, body FROM dap_reports WHERE job_id = ?1 AND state = ?2 ORDER BY report_id",
            )?;
            let rows = statement.query_map(params![job_id, IN_JOB], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?)))?;
            let mut reports = Vec::new();
            for row in rows {
                let (id, body) = row?;
                reports.push((id_array(id, "report id")?, body));
            }
            drop(statement);
            tx.commit()?;
            Ok(Some(LeaderJob {
                job_id: id_array(job_id, "job id")?,
                batch_id: id_array(batch_id, "batch id")?,
                reports,
            }))
        })
        .await
    }

    /// Ends a leader job: adds the accepted reports' output shares to its batch and marks every
    /// report of the job aggregated or rejected (with its reason), in one transaction.
    pub async fn dap_finish_leader_job(
        &self,
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
            let mut mark =
                tx.prepare_cached("UPDATE dap_reports SET state = ?2, body = x'' WHERE report_id = ?1 AND state = ?3")?;
            for id in &accepted {
                mark.execute(params![&id[..], AGGREGATED, IN_JOB])?;
            }
            for (id, _) in &rejected {
                mark.execute(params![&id[..], REJECTED, IN_JOB])?;
            }
            drop(mark);
            count_rejections(&tx, &rejected.iter().map(|(_, reason)| *reason).collect::<Vec<_>>())?;
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
            let id = id_array(id, "batch id")?;
            Ok(read_batch(c, &id)?.map(|batch| (id, batch)))
        })
        .await
    }

    /// The batch to collect: one already closing (a collection a restart interrupted), else the
    /// open batch once it holds at least `min_batch` reports and no job is running in it, which
    /// this closes; `None` otherwise.
    pub async fn dap_batch_to_collect(&self, min_batch: u64) -> Result<Option<([u8; 32], StoredBatch)>, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let closing: Option<Vec<u8>> = tx
                .query_row("SELECT batch_id FROM dap_batches WHERE open = 0 AND collected = 0 LIMIT 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            let id = match closing {
                Some(id) => id_array(id, "batch id")?,
                None => {
                    let open: Option<Vec<u8>> =
                        tx.query_row("SELECT batch_id FROM dap_batches WHERE open = 1", [], |r| r.get(0)).optional()?;
                    let Some(id) = open else { return Ok(None) };
                    let id: [u8; 32] = id_array(id, "batch id")?;
                    let running: i64 = tx.query_row(
                        "SELECT COUNT(*) FROM dap_reports WHERE batch_id = ?1 AND state = ?2",
                        params![&id[..], IN_JOB],
                        |r| r.get(0),
                    )?;
                    let held = read_batch(&tx, &id)?.map_or(0, |batch| batch.reports);
                    if running > 0 || held < min_batch {
                        return Ok(None);
                    }
                    tx.execute("UPDATE dap_batches SET open = 0 WHERE batch_id = ?1", params![&id[..]])?;
                    id
                }
            };
            let batch = read_batch(&tx, &id)?.ok_or_else(|| StoreError::Corrupt("batch vanished".into()))?;
            tx.commit()?;
            Ok(Some((id, batch)))
        })
        .await
    }

    /// Marks batch `batch_id` collected, keeps its `sum`, and publishes the model `next`
    /// computes from the current model, atomically; false if the batch was already collected.
    pub async fn dap_publish_collected(
        &self,
        batch_id: [u8; 32],
        sum: Vec<f64>,
        next: Box<dyn FnOnce(&StoredModel) -> StoredModel + Send>,
    ) -> Result<bool, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let batch = read_batch(&tx, &batch_id)?;
            let Some(batch) = batch.filter(|batch| !batch.collected) else { return Ok(false) };
            let version: i64 = tx.query_row("SELECT MAX(version) FROM models", [], |r| r.get(0))?;
            let current = read_model(&tx, stored_u64(version, "model version")?)?;
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
            record_collection(&tx, &batch_id, batch.reports, &sum, published.version as i64)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// Marks batch `batch_id` collected and keeps its collected `sum` (a lift task's aggregate
    /// of measurements: no model is published), numbered after the last collection, in one
    /// transaction. `false` when the batch is unknown or already collected.
    pub async fn dap_record_collected(&self, batch_id: [u8; 32], sum: Vec<f64>) -> Result<bool, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(batch) = read_batch(&tx, &batch_id)?.filter(|batch| !batch.collected) else { return Ok(false) };
            let sequence: i64 =
                tx.query_row("SELECT COALESCE(MAX(model_version), 0) + 1 FROM dap_collections", [], |r| r.get(0))?;
            record_collection(&tx, &batch_id, batch.reports, &sum, sequence)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// The leader's report and batch counts.
    pub async fn dap_leader_counts(&self) -> Result<LeaderCounts, StoreError> {
        self.with(|c| {
            let mut counts = LeaderCounts::default();
            let mut statement = c.prepare("SELECT state, COUNT(*) FROM dap_reports GROUP BY state")?;
            let rows = statement.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, count) = row?;
                let count = stored_u64(count, "report count")?;
                match state {
                    PENDING => counts.pending = count,
                    IN_JOB => counts.in_job = count,
                    AGGREGATED => counts.aggregated = count,
                    _ => counts.rejected += count,
                }
            }
            drop(statement);
            let open: Option<(Vec<u8>, i64)> = c
                .query_row(
                    "SELECT batch_id, reports FROM dap_batches WHERE collected = 0 ORDER BY open LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, reports)) = open {
                counts.open_batch_id = Some(hex::encode(id));
                counts.open_batch_reports = stored_u64(reports, "batch reports")?;
            }
            let (batches, reports): (i64, i64) =
                c.query_row("SELECT COUNT(*), COALESCE(SUM(reports), 0) FROM dap_collections", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            counts.collected_batches = stored_u64(batches, "collections")?;
            counts.collected_reports = stored_u64(reports, "collected reports")?;
            Ok(counts)
        })
        .await
    }

    /// The `limit` most recent collections, oldest first.
    pub async fn dap_collections(&self, limit: usize) -> Result<Vec<Collection>, StoreError> {
        self.with(move |c| {
            let mut statement = c.prepare(
                "SELECT batch_id, reports, model_version, sum FROM \
                 (SELECT * FROM dap_collections ORDER BY model_version DESC LIMIT ?1) ORDER BY model_version",
            )?;
            let rows = statement.query_map(params![limit as i64], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, Vec<u8>>(3)?))
            })?;
            rows.map(|row| {
                let (id, reports, version, sum) = row?;
                if sum.len() % 8 != 0 {
                    return Err(StoreError::Corrupt("a collected sum is not whole f64 values".into()));
                }
                let sum = sum.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect();
                Ok(Collection {
                    batch_id: hex::encode(id),
                    reports: stored_u64(reports, "collected reports")?,
                    model_version: stored_u64(version, "model version")?,
                    sum,
                })
            })
            .collect()
        })
        .await
    }
}
