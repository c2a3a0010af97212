//! The aggregation side: many devices' noised lift reports → lift with a confidence interval.
//!
//! Each bucket keeps sufficient statistics of its reports (count, sum, sum of outer products), so
//! memory is O(D²) however many devices report. A metric is a ratio of two linear functionals
//! of the vector (orders / sessions, clicks / impressions, ...), estimated as a ratio of means.
//! Its variance comes from the delta method over the per-report sample covariance. The
//! devices' Gaussian noise is independent across reports, so that sample covariance already
//! contains the noise variance (cap² z² per coordinate): the interval widens by exactly the
//! noise the devices added, and `noiseShare` says how much of the numerator's variance it is.
//!
//! - Personalized vs holdout (independent samples): lift = R_p / R_h − 1,
//!   Var ≈ Var(R_p)/R_h² + R_p² Var(R_h)/R_h⁴, with Var(R) = (S_aa − 2R S_ab + R² S_bb) / (n m_b²).
//! - Recommended vs other items, within the personalized bucket (paired on the same devices):
//!   f = (m_a/m_b)/(m_c/m_d), Var ≈ ∇fᵀ S ∇f / n.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::report::{CheckedReportConfig, LiftReport, LIFT_REPORT_VERSION};
pub use crate::adapt::gaussian::normal_quantile;
use crate::adapt::LiftBucket;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum EstimateError {
    #[error("report has {got} values; this configuration expects {expected}: devices and aggregator must share the lift config")]
    WrongDimension { got: usize, expected: usize },
    #[error("report holds a non-finite value: reject the report")]
    NotFinite,
    #[error("report version {0} is not understood (expected {LIFT_REPORT_VERSION})")]
    WrongVersion(u32),
    #[error("report was noised with multiplier {got}, the config says {expected}: devices and aggregator must share the lift config")]
    NoiseMismatch { got: f64, expected: f64 },
    #[error("confidence {0} is not in (0, 1): use e.g. 0.95")]
    BadConfidence(f64),
}

/// Count, sum and sum of outer products of one bucket's report vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BucketStats {
    n: u64,
    sum: Vec<f64>,
    cross: Vec<f64>,
}

impl BucketStats {
    fn new(dimension: usize) -> Self {
        BucketStats {
            n: 0,
            sum: vec![0.0; dimension],
            cross: vec![0.0; dimension * dimension],
        }
    }

    /// Adds one vector; only the upper triangle of the outer product is accumulated (the
    /// matrix is symmetric), [`BucketStats::cross_at`] reads it.
    fn add(&mut self, values: &[f64]) {
        let d = values.len();
        self.n += 1;
        for (i, vi) in values.iter().enumerate() {
            self.sum[i] += vi;
            let row = &mut self.cross[i * d + i..(i + 1) * d];
            for (cell, vj) in row.iter_mut().zip(&values[i..]) {
                *cell += vi * vj;
            }
        }
    }

    fn cross_at(&self, i: usize, j: usize) -> f64 {
        let d = self.sum.len();
        if i <= j {
            self.cross[i * d + j]
        } else {
            self.cross[j * d + i]
        }
    }

    fn mean(&self, f: &[f64]) -> f64 {
        f.iter().zip(&self.sum).map(|(w, s)| w * s).sum::<f64>() / self.n as f64
    }

    /// Sample covariance of the functionals f and g.
    fn cov(&self, f: &[f64], g: &[f64]) -> f64 {
        let n = self.n as f64;
        let mut cross = 0.0;
        for (i, fi) in f.iter().enumerate().filter(|(_, w)| **w != 0.0) {
            for (j, gj) in g.iter().enumerate().filter(|(_, w)| **w != 0.0) {
                cross += fi * gj * self.cross_at(i, j);
            }
        }
        (cross - n * self.mean(f) * self.mean(g)) / (n - 1.0)
    }
}

/// A metric's lift with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RatioLift {
    /// The metric in the treatment (personalized, or recommended items).
    pub treatment: f64,
    /// The metric in the control (holdout, or other items).
    pub control: f64,
    /// treatment / control − 1.
    pub lift: f64,
    pub std_error: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Share of the numerator's sample variance that is the devices' added noise.
    pub noise_share: f64,
}

/// One line of the estimate: a metric and its lift, or why it cannot be estimated yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MetricLift {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub estimate: Option<RatioLift>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub note: Option<String>,
}

/// Lift of every metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LiftEstimate {
    pub personalized_reports: u64,
    pub holdout_reports: u64,
    pub confidence: f64,
    pub metrics: Vec<MetricLift>,
}

/// Collects reports and estimates lift.
#[derive(Debug, Clone)]
pub struct LiftEstimator {
    config: CheckedReportConfig,
    personalized: BucketStats,
    holdout: BucketStats,
}

/// Which class block of a placement: 0 = recommended, 1 = other items.
const CLASSES: [usize; 2] = [0, 1];
const IMPRESSIONS: usize = 0;
const CLICKS: usize = 1;
const ADD_TO_CARTS: usize = 2;
const ORDERS: usize = 3;
const REVENUE: usize = 4;

impl LiftEstimator {
    pub fn new(config: CheckedReportConfig) -> LiftEstimator {
        let d = config.dimension();
        LiftEstimator {
            config,
            personalized: BucketStats::new(d),
            holdout: BucketStats::new(d),
        }
    }

    /// Adds one device's report after checking it matches the configuration.
    pub fn add(&mut self, report: &LiftReport) -> Result<(), EstimateError> {
        if report.version != LIFT_REPORT_VERSION {
            return Err(EstimateError::WrongVersion(report.version));
        }
        if report.values.len() != self.config.dimension() {
            return Err(EstimateError::WrongDimension {
                got: report.values.len(),
                expected: self.config.dimension(),
            });
        }
        if report.values.iter().any(|v| !v.is_finite()) {
            return Err(EstimateError::NotFinite);
        }
        let expected = self.config.noise_multiplier();
        if (report.noise_multiplier - expected).abs() > 1e-9 * expected.max(1.0) {
            return Err(EstimateError::NoiseMismatch {
                got: report.noise_multiplier,
                expected,
            });
        }
        match report.bucket {
            LiftBucket::Personalized => self.personalized.add(&report.values),
            LiftBucket::Holdout => self.holdout.add(&report.values),
        }
        Ok(())
    }

    /// A functional summing `metric` over the given placement blocks and classes.
    fn functional(&self, blocks: &[usize], classes: &[usize], metric: usize) -> Vec<f64> {
        let mut f = vec![0.0; self.config.dimension()];
        for block in blocks {
            for class in classes {
                f[1 + block * 10 + class * 5 + metric] = 1.0;
            }
        }
        f
    }

    fn sessions(&self) -> Vec<f64> {
        let mut f = vec![0.0; self.config.dimension()];
        f[0] = 1.0;
        f
    }

    /// Expected per-report noise variance of functional `f`.
    fn noise_variance(&self, f: &[f64]) -> f64 {
        let z = self.config.noise_multiplier();
        f.iter()
            .zip(self.config.caps())
            .map(|(w, cap)| (w * cap * z).powi(2))
            .sum()
    }

    /// Ratio of means and its delta-method variance in one bucket.
    fn ratio(stats: &BucketStats, a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
        let (ma, mb) = (stats.mean(a), stats.mean(b));
        if stats.n < 2 || mb <= 0.0 {
            return None;
        }
        let r = ma / mb;
        let var = (stats.cov(a, a) - 2.0 * r * stats.cov(a, b) + r * r * stats.cov(b, b)).max(0.0)
            / (stats.n as f64 * mb * mb);
        Some((r, var))
    }

    fn interval(treatment: f64, control: f64, var: f64, z: f64, noise_share: f64) -> RatioLift {
        let lift = treatment / control - 1.0;
        let std_error = var.sqrt();
        RatioLift {
            treatment,
            control,
            lift,
            std_error,
            ci_low: lift - z * std_error,
            ci_high: lift + z * std_error,
            noise_share,
        }
    }

    fn share(&self, stats: &BucketStats, a: &[f64]) -> f64 {
        let var = stats.cov(a, a);
        if var > 0.0 {
            (self.noise_variance(a) / var).min(1.0)
        } else {
            1.0
        }
    }

    /// Personalized vs holdout on the ratio a / b.
    fn between_buckets(&self, name: String, a: &[f64], b: &[f64], z: f64) -> MetricLift {
        match (Self::ratio(&self.personalized, a, b), Self::ratio(&self.holdout, a, b)) {
            (Some((rp, vp)), Some((rh, vh))) if rh > 0.0 => {
                let var = vp / (rh * rh) + rp * rp * vh / rh.powi(4);
                let share = 0.5 * (self.share(&self.personalized, a) + self.share(&self.holdout, a));
                MetricLift {
                    metric: name,
                    estimate: Some(Self::interval(rp, rh, var, z, share)),
                    note: None,
                }
            }
            _ => MetricLift {
                metric: name,
                estimate: None,
                note: Some("not enough reports yet (each bucket needs ≥ 2 and a positive holdout rate)".into()),
            },
        }
    }

    /// Within the personalized bucket: (a/b) for recommended items vs (c/d) for other items.
    fn within_personalized(&self, name: String, [a, b, c, d]: [&[f64]; 4], z: f64) -> MetricLift {
        let s = &self.personalized;
        let (ma, mb, mc, md) = (s.mean(a), s.mean(b), s.mean(c), s.mean(d));
        if s.n < 2 || mb <= 0.0 || mc <= 0.0 || md <= 0.0 {
            return MetricLift {
                metric: name,
                estimate: None,
                note: Some("not enough personalized reports yet".into()),
            };
        }
        let f = ma * md / (mb * mc);
        let weights = [md / (mb * mc), -f / mb, -f / mc, ma / (mb * mc)];
        let gradient: Vec<f64> = (0..a.len())
            .map(|j| weights[0] * a[j] + weights[1] * b[j] + weights[2] * c[j] + weights[3] * d[j])
            .collect();
        let var = s.cov(&gradient, &gradient).max(0.0) / s.n as f64;
        MetricLift {
            metric: name,
            estimate: Some(Self::interval(ma / mb, mc / md, var, z, self.share(s, a))),
            note: None,
        }
    }

    /// Every metric's lift at `confidence` (e.g. 0.95).
    pub fn estimate(&self, confidence: f64) -> Result<LiftEstimate, EstimateError> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(EstimateError::BadConfidence(confidence));
        }
        let z = normal_quantile(0.5 + confidence / 2.0);
        let placements = &self.config.config().placements;
        let all: Vec<usize> = (0..=placements.len()).collect();
        let sessions = self.sessions();
        let mut metrics = vec![
            self.between_buckets(
                "orders per session".into(),
                &self.functional(&all, &CLASSES, ORDERS),
                &sessions,
                z,
            ),
            self.between_buckets(
                "revenue per session".into(),
                &self.functional(&all, &CLASSES, REVENUE),
                &sessions,
                z,
            ),
            self.between_buckets(
                "add-to-carts per session".into(),
                &self.functional(&all, &CLASSES, ADD_TO_CARTS),
                &sessions,
                z,
            ),
            self.between_buckets(
                "click-through (clicks / impressions)".into(),
                &self.functional(&all, &CLASSES, CLICKS),
                &self.functional(&all, &CLASSES, IMPRESSIONS),
                z,
            ),
        ];
        for (block, name) in placements
            .iter()
            .chain(std::iter::once(&super::counters::OTHER_PLACEMENT.to_string()))
            .enumerate()
        {
            metrics.push(self.between_buckets(
                format!("click-through at {name}"),
                &self.functional(&[block], &CLASSES, CLICKS),
                &self.functional(&[block], &CLASSES, IMPRESSIONS),
                z,
            ));
        }
        let rec = |m| self.functional(&all, &[0], m);
        let other = |m| self.functional(&all, &[1], m);
        metrics.push(self.within_personalized(
            "click-through, recommended vs other items".into(),
            [&rec(CLICKS), &rec(IMPRESSIONS), &other(CLICKS), &other(IMPRESSIONS)],
            z,
        ));
        metrics.push(self.within_personalized(
            "orders per click, recommended vs other items".into(),
            [&rec(ORDERS), &rec(CLICKS), &other(ORDERS), &other(CLICKS)],
            z,
        ));
        Ok(LiftEstimate {
            personalized_reports: self.personalized.n,
            holdout_reports: self.holdout.n,
            confidence,
            metrics,
        })
    }
}

#[cfg(test)]
#[path = "estimate_tests.rs"]
mod tests;
