//! Choosing settings without the test file (`--tune GRID`): the latest `--tune-share` of the
//! sampled training-session steps are held out of the devices and of the central fit, every
//! setting of the grid runs the federated loop on the rest, and each final model is **replayed**
//! on the held-out steps by a fresh device against the training side's server, as the test file
//! is (HR@20 / MRR@20, what chooses), beside the central model fitted on the same device cases.
//! The table also gives the held-out cases' HR@20 among the candidates with the shared weights
//! alone (`replay::fit::evaluate`): a cheaper proxy that ignores the device's own learning during
//! the replay, and one that chose a server momentum that the replay rejected (branch `dapver`). No
//! test case is scored for it.
//!
//! A grid is `;`-separated settings, each `+`-joined `flag=value` pairs over the run's flags
//! (`base` alone is the run as configured): `base;local-lr=0.1+local-epochs=4;clip=1`.

use std::fmt::Write as _;

use replay::data::Case;
use replay::fit::{evaluate, TrainingCase};

use crate::federated::{run, Aggregation, FederatedConfig};
use crate::SimulationError;

/// One setting of a grid: its text and the run it makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    pub config: FederatedConfig,
}

/// The settings of `grid` over `base`.
pub fn parse_grid(base: &FederatedConfig, grid: &str) -> Result<Vec<Variant>, String> {
    grid.split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let mut config = base.clone();
            for pair in item.split('+').map(str::trim).filter(|pair| *pair != "base") {
                let (key, value) = pair.split_once('=').ok_or(format!("--tune: {pair} is not flag=value"))?;
                let number = || value.parse::<f64>().map_err(|_| format!("--tune: {key} needs a number, got {value}"));
                match key {
                    "server-lr" => config.server_learning_rate = number()?,
                    "local-lr" => config.local_learning_rate = number()? as f32,
                    "local-epochs" => config.local_epochs = number()? as usize,
                    "seed" => config.seed = number()? as u64,
                    "noise" => config.privacy.noise_multiplier = number()?,
                    "clip" => config.privacy.clip_bound = number()?,
                    "rounds" => config.rounds = number()? as usize,
                    "cohort" => config.cohort = number()? as usize,
                    "aggregation" => {
                        config.aggregation = match value {
                            "local" => Aggregation::Local,
                            "dap" => Aggregation::Dap { proofs: false },
                            _ => return Err(format!("--tune: aggregation=local or dap, got {value}")),
                        }
                    }
                    _ => return Err(format!("--tune: unknown setting {key}")),
                }
            }
            Ok(Variant { name: item.to_owned(), config })
        })
        .collect()
}

/// Runs every variant on `devices` and returns the markdown table of their validation quality
/// beside the central model's (`central`, fitted on the same cases the devices hold).
pub fn table(
    devices: &[Vec<TrainingCase>],
    initial: &[f32],
    variants: &[Variant],
    (steps, validation): (&[Case], &[TrainingCase]),
    central: &[f32],
    mut replay: impl FnMut(&[f32]) -> Result<(f64, f64), SimulationError>,
) -> Result<String, SimulationError> {
    let (_, central_hr, central_mrr) = evaluate(validation, central, 20);
    let (central_replay_hr, central_replay_mrr) = replay(central)?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## Validation ({} held-out training-session steps replayed, % of central HR@20; {} of them with the label \
         among the candidates for the proxy)\n",
        steps.len(),
        validation.len()
    );
    let _ = writeln!(
        md,
        "| setting | rounds of | replayed HR@20 / MRR@20 (chooses) | proxy: among the candidates, shared weights only |\n\
         |---|---|---|---|"
    );
    for variant in variants {
        let started = std::time::Instant::now();
        let outcome = run(devices, initial, &variant.config, |_, _| {})?;
        let (_, hr, mrr) = evaluate(validation, &outcome.weights, 20);
        let proxy = format!("{:.2} / {:.2} ({:.1}%)", 100.0 * hr, 100.0 * mrr, 100.0 * hr / central_hr.max(1e-9));
        let (replay_hr, replay_mrr) = replay(&outcome.weights)?;
        let cell = format!(
            "{replay_hr:.2} / {replay_mrr:.2} ({:.1}%) | {proxy}",
            100.0 * replay_hr / central_replay_hr.max(1e-9)
        );
        eprintln!(
            "tune: {} ({:?}): {cell} in {:.0} s",
            variant.name,
            variant.config.aggregation,
            started.elapsed().as_secs_f64()
        );
        let _ = writeln!(md, "| {} | {} × {} | {cell} |", variant.name, variant.config.rounds, variant.config.cohort);
    }
    let _ = writeln!(
        md,
        "| central (Adam, no privacy) | | {central_replay_hr:.2} / {central_replay_mrr:.2} | {:.2} / {:.2} |",
        100.0 * central_hr,
        100.0 * central_mrr
    );
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_sets_each_named_flag_over_the_base() {
        let base = FederatedConfig::default();
        let variants = parse_grid(&base, "base; clip=1 ;local-lr=0.1+local-epochs=4+seed=3").expect("parses");
        assert_eq!(variants.len(), 3);
        assert_eq!(variants[0].config, base);
        assert_eq!(variants[1].config.privacy.clip_bound, 1.0);
        assert_eq!(variants[1].config.local_learning_rate, base.local_learning_rate);
        let third = &variants[2].config;
        assert_eq!((third.local_learning_rate, third.local_epochs, third.seed), (0.1, 4, 3));
        assert!(parse_grid(&base, "clip").is_err());
        assert!(parse_grid(&base, "clip=wide").is_err());
        assert!(parse_grid(&base, "warp=9").is_err());
    }
}
