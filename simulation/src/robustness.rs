//! The robustness table (`--robustness RULES`): the federated loop run under each round rule
//! (e.g. `mean,trimmed-mean:0.1,median-window:4`), with honest devices only and with each
//! hostile share and attack, every final model replayed on the same test cases.

use std::fmt::Write as _;

use aggregator::config::RoundRule;
use replay::fit::TrainingCase;

use crate::attack::Attack;
use crate::federated::{run, FederatedConfig};
use crate::SimulationError;

/// One row: a hostile share and its attack (`None` for the honest run).
pub type Row = (f64, Option<Attack>);

/// Share 0 once, every other share with every attack.
pub fn rows(shares: &[f64]) -> Vec<Row> {
    shares
        .iter()
        .flat_map(|&share| {
            let attacks: Vec<Option<Attack>> =
                if share == 0.0 { vec![None] } else { Attack::ALL.into_iter().map(Some).collect() };
            attacks.into_iter().map(move |attack| (share, attack))
        })
        .collect()
}

/// Runs every row under every rule from `initial` and replays each final model with
/// `evaluate` (HR@20, MRR@20 in percent); returns the markdown table.
pub fn table(
    devices: &[Vec<TrainingCase>],
    initial: &[f32],
    base: &FederatedConfig,
    rules: &[RoundRule],
    shares: &[f64],
    mut evaluate: impl FnMut(&[f32]) -> Result<(f64, f64), SimulationError>,
) -> Result<String, SimulationError> {
    let mut md = String::new();
    let _ = writeln!(md, "## Round rules under hostile devices (HR@20 / MRR@20)\n");
    let header: String = rules.iter().map(|rule| format!(" {rule} |")).collect();
    let _ = writeln!(md, "| hostile share | attack |{header}\n|---|---|{}", "---|".repeat(rules.len()));
    for (share, attack) in rows(shares) {
        let mut line = format!("| {:.0}% | {} |", 100.0 * share, attack.map_or("none (honest)", Attack::name));
        for &round_rule in rules {
            let config = FederatedConfig {
                round_rule,
                hostile_share: share,
                attack: attack.unwrap_or(Attack::Flip),
                central_noise_multiplier: None,
                ..base.clone()
            };
            let outcome = run(devices, initial, &config, |_, _| {})?;
            let hostile: usize = outcome.logs.iter().map(|log| log.hostile).sum();
            let (hr, mrr) = evaluate(&outcome.weights)?;
            eprintln!(
                "robustness: {round_rule}, hostile {share} ({}, {hostile} hostile updates admitted): HR@20 {hr:.2} \
                 MRR@20 {mrr:.2}",
                attack.map_or("honest", Attack::name)
            );
            let _ = write!(line, " {hr:.2} / {mrr:.2} |");
        }
        let _ = writeln!(md, "{line}");
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_list_the_honest_run_once_and_every_attack_per_hostile_share() {
        let rows = rows(&[0.0, 0.01, 0.1]);
        assert_eq!(rows.len(), 1 + 2 * Attack::ALL.len());
        assert_eq!(rows[0], (0.0, None));
        assert_eq!(rows[1], (0.01, Some(Attack::Flip)));
        assert!(rows[1..].iter().all(|(share, attack)| *share > 0.0 && attack.is_some()));
    }
}
