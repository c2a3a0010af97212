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
mod tests {
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::rank::select::plackett_luce_log_prob;

    fn slot(reward: f64, logging_probability: f64, target_probability: f64) -> LoggedSlot {
        LoggedSlot { reward, logging_probability, target_probability }
    }

    #[test]
    fn hand_computed_rankings() {
        let log = [
            LoggedRanking {
                order_propensity: 0.5,
                target_order_probability: 1.0,
                reward: 1.0,
                slots: vec![slot(1.0, 0.8, 1.0), slot(0.0, 0.5, 0.0)],
                target_slots: 2.0,
            },
            LoggedRanking {
                order_propensity: 0.1,
                target_order_probability: 0.0,
                reward: 1.0,
                slots: vec![slot(1.0, 0.2, 1.0)],
                target_slots: 2.0,
            },
        ];
        let value = evaluate_rankings(&log).unwrap();
        // Whole order: weights 2 and 0, terms 2 and 0.
        let whole = value.whole_order;
        assert!((whole.ips - 1.0).abs() < 1e-12 && (whole.snips - 1.0).abs() < 1e-12);
        assert!((whole.effective_samples - 1.0).abs() < 1e-12 && (whole.ips_std_error - 1.0).abs() < 1e-12);
        // Item slots: terms 1/0.8 = 1.25 and 1/0.2 = 5; normalised weights 1.25/2 and 5/2.
        let item = value.item_slot;
        assert!((item.ips - 3.125).abs() < 1e-12, "{}", item.ips);
        assert!((item.snips - 2.0).abs() < 1e-12, "6.25 / 3.125");
        assert!((item.effective_samples - 9.765_625 / 6.640_625).abs() < 1e-12);
        assert!((item.ips_std_error - 1.875).abs() < 1e-12, "sd of 1.25 and 5 is 2.652, / √2");
    }

    #[test]
    fn bad_rankings_are_refused() {
        let ok = LoggedRanking {
            order_propensity: 0.5,
            target_order_probability: 1.0,
            reward: 1.0,
            slots: vec![slot(1.0, 0.5, 1.0)],
            target_slots: 1.0,
        };
        assert_eq!(evaluate_rankings(&[]), Err(OffPolicyError::Empty));
        let zero_slot = LoggedRanking { slots: vec![slot(1.0, 0.0, 1.0)], ..ok.clone() };
        assert!(matches!(
            evaluate_rankings(&[ok.clone(), zero_slot]),
            Err(OffPolicyError::BadPropensity { index: 1, .. })
        ));
        let no_slots = LoggedRanking { target_slots: 0.0, ..ok.clone() };
        assert!(matches!(evaluate_rankings(&[no_slots]), Err(OffPolicyError::BadSlots { index: 0, .. })));
        let order = LoggedRanking { target_order_probability: 2.0, ..ok };
        assert!(matches!(evaluate_rankings(&[order]), Err(OffPolicyError::BadTarget { index: 0, .. })));
    }

    #[test]
    fn top_k_inclusion_matches_plackett_luce_by_hand() {
        // Weights 1, 2, 3 (t = 1). Top 1: 1/6, 2/6, 3/6. Top 2: row 0 is in unless it comes last:
        // 1 − (2/6·3/4 + 3/6·2/3) = 5/12.
        let scores = [0.0, 2f32.ln(), 3f32.ln()];
        let pure = Exploration { epsilon: 1.0, temperature: 1.0 };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let top1 = top_k_inclusion(&scores, &[2], 1, pure, 20_000, &mut rng);
        for (p, exact) in top1.iter().zip([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]) {
            assert!((p - exact).abs() < 0.01, "{top1:?}");
        }
        let top2 = top_k_inclusion(&scores, &[2, 1], 2, pure, 20_000, &mut rng);
        assert!((top2[0] - 5.0 / 12.0).abs() < 0.01, "{top2:?}");
        assert!((top2.iter().sum::<f64>() - 2.0).abs() < 0.01, "two rows are in the top 2");
        // Half the time the greedy order: row 2 is first with 0.5 + 0.5·3/6.
        let half = Exploration { epsilon: 0.5, temperature: 1.0 };
        let mixed = top_k_inclusion(&scores, &[2, 1], 1, half, 20_000, &mut rng);
        assert!((mixed[2] - 0.75).abs() < 0.01, "{mixed:?}");
        // A row far below the others gets its small probability, e^0 / (e^0 + e^30) ≈ 9.4e-14 halved
        // by ε, to within 3% (a 0/1 count would need some 10^14 draws to see it once).
        let rare = top_k_inclusion(&[0.0, 30.0], &[1], 1, half, 20_000, &mut rng);
        assert!((rare[0] / (0.5 / (1.0 + 30f64.exp())) - 1.0).abs() < 0.03, "{rare:?}");
        assert!((rare[0] + rare[1] - 1.0).abs() < 1e-9);
    }

    /// A synthetic shop: `m` items with click probabilities `relevance` (whatever their position), a
    /// logging ranker that shows the top 2 by `scores` and with probability ε a Plackett-Luce sample,
    /// and a deterministic target showing the top 2 by `target_scores`. Probabilities are exact.
    struct Synthetic {
        relevance: Vec<f64>,
        scores: Vec<f32>,
        orders: Vec<([u32; 2], f64)>,
        target: [u32; 2],
    }

    const EPSILON: f64 = 0.5;

    fn top2(scores: &[f32]) -> [u32; 2] {
        let mut rows: Vec<u32> = (0..scores.len() as u32).collect();
        rows.sort_by(|a, b| scores[*b as usize].total_cmp(&scores[*a as usize]));
        [rows[0], rows[1]]
    }

    impl Synthetic {
        fn new(relevance: Vec<f64>, scores: Vec<f32>, target_scores: &[f32]) -> Self {
            let m = scores.len() as u32;
            let rows: Vec<u32> = (0..m).collect();
            let greedy = top2(&scores);
            let orders = (0..m)
                .flat_map(|a| (0..m).filter(move |&b| b != a).map(move |b| [a, b]))
                .map(|order| {
                    let pl = plackett_luce_log_prob(&scores, &rows, &order, 1.0).exp();
                    (order, EPSILON * pl + if order == greedy { 1.0 - EPSILON } else { 0.0 })
                })
                .collect();
            Synthetic { relevance, scores, orders, target: top2(target_scores) }
        }

        fn inclusion(&self, row: u32) -> f64 {
            self.orders.iter().filter(|(o, _)| o.contains(&row)).map(|(_, p)| p).sum()
        }

        fn true_value(&self) -> f64 {
            self.target.iter().map(|&d| self.relevance[d as usize]).sum()
        }

        fn log(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<LoggedRanking> {
            (0..n)
                .map(|_| {
                    let mut u: f64 = rng.random();
                    let (order, propensity) = *self
                        .orders
                        .iter()
                        .find(|(_, p)| {
                            u -= p;
                            u < 0.0
                        })
                        .unwrap_or(&self.orders[0]);
                    let clicks: Vec<f64> = order
                        .iter()
                        .map(|&d| f64::from(u8::from(rng.random::<f64>() < self.relevance[d as usize])))
                        .collect();
                    let slots = order
                        .iter()
                        .zip(&clicks)
                        .map(|(&d, &click)| {
                            slot(click, self.inclusion(d), f64::from(u8::from(self.target.contains(&d))))
                        })
                        .collect();
                    LoggedRanking {
                        order_propensity: propensity,
                        target_order_probability: f64::from(u8::from(order == self.target)),
                        reward: clicks.iter().sum(),
                        slots,
                        target_slots: 2.0,
                    }
                })
                .collect()
        }
    }

    #[test]
    fn the_item_slot_estimator_is_worth_far_more_samples_than_whole_orders() {
        let shop = Synthetic::new(vec![0.1, 0.5, 0.3, 0.7], vec![1.0, 0.5, 0.0, -0.5], &[0.0, 0.0, 1.0, 2.0]);
        assert_ne!(shop.target, top2(&shop.scores), "the target differs from the greedy order");
        let log = shop.log(20_000, &mut ChaCha8Rng::seed_from_u64(8));
        let value = evaluate_rankings(&log).unwrap();
        assert!((shop.true_value() - 1.0).abs() < 1e-12, "items 3 and 2: 0.7 + 0.3");
        assert!((value.item_slot.ips - 1.0).abs() < 4.0 * value.item_slot.ips_std_error, "{value:?}");
        assert!(value.item_slot.effective_samples > 5.0 * value.whole_order.effective_samples, "{value:?}");
        assert!(value.item_slot.ips_std_error < value.whole_order.ips_std_error / 2.0, "{value:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

        /// Both estimators are unbiased: on many logged rankings, each lands within a few standard
        /// errors of the target's true expected clicks.
        #[test]
        fn both_estimators_are_unbiased_on_a_synthetic_shop(
            relevance in proptest::collection::vec(0.0f64..1.0, 4),
            scores in proptest::collection::vec(-1.0f32..1.0, 4),
            target_scores in proptest::collection::vec(-1.0f32..1.0, 4),
            seed in any::<u64>(),
        ) {
            let shop = Synthetic::new(relevance, scores, &target_scores);
            let log = shop.log(20_000, &mut ChaCha8Rng::seed_from_u64(seed));
            let value = evaluate_rankings(&log).unwrap();
            let truth = shop.true_value();
            let (item, whole) = (value.item_slot, value.whole_order);
            prop_assert!((item.ips - truth).abs() <= 5.0 * item.ips_std_error + 0.01, "item {:?} vs {}", item, truth);
            prop_assert!((whole.ips - truth).abs() <= 5.0 * whole.ips_std_error + 0.02, "whole {:?} vs {}", whole, truth);
            prop_assert!((item.snips - truth).abs() <= 0.1, "item SNIPS {} vs {}", item.snips, truth);
        }
    }
}
