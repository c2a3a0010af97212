//! Off-policy evaluation from logged propensities: how well would another policy have done on
//! the decisions already made under an exploring one? Used for the adaptation bandit's single
//! decisions (`adapt::off_policy`) and for whole rankings ([`ranking`]).
//!
//! Each logged decision contributes a weight (the probability the evaluated policy gives the
//! logged action over the probability the logging policy had of it) and a reward. Inverse
//! propensity scoring (IPS) is unbiased; self-normalised IPS (SNIPS) trades a small bias for much
//! lower variance; the effective sample size says how many logged decisions the estimate is worth.

pub mod ranking;

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum OffPolicyError {
    #[error("no logged decisions to evaluate: log some decisions under an exploring policy first")]
    Empty,
    #[error("record {index}: propensity {} is not in (0, 1]: log the propensity each decision returned", Decimal(*.value))]
    BadPropensity { index: usize, value: f64 },
    #[error("record {index}: target probability {} is not in [0, 1]: give the evaluated policy's probability of the logged action", Decimal(*.value))]
    BadTarget { index: usize, value: f64 },
    #[error("record {index}: reward {} is not finite", Decimal(*.value))]
    BadReward { index: usize, value: f64 },
    #[error(
        "record {index}: the evaluated policy fills {value} slots; give a positive number (e.g. K for a top-K list)"
    )]
    BadSlots { index: usize, value: f64 },
}

impl Coded for OffPolicyError {
    fn code(&self) -> ErrorCode {
        match self {
            OffPolicyError::Empty
            | OffPolicyError::BadPropensity { .. }
            | OffPolicyError::BadTarget { .. }
            | OffPolicyError::BadReward { .. }
            | OffPolicyError::BadSlots { .. } => ErrorCode::InvalidArgument,
        }
    }
}

/// One logged decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggedDecision {
    pub propensity: f64,
    pub reward: f64,
    /// Probability the evaluated policy takes the logged action in the logged context.
    pub target_probability: f64,
}

impl LoggedDecision {
    /// Refuses a record with a propensity outside (0, 1], a target probability outside [0, 1] or a
    /// reward that is not finite; `index` names it in the error.
    pub fn check(&self, index: usize) -> Result<(), OffPolicyError> {
        if !(self.propensity > 0.0 && self.propensity <= 1.0) {
            return Err(OffPolicyError::BadPropensity { index, value: self.propensity });
        }
        if !(0.0..=1.0).contains(&self.target_probability) {
            return Err(OffPolicyError::BadTarget { index, value: self.target_probability });
        }
        if !self.reward.is_finite() {
            return Err(OffPolicyError::BadReward { index, value: self.reward });
        }
        Ok(())
    }

    /// The importance weight: target probability over logging propensity.
    pub fn weight(&self) -> f64 {
        self.target_probability / self.propensity
    }
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

impl PolicyValue {
    /// Estimates from one `(weighted reward, weight)` term per logged decision (a decision may sum
    /// several weighted rewards, as a ranking does over its items; `weight` then has expectation 1
    /// under the logging policy).
    pub fn from_terms(terms: &[(f64, f64)]) -> PolicyValue {
        let n = terms.len() as f64;
        if terms.is_empty() {
            return PolicyValue { ips: 0.0, ips_std_error: 0.0, snips: 0.0, effective_samples: 0.0 };
        }
        let total: f64 = terms.iter().map(|t| t.0).sum();
        let ips = total / n;
        let variance =
            if terms.len() > 1 { terms.iter().map(|t| (t.0 - ips).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        let weight_sum: f64 = terms.iter().map(|t| t.1).sum();
        let square_sum: f64 = terms.iter().map(|t| t.1 * t.1).sum();
        PolicyValue {
            ips,
            ips_std_error: (variance / n).sqrt(),
            snips: if weight_sum > 0.0 { total / weight_sum } else { 0.0 },
            effective_samples: if square_sum > 0.0 { weight_sum * weight_sum / square_sum } else { 0.0 },
        }
    }
}

/// Estimates the value of the evaluated policy from `log`.
pub fn evaluate(log: &[LoggedDecision]) -> Result<PolicyValue, OffPolicyError> {
    if log.is_empty() {
        return Err(OffPolicyError::Empty);
    }
    for (index, record) in log.iter().enumerate() {
        record.check(index)?;
    }
    let terms: Vec<(f64, f64)> = log.iter().map(|r| (r.weight() * r.reward, r.weight())).collect();
    Ok(PolicyValue::from_terms(&terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_weights() {
        // Logged: action taken with p = 0.5 (reward 1) and p = 0.25 (reward 0).
        // Target takes the first with 1.0, the second with 0.5: weights 2 and 2.
        let log = [
            LoggedDecision { propensity: 0.5, reward: 1.0, target_probability: 1.0 },
            LoggedDecision { propensity: 0.25, reward: 0.0, target_probability: 0.5 },
        ];
        let value = evaluate(&log).unwrap();
        assert!((value.ips - 1.0).abs() < 1e-12, "(2·1 + 2·0) / 2");
        assert!((value.snips - 0.5).abs() < 1e-12, "(2·1 + 2·0) / (2 + 2)");
        assert!((value.effective_samples - 2.0).abs() < 1e-12);
        assert!((value.ips_std_error - 1.0).abs() < 1e-12, "terms 2 and 0: sd √2, / √2");
    }

    #[test]
    fn bad_records_are_refused() {
        let ok = LoggedDecision { propensity: 0.5, reward: 1.0, target_probability: 1.0 };
        assert_eq!(evaluate(&[]), Err(OffPolicyError::Empty));
        let zero = LoggedDecision { propensity: 0.0, ..ok };
        assert!(matches!(evaluate(&[ok, zero]), Err(OffPolicyError::BadPropensity { index: 1, .. })));
        let target = LoggedDecision { target_probability: 1.5, ..ok };
        assert!(matches!(evaluate(&[target]), Err(OffPolicyError::BadTarget { index: 0, .. })));
        let reward = LoggedDecision { reward: f64::NAN, ..ok };
        assert!(matches!(evaluate(&[reward]), Err(OffPolicyError::BadReward { index: 0, .. })));
    }
}
