//! Lift reports as DAP-09 reports with a Prio3SumVec proof (`liftReport.noise = { kind:
//! "secureAggregation", minCohort, task }`, see `sync::dap::lift`), and the retirement of
//! `sharedSums`: a new configuration cannot choose it, and a share pair a device booked under it
//! is dropped with a warning (its spend stays booked: the ledger is not touched).

use rand_chacha::ChaCha20Rng;

use crate::measure::{CheckedReportConfig, LiftReport, NoiseMode};
use crate::storage::{KeyValueStore, StorageWarning, WarningCode};
use crate::sync::secure_aggregation::parse_lift_dap_booked;
use crate::sync::{SharePair, SyncError};

use super::{Context, Syncing, SyncingError};

/// The checked lift task, if lift reports go through secure aggregation.
#[cfg(feature = "secure-aggregation")]
pub type LiftDapSlot = Option<crate::sync::dap::LiftDapDevice>;
#[cfg(not(feature = "secure-aggregation"))]
pub type LiftDapSlot = Option<std::convert::Infallible>;

/// Why a booked `sharedSums` share pair is dropped.
pub const RETIRED_SHARE_PAIR: &str = "a queued sharedSums lift report was dropped: sharedSums is retired (its shares \
carry no proof), and the pair cannot be sent as a DAP report; its spend stays booked, and the next lift report \
leaves under the configured noise mode";

/// Why a booked lift DAP report is dropped when the page no longer configures its task.
pub const STRANDED_LIFT_REPORT: &str = "a queued secure aggregation lift report was dropped: this page no longer \
configures liftReport.noise secureAggregation, and the report (sealed to that task's two aggregators) cannot be sent \
otherwise; its spend stays booked";

/// Checks the lift task of `lift` (refusing the retired `sharedSums`).
pub(super) fn check_lift_dap(lift: &CheckedReportConfig) -> Result<LiftDapSlot, SyncingError> {
    match &lift.config().noise {
        NoiseMode::SharedSums { .. } => Err(crate::measure::ReportError::SharedSumsRetired.into()),
        NoiseMode::Local | NoiseMode::Distributed { .. } => Ok(None),
        NoiseMode::SecureAggregation { min_cohort, task: _task } => {
            #[cfg(feature = "secure-aggregation")]
            return Ok(Some(crate::sync::dap::LiftDapDevice::new(_task, lift, *min_cohort).map_err(SyncError::from)?));
            #[cfg(not(feature = "secure-aggregation"))]
            {
                let _ = min_cohort;
                Err(SyncError::BadField { field: "liftReport.noise secureAggregation (not in this build)", value: 0.0 }
                    .into())
            }
        }
    }
}

/// The booked bytes of the clipped `report` as a lift DAP report.
pub(super) fn lift_dap_body(
    slot: &LiftDapSlot,
    report: &LiftReport,
    now_s: u64,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, SyncError> {
    #[cfg(feature = "secure-aggregation")]
    if let Some(device) = slot {
        return Ok(device.booked_report(report, now_s, rng)?);
    }
    let _ = (slot, report, now_s, rng);
    Err(SyncError::BadField { field: "liftReport.noise.task", value: 0.0 })
}

/// Where lift DAP reports go (`None` without a lift task).
pub(super) fn lift_reports_url(slot: &LiftDapSlot) -> Option<&str> {
    #[cfg(feature = "secure-aggregation")]
    return slot.as_ref().map(|device| device.reports_url());
    #[cfg(not(feature = "secure-aggregation"))]
    slot.as_ref().map(|never| match *never {})
}

impl Syncing {
    /// Drops a booked lift report no configured path can send: a `sharedSums` share pair
    /// (retired), or a lift DAP report when `slot` holds no lift task. Saved, with a warning;
    /// the ledger keeps its spend. Runs at `configure_sync` and when a stored state is read
    /// after it.
    pub(super) fn drop_unsendable_lift<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, slot: &LiftDapSlot) {
        let Some(body) = self.pending_lift.as_deref() else { return };
        let message = if SharePair::parse(body).is_some() {
            RETIRED_SHARE_PAIR
        } else if slot.is_none() && parse_lift_dap_booked(body).is_some() {
            STRANDED_LIFT_REPORT
        } else {
            return;
        };
        self.pending_lift = None;
        self.dirty = true;
        self.save_state(ctx);
        ctx.warn(StorageWarning::new(WarningCode::SendRefused, message));
    }

    /// With secure aggregation of lift reports, `ε` of one lift report if the lift task's two
    /// aggregators collude (`K` times the booked `ρ`); `None` otherwise.
    pub fn collusion_epsilon_per_lift_report(&self) -> Option<f64> {
        let lift = self.lift.as_ref()?;
        matches!(lift.config().noise, NoiseMode::SecureAggregation { .. }).then(|| lift.single_report_epsilon())
    }

    /// Where lift DAP reports go (`{leaderUrl}/tasks/{taskId}/reports` of the lift task).
    pub fn lift_dap_reports_url(&self) -> Option<&str> {
        lift_reports_url(&self.lift_dap)
    }
}
