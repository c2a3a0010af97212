//! The contextual bandit every adaptation decision shares: Thompson sampling over a Bayesian
//! logistic model per arm with a diagonal Laplace posterior (Chapelle & Li, "An Empirical
//! Evaluation of Thompson Sampling", 2011, algorithm 3), mixed with ε-uniform exploration.
//!
//! Each arm (a section kind, a density, an offer, a copy tag) holds a mean and a precision per
//! context feature. A decision samples each arm's engagement logit from its posterior; the
//! propensity of the realised choice is logged so the choices can be evaluated off-policy.
//! Learning is one Newton step per observation. State is bounded (`max_arms`, least recently
//! used arm evicted first) and serde-persistable.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::measure::gaussian::decision_rng;
use crate::privacy::sampling::standard_normal;
use crate::profile::shopper_state::CONTEXT_FEATURES;

mod params;

pub use params::{BanditParams, CheckedBanditParams};

/// Longest accepted arm key, in bytes.
pub const MAX_ARM_KEY_BYTES: usize = 160;

/// Why a bandit call or its stored state was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BanditError {
    #[error("bandit parameter {name} = {} is out of range: expected {expected}", Decimal(*.value))]
    BadParameter { name: &'static str, value: f64, expected: &'static str },
    #[error("no arms to choose from: pass at least one candidate")]
    NoArms,
    #[error("reward {} is not in [0, 1]: report engagement as 0 (none) to 1 (full)", Decimal(*.0))]
    BadReward(f64),
    #[error("observation weight {} must be finite and > 0", Decimal(*.0))]
    BadWeight(f64),
    #[error("arm key is empty or longer than {MAX_ARM_KEY_BYTES} bytes: use a short stable id")]
    BadArmKey,
    #[error("stored bandit state is unusable ({0}); start from a fresh state")]
    CorruptState(String),
}

impl Coded for BanditError {
    fn code(&self) -> ErrorCode {
        match self {
            BanditError::BadParameter { .. } => ErrorCode::InvalidConfig,
            BanditError::NoArms | BanditError::BadReward(_) | BanditError::BadWeight(_) | BanditError::BadArmKey => {
                ErrorCode::InvalidArgument
            }
            BanditError::CorruptState(_) => ErrorCode::UnreadableState,
        }
    }
}

/// One arm's posterior: per-feature mean and precision of the logistic weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmPosterior {
    pub key: String,
    pub mean: [f32; CONTEXT_FEATURES],
    pub precision: [f32; CONTEXT_FEATURES],
    pub observations: u32,
    last_used: u64,
}

/// A choice among arms and the probability the policy had of making it.
#[derive(Debug, Clone, PartialEq)]
pub struct BanditPick {
    /// Index into the keys passed to [`Bandit::choose_one`].
    pub index: usize,
    /// Probability of this choice under the ε-mixed Thompson policy (Monte Carlo estimate).
    pub propensity: f64,
    /// True when the uniform-exploration branch made the choice.
    pub explored: bool,
}

/// The shared contextual bandit. Serialize it to persist it; call [`Bandit::validate`] after
/// loading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bandit {
    params: BanditParams,
    seed: u64,
    decisions: u64,
    clock: u64,
    arms: Vec<ArmPosterior>,
}

pub(crate) fn sigmoid(logit: f64) -> f64 {
    1.0 / (1.0 + (-logit).exp())
}

fn dot(a: &[f32; CONTEXT_FEATURES], x: &[f32; CONTEXT_FEATURES]) -> f64 {
    a.iter().zip(x).map(|(a, x)| f64::from(*a) * f64::from(*x)).sum()
}

impl Bandit {
    pub fn new(params: CheckedBanditParams, seed: u64) -> Bandit {
        Bandit { params: *params.get(), seed, decisions: 0, clock: 0, arms: Vec::new() }
    }

    pub fn params(&self) -> &BanditParams {
        &self.params
    }

    pub fn arms(&self) -> &[ArmPosterior] {
        &self.arms
    }

    /// Checks a loaded state: parameters in range, bounded arm count, unique keys, finite
    /// means and positive precisions.
    pub fn validate(&self) -> Result<(), BanditError> {
        let corrupt = |what: &str| Err(BanditError::CorruptState(what.to_string()));
        self.params.check().map_err(|e| BanditError::CorruptState(e.to_string()))?;
        if self.arms.len() > self.params.max_arms {
            return corrupt("more arms than maxArms");
        }
        for (i, arm) in self.arms.iter().enumerate() {
            if arm.key.is_empty() || arm.key.len() > MAX_ARM_KEY_BYTES {
                return corrupt("an arm key is empty or too long");
            }
            if self.arms[..i].iter().any(|other| other.key == arm.key) {
                return corrupt("duplicate arm key");
            }
            if arm.mean.iter().any(|m| !m.is_finite()) || arm.precision.iter().any(|q| !q.is_finite() || *q <= 0.0) {
                return corrupt("non-finite mean or non-positive precision");
            }
        }
        Ok(())
    }

    /// Applies new hyper-parameters to a loaded state, keeping what was learned; when the new
    /// `maxArms` is smaller, the least recently used arms are dropped.
    pub fn reconfigure(&mut self, params: CheckedBanditParams) {
        self.params = *params.get();
        while self.arms.len() > self.params.max_arms {
            if let Some(oldest) = (0..self.arms.len()).min_by_key(|&i| self.arms[i].last_used) {
                self.arms.swap_remove(oldest);
            }
        }
    }

    fn prior_precision(&self) -> f32 {
        (1.0 / self.params.prior_variance) as f32
    }

    fn arm(&self, key: &str) -> Option<&ArmPosterior> {
        self.arms.iter().find(|arm| arm.key == key)
    }

    /// The generator for the next decision; every call advances the persisted counter.
    pub fn next_rng(&mut self) -> ChaCha8Rng {
        self.decisions = self.decisions.wrapping_add(1);
        decision_rng(self.seed, self.decisions)
    }

    /// Posterior mean and variance of the engagement logit of `key` in context `x` (the prior
    /// for an arm never seen).
    pub fn logit_posterior(&self, key: &str, x: &[f32; CONTEXT_FEATURES]) -> (f64, f64) {
        match self.arm(key) {
            Some(arm) => {
                let var = arm.precision.iter().zip(x).map(|(q, x)| f64::from(*x).powi(2) / f64::from(*q)).sum();
                (dot(&arm.mean, x), var)
            }
            None => (0.0, x.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() * self.params.prior_variance),
        }
    }

    /// Posterior-mean engagement probability of `key` in context `x`.
    pub fn mean_probability(&self, key: &str, x: &[f32; CONTEXT_FEATURES]) -> f64 {
        sigmoid(self.logit_posterior(key, x).0)
    }

    /// Observations learned for `key` so far.
    pub fn observations(&self, key: &str) -> u32 {
        self.arm(key).map_or(0, |arm| arm.observations)
    }

    /// The sampling distribution of each key's engagement logit in context `x` (looked up once
    /// per decision, then sampled many times for the propensity estimate).
    pub fn posteriors(&self, keys: &[String], x: &[f32; CONTEXT_FEATURES]) -> Vec<Posterior> {
        keys.iter()
            .map(|key| {
                let (mean, var) = self.logit_posterior(key, x);
                Posterior { mean, sd: (var * self.params.posterior_scale).sqrt() }
            })
            .collect()
    }

    /// One Thompson draw of the engagement logit for each key.
    pub fn sample_logits(&self, keys: &[String], x: &[f32; CONTEXT_FEATURES], rng: &mut ChaCha8Rng) -> Vec<f64> {
        sample(&self.posteriors(keys, x), rng)
    }

    /// Picks one of `keys`: uniformly with probability `exploration`, otherwise the best
    /// Thompson draw. The propensity is estimated with `propensityDraws` extra draws.
    pub fn choose_one(&mut self, keys: &[String], x: &[f32; CONTEXT_FEATURES]) -> Result<BanditPick, BanditError> {
        self.choose_with_offsets(keys, x, &vec![0.0; keys.len()])
    }

    /// Like [`Bandit::choose_one`], with a fixed logit offset per key (a prior from the shop's
    /// targeting or from the profile's interests) added to every draw.
    pub fn choose_with_offsets(
        &mut self,
        keys: &[String],
        x: &[f32; CONTEXT_FEATURES],
        offsets: &[f64],
    ) -> Result<BanditPick, BanditError> {
        let posteriors = self.posteriors(keys, x);
        let pick = self.choose_by(keys.len(), |_, rng| {
            let mut logits = sample(&posteriors, rng);
            logits.iter_mut().zip(offsets).for_each(|(l, o)| *l += o);
            logits
        })?;
        self.touch(keys);
        Ok(pick)
    }

    /// The ε-mixed Thompson policy over `n` options scored by `draw` (one posterior draw of
    /// every option's score per call); the propensity is a Monte Carlo estimate.
    pub fn choose_by(
        &mut self,
        n: usize,
        mut draw: impl FnMut(&Bandit, &mut ChaCha8Rng) -> Vec<f64>,
    ) -> Result<BanditPick, BanditError> {
        if n == 0 {
            return Err(BanditError::NoArms);
        }
        let mut rng = self.next_rng();
        let epsilon = self.params.exploration;
        let explored = rng.random::<f64>() < epsilon;
        let index = if explored { rng.random_range(0..n) } else { argmax(&draw(self, &mut rng)) };
        let draws = self.params.propensity_draws;
        let mut wins = (0..draws).filter(|_| argmax(&draw(self, &mut rng)) == index).count() as f64;
        let mut total = f64::from(draws);
        if !explored {
            // The realised draw is itself a sample of the Thompson policy.
            wins += 1.0;
            total += 1.0;
        }
        let propensity = epsilon / n as f64 + (1.0 - epsilon) * wins / total;
        Ok(BanditPick { index: index.min(n - 1), propensity, explored })
    }

    /// Marks `keys` as recently used, so eviction spares them.
    pub fn touch(&mut self, keys: &[String]) {
        self.clock += 1;
        let clock = self.clock;
        for arm in self.arms.iter_mut().filter(|arm| keys.contains(&arm.key)) {
            arm.last_used = clock;
        }
    }

    /// Learns one observation: arm `key` shown in context `x` earned `reward` in [0, 1];
    /// `weight` scales the evidence (e.g. below 1 for a section far down the page).
    pub fn learn(
        &mut self,
        key: &str,
        x: &[f32; CONTEXT_FEATURES],
        reward: f64,
        weight: f64,
    ) -> Result<(), BanditError> {
        if !(0.0..=1.0).contains(&reward) {
            return Err(BanditError::BadReward(reward));
        }
        if !weight.is_finite() || weight <= 0.0 {
            return Err(BanditError::BadWeight(weight));
        }
        if key.is_empty() || key.len() > MAX_ARM_KEY_BYTES {
            return Err(BanditError::BadArmKey);
        }
        self.clock += 1;
        let index = match self.arms.iter().position(|arm| arm.key == key) {
            Some(index) => index,
            None => self.insert_arm(key),
        };
        let arm = &mut self.arms[index];
        let p = sigmoid(dot(&arm.mean, x));
        let curvature = weight * p * (1.0 - p);
        for ((mean, precision), xj) in arm.mean.iter_mut().zip(arm.precision.iter_mut()).zip(x) {
            let xj = f64::from(*xj);
            let updated = (f64::from(*precision) + curvature * xj * xj).min(1e9);
            *precision = updated as f32;
            *mean = (f64::from(*mean) + weight * (reward - p) * xj / updated) as f32;
        }
        arm.observations = arm.observations.saturating_add(1);
        arm.last_used = self.clock;
        Ok(())
    }

    fn insert_arm(&mut self, key: &str) -> usize {
        if self.arms.len() >= self.params.max_arms {
            if let Some(oldest) = (0..self.arms.len()).min_by_key(|&i| self.arms[i].last_used) {
                self.arms.swap_remove(oldest);
            }
        }
        self.arms.push(ArmPosterior {
            key: key.to_string(),
            mean: [0.0; CONTEXT_FEATURES],
            precision: [self.prior_precision(); CONTEXT_FEATURES],
            observations: 0,
            last_used: self.clock,
        });
        self.arms.len() - 1
    }
}

/// A normal sampling distribution of one arm's engagement logit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    pub mean: f64,
    pub sd: f64,
}

/// One draw from each posterior.
pub fn sample(posteriors: &[Posterior], rng: &mut ChaCha8Rng) -> Vec<f64> {
    posteriors.iter().map(|p| p.mean + p.sd * standard_normal(rng)).collect()
}

/// Index of the largest value (the first on ties); 0 for an empty slice.
pub(crate) fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests;

mod merge;
