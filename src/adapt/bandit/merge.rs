//! Merging the bandits of two tabs that grew from one stored state: the other tab's bandit plus
//! the evidence this tab added since the state both started from (see
//! `personalizer/adapting/tabs.rs`). Evidence adds in the posterior's natural parameters (precision and
//! precision × mean, per feature), so every observation counts once, whichever tab made it.

use super::{ArmPosterior, Bandit, CONTEXT_FEATURES};

/// Precisions stay within what learning itself allows.
const MAX_PRECISION: f64 = 1e9;

impl Bandit {
    /// `theirs` (another tab's stored bandit) plus what `ours` learned since `base` (`None`: a
    /// bandit without arms). `ours` decides the parameters; arms over `maxArms` go least recently
    /// used first.
    pub fn merged(base: Option<&Bandit>, ours: &Bandit, theirs: &Bandit) -> Bandit {
        let prior = ours.prior_precision();
        let fresh = |key: &str| ArmPosterior {
            key: key.to_string(),
            mean: [0.0; CONTEXT_FEATURES],
            precision: [prior; CONTEXT_FEATURES],
            observations: 0,
            last_used: 0,
        };
        let mut merged = theirs.clone();
        merged.params = ours.params;
        let base_decisions = base.map_or(0, |b| b.decisions);
        merged.decisions = theirs.decisions.saturating_add(ours.decisions.saturating_sub(base_decisions));
        merged.clock = theirs.clock.max(ours.clock);
        for arm in &ours.arms {
            let start = base.and_then(|b| b.arm(&arm.key)).cloned().unwrap_or_else(|| fresh(&arm.key));
            if *arm == start {
                continue;
            }
            match merged.arms.iter_mut().find(|a| a.key == arm.key) {
                // Only this tab changed the arm: take it as it is (exactly).
                Some(target) if *target == start => *target = arm.clone(),
                Some(target) => add_evidence(target, &start, arm, prior),
                None => {
                    // The other tab never had it, or dropped it: its view of the arm is the prior.
                    let mut target = fresh(&arm.key);
                    add_evidence(&mut target, &start, arm, prior);
                    merged.arms.push(target);
                }
            }
        }
        while merged.arms.len() > merged.params.max_arms {
            if let Some(oldest) = (0..merged.arms.len()).min_by_key(|&i| merged.arms[i].last_used) {
                merged.arms.swap_remove(oldest);
            }
        }
        merged
    }
}

/// Adds to `target` the evidence `ours` holds beyond `start`.
fn add_evidence(target: &mut ArmPosterior, start: &ArmPosterior, ours: &ArmPosterior, prior: f32) {
    for j in 0..CONTEXT_FEATURES {
        let (pt, ps, po) =
            (f64::from(target.precision[j]), f64::from(start.precision[j]), f64::from(ours.precision[j]));
        let eta = pt * f64::from(target.mean[j]) + po * f64::from(ours.mean[j]) - ps * f64::from(start.mean[j]);
        let precision = (pt + po - ps).clamp(f64::from(prior).min(pt), MAX_PRECISION);
        target.precision[j] = precision as f32;
        target.mean[j] = (eta / precision) as f32;
    }
    target.observations = target.observations.saturating_add(ours.observations.saturating_sub(start.observations));
    target.last_used = target.last_used.max(ours.last_used);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::BanditParams;

    fn bandit() -> Bandit {
        Bandit::new(BanditParams::default().check().expect("defaults"), 3)
    }

    fn x(first: f32) -> [f32; CONTEXT_FEATURES] {
        let mut x = [0.0; CONTEXT_FEATURES];
        x[0] = first;
        x
    }

    #[test]
    fn evidence_from_both_tabs_adds_up_in_natural_parameters() {
        // Base: one arm at the prior (precision 1, mean 0). Ours adds precision 0.25 on feature 0
        // (reward 1 at p = 0.5 → mean 0.5 / 1.25 = 0.4); theirs the same with reward 0 (mean −0.4).
        let mut base = bandit();
        base.learn("a", &x(0.0), 1.0, 1.0).expect("valid");
        let mut ours = base.clone();
        ours.learn("a", &x(1.0), 1.0, 1.0).expect("valid");
        let mut theirs = base.clone();
        theirs.learn("a", &x(1.0), 0.0, 1.0).expect("valid");
        assert!((ours.arms[0].mean[0] - 0.4).abs() < 1e-6 && (ours.arms[0].precision[0] - 1.25).abs() < 1e-6);
        let merged = Bandit::merged(Some(&base), &ours, &theirs);
        let arm = &merged.arms[0];
        // Precision 1.25 + 1.25 − 1 = 1.5; η = 1.25·0.4 + 1.25·(−0.4) − 1·0 = 0 → mean 0.
        assert!((arm.precision[0] - 1.5).abs() < 1e-6, "{}", arm.precision[0]);
        assert!(arm.mean[0].abs() < 1e-6, "{}", arm.mean[0]);
        assert_eq!(arm.observations, 3, "1 in base + 1 + 1");
        assert_eq!(merged.decisions, 0);
    }

    #[test]
    fn an_arm_only_one_tab_touched_is_taken_exactly() {
        let base = bandit();
        let mut ours = base.clone();
        ours.learn("mine", &x(0.7), 1.0, 1.0).expect("valid");
        let mut theirs = base.clone();
        theirs.learn("theirs", &x(0.3), 0.0, 1.0).expect("valid");
        let merged = Bandit::merged(Some(&base), &ours, &theirs);
        let keys: Vec<&str> = merged.arms.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["theirs", "mine"]);
        assert_eq!(merged.arms[1].mean, ours.arms[0].mean);
        assert_eq!(merged.arms[0], theirs.arms[0]);
        // Without a base, ours counts as entirely new evidence.
        assert_eq!(Bandit::merged(None, &ours, &theirs).arms.len(), 2);
        // Merging with nothing new changes nothing.
        assert_eq!(Bandit::merged(Some(&theirs), &theirs, &theirs), theirs);
    }
}
