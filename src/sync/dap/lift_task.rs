//! The device's two lift tasks, checked once from `liftReport.noise = { kind:
//! "secureAggregation", minCohort, tasks: { personalized, holdout } }`, and its lift report as a
//! DAP-09 report with a Prio3SumVec proof ([`super::lift`]) for the task of its own bucket.
//!
//! Privacy: each device adds its share (`1/K` of the variance) of the discrete Gaussian noise of
//! a sum of `K` = `minCohort` reports, and each task's batches hold at least `K` reports, so the
//! aggregators only ever release one bucket's sums carrying the configured ε's noise; the ledger
//! books that ρ on the assumption that the leader and the helper do not collude. Colluding, they
//! see one report with its noise share only: `K` times the ρ. The task a report goes to tells the
//! aggregators its bucket (the holdout coin, public by design of the holdout), not its counts.

use super::device_task::{checked_endpoints, CheckedEndpoints, CryptoRng06, TaskFields};
use super::lift::{build_lift_report, LiftEncoding};
use super::report::encoded;
use super::{DapError, DapTask};
use crate::measure::holdout::LiftBucket;
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::sync::secure_aggregation::lift_dap_booked;
use crate::sync::{LiftTasks, SecureAggregationSetup};

const PERSONALIZED_FIELDS: TaskFields = TaskFields {
    leader_url: "liftReport.noise.tasks.personalized.leaderUrl",
    helper_url: "liftReport.noise.tasks.personalized.helperUrl",
    leader_hpke_config: "liftReport.noise.tasks.personalized.leaderHpkeConfig",
    helper_hpke_config: "liftReport.noise.tasks.personalized.helperHpkeConfig",
};

const HOLDOUT_FIELDS: TaskFields = TaskFields {
    leader_url: "liftReport.noise.tasks.holdout.leaderUrl",
    helper_url: "liftReport.noise.tasks.holdout.helperUrl",
    leader_hpke_config: "liftReport.noise.tasks.holdout.leaderHpkeConfig",
    helper_hpke_config: "liftReport.noise.tasks.holdout.helperHpkeConfig",
};

/// One bucket's checked task and where its reports go.
#[derive(Debug, Clone)]
struct BucketTask {
    task: DapTask,
    reports_url: String,
}

/// The checked lift tasks: where each bucket's reports go, the aggregators' HPKE configs, the
/// encoding (the same for both buckets).
#[derive(Debug, Clone)]
pub struct LiftDapDevice {
    personalized: BucketTask,
    holdout: BucketTask,
    encoding: LiftEncoding,
    cohort: u32,
}

fn bucket_task(
    setup: &SecureAggregationSetup,
    fields: &TaskFields,
    encoding: &LiftEncoding,
    cohort: u32,
) -> Result<BucketTask, DapError> {
    let CheckedEndpoints { task_id, leader_config, helper_config, time_precision_secs, reports_url } =
        checked_endpoints(setup, fields)?;
    if let Some(got) = setup.min_batch_size.filter(|&got| got != cohort) {
        return Err(DapError::LiftBatchSize { got, min_cohort: cohort });
    }
    let task = DapTask {
        task_id,
        leader_config,
        helper_config,
        dimension: encoding.length(),
        // Unused for lift reports (a SumVec measurement has no norm bound).
        clip_bound: 1.0,
        time_precision_secs,
    };
    Ok(BucketTask { task, reports_url })
}

impl LiftDapDevice {
    /// Checks the lift `tasks` for reports of `config` whose noise is shared among `cohort`.
    pub fn new(tasks: &LiftTasks, config: &CheckedReportConfig, cohort: u32) -> Result<Self, DapError> {
        let encoding = LiftEncoding::new(config, cohort)?;
        encoding.vdaf()?;
        let personalized = bucket_task(&tasks.personalized, &PERSONALIZED_FIELDS, &encoding, cohort)?;
        let holdout = bucket_task(&tasks.holdout, &HOLDOUT_FIELDS, &encoding, cohort)?;
        if personalized.task.task_id == holdout.task.task_id {
            return Err(DapError::LiftSameTask);
        }
        Ok(LiftDapDevice { personalized, holdout, encoding, cohort })
    }

    fn bucket(&self, bucket: LiftBucket) -> &BucketTask {
        match bucket {
            LiftBucket::Personalized => &self.personalized,
            LiftBucket::Holdout => &self.holdout,
        }
    }

    /// `PUT` target of `bucket`'s lift reports: `{leaderUrl}/tasks/{taskId}/reports` of its task.
    pub fn reports_url(&self, bucket: LiftBucket) -> &str {
        &self.bucket(bucket).reports_url
    }

    /// `bucket`'s task as the report code uses it (its `dimension` is the measurement's length).
    pub fn task(&self, bucket: LiftBucket) -> &DapTask {
        &self.bucket(bucket).task
    }

    /// The encoding the aggregators decode each task's sums with.
    pub fn encoding(&self) -> &LiftEncoding {
        &self.encoding
    }

    /// `K`: how many reports' sum this device's noise share is for (each task's least batch).
    pub fn cohort(&self) -> u32 {
        self.cohort
    }

    /// The booked bytes of `report` (clipped, not noised: `measure::noised_report` under
    /// `secureAggregation`): its measurement with this device's noise share, sharded with its
    /// proof, sealed to both aggregators **for the task of the report's own bucket** (the task
    /// id is in the sealed shares' associated data, so no other task's aggregators can open
    /// them), behind `SPLT` and its bucket (`lift_dap_booked`), which picks the upload URL.
    pub fn booked_report(
        &self,
        report: &LiftReport,
        now_secs: u64,
        rng: &mut impl rand::CryptoRng,
    ) -> Result<Vec<u8>, DapError> {
        let mut rng = CryptoRng06(rng);
        let measurement = self.encoding.measurement(&report.values, &mut rng)?;
        let task = self.task(report.bucket);
        let sealed = build_lift_report(task, &self.encoding, &measurement, now_secs, &mut rng)?;
        Ok(lift_dap_booked(report.bucket, &encoded(&sealed)?))
    }
}
