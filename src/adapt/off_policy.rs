//! Off-policy evaluation from the logged propensities: how well would another policy have done
//! on the decisions this device (or a simulation) already made?
//!
//! Each record holds the probability the logging policy had of the action it took (the
//! `propensity` every decision returns), the reward observed, and the probability the candidate
//! policy gives the same action in the same context. Inverse propensity scoring (IPS) is
//! unbiased; self-normalised IPS (SNIPS) trades a small bias for much lower variance.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum OffPolicyError {
    #[error("no logged decisions to evaluate")]
    Empty,
    #[error("record {index}: propensity {value} is not in (0, 1]: log the propensity each decision returned")]
    BadPropensity { index: usize, value: f64 },
    #[error("record {index}: target probability {value} is not in [0, 1]")]
    BadTarget { index: usize, value: f64 },
    #[error("record {index}: reward {value} is not finite")]
    BadReward { index: usize, value: f64 },
}

/// One logged decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggedDecision {
    pub propensity: f64,
    pub reward: f64,
    /// Probability the evaluated policy takes the logged action in the logged context.
    pub target_probability: f64,
}

/// Value estimates of the evaluated policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyValue {
    pub ips: f64,
    /// Standard error of the IPS estimate.
    pub ips_std_error: f64,
    pub snips: f64,
    /// Effective sample size (Σw)² / Σw²: how many logged decisions the estimate is worth.
    pub effective_samples: f64,
}

/// Estimates the value of the evaluated policy from `log`.
pub fn evaluate(log: &[LoggedDecision]) -> Result<PolicyValue, OffPolicyError> {
    if log.is_empty() {
        return Err(OffPolicyError::Empty);
    }
    for (index, record) in log.iter().enumerate() {
        if !(record.propensity > 0.0 && record.propensity <= 1.0) {
            return Err(OffPolicyError::BadPropensity {
                index,
                value: record.propensity,
            });
        }
        if !(0.0..=1.0).contains(&record.target_probability) {
            return Err(OffPolicyError::BadTarget {
                index,
                value: record.target_probability,
            });
        }
        if !record.reward.is_finite() {
            return Err(OffPolicyError::BadReward {
                index,
                value: record.reward,
            });
        }
    }
    let n = log.len() as f64;
    let weights: Vec<f64> = log.iter().map(|r| r.target_probability / r.propensity).collect();
    let terms: Vec<f64> = log.iter().zip(&weights).map(|(r, w)| w * r.reward).collect();
    let ips = terms.iter().sum::<f64>() / n;
    let variance = if log.len() > 1 {
        terms.iter().map(|t| (t - ips).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let weight_sum: f64 = weights.iter().sum();
    let snips = if weight_sum > 0.0 {
        terms.iter().sum::<f64>() / weight_sum
    } else {
        0.0
    };
    let square_sum: f64 = weights.iter().map(|w| w * w).sum();
    let effective_samples = if square_sum > 0.0 {
        weight_sum * weight_sum / square_sum
    } else {
        0.0
    };
    Ok(PolicyValue {
        ips,
        ips_std_error: (variance / n).sqrt(),
        snips,
        effective_samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::bandit::{Bandit, BanditParams};
    use crate::adapt::shopper::CONTEXT_FEATURES;

    #[test]
    fn hand_computed_weights() {
        // Logged: action taken with p = 0.5 (reward 1) and p = 0.25 (reward 0).
        // Target takes the first with 1.0, the second with 0.5: weights 2 and 2.
        let log = [
            LoggedDecision {
                propensity: 0.5,
                reward: 1.0,
                target_probability: 1.0,
            },
            LoggedDecision {
                propensity: 0.25,
                reward: 0.0,
                target_probability: 0.5,
            },
        ];
        let value = evaluate(&log).unwrap();
        assert!((value.ips - 1.0).abs() < 1e-12, "(2·1 + 2·0) / 2");
        assert!((value.snips - 0.5).abs() < 1e-12, "(2·1 + 2·0) / (2 + 2)");
        assert!((value.effective_samples - 2.0).abs() < 1e-12);
        assert!((value.ips_std_error - 1.0).abs() < 1e-12, "terms 2 and 0: sd √2, / √2");
    }

    #[test]
    fn the_bandits_logged_propensities_give_an_unbiased_value() {
        // Two arms with engagement 0.6 and 0.2; the bandit (ε = 0.3, no learning) logs its
        // propensities; evaluating "always arm 0" must recover 0.6.
        let params = BanditParams {
            exploration: 0.3,
            propensity_draws: 256,
            ..BanditParams::default()
        };
        let mut bandit = Bandit::new(params.check().unwrap(), 5);
        let x = [1.0; CONTEXT_FEATURES];
        let keys = vec!["a".to_string(), "b".to_string()];
        let mut rng = crate::adapt::gaussian::decision_rng(77, 0);
        let log: Vec<LoggedDecision> = (0..3000)
            .map(|_| {
                let pick = bandit.choose_one(&keys, &x).unwrap();
                let rate = if pick.index == 0 { 0.6 } else { 0.2 };
                let reward = f64::from(u8::from(rand::RngExt::random::<f64>(&mut rng) < rate));
                LoggedDecision {
                    propensity: pick.propensity,
                    reward,
                    target_probability: f64::from(u8::from(pick.index == 0)),
                }
            })
            .collect();
        let value = evaluate(&log).unwrap();
        assert!((value.snips - 0.6).abs() < 0.04, "snips {}", value.snips);
        assert!(
            (value.ips - 0.6).abs() < 4.0 * value.ips_std_error + 0.02,
            "ips {} ± {}",
            value.ips,
            value.ips_std_error
        );
    }

    #[test]
    fn bad_records_are_refused() {
        let ok = LoggedDecision {
            propensity: 0.5,
            reward: 1.0,
            target_probability: 1.0,
        };
        assert_eq!(evaluate(&[]), Err(OffPolicyError::Empty));
        let zero = LoggedDecision { propensity: 0.0, ..ok };
        assert!(matches!(
            evaluate(&[ok, zero]),
            Err(OffPolicyError::BadPropensity { index: 1, .. })
        ));
        let target = LoggedDecision {
            target_probability: 1.5,
            ..ok
        };
        assert!(matches!(
            evaluate(&[target]),
            Err(OffPolicyError::BadTarget { index: 0, .. })
        ));
        let reward = LoggedDecision { reward: f64::NAN, ..ok };
        assert!(matches!(
            evaluate(&[reward]),
            Err(OffPolicyError::BadReward { index: 0, .. })
        ));
    }
}
