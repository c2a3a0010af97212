//! Off-policy evaluation of adaptation decisions from the logged propensities: how well would
//! another policy have done on the decisions this device (or a simulation) already made?
//!
//! Each record holds the probability the logging policy had of the action it took (the
//! `propensity` every decision returns), the reward observed, and the probability the candidate
//! policy gives the same action in the same context. The estimators are the crate's shared ones
//! (see [`crate::off_policy`]); this module checks them against the bandit's own propensities.

pub use crate::off_policy::{evaluate, LoggedDecision, OffPolicyError, PolicyValue};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::bandit::{Bandit, BanditParams};
    use crate::profile::shopper_state::CONTEXT_FEATURES;

    #[test]
    fn the_bandits_logged_propensities_give_an_unbiased_value() {
        // Two arms with engagement 0.6 and 0.2; the bandit (ε = 0.3, no learning) logs its
        // propensities; evaluating "always arm 0" must recover 0.6.
        let params = BanditParams { exploration: 0.3, propensity_draws: 256, ..BanditParams::default() };
        let mut bandit = Bandit::new(params.check().unwrap(), 5);
        let x = [1.0; CONTEXT_FEATURES];
        let keys = vec!["a".to_string(), "b".to_string()];
        let mut rng = crate::measure::gaussian::decision_rng(77, 0);
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
}
