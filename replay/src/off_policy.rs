//! `replay --off-policy`: off-policy evaluation of ranking policies from logged explorations.
//!
//! The validation cases (the last `--validation-share` of the training sessions, a seeded sample
//! of `--fit-cases`) are replayed through a device that ranks with the shipped weights and
//! explores with probability `--epsilon` (a Plackett-Luce sample, as the library's ranker does),
//! logging each shown top K with the exact probability of its order. From those logs alone the
//! HR@K of other policies is estimated (the shipped weights without exploration, the server's
//! order, each signal family zeroed) and compared with the HR@K those policies really have when
//! replayed directly. The estimators are the library's (`shop_personalizer::off_policy::ranking`):
//! whole-order IPS and SNIPS, and the item-in-top-K estimator, whose weights are the probability of
//! the label landing in the top K under each policy.

use std::fmt::Write as _;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shop_personalizer::collect::EventKind;
use shop_personalizer::off_policy::ranking::{
    evaluate_rankings, top_k_inclusion, Exploration, LoggedRanking, LoggedSlot, RankingValue,
};
use shop_personalizer::rank::{
    CandidateSet, Family, InMemoryShopper, RankConfig, RankContext, RankError, RankParams, Ranker, Ranking,
    DEFAULT_WEIGHTS,
};

use crate::args::Options;
use crate::data::{validation_split, Case, Vocabulary};
use crate::fit::{sample_cases, FitConfig};
use crate::server::{Server, ServerConfig};
use crate::ReplayError;

/// Plackett-Luce samples per case for the logging policy's top-K inclusion probabilities.
const INCLUSION_DRAWS: usize = 256;
/// Affinity kept per recorded view by the replayed profile (as in `device.rs`).
const VIEW_DECAY: f32 = 0.9;

/// A policy evaluated from the logs.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The shipped weights, without exploration.
    Greedy,
    /// The server's own order of its answer about the last viewed item.
    ServerOrder,
    /// The shipped weights with one signal family's weights zeroed.
    Without(Family),
}

impl Target {
    pub fn name(&self) -> String {
        match self {
            Target::Greedy => "shipped weights, no exploration".to_owned(),
            Target::ServerOrder => "server's order".to_owned(),
            Target::Without(family) => format!("without {}", family.name()),
        }
    }

    /// Every target the demonstration evaluates.
    pub fn all() -> Vec<Target> {
        [Target::Greedy, Target::ServerOrder].into_iter().chain(Family::ALL.into_iter().map(Target::Without)).collect()
    }
}

/// What the logs say about one target, and its directly replayed value.
#[derive(Debug, Clone)]
pub struct TargetReport {
    pub target: Target,
    /// HR@K of the target replayed directly.
    pub true_value: f64,
    pub estimate: RankingValue,
}

/// The logging device: replays a case's page views, then ranks the pooled candidates.
struct LoggingDevice<'a> {
    server: &'a Server,
    vocab: &'a Vocabulary,
    ranker: Ranker,
    shopper: InMemoryShopper,
    scratch: Vec<(u32, f32)>,
    ranking: Ranking,
    use_categories: bool,
}

/// One logged case: what was shown and what each target would have shown (rows of the pool).
struct CaseLog {
    logged: Vec<u32>,
    propensity: f64,
    /// Probability each row lands in the logging policy's top K.
    inclusion: Vec<f64>,
    label_row: Option<u32>,
    targets: Vec<Vec<u32>>,
}

impl<'a> LoggingDevice<'a> {
    fn new(server: &'a Server, vocab: &'a Vocabulary, config: RankConfig, use_categories: bool) -> Self {
        LoggingDevice {
            server,
            vocab,
            ranker: Ranker::new(config),
            shopper: InMemoryShopper::new(VIEW_DECAY),
            scratch: Vec::new(),
            ranking: Ranking::default(),
            use_categories,
        }
    }

    /// The pool of candidates at the last page of `prefix` (the answers of the last pages the
    /// session memory keeps, as the device in `device.rs` pools them).
    fn pool(&mut self, prefix: &[u32]) -> Result<CandidateSet, RankError> {
        self.ranker.end_session();
        self.shopper.clear();
        let answered_from = prefix.len().saturating_sub(self.ranker.config().params().max_session_items);
        let mut current = None;
        for (step, &item) in prefix.iter().enumerate() {
            let keys = if self.use_categories { self.server.categories(item) } else { &[] };
            self.shopper.record(self.vocab.name(item), EventKind::View, step as f64, keys);
            if step >= answered_from {
                let answer = Arc::new(self.server.answer_set(item, self.vocab, &mut self.ranker, &mut self.scratch)?);
                self.ranker.remember_answer(self.vocab.name(item), self.server.about_embedding(item), answer.clone());
                current = Some(answer);
            }
        }
        let current = current.ok_or(RankError::BadParam { name: "prefix", value: 0.0, rule: "at least one view" })?;
        Ok(self.ranker.pool(&current, &self.shopper))
    }

    /// Rows of `set` in the order `weights` rank them (top `limit`), exploring when asked.
    fn rows(
        &mut self,
        set: &CandidateSet,
        weights: &[f32],
        limit: usize,
        explore: bool,
    ) -> Result<Vec<u32>, RankError> {
        self.ranker.model_mut().set_shared_weights(weights)?;
        let context = RankContext { limit, explore, ..RankContext::default() };
        self.ranker.rank_into(set, &context, &self.shopper, &mut self.ranking)?;
        Ok(self.ranking.items.iter().map(|item| item.row).collect())
    }

    fn log(
        &mut self,
        case: &Case,
        k: usize,
        targets: &[Target],
        exploration: Exploration,
        rng: &mut ChaCha8Rng,
    ) -> Result<CaseLog, RankError> {
        let pool = self.pool(&case.prefix)?;
        let shipped = DEFAULT_WEIGHTS.to_vec();
        // Every row's score under the shipped weights (the Plackett-Luce sample's weights).
        self.rows(&pool, &shipped, pool.len(), false)?;
        let mut scores = vec![f32::MIN; pool.len()];
        for item in &self.ranking.items {
            scores[item.row as usize] = item.score;
        }
        let greedy = self.rows(&pool, &shipped, k, false)?;
        let logged = self.rows(&pool, &shipped, k, true)?;
        let propensity = self.ranking.propensity;
        let inclusion = top_k_inclusion(&scores, &greedy, k, exploration, INCLUSION_DRAWS, rng);
        let mut orders = Vec::with_capacity(targets.len());
        for target in targets {
            orders.push(match target {
                Target::Greedy => greedy.clone(),
                Target::ServerOrder => self.server_rows(&pool, case, k),
                Target::Without(family) => {
                    let mut weights = shipped.clone();
                    for &f in family.features() {
                        weights[f] = 0.0;
                    }
                    self.rows(&pool, &weights, k, false)?
                }
            });
        }
        let label_row =
            self.ranker.ids().get(self.vocab.name(case.label)).and_then(|id| pool.row_of(id)).map(|r| r as u32);
        Ok(CaseLog { logged, propensity, inclusion, label_row, targets: orders })
    }

    /// The server's top `k` for the case's last item, as rows of `pool`.
    fn server_rows(&mut self, pool: &CandidateSet, case: &Case, k: usize) -> Vec<u32> {
        let Some(&last) = case.prefix.last() else { return Vec::new() };
        self.server.answer_ids(last, &mut self.scratch);
        let ids = self.ranker.ids();
        let vocab = self.vocab;
        self.scratch
            .iter()
            .filter_map(|&(item, _)| ids.get(vocab.name(item)).and_then(|id| pool.row_of(id)).map(|r| r as u32))
            .take(k)
            .collect()
    }
}

impl CaseLog {
    fn hit(order: &[u32], label: Option<u32>) -> f64 {
        f64::from(u8::from(label.is_some_and(|l| order.contains(&l))))
    }

    /// The logged ranking as seen by `target`'s order.
    fn for_target(&self, target: &[u32]) -> LoggedRanking {
        let reward = CaseLog::hit(&self.logged, self.label_row);
        let slots = self
            .logged
            .iter()
            .filter(|row| target.contains(row))
            .map(|&row| LoggedSlot {
                reward: f64::from(u8::from(Some(row) == self.label_row)),
                logging_probability: self.inclusion[row as usize],
                target_probability: 1.0,
            })
            .collect();
        LoggedRanking {
            order_propensity: self.propensity,
            target_order_probability: f64::from(u8::from(target == self.logged.as_slice())),
            reward,
            slots,
            target_slots: target.len().max(1) as f64,
        }
    }
}

/// Logs every case under exploration and estimates every target's HR@`k` from the logs.
/// Returns the logging policy's own HR@K and one report per target.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    server: &Server,
    vocab: &Vocabulary,
    params: &RankParams,
    use_categories: bool,
    cases: &[Case],
    k: usize,
    epsilon: f32,
    threads: usize,
) -> Result<(f64, Vec<TargetReport>), ReplayError> {
    let config = RankParams { exploration_epsilon: epsilon, ..params.clone() }.check()?;
    let exploration =
        Exploration { epsilon: f64::from(epsilon), temperature: f64::from(config.params().exploration_temperature) };
    let targets = Target::all();
    let part = cases.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<Result<Vec<CaseLog>, ReplayError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(part)
            .enumerate()
            .map(|(n, chunk)| {
                let (config, targets) = (config.clone(), &targets);
                scope.spawn(move || -> Result<Vec<CaseLog>, ReplayError> {
                    let mut device = LoggingDevice::new(server, vocab, config, use_categories);
                    let mut rng = ChaCha8Rng::seed_from_u64(0x0ff_9011c7 + n as u64);
                    let logs: Result<Vec<CaseLog>, RankError> =
                        chunk.iter().map(|case| device.log(case, k, targets, exploration, &mut rng)).collect();
                    Ok(logs?)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(Err(ReplayError::Worker))).collect()
    });
    let mut logs = Vec::with_capacity(cases.len());
    for part in parts {
        logs.extend(part?);
    }
    let logging_value =
        logs.iter().map(|log| CaseLog::hit(&log.logged, log.label_row)).sum::<f64>() / logs.len().max(1) as f64;
    let mut reports = Vec::with_capacity(targets.len());
    for (t, target) in targets.into_iter().enumerate() {
        let true_value =
            logs.iter().map(|log| CaseLog::hit(&log.targets[t], log.label_row)).sum::<f64>() / logs.len().max(1) as f64;
        let logged: Vec<LoggedRanking> = logs.iter().map(|log| log.for_target(&log.targets[t])).collect();
        let estimate =
            evaluate_rankings(&logged).map_err(|e| ReplayError::Args(format!("off-policy evaluation: {e}")))?;
        reports.push(TargetReport { target, true_value, estimate });
    }
    Ok((logging_value, reports))
}

/// `replay --off-policy`: builds the server side from all but the validation sessions, logs and
/// evaluates a seeded sample of the validation cases, prints the table and writes it to
/// `<out>/off_policy.md`.
pub fn run(
    o: &Options,
    sessions: &[Vec<u32>],
    vocab: &Vocabulary,
    categories: &std::collections::HashMap<u32, String>,
    server_config: ServerConfig,
    params: &RankParams,
) -> Result<(), ReplayError> {
    let (kept, held_out) = validation_split(sessions, o.validation_share);
    let server = Server::build(&kept, vocab.len(), categories, server_config);
    let cases = sample_cases(&held_out, o.fit_cases, FitConfig::default().seed);
    eprintln!("off-policy: logging {} validation cases with exploration ε = {}", cases.len(), o.epsilon);
    let (logging_value, reports) =
        evaluate(&server, vocab, params, !categories.is_empty(), &cases, o.k, o.epsilon, o.threads)?;
    let md = table(logging_value, &reports, cases.len(), o.k, o.epsilon);
    std::fs::create_dir_all(&o.out)
        .map_err(|e| ReplayError::Write { path: o.out.display().to_string(), reason: e.to_string() })?;
    let path = o.out.join("off_policy.md");
    std::fs::write(&path, &md)
        .map_err(|e| ReplayError::Write { path: path.display().to_string(), reason: e.to_string() })?;
    println!("{md}");
    Ok(())
}

/// The comparison as a markdown table (values in percent).
pub fn table(logging_value: f64, reports: &[TargetReport], cases: usize, k: usize, epsilon: f32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Off-policy evaluation: HR@{k} estimated from {cases} rankings logged with exploration ε = {epsilon}\n"
    );
    let _ = writeln!(out, "Logging policy (shipped weights, exploring): HR@{k} {:.2}%\n", 100.0 * logging_value);
    let _ = writeln!(out, "| policy | true HR@{k} | IPS (whole order) | SNIPS (whole order) | item in top {k} (IPS) | item in top {k} (SNIPS) | ESS whole order | ESS item |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for r in reports {
        let (whole, item) = (r.estimate.whole_order, r.estimate.item_slot);
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} ± {:.2} | {:.2} | {:.2} ± {:.2} | {:.2} | {:.0} | {:.0} |",
            r.target.name(),
            100.0 * r.true_value,
            100.0 * whole.ips,
            100.0 * whole.ips_std_error,
            100.0 * whole.snips,
            100.0 * item.ips,
            100.0 * item.ips_std_error,
            100.0 * item.snips,
            whole.effective_samples,
            item.effective_samples,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_case_is_seen_through_each_targets_order() {
        // Rows 0..4 in the pool; logged top 2 = [3, 1] with propensity 0.2; label row 1.
        let log = CaseLog {
            logged: vec![3, 1],
            propensity: 0.2,
            inclusion: vec![0.1, 0.5, 0.9, 0.25],
            label_row: Some(1),
            targets: vec![],
        };
        let same = log.for_target(&[3, 1]);
        assert_eq!((same.target_order_probability, same.reward, same.target_slots), (1.0, 1.0, 2.0));
        assert_eq!(
            same.slots,
            [
                LoggedSlot { reward: 0.0, logging_probability: 0.25, target_probability: 1.0 },
                LoggedSlot { reward: 1.0, logging_probability: 0.5, target_probability: 1.0 }
            ]
        );
        let other = log.for_target(&[1, 2]);
        assert_eq!(other.target_order_probability, 0.0);
        assert_eq!(other.slots, [LoggedSlot { reward: 1.0, logging_probability: 0.5, target_probability: 1.0 }]);
        assert_eq!(CaseLog::hit(&[0, 2], Some(1)), 0.0);
        assert_eq!(CaseLog::hit(&[0, 2], None), 0.0);
    }

    #[test]
    fn every_family_and_both_baselines_are_targets() {
        let names: Vec<String> = Target::all().iter().map(Target::name).collect();
        assert_eq!(names.len(), 2 + Family::ALL.len());
        assert_eq!(names[1], "server's order");
        assert!(names.iter().all(|n| !n.is_empty()));
    }
}
