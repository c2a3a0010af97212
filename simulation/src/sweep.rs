//! Quality against privacy (`--noise-sweep Z,...`): for each noise multiplier `z` the federated
//! loop runs twice from the same start, once with locally noised updates to one aggregator and
//! once with DAP secure aggregation, and each final model is replayed on the same test cases.
//! Both runs take part as often per device: the DAP run has `rounds · cohort / dap_cohort`
//! batches of `dap_cohort` reports. Each row states the per-device ε of one period (one update)
//! the ledger books, and what one DAP update costs if the two aggregators collude.

use std::fmt::Write as _;

use replay::fit::TrainingCase;
use shop_personalizer::privacy::accountant::{epsilon_from_rho, rho_per_update};
use shop_personalizer::sync::dap::DAP_MAX_NOISE_COHORT;

use crate::federated::{run, Aggregation, FederatedConfig};
use crate::SimulationError;

/// HR@20 and MRR@20 in percent of a model replayed on the test cases.
pub type Quality = (f64, f64);

/// The DAP run's settings for the local run `base` with batches of `dap_cohort` reports.
pub fn dap_config(base: &FederatedConfig, dap_cohort: usize, proofs: bool) -> FederatedConfig {
    FederatedConfig {
        aggregation: Aggregation::Dap { proofs },
        cohort: dap_cohort,
        rounds: (base.rounds * base.cohort).div_ceil(dap_cohort.max(1)),
        central_noise_multiplier: None,
        ..base.clone()
    }
}

/// Runs every `z` in both modes and returns the markdown table; `central` is the centrally
/// trained model's quality, the reference of the percentages.
pub fn table(
    devices: &[Vec<TrainingCase>],
    initial: &[f32],
    base: &FederatedConfig,
    noise_multipliers: &[f64],
    (dap_cohort, proofs): (usize, bool),
    central: Quality,
    mut evaluate: impl FnMut(&[f32]) -> Result<Quality, SimulationError>,
) -> Result<String, SimulationError> {
    let delta = base.privacy.delta;
    let mut md = String::new();
    let _ = writeln!(md, "## Quality against privacy (HR@20 / MRR@20, % of central HR@20)\n");
    let _ = writeln!(
        md,
        "| z | ε per period (booked) | local noise, one aggregator | DAP secure aggregation | one DAP update if the \
         aggregators collude |\n|---|---|---|---|---|"
    );
    let percent = |hr: f64| 100.0 * hr / central.0.max(1e-9);
    for &z in noise_multipliers {
        let mut privacy = base.privacy.clone();
        privacy.noise_multiplier = z;
        let local = FederatedConfig { privacy, aggregation: Aggregation::Local, ..base.clone() };
        let dap = dap_config(&local, dap_cohort, proofs);
        let mut cells = Vec::new();
        for config in [&local, &dap] {
            let outcome = run(devices, initial, config, |_, _| {})?;
            let (hr, mrr) = evaluate(&outcome.weights)?;
            eprintln!(
                "sweep: z = {z}, {:?}, {} rounds of {}: HR@20 {hr:.2} MRR@20 {mrr:.2}",
                config.aggregation, config.rounds, config.cohort
            );
            cells.push(format!("{hr:.2} / {mrr:.2} ({:.1}%)", percent(hr)));
        }
        let rho = rho_per_update(z);
        let cohort = (dap_cohort as u32).min(DAP_MAX_NOISE_COHORT);
        let _ = writeln!(
            md,
            "| {z} | {:.2} | {} | {} | {:.1} |",
            epsilon_from_rho(rho, delta),
            cells[0],
            cells[1],
            epsilon_from_rho(rho * f64::from(cohort), delta)
        );
    }
    let _ = writeln!(md, "| (central, no privacy) | ∞ | {:.2} / {:.2} | | |", central.0, central.1);
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dap_run_takes_part_as_often_as_the_local_run() {
        let base = FederatedConfig { rounds: 60, cohort: 1_000, ..FederatedConfig::default() };
        let dap = dap_config(&base, 100, false);
        assert_eq!((dap.rounds, dap.cohort), (600, 100));
        assert_eq!(dap.aggregation, Aggregation::Dap { proofs: false });
        assert_eq!(dap_config(&FederatedConfig { rounds: 7, cohort: 150, ..base }, 100, true).rounds, 11);
    }
}
