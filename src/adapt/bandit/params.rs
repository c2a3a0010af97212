//! The bandit's hyper-parameters, validated once into [`CheckedBanditParams`].

use serde::{Deserialize, Serialize};

use super::BanditError;

/// Hyper-parameters as the shop passes them; every field has a default, and a value out of its
/// range is an `invalidConfig` error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct BanditParams {
    /// Prior variance of each weight (> 0). Larger = faster early moves.
    pub prior_variance: f64,
    /// Multiplier on the posterior variance when sampling (> 0; below 1 explores less).
    pub posterior_scale: f64,
    /// Share of decisions taken uniformly at random, in [0, 1).
    pub exploration: f64,
    /// Most arms kept (1..=1024); the least recently used is evicted beyond it.
    pub max_arms: usize,
    /// Extra posterior draws used to estimate each choice's propensity (1..=4096).
    pub propensity_draws: u32,
}

impl Default for BanditParams {
    fn default() -> Self {
        BanditParams {
            prior_variance: 1.0,
            posterior_scale: 1.0,
            exploration: 0.05,
            max_arms: 64,
            propensity_draws: 64,
        }
    }
}

/// Bandit hyper-parameters that passed [`BanditParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedBanditParams(BanditParams);

impl CheckedBanditParams {
    pub fn get(&self) -> &BanditParams {
        &self.0
    }
}

impl BanditParams {
    pub fn check(self) -> Result<CheckedBanditParams, BanditError> {
        let positive = |name, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(BanditError::BadParameter { name, value, expected: "a finite number > 0" })
            }
        };
        positive("priorVariance", self.prior_variance)?;
        positive("posteriorScale", self.posterior_scale)?;
        if !(0.0..1.0).contains(&self.exploration) {
            return Err(BanditError::BadParameter {
                name: "exploration",
                value: self.exploration,
                expected: "a share in [0, 1)",
            });
        }
        if !(1..=1024).contains(&self.max_arms) {
            return Err(BanditError::BadParameter {
                name: "maxArms",
                value: self.max_arms as f64,
                expected: "1..=1024",
            });
        }
        if !(1..=4096).contains(&self.propensity_draws) {
            return Err(BanditError::BadParameter {
                name: "propensityDraws",
                value: f64::from(self.propensity_draws),
                expected: "1..=4096",
            });
        }
        Ok(CheckedBanditParams(self))
    }
}
