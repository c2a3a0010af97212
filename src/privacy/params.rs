//! The device's privacy settings, validated once into [`PrivacyParams`].

use serde::{Deserialize, Serialize};

use super::accountant::{epsilon_from_rho, min_noise_multiplier_for, rho_per_update};
use super::PrivacyError;

/// Shortest accepted accounting period (one hour): the period is also the finest time
/// resolution anything sent may reveal.
pub const MIN_PERIOD_SECONDS: u64 = 3_600;
/// Largest accepted `δ`; sensible values are far below `1 / number of devices`.
pub const MAX_DELTA: f64 = 1e-3;

/// Privacy settings as the shop passes them (JS: `{ noiseMultiplier: 1.0, clipBound: 1.0, ... }`).
/// Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// `z`: the Gaussian noise's standard deviation is `z · clipBound`.
    pub noise_multiplier: f64,
    /// `C`: the L2 norm every model delta is clipped to before noise.
    pub clip_bound: f64,
    /// The `δ` of the reported `(ε, δ)`.
    pub delta: f64,
    /// Length of one accounting period in seconds (default one day).
    pub period_seconds: u64,
    /// Most `ε` one period may spend; an update that would exceed it is not sent.
    pub period_budget_epsilon: f64,
    /// Labelled impressions (shown lists with a known outcome) needed since the last sync.
    pub min_labelled_impressions: u32,
    /// Most updates sent per period.
    pub max_updates_per_period: u32,
}

impl Default for PrivacyConfig {
    /// `z = 1`, `C = 1`, `δ = 1e-6`, one day, `ε ≤ 8` a day, 20 impressions, one update a day:
    /// one update spends `ε ≈ 5.76` at `δ = 1e-6`.
    fn default() -> Self {
        Self {
            noise_multiplier: 1.0,
            clip_bound: 1.0,
            delta: 1e-6,
            period_seconds: 86_400,
            period_budget_epsilon: 8.0,
            min_labelled_impressions: 20,
            max_updates_per_period: 1,
        }
    }
}

/// Checked privacy settings: every field is in range and one update fits the period budget.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyParams {
    config: PrivacyConfig,
}

fn invalid(field: &'static str, rule: &'static str, value: f64) -> PrivacyError {
    PrivacyError::InvalidParam { field, rule, value }
}

impl PrivacyParams {
    /// Validates `config`; the error names the field and the accepted range.
    pub fn new(config: PrivacyConfig) -> Result<Self, PrivacyError> {
        let z = config.noise_multiplier;
        if !(z.is_finite() && z > 0.0 && z <= 1_000.0) {
            return Err(invalid("noiseMultiplier", "in (0, 1000]", z));
        }
        let c = config.clip_bound;
        if !(c.is_finite() && c > 0.0 && c <= 1e6) {
            return Err(invalid("clipBound", "in (0, 1e6]", c));
        }
        let delta = config.delta;
        if !(delta.is_finite() && delta > 0.0 && delta <= MAX_DELTA) {
            return Err(invalid("delta", "in (0, 1e-3]", delta));
        }
        if config.period_seconds < MIN_PERIOD_SECONDS {
            return Err(invalid("periodSeconds", "at least 3600", config.period_seconds as f64));
        }
        let budget = config.period_budget_epsilon;
        if !(budget.is_finite() && budget > 0.0) {
            return Err(invalid("periodBudgetEpsilon", "a positive finite number", budget));
        }
        if config.min_labelled_impressions == 0 {
            return Err(invalid("minLabelledImpressions", "at least 1", 0.0));
        }
        if config.max_updates_per_period == 0 {
            return Err(invalid("maxUpdatesPerPeriod", "at least 1", 0.0));
        }
        let single = epsilon_from_rho(rho_per_update(z), delta);
        if single > budget {
            return Err(PrivacyError::BudgetBelowOneUpdate {
                epsilon_per_update: single,
                budget,
                min_noise_multiplier: min_noise_multiplier_for(budget, delta),
            });
        }
        Ok(Self { config })
    }

    /// The settings as given.
    pub fn config(&self) -> &PrivacyConfig {
        &self.config
    }

    pub fn noise_multiplier(&self) -> f64 {
        self.config.noise_multiplier
    }

    pub fn clip_bound(&self) -> f64 {
        self.config.clip_bound
    }

    /// Standard deviation of the noise added to each coordinate: `z · C`.
    pub fn noise_std(&self) -> f64 {
        self.config.noise_multiplier * self.config.clip_bound
    }

    pub fn delta(&self) -> f64 {
        self.config.delta
    }

    pub fn period_seconds(&self) -> u64 {
        self.config.period_seconds
    }

    pub fn period_budget_epsilon(&self) -> f64 {
        self.config.period_budget_epsilon
    }

    pub fn min_labelled_impressions(&self) -> u32 {
        self.config.min_labelled_impressions
    }

    pub fn max_updates_per_period(&self) -> u32 {
        self.config.max_updates_per_period
    }

    /// `ρ` one update spends.
    pub fn rho_per_update(&self) -> f64 {
        rho_per_update(self.config.noise_multiplier)
    }

    /// `ε` one update spends at `δ`.
    pub fn epsilon_per_update(&self) -> f64 {
        epsilon_from_rho(self.rho_per_update(), self.config.delta)
    }

    /// The accounting period `unix_seconds` falls in.
    pub fn period_of(&self, unix_seconds: u64) -> u64 {
        unix_seconds / self.config.period_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_spend_under_eight_per_day() {
        let params = PrivacyParams::new(PrivacyConfig::default()).expect("defaults are valid");
        assert!((params.epsilon_per_update() - 5.756_522).abs() < 1e-5);
        assert!((params.noise_std() - 1.0).abs() < 1e-12);
        assert_eq!(params.period_of(86_399), 0);
        assert_eq!(params.period_of(86_400), 1);
    }

    #[test]
    fn each_out_of_range_field_is_named() {
        let cases: Vec<(PrivacyConfig, &str)> = vec![
            (PrivacyConfig { noise_multiplier: 0.0, ..Default::default() }, "noiseMultiplier"),
            (PrivacyConfig { noise_multiplier: f64::NAN, ..Default::default() }, "noiseMultiplier"),
            (PrivacyConfig { clip_bound: -1.0, ..Default::default() }, "clipBound"),
            (PrivacyConfig { delta: 0.5, ..Default::default() }, "delta"),
            (PrivacyConfig { period_seconds: 60, ..Default::default() }, "periodSeconds"),
            (PrivacyConfig { period_budget_epsilon: f64::INFINITY, ..Default::default() }, "periodBudgetEpsilon"),
            (PrivacyConfig { min_labelled_impressions: 0, ..Default::default() }, "minLabelledImpressions"),
            (PrivacyConfig { max_updates_per_period: 0, ..Default::default() }, "maxUpdatesPerPeriod"),
        ];
        for (config, field) in cases {
            match PrivacyParams::new(config) {
                Err(PrivacyError::InvalidParam { field: got, .. }) => assert_eq!(got, field),
                other => panic!("expected {field} to be rejected, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_budget_below_one_update_suggests_the_noise_needed() {
        let config = PrivacyConfig { period_budget_epsilon: 1.0, ..Default::default() };
        match PrivacyParams::new(config) {
            Err(PrivacyError::BudgetBelowOneUpdate { min_noise_multiplier, .. }) => {
                let check = PrivacyConfig {
                    period_budget_epsilon: 1.0,
                    noise_multiplier: min_noise_multiplier * 1.000_001,
                    ..Default::default()
                };
                assert!(PrivacyParams::new(check).is_ok());
            }
            other => panic!("expected BudgetBelowOneUpdate, got {other:?}"),
        }
    }
}
