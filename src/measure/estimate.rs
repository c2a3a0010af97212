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
//! - Personalized vs holdout (independent samples): T = (p̄_a / p̄_b) / (h̄_a / h̄_b), lift = T − 1.
//! - Recommended vs other items, within the personalized bucket (paired on the same reports):
//!   T = (ā / b̄) / (c̄ / d̄).
//!
//! Intervals are Fieller's: the set of T with (A − T·B)² ≤ z² Var(A − T·B), where A − T·B is
//! linear in the means for a fixed T. Unlike a delta-method interval it stays calibrated when
//! the noise makes the denominator uncertain, and when the control is not distinguishable from
//! zero it says so (no bounded interval) instead of printing a misleading one. `stdError` is the
//! delta-method standard error of the point estimate.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::report::{CheckedReportConfig, LiftReport, LIFT_REPORT_VERSION};
pub use super::sums::LiftSums;
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
pub use crate::measure::gaussian::normal_quantile;
use crate::measure::holdout::LiftBucket;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum EstimateError {
    #[error("report has {got} values; this configuration expects {expected}: devices and aggregator must share the lift config")]
    WrongDimension { got: usize, expected: usize },
    #[error("report holds a non-finite value: reject the report")]
    NotFinite,
    #[error("report version {0} is not understood (expected {LIFT_REPORT_VERSION})")]
    WrongVersion(u32),
    #[error("report was noised with multiplier {}, the config says {}: devices and aggregator must share the lift config", Decimal(*.got), Decimal(*.expected))]
    NoiseMismatch { got: f64, expected: f64 },
    #[error("confidence {} is not in (0, 1): use e.g. 0.95", Decimal(*.0))]
    BadConfidence(f64),
    #[error("stored sums have dimension {got}; this configuration expects {expected}")]
    SumsDimension { got: usize, expected: usize },
}

impl Coded for EstimateError {
    /// Reports and sums reach the aggregator; a device never sees these.
    fn code(&self) -> ErrorCode {
        match self {
            EstimateError::WrongDimension { .. }
            | EstimateError::NotFinite
            | EstimateError::WrongVersion(_)
            | EstimateError::NoiseMismatch { .. } => ErrorCode::InvalidSyncData,
            EstimateError::BadConfidence(_) => ErrorCode::InvalidConfig,
            EstimateError::SumsDimension { .. } => ErrorCode::UnreadableState,
        }
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
    personalized: LiftSums,
    holdout: LiftSums,
}

/// Fieller's pivot for a ratio T = A / B of products of means: g(T) = A − T·B is a linear
/// combination of means for fixed T, hence close to normal even when B is noisy, with variance
/// c0 + c1·T + c2·T².
struct Pivot {
    a: f64,
    b: f64,
    c0: f64,
    c1: f64,
    c2: f64,
}

impl Pivot {
    /// Adds one bucket's share Var(ū + T v̄) = (S(u,u) + 2T S(u,v) + T² S(v,v)) / n, where `u` is
    /// the part of g's gradient free of T and `v` the part multiplying T.
    fn add_variance(&mut self, stats: &LiftSums, u: &[f64], v: &[f64]) {
        let n = stats.reports() as f64;
        self.c0 += stats.cov(u, u) / n;
        self.c1 += 2.0 * stats.cov(u, v) / n;
        self.c2 += stats.cov(v, v) / n;
    }

    /// {T : (A − T B)² ≤ z² Var(g(T))}; `None` when that set is unbounded or empty (B is not
    /// distinguishable from zero at this noise).
    fn interval(&self, z: f64) -> Option<(f64, f64)> {
        fieller_interval(self.a, self.b, [self.c0, self.c1, self.c2], z)
    }

    /// Delta-method standard error of T̂ = A / B.
    fn std_error(&self) -> f64 {
        let t = self.a / self.b;
        (self.c0 + self.c1 * t + self.c2 * t * t).max(0.0).sqrt() / self.b.abs()
    }
}

/// Fieller's interval for T = a / b: {T : (a − T b)² ≤ z² (c0 + c1 T + c2 T²)}, where
/// `variance = [c0, c1, c2]` gives Var(â − T b̂) as a polynomial in T; `None` when that set is
/// unbounded or empty (b is not distinguishable from zero).
pub fn fieller_interval(a: f64, b: f64, variance: [f64; 3], z: f64) -> Option<(f64, f64)> {
    let [c0, c1, c2] = variance;
    let z2 = z * z;
    let qa = b * b - z2 * c2;
    let qb = -(2.0 * a * b + z2 * c1);
    let qc = a * a - z2 * c0;
    let discriminant = qb * qb - 4.0 * qa * qc;
    if qa <= 0.0 || discriminant < 0.0 {
        return None;
    }
    let root = discriminant.sqrt();
    Some(((-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa)))
}

fn scaled(factor: f64, f: &[f64]) -> Vec<f64> {
    f.iter().map(|w| factor * w).collect()
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
        LiftEstimator { config, personalized: LiftSums::new(d), holdout: LiftSums::new(d) }
    }

    /// An estimator over sums collected elsewhere (the aggregator's storage).
    pub fn from_sums(
        config: CheckedReportConfig,
        personalized: LiftSums,
        holdout: LiftSums,
    ) -> Result<LiftEstimator, EstimateError> {
        for sums in [&personalized, &holdout] {
            if sums.dimension() != config.dimension() {
                return Err(EstimateError::SumsDimension { got: sums.dimension(), expected: config.dimension() });
            }
        }
        Ok(LiftEstimator { config, personalized, holdout })
    }

    /// Checks that `report` matches the configuration (version, dimension, finite values, noise).
    pub fn check(&self, report: &LiftReport) -> Result<(), EstimateError> {
        if report.version != LIFT_REPORT_VERSION {
            return Err(EstimateError::WrongVersion(report.version));
        }
        if report.values.len() != self.config.dimension() {
            return Err(EstimateError::WrongDimension { got: report.values.len(), expected: self.config.dimension() });
        }
        if report.values.iter().any(|v| !v.is_finite()) {
            return Err(EstimateError::NotFinite);
        }
        let expected = self.config.noise_multiplier();
        // Reports travel with an f32 multiplier (see `sync::lift_wire`): compare at f32 precision.
        if (report.noise_multiplier - expected).abs() > 1e-6 * expected.max(1.0) {
            return Err(EstimateError::NoiseMismatch { got: report.noise_multiplier, expected });
        }
        Ok(())
    }

    /// Adds one device's report after checking it matches the configuration.
    pub fn add(&mut self, report: &LiftReport) -> Result<(), EstimateError> {
        self.check(report)?;
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
        f.iter().zip(self.config.caps()).map(|(w, cap)| (w * cap * z).powi(2)).sum()
    }

    fn lift(pivot: &Pivot, treatment: f64, control: f64, z: f64, noise_share: f64, name: String) -> MetricLift {
        let lift = pivot.a / pivot.b - 1.0;
        match pivot.interval(z) {
            Some((low, high)) => MetricLift {
                metric: name,
                estimate: Some(RatioLift {
                    treatment,
                    control,
                    lift,
                    std_error: pivot.std_error(),
                    ci_low: low - 1.0,
                    ci_high: high - 1.0,
                    noise_share,
                }),
                note: None,
            },
            None => MetricLift {
                metric: name,
                estimate: None,
                note: Some(format!(
                    "point estimate {:+.1}% but no bounded interval: the control is not distinguishable from zero \
                     at this noise; collect more reports, raise the holdout share or ε",
                    lift * 100.0
                )),
            },
        }
    }

    fn share(&self, stats: &LiftSums, a: &[f64]) -> f64 {
        let var = stats.cov(a, a);
        if var > 0.0 {
            (self.noise_variance(a) / var).min(1.0)
        } else {
            1.0
        }
    }

    /// Personalized vs holdout on the ratio a / b: T = (p̄_a h̄_b) / (p̄_b h̄_a).
    fn between_buckets(&self, name: String, a: &[f64], b: &[f64], z: f64) -> MetricLift {
        let (p, h) = (&self.personalized, &self.holdout);
        let (pa, pb, ha, hb) = (p.mean(a), p.mean(b), h.mean(a), h.mean(b));
        if p.reports() < 2 || h.reports() < 2 || !(pb > 0.0 && ha > 0.0 && hb > 0.0) {
            return MetricLift {
                metric: name,
                estimate: None,
                note: Some("not enough reports yet (each bucket needs ≥ 2 and a positive holdout rate)".into()),
            };
        }
        let mut pivot = Pivot { a: pa * hb, b: pb * ha, c0: 0.0, c1: 0.0, c2: 0.0 };
        // ∂g/∂p̄_a = h̄_b, ∂g/∂p̄_b = −T h̄_a; ∂g/∂h̄_b = p̄_a, ∂g/∂h̄_a = −T p̄_b.
        pivot.add_variance(p, &scaled(hb, a), &scaled(-ha, b));
        pivot.add_variance(h, &scaled(pa, b), &scaled(-pb, a));
        let share = 0.5 * (self.share(p, a) + self.share(h, a));
        Self::lift(&pivot, pa / pb, ha / hb, z, share, name)
    }

    /// Within the personalized bucket: (a/b) for recommended items vs (c/d) for other items,
    /// paired on the same reports: T = (ā d̄) / (b̄ c̄).
    fn within_personalized(&self, name: String, [a, b, c, d]: [&[f64]; 4], z: f64) -> MetricLift {
        let s = &self.personalized;
        let (ma, mb, mc, md) = (s.mean(a), s.mean(b), s.mean(c), s.mean(d));
        if s.reports() < 2 || !(mb > 0.0 && mc > 0.0 && md > 0.0) {
            return MetricLift {
                metric: name,
                estimate: None,
                note: Some("not enough personalized reports yet".into()),
            };
        }
        let mut pivot = Pivot { a: ma * md, b: mb * mc, c0: 0.0, c1: 0.0, c2: 0.0 };
        // ∂g/∂ā = d̄, ∂g/∂d̄ = ā (free of T); ∂g/∂b̄ = −T c̄, ∂g/∂c̄ = −T b̄.
        let free: Vec<f64> = scaled(md, a).iter().zip(scaled(ma, d)).map(|(x, y)| x + y).collect();
        let with_t: Vec<f64> = scaled(-mc, b).iter().zip(scaled(-mb, c)).map(|(x, y)| x + y).collect();
        pivot.add_variance(s, &free, &with_t);
        Self::lift(&pivot, ma / mb, mc / md, z, self.share(s, a), name)
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
            self.between_buckets("orders per session".into(), &self.functional(&all, &CLASSES, ORDERS), &sessions, z),
            self.between_buckets("revenue per session".into(), &self.functional(&all, &CLASSES, REVENUE), &sessions, z),
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
        for (block, name) in
            placements.iter().chain(std::iter::once(&super::counters::OTHER_PLACEMENT.to_string())).enumerate()
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
            personalized_reports: self.personalized.reports(),
            holdout_reports: self.holdout.reports(),
            confidence,
            metrics,
        })
    }
}

#[cfg(test)]
#[path = "estimate_tests.rs"]
mod tests;
