//! The only form in which lift counts leave the device: one clipped, Gaussian-noised vector per
//! reporting period.
//!
//! Vector layout (length `1 + (P + 1) × 10` for P configured placements): sessions, then for each
//! configured placement and finally "(other)" (every placement not configured): recommended
//! impressions, clicks, add-to-carts, orders, revenue, then the same for non-recommended items.
//!
//! Privacy: each coordinate j is clipped to `[0, cap_j]` and gets noise `N(0, (cap_j · z)²)`.
//! Dividing coordinate j by cap_j, a device's whole vector moves by at most √D in L2 when its
//! data change arbitrarily, so the Gaussian mechanism with multiplier `z = √D / √(2ρ)` is
//! ρ-zCDP per report, i.e. (ε, δ)-DP with ε = ρ + 2√(ρ ln(1/δ)) (Bun & Steinke 2016).
//! - `local`: `z` as above: every single report is (ε, δ)-DP on its own.
//! - `distributed { minCohort: K }`: each device adds `z / √K`; only the sum of at least K reports
//!   carries the full noise, so (ε, δ) holds against a party that sees sums of ≥ K reports (secure
//!   aggregation or a shuffler), while each report alone is only (ε_local, δ)-DP with ρ·K.
//! - `secureAggregation { minCohort: K, task }`: each device adds its share of a distributed
//!   discrete Gaussian for sums of ≥ K reports and sends one DAP-09 report with a Prio3SumVec
//!   proof (`sync::dap::lift`); the aggregators only release sums of ≥ K reports, so the device
//!   books the configured ρ under the non-collusion assumption. Here the report is only clipped.
//! - `sharedSums { minCohort: K, helperUrl }` (retired: refused for new device settings; the
//!   aggregator still reads what it stored): the same noise `z / √K`, and the vector is split
//!   into two additive shares for two non-colluding servers (`measure::shares`), each of which
//!   sees only uniformly random numbers; what is released is a sum of ≥ K reports, so the device
//!   books the configured ρ (see [`CheckedReportConfig::booked_rho`]).
//!
//! The noise is [`crate::privacy::sampling::standard_normal`], the crate's one Gaussian sampler.
//! The seed must come from a crypto random source for every report (tests pass fixed seeds).

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::counters::{LiftCounters, METRICS, OTHER_PLACEMENT};
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::measure::holdout::LiftBucket;
use crate::privacy::sampling::standard_normal;

/// Format version of [`LiftReport`].
pub const LIFT_REPORT_VERSION: u32 = 1;
/// Most placements a report may break out.
pub const MAX_REPORTED_PLACEMENTS: usize = 8;
/// Default ε of one lift report at δ = 1e-6 (ρ ≈ 0.0676): with one model update (ε 5.76) a day
/// spends ε ≈ 6.17, within the default daily budget of 8.
pub const DEFAULT_LIFT_EPSILON: f64 = 2.0;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ReportError {
    #[error("lift report parameter {name} = {} is out of range: expected {expected}", Decimal(*.value))]
    BadParameter { name: &'static str, value: f64, expected: &'static str },
    #[error("noise.helperUrl must be an http:// or https:// URL of the helper server, got {0:?}")]
    BadHelperUrl(String),
    #[error(
        "sharedSums: a report's values may reach {bound:.1} caps, beyond the {max:.1} the fixed-point sums of 10^7 \
         reports can hold: raise epsilon or minCohort"
    )]
    FixedPointRange { bound: f64, max: f64 },
    #[error("placement list is invalid ({0}): list up to 8 distinct, non-empty placement names")]
    BadPlacements(&'static str),
    #[error(
        "liftReport.noise \"sharedSums\" is retired (its shares carry no proof, so one device could shift the sums \
         arbitrarily): use {{ kind: \"secureAggregation\", minCohort, task: {{ leaderUrl, helperUrl, taskId, \
         leaderHpkeConfig, helperHpkeConfig }} }}, DAP reports with a Prio3 proof"
    )]
    SharedSumsRetired,
}

impl Coded for ReportError {
    fn code(&self) -> ErrorCode {
        match self {
            ReportError::BadParameter { .. }
            | ReportError::BadHelperUrl(_)
            | ReportError::FixedPointRange { .. }
            | ReportError::BadPlacements(_)
            | ReportError::SharedSumsRetired => ErrorCode::InvalidConfig,
        }
    }
}

/// Per-device, per-period clipping bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MetricCaps {
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub sessions: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub impressions: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub clicks: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub add_to_carts: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub orders: f64,
    /// In the shop's currency.
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub revenue: f64,
}

impl Default for MetricCaps {
    fn default() -> Self {
        MetricCaps { sessions: 10.0, impressions: 200.0, clicks: 20.0, add_to_carts: 5.0, orders: 2.0, revenue: 300.0 }
    }
}

impl MetricCaps {
    fn per_metric(&self) -> [f64; 5] {
        [self.impressions, self.clicks, self.add_to_carts, self.orders, self.revenue]
    }
}

/// How the noise is split between devices.
// Read by hand in one pass (`noise_mode_reading`); the `serde` attributes describe the same format
// for `Serialize` and the TypeScript types.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum NoiseMode {
    /// Each report is (ε, δ)-DP on its own.
    Local,
    /// Sums of at least `minCohort` reports are (ε, δ)-DP.
    Distributed { min_cohort: u32 },
    /// Distributed noise over `minCohort` reports, sent as two additive secret shares: one to the
    /// aggregator (the leader), one to the helper at `helperUrl`, run by another party. Sums of at
    /// least `minCohort` reports are (ε, δ)-DP as long as the two servers do not collude.
    ///
    /// Retired: new configurations are refused (`invalidConfig`, use `secureAggregation`); the
    /// aggregator still reads and releases sums stored under it.
    SharedSums { min_cohort: u32, helper_url: String },
    /// Distributed discrete Gaussian noise over `minCohort` reports, sent as one DAP-09 report
    /// with a Prio3SumVec proof to the lift task of the device's bucket (`tasks.personalized` or
    /// `tasks.holdout`, each with its leader, helper, task id and HPKE configs;
    /// `sync::dap::lift`). Each task's sums of at least `minCohort` reports are (ε, δ)-DP as long
    /// as the two aggregators do not collude, and the proof bounds what one device can add.
    SecureAggregation { min_cohort: u32, tasks: Box<crate::sync::LiftTasks> },
}

impl NoiseMode {
    /// `K`: the fewest reports a released sum holds (1 for local noise).
    pub fn min_cohort(&self) -> u32 {
        match self {
            NoiseMode::Local => 1,
            NoiseMode::Distributed { min_cohort }
            | NoiseMode::SharedSums { min_cohort, .. }
            | NoiseMode::SecureAggregation { min_cohort, .. } => *min_cohort,
        }
    }
}

/// What the shop configures for lift reports: the same on every device and on the aggregator,
/// which refuses reports made with other settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LiftReportConfig {
    /// Placements broken out in the vector; all others are pooled as "(other)".
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub placements: Vec<String>,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub caps: MetricCaps,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub epsilon: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub delta: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub noise: NoiseMode,
}

impl Default for LiftReportConfig {
    fn default() -> Self {
        LiftReportConfig {
            placements: Vec::new(),
            caps: MetricCaps::default(),
            epsilon: DEFAULT_LIFT_EPSILON,
            delta: 1e-6,
            noise: NoiseMode::Local,
        }
    }
}

/// A [`LiftReportConfig`] that passed its checks, with its noise multiplier.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedReportConfig {
    config: LiftReportConfig,
    caps: Vec<f64>,
    multiplier: f64,
}

/// zCDP ρ whose (ε, δ) conversion ε = ρ + 2√(ρ ln(1/δ)) gives exactly `epsilon`.
pub fn rho_for(epsilon: f64, delta: f64) -> f64 {
    let l = (1.0 / delta).ln();
    let root = (l + epsilon).sqrt() - l.sqrt();
    root * root
}

/// ε at `delta` of a ρ-zCDP mechanism.
pub fn epsilon_for(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

impl LiftReportConfig {
    pub fn check(self) -> Result<CheckedReportConfig, ReportError> {
        let bad = |name, value, expected| Err(ReportError::BadParameter { name, value, expected });
        if !(self.epsilon.is_finite() && self.epsilon > 0.0 && self.epsilon <= 64.0) {
            return bad("epsilon", self.epsilon, "0 < ε ≤ 64");
        }
        if !(self.delta > 0.0 && self.delta < 0.01) {
            return bad("delta", self.delta, "0 < δ < 0.01 (e.g. 1e-6)");
        }
        let c = self.caps;
        for (name, cap) in [
            ("caps.sessions", c.sessions),
            ("caps.impressions", c.impressions),
            ("caps.clicks", c.clicks),
            ("caps.addToCarts", c.add_to_carts),
            ("caps.orders", c.orders),
            ("caps.revenue", c.revenue),
        ] {
            if !(cap.is_finite() && cap > 0.0) {
                return bad(name, cap, "a bound > 0");
            }
        }
        if !matches!(self.noise, NoiseMode::Local) && !(2..=10_000_000).contains(&self.noise.min_cohort()) {
            return bad("noise.minCohort", f64::from(self.noise.min_cohort()), "2..=10,000,000");
        }
        if let NoiseMode::SharedSums { helper_url, .. } = &self.noise {
            if !(helper_url.starts_with("https://") || helper_url.starts_with("http://")) || helper_url.len() > 2048 {
                return Err(ReportError::BadHelperUrl(helper_url.clone()));
            }
        }
        if self.placements.len() > MAX_REPORTED_PLACEMENTS {
            return Err(ReportError::BadPlacements("too many"));
        }
        for (i, p) in self.placements.iter().enumerate() {
            if p.trim().is_empty() || p == OTHER_PLACEMENT || self.placements[..i].contains(p) {
                return Err(ReportError::BadPlacements("empty, reserved or duplicate name"));
            }
        }
        let mut caps = vec![c.sessions];
        for _ in 0..=self.placements.len() {
            for _class in 0..2 {
                caps.extend(c.per_metric());
            }
        }
        let rho = rho_for(self.epsilon, self.delta);
        let multiplier = (caps.len() as f64 / (2.0 * rho)).sqrt();
        let checked = CheckedReportConfig { config: self, caps, multiplier };
        if matches!(checked.config.noise, NoiseMode::SharedSums { .. }) {
            super::shares::check_fixed_point_range(&checked)?;
        }
        Ok(checked)
    }
}

impl CheckedReportConfig {
    pub fn config(&self) -> &LiftReportConfig {
        &self.config
    }

    /// The clipping bound of every coordinate, in vector order.
    pub fn caps(&self) -> &[f64] {
        &self.caps
    }

    /// Vector length D.
    pub fn dimension(&self) -> usize {
        self.caps.len()
    }

    /// Noise standard deviation on coordinate j, per report: `cap_j × multiplier`.
    pub fn noise_multiplier(&self) -> f64 {
        self.multiplier / f64::from(self.config.noise.min_cohort()).sqrt()
    }

    /// zCDP ρ the device books per report: the configured ε's ρ when every release rests on sums
    /// the servers never see apart (local noise: the report itself; shared sums: under the
    /// non-collusion assumption, sums of ≥ K reports), and [`Self::single_report_rho`] (K times
    /// that) for distributed noise, whose single reports the aggregator sees.
    pub fn booked_rho(&self) -> f64 {
        match self.config.noise {
            NoiseMode::Distributed { .. } => self.single_report_rho(),
            NoiseMode::Local | NoiseMode::SharedSums { .. } | NoiseMode::SecureAggregation { .. } => {
                self.dimension() as f64 / (2.0 * self.multiplier * self.multiplier)
            }
        }
    }

    /// (ε, δ) of [`Self::booked_rho`].
    pub fn booked_epsilon(&self) -> f64 {
        epsilon_for(self.booked_rho(), self.config.delta)
    }

    /// zCDP ρ of one report seen on its own (what a party receiving single reports learns: the
    /// aggregator under distributed noise, the two servers together if shared sums' servers
    /// collude): `D / (2 z²)` with the per-report multiplier `z`. Local noise: the configured ε's
    /// ρ; distributed noise or shared sums over K reports: K times that.
    pub fn single_report_rho(&self) -> f64 {
        let z = self.noise_multiplier();
        self.dimension() as f64 / (2.0 * z * z)
    }

    /// (ε, δ) of one report seen on its own.
    pub fn single_report_epsilon(&self) -> f64 {
        epsilon_for(self.single_report_rho(), self.config.delta)
    }

    /// 8 bytes identifying the configuration (placements, caps, ε, δ, noise mode): the first
    /// bytes of the SHA-256 of its JSON. Reports carry it so the aggregator refuses reports made
    /// under another configuration; it reveals nothing about the device.
    pub fn fingerprint(&self) -> [u8; 8] {
        use sha2::{Digest, Sha256};
        // Serializing plain strings and numbers cannot fail.
        let json = serde_json::to_vec(&self.config).unwrap_or_default();
        let digest = Sha256::digest(&json);
        let mut out = [0_u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }

    /// Index of a placement's block (the last block is "(other)").
    fn block_of(&self, placement: &str) -> usize {
        self.config.placements.iter().position(|p| p == placement).unwrap_or(self.config.placements.len())
    }

    /// The unclipped, un-noised vector of `counters` (kept on the device; for tests and checks).
    pub fn raw_vector(&self, counters: &LiftCounters) -> Vec<f64> {
        let mut values = vec![0.0; self.dimension()];
        values[0] = counters.sessions();
        for counts in counters.placements() {
            let base = 1 + self.block_of(&counts.placement) * 10;
            for (m, _) in METRICS.iter().enumerate() {
                values[base + m] += counts.recommended[m];
                values[base + 5 + m] += counts.not_recommended[m];
            }
        }
        values
    }
}

/// What leaves the device about lift: bucket plus the clipped, noised vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LiftReport {
    pub version: u32,
    pub bucket: LiftBucket,
    pub values: Vec<f64>,
    /// Noise standard deviation per unit of cap, so the aggregator can check the config.
    pub noise_multiplier: f64,
}

/// Clips and noises `counters` into a report. `rng` must be seeded from a crypto random source.
/// Under `secureAggregation` the values are only clipped (`noiseMultiplier` 0): the noise is the
/// discrete Gaussian share the DAP measurement adds (`sync::dap::lift`), and such a report never
/// leaves as it is.
pub fn noised_report(
    counters: &LiftCounters,
    bucket: LiftBucket,
    config: &CheckedReportConfig,
    rng: &mut ChaCha8Rng,
) -> LiftReport {
    let secure = matches!(config.config().noise, NoiseMode::SecureAggregation { .. });
    let z = if secure { 0.0 } else { config.noise_multiplier() };
    let values = config
        .raw_vector(counters)
        .iter()
        .zip(config.caps())
        .map(|(value, cap)| value.clamp(0.0, *cap) + if secure { 0.0 } else { cap * z * standard_normal(rng) })
        .collect();
    LiftReport { version: LIFT_REPORT_VERSION, bucket, values, noise_multiplier: z }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
