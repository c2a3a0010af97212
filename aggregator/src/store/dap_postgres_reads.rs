//! The helper's DAP steps and both roles' counts in PostgreSQL (see `dap_postgres.rs`).

use super::*;

impl PostgresStore {
    pub async fn dap_batch(&self, batch_id: [u8; 32]) -> Result<Option<StoredBatch>, StoreError> {
        let client = self.client().await?;
        read_batch(&*client, &batch_id).await
    }

    pub async fn dap_helper_job(&self, job_id: [u8; 16]) -> Result<Option<([u8; 32], Vec<u8>)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT request_hash, response FROM aggregator_dap_jobs WHERE job_id = $1", &[&&job_id[..]])
            .await?;
        row.map(|row| Ok((id_array(row.get(0), "job hash")?, row.get(1)))).transpose()
    }

    /// One query for the whole job (at most 256 ids), not one round trip per report.
    pub async fn dap_seen(&self, ids: Vec<[u8; 16]>) -> Result<Vec<bool>, StoreError> {
        let client = self.client().await?;
        let asked: Vec<&[u8]> = ids.iter().map(|id| &id[..]).collect();
        let rows =
            client.query("SELECT report_id FROM aggregator_dap_seen WHERE report_id = ANY($1)", &[&asked]).await?;
        let found: std::collections::HashSet<Vec<u8>> = rows.iter().map(|row| row.get(0)).collect();
        Ok(ids.iter().map(|id| found.contains(&id[..])).collect())
    }

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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert =
            tx.prepare("INSERT INTO aggregator_dap_seen (report_id) VALUES ($1) ON CONFLICT DO NOTHING").await?;
        for id in &accepted {
            if tx.execute(&insert, &[&&id[..]]).await? == 0 {
                return Ok(false);
            }
        }
        if !add_to_batch(&tx, &batch_id, &accepted, merge).await? {
            return Ok(false);
        }
        count_rejections(&tx, &rejections).await?;
        tx.execute(
            "INSERT INTO aggregator_dap_jobs (job_id, request_hash, response) VALUES ($1, $2, $3)",
            &[&&job_id[..], &&request_hash[..], &response],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn dap_mark_collected(&self, batch_id: [u8; 32]) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("UPDATE aggregator_dap_batches SET collected = TRUE WHERE batch_id = $1", &[&&batch_id[..]])
            .await?;
        Ok(())
    }

    pub async fn dap_rejections(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT reason, count FROM aggregator_dap_rejections ORDER BY reason", &[]).await?;
        rows.into_iter().map(|row| Ok((row.get(0), stored_u64(row.get(1), "rejections")?))).collect()
    }

    pub async fn dap_helper_counts(&self) -> Result<HelperCounts, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM aggregator_dap_jobs), (SELECT COUNT(*) FROM aggregator_dap_seen), \
                 (SELECT COUNT(*) FROM aggregator_dap_batches), \
                 (SELECT COUNT(*) FROM aggregator_dap_batches WHERE collected)",
                &[],
            )
            .await?;
        Ok(HelperCounts {
            jobs: stored_u64(row.get(0), "helper jobs")?,
            aggregated: stored_u64(row.get(1), "helper reports")?,
            batches: stored_u64(row.get(2), "helper batches")?,
            collected_batches: stored_u64(row.get(3), "helper collected batches")?,
        })
    }

    pub async fn dap_leader_counts(&self) -> Result<LeaderCounts, StoreError> {
        let client = self.client().await?;
        let mut counts = LeaderCounts::default();
        for row in client.query("SELECT state, COUNT(*) FROM aggregator_dap_reports GROUP BY state", &[]).await? {
            let count = stored_u64(row.get(1), "report count")?;
            match row.get::<_, i64>(0) {
                PENDING => counts.pending = count,
                IN_JOB => counts.in_job = count,
                AGGREGATED => counts.aggregated = count,
                _ => counts.rejected += count,
            }
        }
        let open = client
            .query_opt(
                "SELECT batch_id, reports FROM aggregator_dap_batches WHERE NOT collected ORDER BY open LIMIT 1",
                &[],
            )
            .await?;
        if let Some(row) = open {
            counts.open_batch_id = Some(hex::encode(row.get::<_, Vec<u8>>(0)));
            counts.open_batch_reports = stored_u64(row.get(1), "batch reports")?;
        }
        let row = client
            .query_one("SELECT COUNT(*), COALESCE(SUM(reports), 0)::BIGINT FROM aggregator_dap_collections", &[])
            .await?;
        counts.collected_batches = stored_u64(row.get(0), "collections")?;
        counts.collected_reports = stored_u64(row.get(1), "collected reports")?;
        Ok(counts)
    }

    pub async fn dap_collections(&self, limit: usize) -> Result<Vec<Collection>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT batch_id, reports, model_version, sum FROM \
                 (SELECT * FROM aggregator_dap_collections ORDER BY model_version DESC LIMIT $1) AS recent \
                 ORDER BY model_version",
                &[&(limit as i64)],
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                let sum: Vec<u8> = row.get(3);
                if sum.len() % 8 != 0 {
                    return Err(StoreError::Corrupt("a collected sum is not whole f64 values".into()));
                }
                Ok(Collection {
                    batch_id: hex::encode(row.get::<_, Vec<u8>>(0)),
                    reports: stored_u64(row.get(1), "collected reports")?,
                    model_version: stored_u64(row.get(2), "model version")?,
                    sum: sum.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect(),
                })
            })
            .collect()
    }
}
