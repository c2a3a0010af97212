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
    assert!(matches!(evaluate_rankings(&[ok.clone(), zero_slot]), Err(OffPolicyError::BadPropensity { index: 1, .. })));
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
                    .map(|(&d, &click)| slot(click, self.inclusion(d), f64::from(u8::from(self.target.contains(&d)))))
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
