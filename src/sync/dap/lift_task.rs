//! The device's lift task, checked once from `liftReport.noise = { kind: "secureAggregation",
//! minCohort, task }`, and its lift report as a DAP-09 report with a Prio3SumVec proof
//! ([`super::lift`]).
//!
//! Privacy: each device adds its share (`1/K` of the variance) of the discrete Gaussian noise of
//! a sum of `K` = `minCohort` reports, so the aggregators only ever release sums carrying the
//! configured ε's noise; the ledger books that ρ on the assumption that the leader and the helper
//! do not collude. Colluding, they see one report with its noise share only: `K` times the ρ.

use super::device_task::{checked_endpoints, CheckedEndpoints, CryptoRng06, TaskFields};
use super::lift::{build_lift_report, LiftEncoding};
use super::report::encoded;
use super::{DapError, DapTask};
use crate::measure::holdout::LiftBucket;
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::sync::secure_aggregation::lift_dap_booked;
use crate::sync::SecureAggregationSetup;

const LIFT_FIELDS: TaskFields = TaskFields {
    leader_url: "liftReport.noise.task.leaderUrl",
    helper_url: "liftReport.noise.task.helperUrl",
    leader_hpke_config: "liftReport.noise.task.leaderHpkeConfig",
    helper_hpke_config: "liftReport.noise.task.helperHpkeConfig",
};

/// A checked lift task: where lift reports go, the aggregators' HPKE configs, the encoding.
#[derive(Debug, Clone)]
pub struct LiftDapDevice {
    task: DapTask,
    encoding: LiftEncoding,
    cohort: u32,
    reports_url: String,
}

impl LiftDapDevice {
    /// Checks the lift task `setup` for reports of `config` whose noise is shared among `cohort`.
    pub fn new(setup: &SecureAggregationSetup, config: &CheckedReportConfig, cohort: u32) -> Result<Self, DapError> {
        let CheckedEndpoints { task_id, leader_config, helper_config, time_precision_secs, reports_url } =
            checked_endpoints(setup, &LIFT_FIELDS)?;
        if let Some(got) = setup.min_batch_size.filter(|&got| got != cohort) {
            return Err(DapError::LiftBatchSize { got, min_cohort: cohort });
        }
        let encoding = LiftEncoding::new(config, cohort)?;
        encoding.vdaf()?;
        let task = DapTask {
            task_id,
            leader_config,
            helper_config,
            dimension: encoding.length(),
            // Unused for lift reports (a SumVec measurement has no norm bound).
            clip_bound: 1.0,
            time_precision_secs,
        };
        Ok(LiftDapDevice { task, encoding, cohort, reports_url })
    }

    /// `PUT` target of lift reports: `{leaderUrl}/tasks/{taskId}/reports` of the lift task.
    pub fn reports_url(&self) -> &str {
        &self.reports_url
    }

    /// The task as the report code uses it (its `dimension` is the measurement's length).
    pub fn task(&self) -> &DapTask {
        &self.task
    }

    /// The encoding the aggregators decode this task's sums with.
    pub fn encoding(&self) -> &LiftEncoding {
        &self.encoding
    }

    /// `K`: how many reports' sum this device's noise share is for.
    pub fn cohort(&self) -> u32 {
        self.cohort
    }

    /// The booked bytes of `report` (clipped, not noised: `measure::noised_report` under
    /// `secureAggregation`): its measurement with this device's noise share, sharded with its
    /// proof, sealed to both aggregators, behind `SPLD` and its bucket (`lift_dap_booked`).
    pub fn booked_report(
        &self,
        report: &LiftReport,
        now_secs: u64,
        rng: &mut impl rand::CryptoRng,
    ) -> Result<Vec<u8>, DapError> {
        let mut rng = CryptoRng06(rng);
        let (report_bucket, personalized) = (report.bucket, report.bucket == LiftBucket::Personalized);
        let measurement = self.encoding.measurement(&report.values, personalized, &mut rng)?;
        let report = build_lift_report(&self.task, &self.encoding, &measurement, now_secs, &mut rng)?;
        Ok(lift_dap_booked(report_bucket, &encoded(&report)?))
    }
}
