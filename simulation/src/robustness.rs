//! The robustness table (`--robustness β`): the federated loop run under the plain FedAvg mean
//! and under the coordinate-wise trimmed mean with `β`, with honest devices only and with each
//! hostile share and attack, every final model replayed on the same test cases.

use std::fmt::Write as _;

use replay::fit::TrainingCase;

use crate::attack::Attack;
use crate::federated::{run, FederatedConfig};
use crate::SimulationError;

/// One run of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub trim_fraction: f64,
    pub hostile_share: f64,
    /// `None` for the honest run.
    pub attack: Option<Attack>,
}

/// Rows (share, attack) × the two rules: share 0 once, every other share with every attack.
pub fn cells(trim_fraction: f64, shares: &[f64]) -> Vec<Cell> {
    let rows = shares.iter().flat_map(|&share| {
        let attacks: Vec<Option<Attack>> =
            if share == 0.0 { vec![None] } else { Attack::ALL.into_iter().map(Some).collect() };
        attacks.into_iter().map(move |attack| (share, attack))
    });
    rows.flat_map(|(hostile_share, attack)| {
        [0.0, trim_fraction].map(|trim_fraction| Cell { trim_fraction, hostile_share, attack })
    })
    .collect()
}

/// Runs every cell from `initial` and replays each final model with `evaluate` (HR@20, MRR@20
/// in percent); returns the markdown table.
pub fn table(
    devices: &[Vec<TrainingCase>],
    initial: &[f32],
    base: &FederatedConfig,
    trim_fraction: f64,
    shares: &[f64],
    mut evaluate: impl FnMut(&[f32]) -> Result<(f64, f64), SimulationError>,
) -> Result<String, SimulationError> {
    let mut results = Vec::new();
    for cell in cells(trim_fraction, shares) {
        let config = FederatedConfig {
            trim_fraction: cell.trim_fraction,
            hostile_share: cell.hostile_share,
            attack: cell.attack.unwrap_or(Attack::Flip),
            central_noise_multiplier: None,
            ..base.clone()
        };
        let outcome = run(devices, initial, &config, |_, _| {})?;
        let hostile: usize = outcome.logs.iter().map(|log| log.hostile).sum();
        let (hr, mrr) = evaluate(&outcome.weights)?;
        eprintln!(
            "robustness: trim {} hostile {} ({}, {hostile} hostile updates admitted): HR@20 {hr:.2} MRR@20 {mrr:.2}",
            cell.trim_fraction,
            cell.hostile_share,
            cell.attack.map_or("honest", Attack::name)
        );
        results.push((cell, hr, mrr));
    }
    let mut md = String::new();
    let _ = writeln!(md, "## Robust aggregation (trimmed mean, β = {trim_fraction}) vs plain FedAvg\n");
    let _ = writeln!(
        md,
        "| hostile share | attack | FedAvg mean HR@20 | MRR@20 | trimmed mean HR@20 | MRR@20 |\n|---|---|---|---|---|---|"
    );
    for pair in results.chunks(2) {
        if let [(cell, mean_hr, mean_mrr), (_, trim_hr, trim_mrr)] = pair {
            let _ = writeln!(
                md,
                "| {:.0}% | {} | {mean_hr:.2} | {mean_mrr:.2} | {trim_hr:.2} | {trim_mrr:.2} |",
                100.0 * cell.hostile_share,
                cell.attack.map_or("none (honest)", Attack::name)
            );
        }
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_pairs_each_row_with_both_rules() {
        let cells = cells(0.1, &[0.0, 0.1]);
        assert_eq!(cells.len(), 2 * (1 + Attack::ALL.len()));
        assert_eq!(cells[0], Cell { trim_fraction: 0.0, hostile_share: 0.0, attack: None });
        assert_eq!(cells[1], Cell { trim_fraction: 0.1, hostile_share: 0.0, attack: None });
        assert_eq!(cells[2], Cell { trim_fraction: 0.0, hostile_share: 0.1, attack: Some(Attack::Flip) });
        assert!(cells.chunks(2).all(|pair| pair[0].attack == pair[1].attack));
    }
}
