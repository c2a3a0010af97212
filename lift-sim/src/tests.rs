//! Tests on small generated fixtures (never the replay data).

use rand::RngExt;
use shop_personalizer::measure::gaussian::decision_rng;
use shop_personalizer::measure::{LiftReportConfig, NoiseMode};

use crate::dap_sums::secure_aggregation;
use crate::sessions::{parse_sessions, Neighbours};
use crate::simulation::{group_into_devices, markdown_table, run_once, summarize, BehaviourModel, Scenario};

/// `n` sessions over 200 items in 10 clusters: a session walks mostly inside one cluster.
fn fixture(n: usize, seed: u64) -> String {
    let mut rng = decision_rng(seed, 0);
    let mut text = String::new();
    for _ in 0..n {
        let cluster = rng.random_range(0..10u32);
        let len = rng.random_range(1..8);
        let items: Vec<String> = (0..len).map(|_| (cluster * 20 + rng.random_range(0..20u32)).to_string()).collect();
        text.push_str(&items.join(" "));
        text.push('\n');
    }
    text
}

fn scenario(noise: NoiseMode, epsilon: f64, lift: f64) -> Scenario {
    let report = LiftReportConfig {
        placements: vec!["home".into(), "product".into()],
        epsilon,
        noise,
        ..LiftReportConfig::default()
    }
    .check()
    .unwrap();
    Scenario { name: "test".into(), report, holdout_share: 0.5, injected_lift: lift }
}

#[test]
fn devices_cover_every_session_once() {
    let devices = group_into_devices(103, 5, 1);
    let flat: Vec<usize> = devices.iter().flatten().copied().collect();
    assert_eq!(flat, (0..103).collect::<Vec<_>>());
    assert!(devices.iter().all(|d| (1..=5).contains(&d.len())));
    assert_eq!(devices, group_into_devices(103, 5, 1));
}

#[test]
fn the_estimate_recovers_a_large_injected_lift() {
    let sessions = parse_sessions(&fixture(6000, 2)).unwrap();
    let neighbours = Neighbours::build(&sessions, 20);
    let devices = group_into_devices(sessions.len(), 5, 0);
    let model = BehaviourModel::default();
    let s = scenario(NoiseMode::Distributed { min_cohort: 10_000_000 }, 64.0, 0.5);
    let reps: Vec<_> =
        (1..=12).map(|seed| run_once(&sessions, &devices, &neighbours, &model, &s, seed).unwrap()).collect();
    let summary = summarize("test", 0.5, &reps);
    assert!((summary.mean_lift - 0.5).abs() < 0.12, "mean lift {}", summary.mean_lift);
    assert!(summary.coverage >= 9.0 / 12.0, "coverage {}", summary.coverage);
    assert_eq!(summary.bounded, 1.0);
    assert!(summary.personalized_devices > 0.0 && summary.holdout_devices > 0.0);
    assert!(summary.noise_share < 0.01);
}

#[test]
fn no_lift_is_not_reported_as_lift_and_noise_widens_or_refuses_the_interval() {
    let sessions = parse_sessions(&fixture(4000, 3)).unwrap();
    let neighbours = Neighbours::build(&sessions, 20);
    let devices = group_into_devices(sessions.len(), 5, 0);
    let model = BehaviourModel::default();
    let run = |noise, epsilon| {
        run_once(&sessions, &devices, &neighbours, &model, &scenario(noise, epsilon, 0.0), 5).unwrap().orders
    };
    let quiet = run(NoiseMode::Distributed { min_cohort: 10_000_000 }, 64.0).expect("bounded without noise");
    assert!(quiet.ci_low <= 0.0 && 0.0 <= quiet.ci_high, "{quiet:?}");
    let some_noise = run(NoiseMode::Distributed { min_cohort: 200 }, 8.0).expect("bounded with mild noise");
    assert!(
        some_noise.ci_high - some_noise.ci_low > 1.5 * (quiet.ci_high - quiet.ci_low),
        "{quiet:?} vs {some_noise:?}"
    );
    assert!(some_noise.noise_share > 0.3, "{}", some_noise.noise_share);
    // ~1,300 devices cannot bound the lift under per-report ε = 8: the estimator says so.
    assert_eq!(run(NoiseMode::Local, 8.0), None);
}

#[test]
fn the_table_is_markdown() {
    let summary = summarize("x", 0.1, &[]);
    let table = markdown_table(&[summary]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("| scenario |"));
    assert!(lines[1].starts_with("|---|"));
    assert!(lines[2].starts_with("| x | 0 / 0 | +10.0% | 0.0% of 0 | +0.00% |"), "{}", lines[2]);
}

#[test]
fn shared_sums_give_the_distributed_estimate_through_shares() {
    let sessions = parse_sessions(&fixture(3000, 4)).unwrap();
    let neighbours = Neighbours::build(&sessions, 20);
    let devices = group_into_devices(sessions.len(), 5, 0);
    let model = BehaviourModel::default();
    let run = |noise| run_once(&sessions, &devices, &neighbours, &model, &scenario(noise, 8.0, 0.3), 5).unwrap().orders;
    let distributed = run(NoiseMode::Distributed { min_cohort: 200 }).expect("bounded");
    let helper_url = "https://helper.example".to_string();
    let shared = run(NoiseMode::SharedSums { min_cohort: 200, helper_url }).expect("bounded");
    // The same noise draws; the shares only add clamping at 7 sd and 2^-20 fixed point.
    assert!((shared.lift - distributed.lift).abs() < 1e-6, "{shared:?} vs {distributed:?}");
    assert!(
        (shared.ci_high - distributed.ci_high).abs() < 1e-5 * distributed.ci_high.abs().max(1.0),
        "{shared:?} vs {distributed:?}"
    );
    assert_ne!(shared.lift, distributed.lift, "the shared path really went through fixed point");
}

#[test]
fn secure_aggregation_estimates_like_distributed_noise_of_the_same_epsilon() {
    let sessions = parse_sessions(&fixture(12_000, 6)).unwrap();
    let neighbours = Neighbours::build(&sessions, 20);
    let devices = group_into_devices(sessions.len(), 5, 0);
    let model = BehaviourModel::default();
    let runs = |noise: &dyn Fn() -> NoiseMode| -> Vec<_> {
        (1..=8)
            .map(|seed| {
                run_once(&sessions, &devices, &neighbours, &model, &scenario(noise(), 64.0, 0.3), seed).unwrap()
            })
            .collect()
    };
    let distributed = summarize("distributed", 0.3, &runs(&|| NoiseMode::Distributed { min_cohort: 200 }));
    let dap = summarize("dap", 0.3, &runs(&|| secure_aggregation(200)));
    assert!(dap.bounded >= 0.75, "{dap:?}");
    // The DAP mode spends ¾ of ρ on the means (noise sd × 1/√¾ = 1.15) and adds fixed point:
    // its intervals are about as wide, its estimates about as close to the truth.
    let ratio = dap.mean_half_width / distributed.mean_half_width;
    assert!((0.9..1.6).contains(&ratio), "half-widths {} vs {}", dap.mean_half_width, distributed.mean_half_width);
    assert!((dap.mean_lift - 0.3).abs() < 0.1, "{dap:?}");
    assert!(dap.noise_share > 0.2, "the devices' noise shares are in the sums: {}", dap.noise_share);
    assert!(dap.personalized_devices > 0.0 && dap.holdout_devices > 0.0);
}

#[test]
fn a_secure_aggregation_encoding_the_library_refuses_is_an_error() {
    let sessions = parse_sessions(&fixture(50, 7)).unwrap();
    let neighbours = Neighbours::build(&sessions, 20);
    let devices = group_into_devices(sessions.len(), 5, 0);
    // Noise shares of a sum of 10^7 reports are finer than the entries' steps.
    let refused = run_once(
        &sessions,
        &devices,
        &neighbours,
        &BehaviourModel::default(),
        &scenario(secure_aggregation(10_000_000), 2.0, 0.1),
        1,
    );
    assert!(refused.is_err(), "{refused:?}");
}
