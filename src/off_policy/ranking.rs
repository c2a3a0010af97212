//! Off-policy evaluation of rankings: the value (click-through, hit rate) a new ranking policy
//! would have had, from rankings shown by the exploring ranker (see `rank::ranker`: with
//! probability ε a Plackett-Luce sample, each ranking logged with the exact probability of its
//! order).
//!
//! Two estimators:
//! - **whole order**: IPS/SNIPS over whole lists, weight = P(target shows this order) / P(logged
//!   order). Unbiased, but a deterministic target matches an explored order of any length almost
//!   never, so its variance is huge (see the effective sample size).
//! - **item-slot** (item-position, or "item in the top K"): when an item's reward depends on the
//!   item and its slot only (its position under a position-based click model, or just being in the
//!   top K for a hit rate), the list's value is the sum of its items' rewards, and each item is
//!   weighted by P(target puts it in that slot) / P(logging policy put it there). These marginal
//!   probabilities are far larger than whole-order ones, and so is the effective sample size. The
//!   self-normalised form divides by the weights' total, whose expectation is the number of slots
//!   the target fills.

use rand::{Rng, RngExt};

use super::{LoggedDecision, OffPolicyError, PolicyValue};

/// One shown item of a logged ranking, in its slot (a position, or "in the top K").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggedSlot {
    /// The item's reward (e.g. 1 for a click, or for the label being there).
    pub reward: f64,
    /// Probability the logging policy put this item in this slot.
    pub logging_probability: f64,
    /// Probability the evaluated policy puts this item in this slot.
    pub target_probability: f64,
}

/// One logged ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRanking {
    /// Probability the logging policy showed exactly this order (`Ranking::propensity`).
    pub order_propensity: f64,
    /// Probability the evaluated policy shows exactly this order (1 or 0 for a deterministic one).
    pub target_order_probability: f64,
    /// The whole list's reward.
    pub reward: f64,
    /// The shown items whose slot the item-slot estimator weighs (items with reward 0 may be left
    /// out: they add nothing but their weight).
    pub slots: Vec<LoggedSlot>,
    /// How many items the evaluated policy puts in slots, in expectation over all candidates
    /// (K for "in the top K", the number of positions for item-position).
    pub target_slots: f64,
}

/// Estimates of the evaluated policy's value per list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingValue {
    pub whole_order: PolicyValue,
    pub item_slot: PolicyValue,
}

impl LoggedRanking {
    fn check(&self, index: usize) -> Result<(), OffPolicyError> {
        let order = LoggedDecision {
            propensity: self.order_propensity,
            reward: self.reward,
            target_probability: self.target_order_probability,
        };
        order.check(index)?;
        for slot in &self.slots {
            let item = LoggedDecision {
                propensity: slot.logging_probability,
                reward: slot.reward,
                target_probability: slot.target_probability,
            };
            item.check(index)?;
        }
        if !(self.target_slots.is_finite() && self.target_slots > 0.0) {
            return Err(OffPolicyError::BadSlots { index, value: self.target_slots });
        }
        Ok(())
    }
}

/// Estimates the evaluated policy's value from logged rankings.
pub fn evaluate_rankings(log: &[LoggedRanking]) -> Result<RankingValue, OffPolicyError> {
    if log.is_empty() {
        return Err(OffPolicyError::Empty);
    }
    for (index, ranking) in log.iter().enumerate() {
        ranking.check(index)?;
    }
    let whole: Vec<(f64, f64)> = log
        .iter()
        .map(|r| {
            let w = r.target_order_probability / r.order_propensity;
            (w * r.reward, w)
        })
        .collect();
    let items: Vec<(f64, f64)> = log
        .iter()
        .map(|r| {
            let weights = r.slots.iter().map(|s| s.target_probability / s.logging_probability);
            let weighted: f64 = weights.clone().zip(&r.slots).map(|(w, s)| w * s.reward).sum();
            (weighted, weights.sum::<f64>() / r.target_slots)
        })
        .collect();
    Ok(RankingValue { whole_order: PolicyValue::from_terms(&whole), item_slot: PolicyValue::from_terms(&items) })
}

/// How the ranker explores: with probability `epsilon` a Plackett-Luce sample with weights
/// `exp(score / temperature)` instead of the greedy order (`RankParams::exploration_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exploration {
    pub epsilon: f64,
    pub temperature: f64,
}

/// The probability that each row lands in the top `k` under the ranker's exploring policy: with
/// probability 1 − ε the greedy order `greedy`, with probability ε a Plackett-Luce sample with
/// weights `exp(score / temperature)` (as `rank::select::Selector::sample` draws it).
///
/// The Plackett-Luce part is estimated from `draws` seeded Gumbel samples, Rao-Blackwellised: a
/// Plackett-Luce top k is the k largest of `score / t + Gumbel noise`, so given the other rows'
/// keys, row `d` is in the top k exactly when its key beats the k-th largest of the others, which
/// has a closed-form probability. Averaging that probability (not a 0/1 count) gives every row a
/// positive, low-variance estimate, rare rows included, which matters since their weights are
/// its inverse.
pub fn top_k_inclusion<R: Rng + ?Sized>(
    scores: &[f32],
    greedy: &[u32],
    k: usize,
    exploration: Exploration,
    draws: usize,
    rng: &mut R,
) -> Vec<f64> {
    let Exploration { epsilon, temperature } = exploration;
    let n = scores.len();
    let k = k.min(n);
    let mut inclusion = vec![0.0; n];
    if k == n {
        inclusion.iter_mut().for_each(|p| *p = 1.0);
        return inclusion;
    }
    let location: Vec<f64> = scores.iter().map(|&s| f64::from(s) / temperature).collect();
    let mut keys = vec![0.0; n];
    let mut sorted = vec![0.0; n];
    for _ in 0..draws {
        for (key, &at) in keys.iter_mut().zip(&location) {
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            *key = at - (-u.ln()).ln();
        }
        sorted.copy_from_slice(&keys);
        // The k-th and (k+1)-th largest keys (positions k − 1 and k in descending order).
        sorted.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
        let above = sorted[k];
        let kth = sorted[..k].iter().copied().fold(f64::INFINITY, f64::min);
        for ((p, &key), &at) in inclusion.iter_mut().zip(&keys).zip(&location) {
            // The k-th largest key among the other rows.
            let threshold = if key >= kth { above } else { kth };
            // P(at + Gumbel > threshold) = 1 − exp(−exp(at − threshold)).
            *p += -(-(at - threshold).exp()).exp_m1();
        }
    }
    let draws = draws.max(1) as f64;
    inclusion.iter_mut().for_each(|p| *p *= epsilon / draws);
    for &row in greedy.iter().take(k) {
        if let Some(p) = inclusion.get_mut(row as usize) {
            *p += 1.0 - epsilon;
        }
    }
    inclusion
}

#[cfg(test)]
#[path = "ranking_tests.rs"]
mod tests;
