//! The lift tasks' sums under `secureAggregation` (DAP-09, Prio3SumVec, one task per bucket):
//! every device's clipped counts become the library's own measurement ([`LiftEncoding::measurement`]: scaled to steps
//! of 1/256 cap, offset, with the device's discrete Gaussian noise share of a sum of K reports,
//! clamped to the entries' bits), the measurements are summed as the two aggregators' output
//! shares unshard to (the VDAF's sum is exactly the sum of the measurements; `sync::dap::lift`
//! tests that through sharding, proofs and HPKE) in the task of the device's bucket, and each
//! task's sum is decoded as the lift leader
//! decodes a collected batch (`LiftEncoding::decode`, then `LiftSums::from_parts`). Sharding,
//! proving and sealing are left out: they change no number, and cost 10 ms a report.
//!
//! One thing differs from a device: the noise samples. A device draws them with prio's exact
//! discrete Gaussian sampler, about 30 µs a sample natively (a Diginetica run of 62k devices ×
//! 1,054 entries would take half an hour per repetition); here each is a continuous Gaussian of
//! the same sd rounded to the nearest step. Rounding adds about 1/12 step² of variance
//! (Sheppard's correction): at the default lift task's value share of 84 steps that is 1.2e-5 of
//! the variance, and 2.6e-3 at the finest share the encoding accepts (4 steps).

use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::gaussian::decision_rng;
use shop_personalizer::measure::{CheckedReportConfig, LiftEstimator, LiftReport, LiftSums, NoiseMode};
use shop_personalizer::privacy::sampling::standard_normal;
use shop_personalizer::sync::dap::{BucketSums, LiftEncoding};
use shop_personalizer::sync::{LiftTasks, SecureAggregationSetup};

use crate::random_groups::BatchTotals;

/// The `secureAggregation` noise of two lift tasks (one per bucket) whose batches hold at least
/// `min_cohort` reports. The simulation never sends, so the tasks' URLs and keys are placeholders.
pub fn secure_aggregation(min_cohort: u32) -> NoiseMode {
    let task = |id: &str| SecureAggregationSetup {
        leader_url: "https://leader.example".to_string(),
        helper_url: "https://helper.example".to_string(),
        task_id: id.to_string(),
        leader_hpke_config: String::new(),
        helper_hpke_config: String::new(),
        time_precision_secs: None,
        min_batch_size: Some(min_cohort),
    };
    NoiseMode::SecureAggregation {
        min_cohort,
        tasks: Box::new(LiftTasks { personalized: task("p"), holdout: task("h") }),
    }
}

/// One bucket's task: the running sum of its measurements, and of its open batch (the leader
/// closes a batch when it holds `minCohort` reports, in arrival order: here, the devices'
/// order, and collects each on its own; a last batch short of that is never collected).
struct TaskSums {
    total: Vec<u128>,
    reports: u64,
    batch: Vec<u128>,
    batch_reports: u64,
    batches: Vec<BucketSums>,
}

impl TaskSums {
    fn new(length: usize) -> Self {
        TaskSums { total: vec![0; length], reports: 0, batch: vec![0; length], batch_reports: 0, batches: Vec::new() }
    }
}

/// The two lift tasks' sums of one repetition.
pub struct DapSums {
    encoding: LiftEncoding,
    batch_size: u64,
    /// `[personalized, holdout]`.
    tasks: [TaskSums; 2],
}

impl DapSums {
    /// `Some` for a `secureAggregation` scenario: its encoding, with the noise shared among the
    /// tasks' `minCohort` reports.
    pub fn new(config: &CheckedReportConfig) -> Option<Result<Self, String>> {
        let NoiseMode::SecureAggregation { min_cohort, .. } = config.config().noise else { return None };
        Some(LiftEncoding::new(config, min_cohort).map_err(|e| e.to_string()).map(|encoding| DapSums {
            tasks: [TaskSums::new(encoding.length()), TaskSums::new(encoding.length())],
            encoding,
            batch_size: u64::from(min_cohort),
        }))
    }

    /// Adds the measurement of `report` (clipped by `noised_report`, not noised) to its bucket's
    /// task, its noise share drawn from a generator seeded with `seed` (the device's crypto
    /// source in a browser).
    pub fn add(&mut self, report: &LiftReport, seed: u64) -> Result<(), String> {
        let mut rng = decision_rng(seed, 4);
        let (value_sd, product_sd) = self.encoding.share_steps();
        let mut noise = |is_value: bool| {
            let sd = if is_value { value_sd } else { product_sd };
            (sd * standard_normal(&mut rng)).round() as i64
        };
        let measurement =
            self.encoding.measurement_with_noise(&report.values, &mut noise).map_err(|e| e.to_string())?;
        let task = &mut self.tasks[usize::from(report.bucket == LiftBucket::Holdout)];
        for ((sum, batch), entry) in task.total.iter_mut().zip(&mut task.batch).zip(measurement) {
            *sum += entry;
            *batch += entry;
        }
        task.reports += 1;
        task.batch_reports += 1;
        if task.batch_reports == self.batch_size {
            task.batches.push(self.encoding.decode(&task.batch, task.batch_reports).map_err(|e| e.to_string())?);
            task.batch.iter_mut().for_each(|entry| *entry = 0);
            task.batch_reports = 0;
        }
        Ok(())
    }

    /// The collected batches as random groups: as many groups as the holdout task collected
    /// batches, each one holdout batch and every `groups`-th personalized batch (round robin):
    /// independent groups of disjoint reports, each with both buckets.
    pub fn batches(&self) -> Vec<BatchTotals> {
        let [personalized, holdout] = &self.tasks;
        let groups = holdout.batches.len();
        (0..groups)
            .map(|group| {
                let mine = personalized.batches.iter().skip(group).step_by(groups.max(1));
                BatchTotals::of(&[&holdout.batches[group]], mine.collect::<Vec<_>>().as_slice())
            })
            .collect()
    }

    /// The estimator over the decoded sums of both tasks, as the lift leader builds it.
    pub fn estimator(&self, config: &CheckedReportConfig) -> Result<LiftEstimator, String> {
        let decode = |task: &TaskSums| {
            self.encoding
                .decode(&task.total, task.reports)
                .map(|b| LiftSums::from_parts(b.reports, b.sums, &b.products))
        };
        let personalized = decode(&self.tasks[0]).map_err(|e| e.to_string())?;
        let holdout = decode(&self.tasks[1]).map_err(|e| e.to_string())?;
        LiftEstimator::from_sums(config.clone(), personalized, holdout).map_err(|e| e.to_string())
    }
}
