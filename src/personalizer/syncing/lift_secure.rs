//! Lift reports as DAP-09 reports with a Prio3SumVec proof to the lift task of the device's
//! bucket (`liftReport.noise = { kind: "secureAggregation", minCohort, tasks: { personalized,
//! holdout } }`, see `sync::dap::lift`), and two retirements: `sharedSums` (a new configuration
//! cannot choose it) and the single lift task for both buckets (`noise.task`: refused by the
//! reader with what to do). A share pair or a single-task lift report a device booked before is
//! dropped with a warning (its spend stays booked: the ledger is not touched).

use rand_chacha::ChaCha20Rng;

use crate::measure::{CheckedReportConfig, LiftReport, NoiseMode};
use crate::storage::{KeyValueStore, StorageWarning, WarningCode};
use crate::sync::secure_aggregation::{is_single_task_lift_booked, parse_lift_dap_booked};
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

/// Why a lift DAP report booked for the retired single lift task (both buckets in one
/// measurement) is dropped.
pub const SINGLE_TASK_LIFT_REPORT: &str = "a queued secure aggregation lift report made for the single lift task of \
both buckets was dropped: lift reports now go to one DAP task per bucket (liftReport.noise.tasks), whose aggregators \
decode another measurement; its spend stays booked, and the next lift report goes to this device's bucket's task";

/// Why a booked lift DAP report is dropped when the page no longer configures its task.
pub const STRANDED_LIFT_REPORT: &str = "a queued secure aggregation lift report was dropped: this page no longer \
configures liftReport.noise secureAggregation, and the report (sealed to that task's two aggregators) cannot be sent \
otherwise; its spend stays booked";

/// Checks the lift task of `lift` (refusing the retired `sharedSums`).
pub(super) fn check_lift_dap(lift: &CheckedReportConfig) -> Result<LiftDapSlot, SyncingError> {
    match &lift.config().noise {
        NoiseMode::SharedSums { .. } => Err(crate::measure::ReportError::SharedSumsRetired.into()),
        NoiseMode::Local | NoiseMode::Distributed { .. } => Ok(None),
        NoiseMode::SecureAggregation { min_cohort, tasks: _tasks } => {
            #[cfg(feature = "secure-aggregation")]
            return Ok(Some(crate::sync::dap::LiftDapDevice::new(_tasks, lift, *min_cohort).map_err(SyncError::from)?));
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
    Err(SyncError::BadField { field: "liftReport.noise.tasks", value: 0.0 })
}

/// Where lift DAP reports go, `[personalized, holdout]` (`None` without lift tasks).
pub(super) fn lift_reports_urls(slot: &LiftDapSlot) -> Option<[String; 2]> {
    #[cfg(feature = "secure-aggregation")]
    return slot.as_ref().map(|device| {
        use crate::measure::holdout::LiftBucket;
        [LiftBucket::Personalized, LiftBucket::Holdout].map(|bucket| device.reports_url(bucket).to_owned())
    });
    #[cfg(not(feature = "secure-aggregation"))]
    slot.as_ref().map(|never| match *never {})
}

impl Syncing {
    /// Drops a booked lift report no configured path can send: a `sharedSums` share pair
    /// (retired), a lift DAP report made for the retired single lift task, or a lift DAP report
    /// when `slot` holds no lift tasks. Saved, with a warning;
    /// the ledger keeps its spend. Runs at `configure_sync` and when a stored state is read
    /// after it.
    pub(super) fn drop_unsendable_lift<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, slot: &LiftDapSlot) {
        let Some(body) = self.pending_lift.as_deref() else { return };
        let message = if SharePair::parse(body).is_some() {
            RETIRED_SHARE_PAIR
        } else if is_single_task_lift_booked(body) {
            SINGLE_TASK_LIFT_REPORT
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

    /// Where lift DAP reports go: `[personalized, holdout]`, each bucket's lift task's
    /// `{leaderUrl}/tasks/{taskId}/reports`.
    pub fn lift_dap_reports_urls(&self) -> Option<[String; 2]> {
        lift_reports_urls(&self.lift_dap)
    }
}
