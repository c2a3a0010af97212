use super::*;
use replay::fit::evaluate;
use shop_personalizer::rank::RISES_WITH_SERVER;

/// Cases where the label is the candidate with the largest feature 0: the right weights
/// put a large positive weight on feature 0.
fn synthetic_cases(count: usize, seed: u64) -> Vec<TrainingCase> {
    cases_labelled_by_feature_0(count, seed, true)
}

/// Cases where the label is the candidate with the largest (or, `largest` false, the smallest)
/// feature 0, every feature uniform in [0, 1).
fn cases_labelled_by_feature_0(count: usize, seed: u64, largest: bool) -> Vec<TrainingCase> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let rows = 10;
            let mut matrix = vec![0.0_f32; rows * NUM_FEATURES];
            for row in 0..rows {
                for feature in 0..NUM_FEATURES {
                    matrix[row * NUM_FEATURES + feature] = (rng.next_u32() % 1000) as f32 / 1000.0;
                }
            }
            let by_feature_0 = |a: &usize, b: &usize| matrix[a * NUM_FEATURES].total_cmp(&matrix[b * NUM_FEATURES]);
            let label_row =
                if largest { (0..rows).max_by(by_feature_0) } else { (0..rows).min_by(by_feature_0) }.unwrap_or(0);
            TrainingCase::new(&matrix, label_row, 1)
        })
        .collect()
}

#[test]
fn private_federated_rounds_learn_the_synthetic_signal() {
    let devices = deal(synthetic_cases(3_000, 1), 1_000, 2);
    let config = FederatedConfig {
        rounds: 30,
        cohort: 300,
        local_learning_rate: 0.5,
        server_learning_rate: 1.0,
        ..FederatedConfig::default()
    };
    // Start from the wrong sign on the signal (all-zero weights would tie every row).
    let mut initial = vec![0.0_f32; NUM_FEATURES];
    initial[0] = -1.0;
    let held_out = synthetic_cases(500, 3);
    let (_, before, _) = evaluate(&held_out, &initial, 1);
    let FederatedOutcome { weights, logs, participation } = run(&devices, &initial, &config, |_, _| {}).expect("runs");
    let (_, after, _) = evaluate(&held_out, &weights, 1);
    assert!(after > before + 0.3, "hit@1 {before:.3} -> {after:.3}");
    assert!(weights[0] > 0.5, "the signal weight moved from -1 to {}", weights[0]);
    assert_eq!(logs.len(), 30);
    assert!(logs.iter().all(|log| log.accepted == 300), "honest updates pass the norm check");
    assert_eq!(participation.iter().map(|&p| p as usize).sum::<usize>(), 30 * 300);
}

#[test]
fn a_hostile_tenth_wrecks_the_plain_mean_but_not_the_robust_rules_and_flips_only_the_coordinate_wise_ones() {
    let devices = deal(synthetic_cases(3_000, 1), 1_000, 2);
    let mut initial = vec![0.0_f32; NUM_FEATURES];
    initial[0] = -1.0;
    let held_out = synthetic_cases(500, 3);
    let base = FederatedConfig {
        rounds: 30,
        cohort: 300,
        local_learning_rate: 0.5,
        server_learning_rate: 1.0,
        attack: Attack::Spike,
        ..FederatedConfig::default()
    };
    let run_with = |round_rule: RoundRule, hostile_share: f64, attack: Attack| {
        let config = FederatedConfig { round_rule, hostile_share, attack, ..base.clone() };
        let outcome = run(&devices, &initial, &config, |_, _| {}).expect("runs");
        let hostile = (hostile_share * 300.0).round() as usize;
        assert!(outcome.logs.iter().all(|log| log.hostile == hostile), "every hostile update is admitted");
        // The signal's weight: the server's score, a weight the devices keep >= 0 as they learn.
        (evaluate(&held_out, &outcome.weights, 1).1, outcome.weights[0])
    };
    let outcome = |round_rule: RoundRule, hostile_share: f64| run_with(round_rule, hostile_share, Attack::Spike);
    let (honest, (attacked, plain_signal)) = (outcome(RoundRule::Mean, 0.0).0, outcome(RoundRule::Mean, 0.1));
    eprintln!("mean: honest {honest:.3}, attacked {attacked:.3}, signal weight {plain_signal:.3}");
    // 10% spikes drive the plain mean far off: they aim at the signal's weight, the largest one
    // (honest 2.47), and take it to -3.41 (hit@1 0 from 0.56). Every honest device clamps it back
    // to 0 in its first projected step and pushes it up by its whole clip, which holds the attack
    // there (before the devices projected, the attacked |w| reached 8.9).
    assert!(plain_signal < -2.0 && attacked < 0.05, "plain mean under attack: w0 {plain_signal}, {attacked}");
    let rules = [
        RoundRule::TrimmedMean { trim_fraction: 0.1 },
        RoundRule::MedianWindow { sigmas: 4.0 },
        RoundRule::Screened { sigmas: 3.0 },
    ];
    for rule in rules {
        // Honest devices: the robust rule costs little.
        let (robust_honest, _) = outcome(rule, 0.0);
        assert!(robust_honest > honest - 0.05, "{rule}: honest hit@1 {robust_honest:.3} vs {honest:.3}");
        // Under attack it keeps the signal's weight positive (measured: the trimmed mean 0.37,
        // hit@1 0.14, stalled by its one-sided trim; the median window 2.42, hit@1 0.51).
        let (robust, signal) = outcome(rule, 0.1);
        assert!(signal > 0.2 && robust > attacked, "{rule}: w0 {signal}, hit@1 {robust:.3}");
        if matches!(rule, RoundRule::MedianWindow { .. } | RoundRule::Screened { .. }) {
            assert!(robust > 0.8 * honest, "{rule} keeps learning: hit@1 {robust:.3} vs honest {honest:.3}");
        }
        eprintln!("{rule}: honest {robust_honest:.3}, attacked {robust:.3}, signal weight {signal:.3}");
    }
    // 10% flips (the whole norm bound against their own delta) lie inside the honest spread
    // coordinate by coordinate: only screening whole updates stops them.
    let flipped = |rule| run_with(rule, 0.1, Attack::Flip).0;
    let (window, screened) =
        (flipped(RoundRule::MedianWindow { sigmas: 4.0 }), flipped(RoundRule::Screened { sigmas: 3.0 }));
    eprintln!("10% flip: median-window hit@1 {window:.3}, screened {screened:.3} (honest mean {honest:.3})");
    assert!(screened > 0.8 * honest && screened > window, "screened under flips: {screened:.3}, window {window:.3}");
}

#[test]
fn dap_batches_learn_the_synthetic_signal_with_the_noise_shared_among_each_batch() {
    let devices = deal(synthetic_cases(3_000, 1), 1_000, 2);
    let config = FederatedConfig {
        rounds: 90,
        cohort: 100,
        local_learning_rate: 0.5,
        aggregation: Aggregation::Dap { proofs: false },
        ..FederatedConfig::default()
    };
    let mut initial = vec![0.0_f32; NUM_FEATURES];
    initial[0] = -1.0;
    let held_out = synthetic_cases(500, 3);
    let (_, before, _) = evaluate(&held_out, &initial, 1);
    let outcome = run(&devices, &initial, &config, |_, _| {}).expect("runs");
    let (_, after, _) = evaluate(&held_out, &outcome.weights, 1);
    assert!(after > before + 0.3, "hit@1 {before:.3} -> {after:.3}");
    assert!(outcome.weights[0] > 0.5, "the signal weight moved from -1 to {}", outcome.weights[0]);
    assert!(outcome.logs.iter().all(|log| log.accepted == 100), "every round sums one batch of 100");
    assert_eq!(outcome.participation.iter().map(|&p| p as usize).sum::<usize>(), 90 * 100);
}

#[test]
fn hostile_devices_are_simulated_against_the_local_path_only() {
    let devices = deal(synthetic_cases(300, 1), 200, 2);
    let config = FederatedConfig {
        cohort: 100,
        hostile_share: 0.1,
        aggregation: Aggregation::Dap { proofs: false },
        ..FederatedConfig::default()
    };
    assert!(matches!(run(&devices, &[0.0; NUM_FEATURES], &config, |_, _| {}), Err(SimulationError::Config(_))));
}

#[test]
fn dealing_spreads_cases_evenly() {
    let dealt = deal(synthetic_cases(10, 1), 3, 0);
    let sizes: Vec<usize> = dealt.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 3, 3]);
}

#[test]
fn projected_learning_and_publication_keep_the_monotone_weights_at_or_above_zero() {
    // Feature 0 (the server's score) rises with the server's placement, but here the label is
    // the candidate it scores lowest: unconstrained learning drives its weight below 0.
    assert!(RISES_WITH_SERVER[0]);
    let cases = cases_labelled_by_feature_0(3_000, 4, false);
    let mut free = vec![0.0_f32; NUM_FEATURES];
    let (mut matrix, mut gradient) = (Vec::new(), vec![0.0_f32; NUM_FEATURES]);
    for case in &cases[..30] {
        case.expand_into(&mut matrix);
        let rows: Vec<usize> = (0..case.rows()).collect();
        let gains: Vec<f32> = rows.iter().map(|&r| if r == case.label_row { 1.0 } else { 0.0 }).collect();
        gradient.iter_mut().for_each(|g| *g = 0.0);
        softmax_gradient(&matrix, &rows, &gains, &free, &mut gradient);
        free.iter_mut().zip(&gradient).for_each(|(w, g)| *w -= 0.5 * g);
    }
    assert!(free[0] < -0.5, "unprojected SGD takes the weight to {}", free[0]);
    // The device's learning stops every monotone weight at 0.
    let local = local_train(&[0.0; NUM_FEATURES], &cases[..30], 1, 0.5);
    assert_eq!(local[0], 0.0);
    assert!(local.iter().zip(RISES_WITH_SERVER).all(|(&w, rises)| !rises || w >= 0.0), "{local:?}");
    // Every DAP batch's devices send 0 plus their noise share on a weight the data push below 0:
    // without the leader's projection such weights are published below 0 (measured: 18 times
    // over these 20 rounds).
    let config = FederatedConfig {
        rounds: 20,
        cohort: 100,
        local_learning_rate: 0.5,
        aggregation: Aggregation::Dap { proofs: false },
        ..FederatedConfig::default()
    };
    let (mut below, mut free_below) = (0, 0);
    let outcome = run(&deal(cases, 1_000, 2), &[0.0; NUM_FEATURES], &config, |_, weights| {
        for (&w, rises) in weights.iter().zip(RISES_WITH_SERVER) {
            below += usize::from(rises && w < 0.0);
            free_below += usize::from(!rises && w < 0.0);
        }
    })
    .expect("runs");
    assert_eq!(outcome.logs.len(), 20);
    assert_eq!(below, 0, "published monotone weights below 0");
    assert!(free_below > 20, "the other weights move freely: {free_below} below 0");
}
