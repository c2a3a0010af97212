//! Ranking hyper-parameters, validated once into [`RankConfig`].

use serde::{Deserialize, Serialize};

use super::candidates::MAX_CANDIDATES;
use super::features::FamilyMask;
use super::RankError;

/// Hyper-parameters as a shop passes them; every field has a sensible default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct RankParams {
    /// Weight kept per step back in the session for the fast-decaying features (0 < x < 1).
    pub fast_decay: f32,
    /// Most recent session items looked at (1..=200).
    pub max_session_items: usize,
    /// Earlier answers the session memory keeps (1..=1000).
    pub memory_answers: usize,
    /// Rows earlier answers may add to the current answer when pooling (0..=10000). Default 150:
    /// on the validation replay (diginetica, 20,857 never-fitted cases) 300, 200 and 150 give the
    /// same HR@20 / MRR@20 (53.80 / 20.05) and 100 loses 0.01; every row costs ranking time.
    pub pool_extra: usize,
    /// Probability of showing a sampled instead of the best order (0..=1).
    pub exploration_epsilon: f32,
    /// Temperature of the Plackett-Luce sampler (> 0); higher explores further down.
    pub exploration_temperature: f32,
    /// Step size for the shared weights during on-device learning (0 < x ≤ 1).
    pub learning_rate: f32,
    /// Step size for the personal adjustment (0 < x ≤ 1).
    pub personal_learning_rate: f32,
    /// L2 pull of the personal adjustment back to zero per step (0..=1).
    pub personal_l2: f32,
    /// How strongly search results keep the server's relevance order (≥ 0; 0 = profile only).
    pub search_relevance_weight: f32,
    /// Seed of every random choice (exploration).
    pub seed: u32,
}

impl Default for RankParams {
    fn default() -> Self {
        Self {
            fast_decay: 0.6,
            max_session_items: 20,
            memory_answers: 64,
            pool_extra: 150,
            exploration_epsilon: 0.05,
            exploration_temperature: 1.0,
            learning_rate: 0.02,
            personal_learning_rate: 0.05,
            personal_l2: 0.01,
            search_relevance_weight: 4.0,
            seed: 0x5eed,
        }
    }
}

/// Checked hyper-parameters; only [`RankParams::check`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct RankConfig {
    params: RankParams,
    families_off: FamilyMask,
}

fn range(name: &'static str, value: f64, lo: f64, hi: f64, rule: &'static str) -> Result<(), RankError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(RankError::BadParam { name, value, rule })
    }
}

impl RankParams {
    /// Validates every field.
    pub fn check(self) -> Result<RankConfig, RankError> {
        let p = &self;
        range("fastDecay", p.fast_decay.into(), 1e-6, 0.999_999, "between 0 and 1 (exclusive)")?;
        range("maxSessionItems", p.max_session_items as f64, 1.0, 200.0, "between 1 and 200")?;
        range("memoryAnswers", p.memory_answers as f64, 1.0, 1000.0, "between 1 and 1000")?;
        range("poolExtra", p.pool_extra as f64, 0.0, MAX_CANDIDATES as f64, "between 0 and 10000")?;
        range("explorationEpsilon", p.exploration_epsilon.into(), 0.0, 1.0, "between 0 and 1")?;
        range("explorationTemperature", p.exploration_temperature.into(), 1e-3, 1e3, "between 0.001 and 1000")?;
        range("learningRate", p.learning_rate.into(), 1e-9, 1.0, "above 0 and at most 1")?;
        range("personalLearningRate", p.personal_learning_rate.into(), 1e-9, 1.0, "above 0 and at most 1")?;
        range("personalL2", p.personal_l2.into(), 0.0, 1.0, "between 0 and 1")?;
        range("searchRelevanceWeight", p.search_relevance_weight.into(), 0.0, 1e3, "between 0 and 1000")?;
        Ok(RankConfig { params: self, families_off: FamilyMask::none() })
    }
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig { params: RankParams::default(), families_off: FamilyMask::none() }
    }
}

impl RankConfig {
    pub fn params(&self) -> &RankParams {
        &self.params
    }

    /// The same config with some signal families switched off (their features read 0).
    pub fn with_families_off(mut self, mask: FamilyMask) -> Self {
        self.families_off = mask;
        self
    }

    pub fn families_off(&self) -> FamilyMask {
        self.families_off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_params_pass_and_bad_ones_name_the_field() {
        assert!(RankParams::default().check().is_ok());
        let bad = RankParams { fast_decay: 1.5, ..RankParams::default() };
        match bad.check() {
            Err(RankError::BadParam { name, .. }) => assert_eq!(name, "fastDecay"),
            other => panic!("expected BadParam, got {other:?}"),
        }
        let nan = RankParams { exploration_epsilon: f32::NAN, ..RankParams::default() };
        assert!(matches!(nan.check(), Err(RankError::BadParam { name: "explorationEpsilon", .. })));
        let zero = RankParams { max_session_items: 0, ..RankParams::default() };
        assert!(zero.check().is_err());
    }
}
