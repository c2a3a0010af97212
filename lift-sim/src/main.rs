//! `lift-sim --train FILE [--seeds N] [--lift X] [--holdout X] [--placements home,product|none] [--only TEXT]`
//!
//! Reads replay sessions (one per line, space-separated item ids), simulates one device per
//! 1–5 consecutive sessions, injects the lift into personalized devices' conversion and prints a
//! markdown table: for each privacy setting, the mean estimate, the mean CI half-width and the
//! coverage of the 95% CI over repeated seeds. Progress goes to stderr.

use std::process::ExitCode;

use lift_sim::dap_sums::secure_aggregation;
use lift_sim::sessions::{parse_sessions, Neighbours};
use lift_sim::simulation::{group_into_devices, markdown_table, run_once, summarize, BehaviourModel, Scenario};
use shop_personalizer::measure::{LiftReportConfig, NoiseMode};

struct Args {
    train: String,
    seeds: u64,
    lift: f64,
    holdout: f64,
    /// The placements broken out in the report (D = 1 + 10 × (placements + 1)); the device
    /// default has none (D = 11).
    placements: Vec<String>,
    /// Run only the scenarios whose name contains this text.
    only: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let placements = vec!["home".to_string(), "product".to_string()];
    let mut args = Args { train: String::new(), seeds: 200, lift: 0.10, holdout: 0.10, placements, only: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => args.train = value()?,
            "--seeds" => args.seeds = value()?.parse().map_err(|_| "--seeds takes a positive integer".to_string())?,
            "--lift" => args.lift = value()?.parse().map_err(|_| "--lift takes a number, e.g. 0.1".to_string())?,
            "--holdout" => {
                args.holdout = value()?.parse().map_err(|_| "--holdout takes a share, e.g. 0.1".to_string())?
            }
            "--only" => args.only = Some(value()?),
            "--placements" => {
                let list = value()?;
                args.placements =
                    if list == "none" { Vec::new() } else { list.split(',').map(str::to_string).collect() };
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.train.is_empty() {
        return Err("--train FILE is required (one session per line, space-separated item ids)".into());
    }
    if args.seeds == 0
        || !(0.0..1.0).contains(&args.holdout)
        || args.holdout == 0.0
        || !(args.lift > -1.0 && args.lift < 1.0)
    {
        return Err("need --seeds ≥ 1, 0 < --holdout < 1 and -1 < --lift < 1".into());
    }
    Ok(args)
}

fn scenarios(holdout: f64, lift: f64, placements: &[String]) -> Result<Vec<Scenario>, String> {
    let make = |name: &str, epsilon: f64, noise: NoiseMode, share: f64| -> Result<Scenario, String> {
        let report =
            LiftReportConfig { placements: placements.to_vec(), epsilon, noise, ..LiftReportConfig::default() }
                .check()
                .map_err(|e| e.to_string())?;
        Ok(Scenario { name: name.to_string(), report, holdout_share: share, injected_lift: lift })
    };
    let shared = |min_cohort| NoiseMode::SharedSums { min_cohort, helper_url: "https://helper.example".to_string() };
    Ok(vec![
        make("noise ≈ 0 (reference)", 64.0, NoiseMode::Distributed { min_cohort: 10_000_000 }, holdout)?,
        make(
            "distributed ε=1, δ=1e-6, sums of ≥ 5000 reports",
            1.0,
            NoiseMode::Distributed { min_cohort: 5000 },
            holdout,
        )?,
        make(
            "distributed ε=4, δ=1e-6, sums of ≥ 5000 reports",
            4.0,
            NoiseMode::Distributed { min_cohort: 5000 },
            holdout,
        )?,
        make(
            "secure aggregation ε=2, δ=1e-6, DAP, sums of ≥ 1000 reports (device default)",
            2.0,
            secure_aggregation(1000),
            holdout,
        )?,
        make("secure aggregation ε=2, δ=1e-6, DAP, sums of ≥ 5000 reports", 2.0, secure_aggregation(5000), holdout)?,
        make("secure aggregation ε=4, δ=1e-6, DAP, sums of ≥ 5000 reports", 4.0, secure_aggregation(5000), holdout)?,
        make("shared sums ε=2, δ=1e-6, two servers, sums of ≥ 5000 reports", 2.0, shared(5000), holdout)?,
        make("shared sums ε=4, δ=1e-6, two servers, sums of ≥ 5000 reports", 4.0, shared(5000), holdout)?,
        make("shared sums ε=4, δ=1e-6, two servers, sums of ≥ 1000 reports", 4.0, shared(1000), holdout)?,
        make("local ε=2, δ=1e-6 per report (device default)", 2.0, NoiseMode::Local, holdout)?,
        make("local ε=8, δ=1e-6 per report", 8.0, NoiseMode::Local, holdout)?,
        make("local ε=8, δ=1e-6, 50% holdout", 8.0, NoiseMode::Local, 0.5)?,
    ])
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("lift-sim: {message}\nusage: lift-sim --train FILE [--seeds 200] [--lift 0.1] [--holdout 0.1] [--placements home,product|none] [--only TEXT]");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&args.train) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("lift-sim: cannot read {}: {e}", args.train);
            return ExitCode::from(1);
        }
    };
    let sessions = match parse_sessions(&text) {
        Ok(sessions) => sessions,
        Err(e) => {
            eprintln!("lift-sim: {}: {e}", args.train);
            return ExitCode::from(1);
        }
    };
    let model = BehaviourModel::default();
    let neighbours = Neighbours::build(&sessions, 20);
    let devices = group_into_devices(sessions.len(), model.max_sessions_per_device, 0);
    eprintln!("{} sessions as {} devices; {} seeds per scenario", sessions.len(), devices.len(), args.seeds);
    let scenarios = match scenarios(args.holdout, args.lift, &args.placements) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lift-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let mut summaries = Vec::new();
    let chosen = scenarios.iter().filter(|s| args.only.as_ref().is_none_or(|only| s.name.contains(only.as_str())));
    for scenario in chosen {
        let mut reps = Vec::with_capacity(args.seeds as usize);
        for seed in 0..args.seeds {
            match run_once(&sessions, &devices, &neighbours, &model, scenario, seed + 1) {
                Ok(repetition) => reps.push(repetition),
                Err(e) => {
                    eprintln!("lift-sim: {}: {e}", scenario.name);
                    return ExitCode::from(2);
                }
            }
            eprint!("\r{}: {}/{}", scenario.name, seed + 1, args.seeds);
        }
        eprintln!();
        summaries.push(summarize(&scenario.name, scenario.injected_lift, &reps));
    }
    println!("{}", markdown_table(&summaries));
    ExitCode::SUCCESS
}
