use super::*;
use proptest::prelude::*;

const X: [f32; CONTEXT_FEATURES] = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];

fn bandit(params: BanditParams) -> Bandit {
    Bandit::new(params.check().unwrap(), 42)
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn one_update_matches_the_hand_computed_newton_step() {
    let mut b = bandit(BanditParams::default());
    b.learn("a", &X, 1.0, 1.0).unwrap();
    let arm = &b.arms()[0];
    // p = 0.5, curvature 0.25: precision 1 + 0.25 = 1.25; mean 0 + (1 - 0.5) / 1.25 = 0.4.
    assert!((arm.precision[0] - 1.25).abs() < 1e-6);
    assert!((arm.mean[0] - 0.4).abs() < 1e-6);
    // Features that are 0 stay at the prior.
    assert_eq!(arm.mean[1], 0.0);
    assert_eq!(arm.precision[1], 1.0);
    let (mean, var) = b.logit_posterior("a", &X);
    assert!((mean - 0.4).abs() < 1e-6 && (var - 0.8).abs() < 1e-6);
    // A second, negative observation at p = sigmoid(0.4) = 0.598688.
    b.learn("a", &X, 0.0, 2.0).unwrap();
    let p = 0.598_687_660_112_452_3_f64;
    let precision = 1.25 + 2.0 * p * (1.0 - p);
    let mean = 0.4 + 2.0 * (0.0 - p) / precision;
    assert!((f64::from(b.arms()[0].precision[0]) - precision).abs() < 1e-5);
    assert!((f64::from(b.arms()[0].mean[0]) - mean).abs() < 1e-5);
}

#[test]
fn learns_to_prefer_the_better_arm() {
    let mut b = bandit(BanditParams::default());
    let mut rng = decision_rng(9, 0);
    for _ in 0..400 {
        b.learn("good", &X, f64::from(u8::from(rng.random::<f64>() < 0.3)), 1.0).unwrap();
        b.learn("bad", &X, f64::from(u8::from(rng.random::<f64>() < 0.1)), 1.0).unwrap();
    }
    assert!((b.mean_probability("good", &X) - 0.3).abs() < 0.06);
    assert!((b.mean_probability("bad", &X) - 0.1).abs() < 0.05);
    let names = keys(&["bad", "good"]);
    let good = (0..200).filter(|_| b.choose_one(&names, &X).unwrap().index == 1).count();
    assert!(good > 180, "good chosen {good}/200");
}

#[test]
fn propensity_of_twin_arms_is_a_half() {
    let params = BanditParams { exploration: 0.0, propensity_draws: 4000, ..BanditParams::default() };
    let mut b = bandit(params);
    let pick = b.choose_one(&keys(&["a", "b"]), &X).unwrap();
    assert!((pick.propensity - 0.5).abs() < 0.03, "{}", pick.propensity);
    assert!(!pick.explored);
}

#[test]
fn exploration_floors_the_propensity() {
    let params = BanditParams { exploration: 0.2, ..BanditParams::default() };
    let mut b = bandit(params);
    for _ in 0..300 {
        b.learn("a", &X, 1.0, 1.0).unwrap();
        b.learn("b", &X, 0.0, 1.0).unwrap();
    }
    let names = keys(&["a", "b", "c", "d"]);
    let picks: Vec<_> = (0..400).map(|_| b.choose_one(&names, &X).unwrap()).collect();
    assert!(picks.iter().all(|p| p.propensity >= 0.05 - 1e-12 && p.propensity <= 1.0 + 1e-12));
    let explored = picks.iter().filter(|p| p.explored).count() as f64 / 400.0;
    assert!((explored - 0.2).abs() < 0.06, "explored share {explored}");
    // An exploratory pick of the losing arm "b" has propensity ≈ ε / 4.
    let b_pick = picks.iter().find(|p| p.index == 1).unwrap();
    assert!((b_pick.propensity - 0.05).abs() < 0.02, "{}", b_pick.propensity);
}

#[test]
fn bad_input_is_refused() {
    let mut b = bandit(BanditParams::default());
    assert_eq!(b.choose_one(&[], &X), Err(BanditError::NoArms));
    assert_eq!(b.learn("a", &X, 1.5, 1.0), Err(BanditError::BadReward(1.5)));
    assert!(matches!(b.learn("a", &X, f64::NAN, 1.0), Err(BanditError::BadReward(_))));
    assert_eq!(b.learn("a", &X, 1.0, 0.0), Err(BanditError::BadWeight(0.0)));
    assert_eq!(b.learn("", &X, 1.0, 1.0), Err(BanditError::BadArmKey));
    for bad in [
        BanditParams { prior_variance: 0.0, ..BanditParams::default() },
        BanditParams { posterior_scale: f64::NAN, ..BanditParams::default() },
        BanditParams { exploration: 1.0, ..BanditParams::default() },
        BanditParams { max_arms: 0, ..BanditParams::default() },
        BanditParams { propensity_draws: 0, ..BanditParams::default() },
    ] {
        let err = bad.check().unwrap_err();
        assert!(err.to_string().contains("expected"), "{err}");
    }
}

#[test]
fn arm_count_is_bounded_and_evicts_the_least_recently_used() {
    let mut b = bandit(BanditParams { max_arms: 2, ..BanditParams::default() });
    b.learn("a", &X, 1.0, 1.0).unwrap();
    b.learn("b", &X, 1.0, 1.0).unwrap();
    b.learn("a", &X, 1.0, 1.0).unwrap();
    b.learn("c", &X, 1.0, 1.0).unwrap();
    let mut names: Vec<_> = b.arms().iter().map(|a| a.key.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["a", "c"]);
}

#[test]
fn state_round_trips_and_corruption_is_detected() {
    let mut b = bandit(BanditParams::default());
    b.learn("a", &X, 1.0, 1.0).unwrap();
    let json = serde_json::to_string(&b).unwrap();
    let back: Bandit = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
    assert_eq!(back.validate(), Ok(()));
    let broken = json.replace("\"precision\":[1.25", "\"precision\":[-1.0");
    let broken: Bandit = serde_json::from_str(&broken).unwrap();
    assert!(matches!(broken.validate(), Err(BanditError::CorruptState(_))));
}

proptest! {
    #[test]
    fn same_seed_same_choices(seed in any::<u64>(), rewards in proptest::collection::vec(0.0f64..=1.0, 0..20)) {
        let run = || {
            let mut b = Bandit::new(BanditParams::default().check().unwrap(), seed);
            for (i, r) in rewards.iter().enumerate() {
                b.learn(if i % 2 == 0 { "a" } else { "b" }, &X, *r, 1.0).unwrap();
            }
            let names = keys(&["a", "b", "c"]);
            (0..5).map(|_| {
                let pick = b.choose_one(&names, &X).unwrap();
                (pick.index, pick.propensity.to_bits())
            }).collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }

    #[test]
    fn propensities_are_probabilities(seed in any::<u64>(), n in 1usize..6) {
        let mut b = Bandit::new(BanditParams::default().check().unwrap(), seed);
        let names: Vec<String> = (0..n).map(|i| format!("arm{i}")).collect();
        let pick = b.choose_one(&names, &X).unwrap();
        prop_assert!(pick.index < n);
        prop_assert!(pick.propensity > 0.0 && pick.propensity <= 1.0 + 1e-12);
    }
}
