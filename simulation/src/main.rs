//! Proof that the federated loop learns (issue 4): training sessions are cut into cases, the
//! cases are dealt to thousands of simulated devices, rounds of device learning → private
//! update → aggregation run through the real device and server code, and a fresh device's
//! replay quality on the test file is reported with the initial, federated and centrally
//! trained shared weights, at the per-device ε the privacy settings give.
//!
//! `cargo run --release -p simulation -- --train TRAIN --test TEST [--flag value]...`

mod attack;
mod federated;
mod robustness;
mod secure;
mod sweep;
mod validation;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use aggregator::config::RoundRule;
use federated::{deal, run, Aggregation, FederatedConfig, FederatedOutcome};
use replay::data::{read_cases, read_sessions, validation_split, Vocabulary};
use replay::fit::{collect, fit, sample_cases, FitConfig};
use replay::run::{evaluate, Setup};
use replay::server::{Server, ServerConfig};
use shop_personalizer::privacy::accountant::{epsilon_from_rho, rho_per_update};
use shop_personalizer::rank::features::SERVER_RANK;
use shop_personalizer::rank::{RankParams, NUM_FEATURES};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimulationError {
    #[error("{0}")]
    Replay(#[from] replay::ReplayError),
    #[error("{0}")]
    Rank(#[from] shop_personalizer::rank::RankError),
    #[error("device sync step failed: {0}")]
    Sync(shop_personalizer::sync::SyncError),
    #[error("invalid setting: {0}")]
    Config(String),
}

const USAGE: &str = "usage: simulation --train FILE --test FILE [--devices 5000] [--rounds 40] [--cohort 1000]
       [--local-epochs 2] [--local-lr 0.05] [--clip 0.5] [--noise 1.0] [--server-lr 1.0]
       [--central-noise Z] [--round-rule median-window:4] [--hostile-share 0] [--attack flip|spike|inlier]
       [--aggregation local|dap|dap-proofs] [--noise-sweep 0.5,1,2,4 [--dap-cohort 100]]
       [--robustness mean,trimmed-mean:0.1,median-window:4 [--hostile-shares 0,0.01,0.1]]
       [--tune 'base;local-lr=0.1+local-epochs=4;clip=1' [--tune-share 0.2]]
       [--validation-share 0.1] [--max-cases 40000] [--eval-cases 0 (all)]
       [--threads 2] [--seed 17] [--out simulation-out]";

struct Options {
    train: PathBuf,
    test: PathBuf,
    devices: usize,
    validation_share: f64,
    max_cases: usize,
    eval_cases: usize,
    threads: usize,
    out: PathBuf,
    federated: FederatedConfig,
    /// `--robustness RULES`: each round rule under hostile shares, instead of one run.
    robustness: Vec<RoundRule>,
    hostile_shares: Vec<f64>,
    /// `--noise-sweep Z,...`: each noise multiplier with local noise and with DAP, instead of one run.
    noise_sweep: Vec<f64>,
    /// The DAP batch size of the sweep's DAP runs.
    dap_cohort: usize,
    /// `--tune GRID`: each setting scored on held-out training cases, instead of one run.
    tune: String,
    tune_share: f64,
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        train: PathBuf::new(),
        test: PathBuf::new(),
        devices: 5_000,
        validation_share: 0.1,
        max_cases: 40_000,
        eval_cases: 0,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        out: PathBuf::from("simulation-out"),
        federated: FederatedConfig::default(),
        robustness: Vec::new(),
        hostile_shares: vec![0.0, 0.01, 0.1],
        noise_sweep: Vec::new(),
        dap_cohort: 100,
        tune: String::new(),
        tune_share: 0.2,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|_| format!("{flag} needs a number, got {value}"));
        let count = || value.parse::<usize>().map_err(|_| format!("{flag} needs a whole number, got {value}"));
        let f = &mut options.federated;
        match flag.as_str() {
            "--train" => options.train = PathBuf::from(&value),
            "--test" => options.test = PathBuf::from(&value),
            "--devices" => options.devices = count()?,
            "--rounds" => f.rounds = count()?,
            "--cohort" => f.cohort = count()?,
            "--local-epochs" => f.local_epochs = count()?,
            "--local-lr" => f.local_learning_rate = number()? as f32,
            "--clip" => f.privacy.clip_bound = number()?,
            "--noise" => f.privacy.noise_multiplier = number()?,
            "--server-lr" => f.server_learning_rate = number()?,
            "--central-noise" => {
                f.central_noise_multiplier = Some(number()?);
                // Central noise is accounted for the plain sum only (see the aggregator's config).
                f.round_rule = RoundRule::Mean;
            }
            "--round-rule" => f.round_rule = value.parse().map_err(|()| format!("unknown round rule {value}"))?,
            "--hostile-share" => f.hostile_share = number()?,
            "--attack" => f.attack = attack::Attack::parse(&value).ok_or(format!("unknown attack {value}"))?,
            "--robustness" => {
                options.robustness = value
                    .split(',')
                    .map(|rule| rule.parse::<RoundRule>().map_err(|()| format!("{flag}: unknown round rule {rule}")))
                    .collect::<Result<_, _>>()?
            }
            "--hostile-shares" => options.hostile_shares = numbers(&flag, &value)?,
            "--aggregation" => {
                f.aggregation = match value.as_str() {
                    "local" => Aggregation::Local,
                    "dap" => Aggregation::Dap { proofs: false },
                    "dap-proofs" => Aggregation::Dap { proofs: true },
                    _ => return Err(format!("{flag}: local, dap or dap-proofs, got {value}")),
                }
            }
            "--noise-sweep" => options.noise_sweep = numbers(&flag, &value)?,
            "--dap-cohort" => options.dap_cohort = count()?,
            "--tune" => options.tune = value.clone(),
            "--tune-share" => options.tune_share = number()?,
            "--seed" => f.seed = count()? as u64,
            "--validation-share" => options.validation_share = number()?,
            "--max-cases" => options.max_cases = count()?,
            "--eval-cases" => options.eval_cases = count()?,
            "--threads" => options.threads = count()?.max(1),
            "--out" => options.out = PathBuf::from(&value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if options.train.as_os_str().is_empty() || options.test.as_os_str().is_empty() {
        return Err("--train and --test are required".to_owned());
    }
    Ok(options)
}

fn numbers(flag: &str, value: &str) -> Result<Vec<f64>, String> {
    value.split(',').map(|n| n.trim().parse::<f64>().map_err(|_| format!("{flag}: {n} is not a number"))).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("simulation: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match simulate(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simulation: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Weights that reproduce the server's own order: only the server rank counts.
fn server_order_weights() -> Vec<f32> {
    let mut weights = vec![0.0; NUM_FEATURES];
    weights[SERVER_RANK] = 1.0;
    weights
}

fn simulate(options: &Options) -> Result<(), SimulationError> {
    let started = std::time::Instant::now();
    let mut vocab = Vocabulary::default();
    let sessions = read_sessions(&options.train, &mut vocab)?;
    let (mut test_cases, _) = read_cases(&options.test, &mut vocab)?;
    if options.eval_cases > 0 {
        test_cases = sample_cases(&test_cases, options.eval_cases, 5);
    }
    let categories = HashMap::new();
    let rank_config = RankParams::default().check()?;

    // Device data: every next-item step of the held-out training sessions, featurized against a
    // server side built from the other training sessions (the test file is never read here).
    let (kept, held_out) = validation_split(&sessions, options.validation_share);
    let training_server = Server::build(&kept, vocab.len(), &categories, ServerConfig::default());
    let mut sample = sample_cases(&held_out, options.max_cases, 11);
    // `--tune`: the latest share of the device cases is held out of the devices and of the
    // central fit, and replayed like the test file (the sampled cases keep the sessions' order).
    let tune_cut = sample.len() - (sample.len() as f64 * options.tune_share.clamp(0.0, 0.9)) as usize;
    let validation_cases = if options.tune.is_empty() { Vec::new() } else { sample.split_off(tune_cut) };
    let setup = Setup {
        server: &training_server,
        vocab: &vocab,
        config: rank_config.clone(),
        weights: None,
        use_categories: false,
        threads: options.threads,
        progress: true,
        rerank_only: false,
    };
    let training = collect(&setup, &sample)?;
    eprintln!(
        "{} training cases (label among the candidates) from {} held-out sessions' steps",
        training.len(),
        held_out.len()
    );
    let monitor: Vec<_> = training.iter().step_by(10).cloned().collect();

    let initial = server_order_weights();
    if !options.tune.is_empty() {
        // A DAP tune runs as the sweep's DAP runs: batches of `--dap-cohort`, the same participation.
        let base = match options.federated.aggregation {
            Aggregation::Dap { proofs } => sweep::dap_config(&options.federated, options.dap_cohort, proofs),
            Aggregation::Local => options.federated.clone(),
        };
        let variants = validation::parse_grid(&base, &options.tune).map_err(SimulationError::Config)?;
        let held = collect(&Setup { progress: false, ..setup.clone() }, &validation_cases)?;
        let central = fit(&training, &initial, &FitConfig::default());
        let devices = deal(training, options.devices, 3);
        let replay_of = |weights: &[f32]| -> Result<(f64, f64), SimulationError> {
            let setup = Setup { weights: Some(weights.to_vec()), progress: false, ..setup.clone() };
            let (_, device) = evaluate(&setup, &validation_cases, "validation")?;
            Ok((device.at(20).hr, device.at(20).mrr))
        };
        let md = validation::table(&devices, &initial, &variants, (&validation_cases, &held), &central, replay_of)?;
        let md = format!("{md}\n{} devices; run time {:.0} s.\n", devices.len(), started.elapsed().as_secs_f64());
        println!("{md}");
        return write_out(&options.out, "validation.md", &md);
    }
    let central = fit(&training, &initial, &FitConfig::default());
    let devices = deal(training.clone(), options.devices, 3);
    let config = &options.federated;
    let test_server = Server::build(&sessions, vocab.len(), &categories, ServerConfig::default());
    if !options.robustness.is_empty() {
        let rules = &options.robustness;
        let md = robustness::table(&devices, &initial, config, rules, &options.hostile_shares, |weights| {
            let setup =
                Setup { server: &test_server, weights: Some(weights.to_vec()), progress: false, ..setup.clone() };
            let (_, device) = evaluate(&setup, &test_cases, "replay")?;
            Ok((device.at(20).hr, device.at(20).mrr))
        })?;
        let md = format!(
            "{md}\n{} test cases, {} devices, {} rounds of {} (hostile devices send the worst update the checks admit, \
             see simulation/src/attack.rs); clip {}, noise {}; run time {:.0} s.\n",
            test_cases.len(),
            devices.len(),
            config.rounds,
            config.cohort,
            config.privacy.clip_bound,
            config.privacy.noise_multiplier,
            started.elapsed().as_secs_f64()
        );
        println!("{md}");
        return write_out(&options.out, "robustness.md", &md);
    }
    if !options.noise_sweep.is_empty() {
        let replay_of = |weights: &[f32]| -> Result<(f64, f64), SimulationError> {
            let setup =
                Setup { server: &test_server, weights: Some(weights.to_vec()), progress: false, ..setup.clone() };
            let (_, device) = evaluate(&setup, &test_cases, "replay")?;
            Ok((device.at(20).hr, device.at(20).mrr))
        };
        let central_quality = replay_of(&central)?;
        let (dap_cohort, proofs) =
            (options.dap_cohort, matches!(config.aggregation, Aggregation::Dap { proofs: true }));
        let md = sweep::table(
            &devices,
            &initial,
            config,
            &options.noise_sweep,
            (dap_cohort, proofs),
            central_quality,
            replay_of,
        )?;
        let md = format!(
            "{md}\n{} test cases, {} devices ({} training cases); local: {} rounds of {}, DAP: {} batches of {} (each \
             device adds the noise share of a sum of {}); {} local epochs at lr {}, server lr {}, clip C = {}, δ = {:e}; \
             run time {:.0} s.\n",
            test_cases.len(),
            devices.len(),
            training.len(),
            config.rounds,
            config.cohort,
            sweep::dap_config(config, dap_cohort, proofs).rounds,
            dap_cohort,
            dap_cohort.min(shop_personalizer::sync::dap::DAP_MAX_NOISE_COHORT as usize),
            config.local_epochs,
            config.local_learning_rate,
            config.server_learning_rate,
            config.privacy.clip_bound,
            config.privacy.delta,
            started.elapsed().as_secs_f64()
        );
        println!("{md}");
        return write_out(&options.out, "noise-sweep.md", &md);
    }
    let FederatedOutcome { weights: federated, logs, participation } =
        run(&devices, &initial, config, |log, weights| {
            let (loss, hit, _mrr) = replay::fit::evaluate(&monitor, weights, 20);
            eprintln!(
            "round {:>3}: {} updates, median delta norm {:.3} ({:.0}% clipped), training loss {loss:.4}, hit@20 {:.2}%",
            log.round,
            log.accepted,
            log.median_delta_norm,
            100.0 * log.clipped_share,
            100.0 * hit
        );
        })?;

    let mut rows = Vec::new();
    for (name, weights) in [("initial (server order)", &initial), ("federated", &federated), ("central", &central)] {
        let setup = Setup { server: &test_server, weights: Some(weights.clone()), progress: true, ..setup.clone() };
        let (_, device) = evaluate(&setup, &test_cases, "replay")?;
        rows.push((name, device.at(20), device.at(10)));
    }

    let rho = rho_per_update(config.privacy.noise_multiplier);
    let delta = config.privacy.delta;
    let most_rounds = participation.iter().copied().max().unwrap_or(0);
    let mean_rounds = participation.iter().map(|&p| f64::from(p)).sum::<f64>() / participation.len().max(1) as f64;
    let mut md = String::new();
    let _ = writeln!(md, "## Federated simulation ({} test cases)\n", test_cases.len());
    let _ = writeln!(md, "| shared weights | HR@20 | MRR@20 | HR@10 | MRR@10 |\n|---|---|---|---|---|");
    for (name, at20, at10) in &rows {
        let _ = writeln!(md, "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |", at20.hr, at20.mrr, at10.hr, at10.mrr);
    }
    let ratio = 100.0 * rows[1].1.hr / rows[2].1.hr.max(1e-9);
    let _ = writeln!(md, "\nFederated HR@20 is {ratio:.1}% of central.\n");
    let _ = writeln!(
        md,
        "{} devices ({} training cases), {} rounds of {} devices ({:?} aggregation), {} local epochs at lr {}, \
         server lr {}; clip C = {}, noise z = {}, central noise {:?}.",
        devices.len(),
        training.len(),
        config.rounds,
        config.cohort,
        config.aggregation,
        config.local_epochs,
        config.local_learning_rate,
        config.server_learning_rate,
        config.privacy.clip_bound,
        config.privacy.noise_multiplier,
        config.central_noise_multiplier
    );
    let _ = writeln!(
        md,
        "Privacy (zCDP, zero-out adjacency): per update and per period (one update per period) ρ = {rho:.3}, \
         **ε = {:.2} at δ = {delta:e}**. Devices took part in {mean_rounds:.1} rounds on average (at most {most_rounds}); \
         over all periods a device spent at most ε = {:.2}.",
        epsilon_from_rho(rho, delta),
        epsilon_from_rho(rho * f64::from(most_rounds), delta)
    );
    if let Some(last) = logs.last() {
        let _ = writeln!(
            md,
            "Last round: median delta norm {:.3}, {:.0}% clipped.",
            last.median_delta_norm,
            100.0 * last.clipped_share
        );
    }
    let _ = writeln!(md, "\nRun time {:.0} s.", started.elapsed().as_secs_f64());
    println!("{md}");
    write_out(&options.out, "simulation.md", &md)
}

fn write_out(folder: &std::path::Path, name: &str, md: &str) -> Result<(), SimulationError> {
    std::fs::create_dir_all(folder)
        .and_then(|()| std::fs::write(folder.join(name), md))
        .map_err(|error| SimulationError::Config(format!("cannot write {}: {error}", folder.display())))
}
