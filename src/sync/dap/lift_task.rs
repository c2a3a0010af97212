//! The device's lift task, checked once from `liftReport.noise = { kind: "secureAggregation",
//! minCohort, task }`, and its lift report as a DAP-09 report with a Prio3SumVec proof
//! ([`super::lift`]).
//!
//! Privacy: each device adds its share (`1/K` of the variance) of the discrete Gaussian noise of
//! a sum of `K` = `minCohort` reports, so the aggregators only ever release sums carrying the
//! configured ε's noise; the ledger books that ρ on the assumption that the leader and the helper
//! do not collude. Colluding, they see one report with its noise share only: `K` times the ρ.

use super::device_task::{checked_url, hpke_config, task_id, CryptoRng06, DEFAULT_TIME_PRECISION_SECS};
use super::lift::{build_lift_report, LiftEncoding};
use super::report::encoded;
use super::{DapError, DapTask};
use crate::measure::holdout::LiftBucket;
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::sync::secure_aggregation::lift_dap_booked;
use crate::sync::SecureAggregationSetup;

const MAX_TIME_PRECISION_SECS: u64 = 604_800;

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
        let leader = checked_url(&setup.leader_url, "liftReport.noise.task.leaderUrl")?;
        checked_url(&setup.helper_url, "liftReport.noise.task.helperUrl")?;
        let task_id = task_id(&setup.task_id)?;
        let leader_config = hpke_config(&setup.leader_hpke_config, "liftReport.noise.task.leaderHpkeConfig")?;
        let helper_config = hpke_config(&setup.helper_hpke_config, "liftReport.noise.task.helperHpkeConfig")?;
        let time_precision_secs = setup.time_precision_secs.unwrap_or(DEFAULT_TIME_PRECISION_SECS);
        if !(1..=MAX_TIME_PRECISION_SECS).contains(&time_precision_secs) {
            return Err(DapError::BadTimePrecision(time_precision_secs));
        }
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
        let reports_url = [leader, "/tasks/", setup.task_id.trim(), "/reports"].concat();
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
