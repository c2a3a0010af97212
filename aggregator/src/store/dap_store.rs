//! The store a DAP aggregator keeps its reports and batches in: the embedded SQLite store or
//! PostgreSQL, the same steps in the same transactions on either (`dap.rs`, `dap_leader.rs`,
//! `dap_postgres.rs`).

use std::sync::Arc;

use super::dap::{HelperCounts, LeaderJob, Merge, StoredBatch};
use super::dap_collection_jobs::StoredCollectionJob;
use super::dap_leader::{Collection, LeaderCounts};
use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{StoreError, StoredModel};

/// A DAP aggregator's store.
#[derive(Clone)]
pub enum DapStore {
    Sqlite(SqliteStore),
    Postgres(Arc<PostgresStore>),
}

impl From<SqliteStore> for DapStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

impl From<PostgresStore> for DapStore {
    fn from(store: PostgresStore) -> Self {
        Self::Postgres(Arc::new(store))
    }
}

/// Calls the same method on whichever store this is.
macro_rules! each {
    ($(pub async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        impl DapStore {
            $(pub async fn $name(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                match self {
                    Self::Sqlite(store) => store.$name($($arg),*).await,
                    Self::Postgres(store) => store.$name($($arg),*).await,
                }
            })*
        }
    };
}

each! {
    pub async fn dap_bind_task(&self, task_id: [u8; 32]) -> bool;
    pub async fn dap_put_report(&self, report_id: [u8; 16], body: Vec<u8>) -> bool;
    pub async fn dap_claim_job(&self, max: usize, max_batch: u64, fresh_job: [u8; 16], fresh_batch: [u8; 32]) -> Option<LeaderJob>;
    pub async fn dap_finish_leader_job(&self, batch_id: [u8; 32], accepted: Vec<[u8; 16]>, rejected: Vec<([u8; 16], &'static str)>, merge: Merge) -> ();
    pub async fn dap_open_batch(&self) -> Option<([u8; 32], StoredBatch)>;
    pub async fn dap_batch_to_collect(&self, min_batch: u64) -> Option<([u8; 32], StoredBatch)>;
    pub async fn dap_publish_collected(&self, batch_id: [u8; 32], sum: Vec<f64>, next: Box<dyn FnOnce(&StoredModel) -> StoredModel + Send>) -> bool;
    pub async fn dap_record_collected(&self, batch_id: [u8; 32], sum: Vec<f64>) -> bool;
    pub async fn dap_leader_counts(&self) -> LeaderCounts;
    pub async fn dap_collections(&self, limit: usize) -> Vec<Collection>;
    pub async fn dap_batch(&self, batch_id: [u8; 32]) -> Option<StoredBatch>;
    pub async fn dap_helper_job(&self, job_id: [u8; 16]) -> Option<([u8; 32], Vec<u8>)>;
    pub async fn dap_seen(&self, ids: Vec<[u8; 16]>) -> Vec<bool>;
    pub async fn dap_mark_collected(&self, batch_id: [u8; 32]) -> ();
    pub async fn dap_rejections(&self) -> Vec<(String, u64)>;
    pub async fn dap_helper_counts(&self) -> HelperCounts;
    pub async fn dap_collection_job(&self, job_id: [u8; 16]) -> Option<StoredCollectionJob>;
    pub async fn dap_put_collection_job(&self, job_id: [u8; 16], request: Vec<u8>, max_open: u64) -> bool;
    pub async fn dap_release_collection(&self, job_id: [u8; 16], batch_id: [u8; 32], answer: Vec<u8>) -> ();
    pub async fn dap_delete_collection_job(&self, job_id: [u8; 16]) -> bool;
}

impl DapStore {
    /// See [`SqliteStore::dap_finish_helper_job`].
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
        match self {
            Self::Sqlite(store) => {
                store.dap_finish_helper_job(job_id, request_hash, batch_id, accepted, rejections, merge, response).await
            }
            Self::Postgres(store) => {
                store.dap_finish_helper_job(job_id, request_hash, batch_id, accepted, rejections, merge, response).await
            }
        }
    }

    /// The current model (the leader reports its version after publishing).
    pub async fn current_model(&self) -> Result<StoredModel, StoreError> {
        use super::Store;
        Ok(match self {
            Self::Sqlite(store) => store.current().await?.model,
            Self::Postgres(store) => store.current().await?.model,
        })
    }
}
