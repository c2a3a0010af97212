//! Closing a round: FedAvg with a server learning rate (the coordinate-wise trimmed mean of
//! the kept updates, or the plain mean of the running sum with optional central Gaussian noise),
//! and a signed next model.

use ed25519_dalek::SigningKey;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shop_personalizer::privacy::sampling::standard_normal;
use shop_personalizer::rank::{project_monotone, NUM_FEATURES};
use shop_personalizer::sync::SharedModel;

use crate::aggregation::{robust_mean, Robust};
use crate::config::{CheckedConfig, RoundRule};
use crate::policy::sum_to_f64;
use crate::store::{NextModel, RoundTotals, StoredModel};

/// Signs `weights` as model `version`.
pub fn publish(version: u64, weights: Vec<f32>, key: &SigningKey) -> StoredModel {
    let model = SharedModel { version, weights };
    let signed = model.encode_signed(key);
    StoredModel { version, weights: model.weights, signed }
}

/// A model projected onto the ranker's monotone constraint (the weights of the features that
/// rise with the server's placement clamped at 0 from below, with the device's own
/// [`project_monotone`]), so a published model never breaks it, whatever the round's rule. The
/// feature layouts extend one another (layout 1 is the first 90 weights of today's), so a shorter
/// model is an older layout's and is projected on the weights it has; a longer one is not the
/// ranker's and is left as it is.
pub fn within_ranker_constraint(mut weights: Vec<f32>) -> Vec<f32> {
    if weights.len() <= NUM_FEATURES {
        project_monotone(&mut weights);
    }
    weights
}

/// `w + η · (sum + N(0, (z_c·C)² I)) / count`, computed in f64.
pub fn fedavg(
    weights: &[f32],
    sum: &[i64],
    count: u64,
    learning_rate: f64,
    central_noise_std: Option<f64>,
    noise_seed: u64,
) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(noise_seed);
    let count = count.max(1) as f64;
    weights
        .iter()
        .zip(sum_to_f64(sum))
        .map(|(&weight, total)| {
            let noisy = total + central_noise_std.map_or(0.0, |std| std * standard_normal(&mut rng));
            (f64::from(weight) + learning_rate * noisy / count) as f32
        })
        .collect()
}

/// `w + η · robust_mean(members)`, computed in f64; `None` when there is no member.
pub fn robust_fedavg(weights: &[f32], totals: &RoundTotals, rule: Robust, learning_rate: f64) -> Option<Vec<f32>> {
    let mean = robust_mean(&totals.members, weights.len(), rule)?;
    Some(weights.iter().zip(mean).map(|(&weight, m)| (f64::from(weight) + learning_rate * m) as f32).collect())
}

/// The resolved robust rule of `config` (`None` for the plain mean).
pub fn robust_rule(config: &CheckedConfig) -> Option<Robust> {
    match config.round_rule {
        RoundRule::Mean => None,
        RoundRule::TrimmedMean { trim_fraction } => Some(Robust::Trim(trim_fraction)),
        RoundRule::MedianWindow { sigmas } => Some(Robust::Window(window(config, sigmas))),
        RoundRule::Screened { sigmas } => Some(Robust::Screened {
            sigmas,
            floor: config.clip_bound,
            half_width: window(config, SCREENED_WINDOW_SIGMAS),
        }),
    }
}

/// The median window the screened rule averages with (that of `median-window:4`).
const SCREENED_WINDOW_SIGMAS: f64 = 4.0;

/// The median window's half-width `C + k·z·C`.
fn window(config: &CheckedConfig, sigmas: f64) -> f64 {
    config.clip_bound + sigmas * config.noise_multiplier * config.clip_bound
}

/// The next weights under `rule` when the round kept every update it added, else the plain
/// mean of the running sum (a round begun before a robust rule was switched on kept fewer
/// members than it counted).
pub fn aggregate(
    weights: &[f32],
    totals: &RoundTotals,
    rule: Option<Robust>,
    learning_rate: f64,
    central_noise_std: Option<f64>,
    noise_seed: u64,
) -> Vec<f32> {
    let complete = totals.count > 0 && totals.members.len() as u64 == totals.count;
    if let Some(rule) = rule {
        if let Some(next) = robust_fedavg(weights, totals, rule, learning_rate).filter(|_| complete) {
            return next;
        }
        eprintln!(
            "aggregator: the round kept {} of its {} updates; publishing the plain mean",
            totals.members.len(),
            totals.count
        );
    }
    fedavg(weights, &totals.sum, totals.count, learning_rate, central_noise_std, noise_seed)
}

/// The [`NextModel`] step the store runs inside its closing transaction.
pub fn next_model(config: &CheckedConfig, key: SigningKey, version: u64, noise_seed: u64) -> NextModel {
    let (learning_rate, rule) = (config.server_learning_rate, robust_rule(config));
    let central_noise_std = config.central_noise_multiplier.map(|z| z * config.clip_bound);
    Box::new(move |weights: &[f32], totals: RoundTotals| {
        let next = aggregate(weights, &totals, rule, learning_rate, central_noise_std, noise_seed);
        publish(version + 1, within_ranker_constraint(next), &key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::FIXED_POINT_BITS;

    #[test]
    fn fedavg_moves_weights_by_the_scaled_mean() {
        let unit = 1_i64 << FIXED_POINT_BITS;
        // Sum (2, -4) over 4 updates -> mean (0.5, -1); eta 0.5 -> (1 + 0.25, 0 - 0.5).
        let next = fedavg(&[1.0, 0.0], &[2 * unit, -4 * unit], 4, 0.5, None, 0);
        assert!((next[0] - 1.25).abs() < 1e-6 && (next[1] + 0.5).abs() < 1e-6, "{next:?}");
    }

    #[test]
    fn central_noise_has_the_configured_spread() {
        let dimension = 20_000;
        let next = fedavg(&vec![0.0; dimension], &vec![0; dimension], 1, 1.0, Some(2.0), 9);
        let variance = next.iter().map(|w| f64::from(*w).powi(2)).sum::<f64>() / dimension as f64;
        assert!((variance - 4.0).abs() < 0.2, "variance {variance}");
        assert_eq!(next, fedavg(&vec![0.0; dimension], &vec![0; dimension], 1, 1.0, Some(2.0), 9));
    }

    #[test]
    fn the_rule_trims_complete_rounds_and_falls_back_to_the_sum() {
        use crate::aggregation::Contribution;
        let unit = 1_i64 << FIXED_POINT_BITS;
        let members: Vec<Contribution> =
            [1_i8, 2, 3, 4, 100].iter().map(|&v| Contribution { step: unit, values: vec![v] }).collect();
        let sum = vec![110 * unit];
        let complete = RoundTotals { sum: sum.clone(), count: 5, members: members.clone() };
        // β = 0.2 drops one per side: mean of 2, 3, 4 = 3; eta 0.5 -> 1 + 1.5.
        assert_eq!(aggregate(&[1.0], &complete, Some(Robust::Trim(0.2)), 0.5, None, 0), vec![2.5]);
        // Window ±5 around the median 3: 1..=4 kept, mean 2.5 -> 1 + 1.25.
        assert_eq!(aggregate(&[1.0], &complete, Some(Robust::Window(5.0)), 0.5, None, 0), vec![2.25]);
        // The plain mean 22 -> 1 + 11.
        assert_eq!(aggregate(&[1.0], &complete, None, 0.5, None, 0), vec![12.0]);
        // One update was counted before members were kept: the plain mean.
        let partial = RoundTotals { sum: vec![111 * unit], count: 6, members };
        let rule = Some(Robust::Trim(0.2));
        assert_eq!(aggregate(&[1.0], &partial, rule, 0.5, None, 0), vec![1.0 + 0.5 * 111.0 / 6.0]);
    }

    #[test]
    fn a_ranker_model_is_published_within_the_monotone_constraint_and_a_longer_one_as_it_is() {
        use shop_personalizer::rank::RISES_WITH_SERVER;
        let falling = vec![-0.5_f32; NUM_FEATURES];
        let published = within_ranker_constraint(falling.clone());
        for (i, (w, rises)) in published.iter().zip(RISES_WITH_SERVER).enumerate() {
            assert_eq!(*w, if rises { 0.0 } else { -0.5 }, "weight {i}");
        }
        assert!(RISES_WITH_SERVER.iter().any(|&r| r) && RISES_WITH_SERVER.iter().any(|&r| !r));
        assert_eq!(within_ranker_constraint(vec![f32::NAN; NUM_FEATURES])[0], 0.0);
        let other = vec![-0.5_f32; NUM_FEATURES + 1];
        assert_eq!(within_ranker_constraint(other.clone()), other);
        // Layout 1's 90 weights: the same projection on the weights it has.
        let layout_1 = within_ranker_constraint(vec![-0.5; 90]);
        assert_eq!(layout_1, published[..90]);
    }

    #[test]
    fn published_models_verify() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let stored = publish(7, vec![0.5, 1.5], &key);
        let decoded = SharedModel::decode_verified(&stored.signed, &key.verifying_key()).expect("verifies");
        assert_eq!(decoded, SharedModel { version: 7, weights: vec![0.5, 1.5] });
    }

    #[test]
    fn the_worst_admitted_round_stays_within_the_step_devices_accept() {
        use crate::aggregation::Contribution;
        use crate::policy::{fixed_step, max_scale};
        use shop_personalizer::sync::round_bound::{first_oversized_change, max_round_step, MAX_SERVER_LEARNING_RATE};
        let d = 90;
        let step = fixed_step(max_scale(1.0, 1.0, d) as f32).expect("fits");
        // Every admitted update at the extreme i8 value on every coordinate (norm aside).
        let members: Vec<Contribution> = (0..20).map(|_| Contribution { step, values: vec![-128; d] }).collect();
        let sum = vec![-128 * step * 20; d];
        let totals = RoundTotals { sum, count: 20, members };
        let weights = vec![0.25_f32; d];
        let bound = max_round_step(1.0, 1.0, d);
        let screened = Robust::Screened { sigmas: 3.0, floor: 1.0, half_width: 5.0 };
        for rule in [None, Some(Robust::Trim(0.1)), Some(Robust::Window(5.0)), Some(screened)] {
            let next = aggregate(&weights, &totals, rule, MAX_SERVER_LEARNING_RATE, None, 0);
            assert_eq!(first_oversized_change(&weights, &next, bound), None, "{rule:?}");
            assert!((f64::from(weights[0] - next[0]) - 128.0 * max_scale(1.0, 1.0, d)).abs() < 1e-5);
        }
        // Central noise at its ceiling over the floor of 20 updates stays within it too (p = 1e-9).
        let noisy = fedavg(&weights, &totals.sum, 20, 1.0, Some(10.0), 4);
        assert_eq!(first_oversized_change(&weights, &noisy, bound), None);
    }
}
