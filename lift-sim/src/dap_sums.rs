//! The lift task's sums under `secureAggregation` (DAP-09, Prio3SumVec): every device's clipped
//! counts become the library's own measurement ([`LiftEncoding::measurement`]: scaled to steps
//! of 1/256 cap, offset, with the device's discrete Gaussian noise share of a sum of K reports,
//! clamped to the entries' bits), the measurements are summed as the two aggregators' output
//! shares unshard to (the VDAF's sum is exactly the sum of the measurements; `sync::dap::lift`
//! tests that through sharding, proofs and HPKE), and the sum is decoded as the lift leader
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
use shop_personalizer::sync::dap::LiftEncoding;
use shop_personalizer::sync::SecureAggregationSetup;

use crate::random_groups::BatchTotals;

/// The `secureAggregation` noise of a lift task whose batches hold at least `min_cohort`
/// reports. The simulation never sends, so the task's URLs and keys are placeholders.
pub fn secure_aggregation(min_cohort: u32) -> NoiseMode {
    let task = SecureAggregationSetup {
        leader_url: "https://leader.example".to_string(),
        helper_url: "https://helper.example".to_string(),
        task_id: String::new(),
        leader_hpke_config: String::new(),
        helper_hpke_config: String::new(),
        time_precision_secs: None,
        min_batch_size: Some(min_cohort),
    };
    NoiseMode::SecureAggregation { min_cohort, task }
}

/// The running sum of one repetition's lift measurements, and of its batches: the leader closes
/// a batch when it holds `minCohort` reports (in arrival order: here, the devices' order) and
/// collects each on its own; a last batch short of that is never collected.
pub struct DapSums {
    encoding: LiftEncoding,
    total: Vec<u128>,
    reports: u64,
    batch_size: u64,
    batch: Vec<u128>,
    batch_reports: u64,
    batches: Vec<BatchTotals>,
}

impl DapSums {
    /// `Some` for a `secureAggregation` scenario: its encoding, with the noise shared among the
    /// task's `minCohort` reports.
    pub fn new(config: &CheckedReportConfig) -> Option<Result<Self, String>> {
        let NoiseMode::SecureAggregation { min_cohort, .. } = config.config().noise else { return None };
        Some(LiftEncoding::new(config, min_cohort).map_err(|e| e.to_string()).map(|encoding| DapSums {
            total: vec![0; encoding.length()],
            batch: vec![0; encoding.length()],
            encoding,
            reports: 0,
            batch_size: u64::from(min_cohort),
            batch_reports: 0,
            batches: Vec::new(),
        }))
    }

    /// Adds the measurement of `report` (clipped by `noised_report`, not noised), its noise
    /// share drawn from a generator seeded with `seed` (the device's crypto source in a browser).
    pub fn add(&mut self, report: &LiftReport, seed: u64) -> Result<(), String> {
        let personalized = report.bucket == LiftBucket::Personalized;
        let mut rng = decision_rng(seed, 4);
        let (value_sd, product_sd) = self.encoding.share_steps();
        let mut noise = |is_value: bool| {
            let sd = if is_value { value_sd } else { product_sd };
            (sd * standard_normal(&mut rng)).round() as i64
        };
        let measurement = self
            .encoding
            .measurement_with_noise(&report.values, personalized, &mut noise)
            .map_err(|e| e.to_string())?;
        for ((sum, batch), entry) in self.total.iter_mut().zip(&mut self.batch).zip(measurement) {
            *sum += entry;
            *batch += entry;
        }
        self.reports += 1;
        self.batch_reports += 1;
        if self.batch_reports == self.batch_size {
            let buckets = self.encoding.decode(&self.batch, self.batch_reports).map_err(|e| e.to_string())?;
            self.batches.push(BatchTotals::of(&buckets));
            self.batch.iter_mut().for_each(|entry| *entry = 0);
            self.batch_reports = 0;
        }
        Ok(())
    }

    /// The collected batches' totals (for the random-groups interval).
    pub fn batches(&self) -> &[BatchTotals] {
        &self.batches
    }

    /// The estimator over the decoded sums of both buckets, as the lift leader builds it.
    pub fn estimator(&self, config: &CheckedReportConfig) -> Result<LiftEstimator, String> {
        let [p, h] = self.encoding.decode(&self.total, self.reports).map_err(|e| e.to_string())?;
        let personalized = LiftSums::from_parts(p.reports, p.sums, &p.products);
        let holdout = LiftSums::from_parts(h.reports, h.sums, &h.products);
        LiftEstimator::from_sums(config.clone(), personalized, holdout).map_err(|e| e.to_string())
    }
}
