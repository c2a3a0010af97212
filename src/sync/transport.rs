//! The network seam: a few calls, bytes in and out. The browser uses `fetch`
//! (`src/wasm/fetch_transport.rs`); native tests use [`InMemoryTransport`].

use std::cell::RefCell;

use super::share_wire::{SharePair, ShareServer};
use super::SyncError;

/// Moves update and model bytes. Implementations send no cookies, ids or other headers of
/// their own beyond what the protocol needs (`Content-Type`, `If-None-Match`).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// POSTs one update body; `Ok` once the server accepted it (2xx).
    async fn send_update(&self, body: &[u8]) -> Result<(), SyncError>;
    /// POSTs one lift report body (`/v1/lift-reports`); `Ok` once the server accepted it (2xx).
    async fn send_lift_report(&self, body: &[u8]) -> Result<(), SyncError>;
    /// POSTs one lift report share (`/v1/lift-shares`) to the leader (the aggregator) or to the
    /// helper (`noise.helperUrl`); `Ok` once that server accepted it (2xx).
    async fn send_lift_share(&self, server: ShareServer, body: &[u8]) -> Result<(), SyncError>;
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
    shares: RefCell<Vec<(ShareServer, Vec<u8>)>>,
    dap_reports: RefCell<Vec<Vec<u8>>>,
    refuse_sends: RefCell<Option<SyncError>>,
    refuse_helper: RefCell<Option<SyncError>>,
}

/// Sends a booked lift report: a plain report to `/v1/lift-reports`, or a share pair to both
/// servers (leader first). Delivered only when both accepted it (a server that already has the
/// report id answers `409 replayed_nonce`, which counts as accepted); otherwise the first failure.
pub async fn deliver_lift_report(transport: &impl Transport, booked: &[u8]) -> Result<(), SyncError> {
    let Some(pair) = SharePair::parse(booked) else {
        return transport.send_lift_report(booked).await;
    };
    let leader = transport.send_lift_share(ShareServer::Leader, pair.leader).await;
    let helper = transport.send_lift_share(ShareServer::Helper, pair.helper).await;
    let accepted = |result: &Result<(), SyncError>| {
        matches!(result, Ok(()))
            || matches!(result, Err(SyncError::Rejected { status: 409, error, .. }) if error == "replayed_nonce")
    };
    match (accepted(&leader), accepted(&helper)) {
        (true, true) => Ok(()),
        (false, _) => leader,
        (true, false) => helper,
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

    /// Makes every later helper share fail with `error` (`None` restores success).
    pub fn refuse_helper_with(&self, error: Option<SyncError>) {
        *self.refuse_helper.borrow_mut() = error;
    }

    /// Every lift report share sent so far, with the server it went to, in order.
    pub fn lift_shares(&self) -> Vec<(ShareServer, Vec<u8>)> {
        self.shares.borrow().clone()
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

    async fn send_lift_share(&self, server: ShareServer, body: &[u8]) -> Result<(), SyncError> {
        let refusal = self.refuse_sends.borrow().clone();
        let helper_refusal = self.refuse_helper.borrow().clone().filter(|_| server == ShareServer::Helper);
        if let Some(error) = refusal.or(helper_refusal) {
            return Err(error);
        }
        self.shares.borrow_mut().push((server, body.to_vec()));
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
