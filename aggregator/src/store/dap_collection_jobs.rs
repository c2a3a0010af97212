//! The leader's collection jobs in either store: each job's request, and its answer (the encoded
//! `Collection`) written in the same transaction that marks the batch collected, so a leader
//! restarted between releasing a batch and the collector's next poll answers that poll with the
//! same bytes instead of holding a collected batch no one can read.

use rusqlite::{params, OptionalExtension};

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::StoreError;

/// A stored collection job: its encoded `CollectionReq`, and its answer once its batch was released.
pub type StoredCollectionJob = (Vec<u8>, Option<Vec<u8>>);

impl SqliteStore {
    pub async fn dap_collection_job(&self, job_id: [u8; 16]) -> Result<Option<StoredCollectionJob>, StoreError> {
        self.with(move |c| {
            let job = c
                .query_row(
                    "SELECT request, answer FROM dap_collection_jobs WHERE job_id = ?1",
                    params![&job_id[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(job)
        })
        .await
    }

    /// Keeps a new job unless `max_open` jobs without an answer are kept already (`false`).
    pub async fn dap_put_collection_job(
        &self,
        job_id: [u8; 16],
        request: Vec<u8>,
        max_open: u64,
    ) -> Result<bool, StoreError> {
        self.with(move |c| {
            let open: i64 =
                c.query_row("SELECT COUNT(*) FROM dap_collection_jobs WHERE answer IS NULL", [], |r| r.get(0))?;
            if super::stored_u64(open, "open collection jobs")? >= max_open {
                return Ok(false);
            }
            c.execute(
                "INSERT INTO dap_collection_jobs (job_id, request) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![&job_id[..], request],
            )?;
            Ok(true)
        })
        .await
    }

    /// Marks `batch_id` collected and keeps `answer` as job `job_id`'s, in one transaction.
    pub async fn dap_release_collection(
        &self,
        job_id: [u8; 16],
        batch_id: [u8; 32],
        answer: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute("UPDATE dap_batches SET collected = 1 WHERE batch_id = ?1", params![&batch_id[..]])?;
            tx.execute("UPDATE dap_collection_jobs SET answer = ?2 WHERE job_id = ?1", params![&job_id[..], answer])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Forgets job `job_id` (`false`: there was none); a batch it released stays collected.
    pub async fn dap_delete_collection_job(&self, job_id: [u8; 16]) -> Result<bool, StoreError> {
        self.with(
            move |c| Ok(c.execute("DELETE FROM dap_collection_jobs WHERE job_id = ?1", params![&job_id[..]])? > 0),
        )
        .await
    }
}

impl PostgresStore {
    pub async fn dap_collection_job(&self, job_id: [u8; 16]) -> Result<Option<StoredCollectionJob>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT request, answer FROM aggregator_dap_collection_jobs WHERE job_id = $1", &[&&job_id[..]])
            .await?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    pub async fn dap_put_collection_job(
        &self,
        job_id: [u8; 16],
        request: Vec<u8>,
        max_open: u64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let open: i64 = client
            .query_one("SELECT COUNT(*) FROM aggregator_dap_collection_jobs WHERE answer IS NULL", &[])
            .await?
            .get(0);
        if super::stored_u64(open, "open collection jobs")? >= max_open {
            return Ok(false);
        }
        client
            .execute(
                "INSERT INTO aggregator_dap_collection_jobs (job_id, request) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&&job_id[..], &request],
            )
            .await?;
        Ok(true)
    }

    pub async fn dap_release_collection(
        &self,
        job_id: [u8; 16],
        batch_id: [u8; 32],
        answer: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("UPDATE aggregator_dap_batches SET collected = TRUE WHERE batch_id = $1", &[&&batch_id[..]]).await?;
        tx.execute("UPDATE aggregator_dap_collection_jobs SET answer = $2 WHERE job_id = $1", &[&&job_id[..], &answer])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn dap_delete_collection_job(&self, job_id: [u8; 16]) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM aggregator_dap_collection_jobs WHERE job_id = $1", &[&&job_id[..]]).await? > 0)
    }
}
