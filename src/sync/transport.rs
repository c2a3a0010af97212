//! The network seam: a few calls, bytes in and out. The browser uses `fetch`
//! (`src/wasm/fetch_transport.rs`); native tests use [`InMemoryTransport`].

use std::cell::RefCell;

use super::secure_aggregation::parse_lift_dap_booked;
use super::SyncError;
use crate::measure::holdout::LiftBucket;

/// Moves update and model bytes. Implementations send no cookies, ids or other headers of
/// their own beyond what the protocol needs (`Content-Type`, `If-None-Match`).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// POSTs one update body; `Ok` once the server accepted it (2xx).
    async fn send_update(&self, body: &[u8]) -> Result<(), SyncError>;
    /// POSTs one lift report body (`/v1/lift-reports`); `Ok` once the server accepted it (2xx).
    async fn send_lift_report(&self, body: &[u8]) -> Result<(), SyncError>;
    /// PUTs one lift report as a DAP-09 report to `{leaderUrl}/tasks/{taskId}/reports` of the
    /// lift task of `bucket` (`liftReport.noise.tasks.personalized` or `.holdout`); `Ok` once the
    /// leader accepted it (2xx).
    async fn send_lift_dap_report(&self, bucket: LiftBucket, report: &[u8]) -> Result<(), SyncError>;
    /// PUTs one DAP-09 report (`application/dap-report`) to `{leaderUrl}/tasks/{taskId}/reports`
    /// of the configured secure aggregation task; `Ok` once the leader accepted it (2xx).
    async fn send_dap_report(&self, report: &[u8]) -> Result<(), SyncError>;
    /// GETs the shared model; `Ok(None)` when the server says `known_version` is current (304).
    async fn fetch_model(&self, known_version: Option<u64>) -> Result<Option<Vec<u8>>, SyncError>;
}

/// A transport that keeps everything in memory: what was sent, and the model it serves.
#[derive(Debug, Default)]
pub struct InMemoryTransport {
    sent: RefCell<Vec<Vec<u8>>>,
    lift_reports: RefCell<Vec<Vec<u8>>>,
    model: RefCell<Option<(u64, Vec<u8>)>>,
    lift_dap_reports: RefCell<Vec<(LiftBucket, Vec<u8>)>>,
    dap_reports: RefCell<Vec<Vec<u8>>>,
    refuse_sends: RefCell<Option<SyncError>>,
}

/// Sends a booked lift report: a plain report to `/v1/lift-reports`, or a DAP report to the
/// leader of its bucket's lift task.
pub async fn deliver_lift_report(transport: &impl Transport, booked: &[u8]) -> Result<(), SyncError> {
    match parse_lift_dap_booked(booked) {
        Some((bucket, report)) => transport.send_lift_dap_report(bucket, report).await,
        None => transport.send_lift_report(booked).await,
    }
}

impl InMemoryTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `bytes` as model `version` from now on.
    pub fn serve_model(&self, version: u64, bytes: Vec<u8>) {
        *self.model.borrow_mut() = Some((version, bytes));
    }

    /// Makes every later send (updates and lift reports) fail with `error` (`None` restores success).
    pub fn refuse_sends_with(&self, error: Option<SyncError>) {
        *self.refuse_sends.borrow_mut() = error;
    }

    /// Every lift DAP report sent so far (the encoded `Report`s), in order.
    pub fn lift_dap_reports(&self) -> Vec<(LiftBucket, Vec<u8>)> {
        self.lift_dap_reports.borrow().clone()
    }

    /// Every update body sent so far, in order.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.sent.borrow().clone()
    }

    /// Every DAP report sent so far (the encoded `Report`s), in order.
    pub fn dap_reports(&self) -> Vec<Vec<u8>> {
        self.dap_reports.borrow().clone()
    }

    /// Every lift report body sent so far, in order.
    pub fn lift_reports(&self) -> Vec<Vec<u8>> {
        self.lift_reports.borrow().clone()
    }
}

impl Transport for InMemoryTransport {
    async fn send_update(&self, body: &[u8]) -> Result<(), SyncError> {
        if let Some(error) = self.refuse_sends.borrow().clone() {
            return Err(error);
        }
        self.sent.borrow_mut().push(body.to_vec());
        Ok(())
    }

    async fn send_lift_report(&self, body: &[u8]) -> Result<(), SyncError> {
        if let Some(error) = self.refuse_sends.borrow().clone() {
            return Err(error);
        }
        self.lift_reports.borrow_mut().push(body.to_vec());
        Ok(())
    }

    async fn send_lift_dap_report(&self, bucket: LiftBucket, report: &[u8]) -> Result<(), SyncError> {
        if let Some(error) = self.refuse_sends.borrow().clone() {
            return Err(error);
        }
        self.lift_dap_reports.borrow_mut().push((bucket, report.to_vec()));
        Ok(())
    }

    async fn send_dap_report(&self, report: &[u8]) -> Result<(), SyncError> {
        if let Some(error) = self.refuse_sends.borrow().clone() {
            return Err(error);
        }
        self.dap_reports.borrow_mut().push(report.to_vec());
        Ok(())
    }

    async fn fetch_model(&self, known_version: Option<u64>) -> Result<Option<Vec<u8>>, SyncError> {
        match &*self.model.borrow() {
            None => Err(SyncError::Transport { message: "no model published yet (404)".to_owned() }),
            Some((version, _)) if Some(*version) == known_version => Ok(None),
            Some((_, bytes)) => Ok(Some(bytes.clone())),
        }
    }
}
