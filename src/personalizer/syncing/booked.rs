//! What a model update and a lift report share once booked: the state holding their spend is
//! saved before the bytes are handed out, and a send settles the same way for both (delivered,
//! kept to resend the very same bytes, or refused for good and dropped).

use crate::storage::{KeyValueStore, StorageWarning, WarningCode};
use crate::sync::SyncError;

use super::{Context, SkipReason, SyncOutcome, SyncPlan, Syncing};

/// Which booked body a send is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Booked {
    Update,
    LiftReport,
}

impl Booked {
    fn noun(self) -> &'static str {
        match self {
            Booked::Update => "update",
            Booked::LiftReport => "lift report",
        }
    }
}

/// How a send went: `(delivered, retry)`. Accepted, or a replayed nonce (an earlier attempt
/// arrived), is delivered; a network failure, a rate limit or a busy server is retried with
/// the same bytes; any other refusal is neither (dropped).
fn delivery(result: &Result<(), SyncError>) -> (bool, bool) {
    let delivered = match result {
        Ok(()) => true,
        Err(SyncError::Rejected { status: 409, error, .. }) => error == "replayed_nonce",
        Err(_) => false,
    };
    let retry = matches!(result, Err(SyncError::Transport { .. }))
        || matches!(result, Err(SyncError::Rejected { status, .. }) if *status == 429 || *status >= 500);
    (delivered, retry)
}

impl Syncing {
    fn booked_slot(&mut self, booked: Booked) -> &mut Option<Vec<u8>> {
        match booked {
            Booked::Update => &mut self.pending,
            Booked::LiftReport => &mut self.pending_lift,
        }
    }

    /// Returns the plan to send `body` once the state holding its spend is saved.
    pub(super) fn plan_send<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        booked: Booked,
        body: Vec<u8>,
        jitter_ms: u32,
        resend: bool,
    ) -> SyncPlan {
        if let Err(why) = self.write_state(ctx) {
            let message = format!(
                "the privacy ledger could not be saved ({why}); the {} is held back until it can be",
                booked.noun()
            );
            return SyncPlan::Done(SyncOutcome::skipped(SkipReason::StorageFailed, message));
        }
        SyncPlan::Send { body, jitter_ms, resend }
    }

    /// Settles a send of `body`: once delivered or refused for good, the booked bytes are
    /// dropped (their spend stays booked). `Err` is the outcome of a send that did not arrive.
    pub(super) fn settle<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        booked: Booked,
        body: &[u8],
        result: Result<(), SyncError>,
    ) -> Result<(), SyncOutcome> {
        let (delivered, retry) = delivery(&result);
        let slot = self.booked_slot(booked);
        if slot.as_deref() == Some(body) && (delivered || !retry) {
            *slot = None;
            self.dirty = true;
            self.save_state(ctx);
        }
        if delivered {
            return Ok(());
        }
        let problem = result.err().map(|e| e.to_string()).unwrap_or_default();
        let noun = booked.noun();
        if retry {
            let message = format!("{problem}; the same {noun} is sent at the next attempt");
            return Err(SyncOutcome::skipped(SkipReason::SendFailed, message));
        }
        let message = format!("the aggregator refused the {noun} and it was dropped: {problem}");
        ctx.warn(StorageWarning::new(WarningCode::SendRefused, message.clone()));
        Err(SyncOutcome::skipped(SkipReason::Rejected, message))
    }
}
