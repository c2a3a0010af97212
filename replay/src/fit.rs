//! Learning the shipped default weights offline: listwise softmax with Adam on validation cases
//! cut from the training sessions (never the test file).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shop_personalizer::rank::model::softmax_gradient;
use shop_personalizer::rank::{feature_name, interaction_inputs, project_monotone, Family, NUM_FEATURES};

pub use crate::cases::TrainingCase;
use crate::data::Case;
use crate::device::Device;
use crate::metrics::MAX_K;
use crate::progress::ProgressBar;
use crate::run::Setup;
use crate::ReplayError;

/// Settings of the offline fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Share of training sessions (the last ones in the file) held out for validation.
    pub validation_share: f64,
    /// Most validation cases used (a seeded sample when there are more).
    pub max_cases: usize,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub batch: usize,
    pub seed: u64,
    /// Share of the collected fit cases (the latest) held out of the fit for early stopping.
    pub holdout_share: f64,
    /// Share of the validation cases (the latest sessions') never fitted on: replayed with the
    /// fitted weights for the validation numbers that choose settings.
    pub eval_share: f64,
    /// Start every feature that fires from 0 instead of `init`, so that a fit does not depend on
    /// the weights shipped before it (which were chosen on the same held-out cases).
    pub cold_start: bool,
    /// Features held at weight 0 (never learned): the same fit as with their columns zeroed,
    /// without copying the cases (`--compare-without`).
    pub held_at_zero: Vec<usize>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            validation_share: 0.1,
            max_cases: 20_000,
            epochs: 40,
            learning_rate: 0.03,
            l2: 1e-4,
            batch: 64,
            seed: 11,
            holdout_share: 0.2,
            eval_share: 0.3,
            cold_start: true,
            held_at_zero: Vec::new(),
        }
    }
}

/// Seeded sample of at most `max` cases.
pub fn sample_cases(cases: &[Case], max: usize, seed: u64) -> Vec<Case> {
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order.truncate(max);
    order.sort_unstable();
    order.into_iter().map(|i| cases[i].clone()).collect()
}

/// Extracts features for every case whose label is among the pooled candidates. Also returns
/// how many cases had the label in the pool.
pub fn collect(setup: &Setup<'_>, cases: &[Case]) -> Result<Vec<TrainingCase>, ReplayError> {
    let threads = setup.threads.max(1);
    let chunk = cases.len().div_ceil(threads).max(1);
    let done = AtomicUsize::new(0);
    let mut bar = ProgressBar::new("features", cases.len(), setup.progress);
    let parts: Vec<Result<Vec<TrainingCase>, ReplayError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                let done = &done;
                scope.spawn(move || -> Result<Vec<TrainingCase>, ReplayError> {
                    let mut device = Device::new(
                        setup.server,
                        setup.vocab,
                        setup.config.clone(),
                        setup.weights.as_deref(),
                        MAX_K,
                        setup.use_categories,
                    )?;
                    let mut out = Vec::new();
                    for case in part {
                        if let Some((matrix, label_row)) = device.training_rows(&case.prefix, case.label)? {
                            out.push(TrainingCase::new(&matrix, label_row, case.prefix.len()));
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(out)
                })
            })
            .collect();
        while !handles.iter().all(|h| h.is_finished()) {
            bar.update(done.load(Ordering::Relaxed));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        handles.into_iter().map(|h| h.join().unwrap_or(Err(ReplayError::Worker))).collect()
    });
    bar.finish();
    let mut all = Vec::new();
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}

/// Zeroes the features of `family` in every case, and the interactions built from them, as the
/// extractor does when the family is switched off (to fit a model without that signal).
pub fn without_family(cases: &[TrainingCase], family: Family) -> Vec<TrainingCase> {
    let own = family.features();
    let zeroed: Vec<usize> = (0..NUM_FEATURES)
        .filter(|f| own.contains(f) || interaction_inputs(*f).iter().any(|i| own.contains(i)))
        .collect();
    let no_interactions = family == Family::Interaction;
    cases.iter().map(|c| c.without(&zeroed, no_interactions)).collect()
}

/// The features a `--compare-without` entry names (feature or family names, comma-separated),
/// with every interaction built from them.
pub fn named_features(list: &str) -> Result<Vec<usize>, ReplayError> {
    let mut own = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if let Some(family) = Family::from_name(name) {
            own.extend_from_slice(family.features());
        } else if let Some(f) = (0..NUM_FEATURES).find(|&f| feature_name(f) == name) {
            own.push(f);
        } else {
            return Err(ReplayError::Args(format!("--compare-without: no feature or family is named {name:?}")));
        }
    }
    Ok((0..NUM_FEATURES)
        .filter(|f| own.contains(f) || interaction_inputs(*f).iter().any(|i| own.contains(i)))
        .collect())
}

/// Mean listwise softmax loss, the share of cases whose label ranks in the top `k`, and the
/// mean reciprocal rank within the top `k`.
pub fn evaluate(cases: &[TrainingCase], weights: &[f32], k: usize) -> (f64, f64, f64) {
    let mut loss = 0.0;
    let mut hits = 0usize;
    let mut reciprocal = 0.0f64;
    let mut gradient = vec![0.0f32; NUM_FEATURES];
    let mut rows = Vec::new();
    let mut gains = Vec::new();
    let mut matrix = Vec::new();
    for c in cases {
        c.expand_into(&mut matrix);
        let n = c.rows();
        rows.clear();
        rows.extend(0..n);
        gains.clear();
        gains.extend((0..n).map(|r| if r == c.label_row { 1.0 } else { 0.0 }));
        loss += f64::from(softmax_gradient(&matrix, &rows, &gains, weights, &mut gradient));
        let score = |r: usize| {
            matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES].iter().zip(weights).map(|(x, w)| x * w).sum::<f32>()
        };
        let label_score = score(c.label_row);
        let above = (0..n).filter(|&r| r != c.label_row && score(r) > label_score).count();
        hits += usize::from(above < k);
        if above < k {
            reciprocal += 1.0 / (above + 1) as f64;
        }
    }
    let n = cases.len().max(1) as f64;
    (loss / n, hits as f64 / n, reciprocal / n)
}

/// Fits weights by minibatch Adam on the listwise softmax loss, starting from `init`. Projected
/// gradient: after every step the weights of features that rise with the server's placement are
/// clamped at 0 from below, so the fitted model never turns against the server's order.
pub fn fit(cases: &[TrainingCase], init: &[f32], config: &FitConfig) -> Vec<f32> {
    let mut trainer = Trainer::new(cases, init, config);
    for _ in 0..config.epochs {
        trainer.epoch(cases, config);
    }
    trainer.weights
}

/// Adam state of one fit.
struct Trainer {
    weights: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    /// Features that never fire here keep their prior: no decay pulls them to zero.
    active: Vec<bool>,
    step: i32,
    epochs_done: usize,
}

impl Trainer {
    fn new(cases: &[TrainingCase], init: &[f32], config: &FitConfig) -> Self {
        let mut active = vec![false; NUM_FEATURES];
        let mut matrix = Vec::new();
        for c in cases {
            c.expand_into(&mut matrix);
            for row in matrix.chunks_exact(NUM_FEATURES) {
                for (a, x) in active.iter_mut().zip(row) {
                    *a |= *x != 0.0;
                }
            }
        }
        let mut weights = init.to_vec();
        if config.cold_start {
            for (w, _) in weights.iter_mut().zip(&active).filter(|(_, a)| **a) {
                *w = 0.0;
            }
        }
        for &f in &config.held_at_zero {
            if let (Some(a), Some(w)) = (active.get_mut(f), weights.get_mut(f)) {
                (*a, *w) = (false, 0.0);
            }
        }
        project_monotone(&mut weights);
        Self {
            weights,
            m: vec![0.0; NUM_FEATURES],
            v: vec![0.0; NUM_FEATURES],
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            order: (0..cases.len()).collect(),
            active,
            step: 0,
            epochs_done: 0,
        }
    }

    /// One pass over `cases` in a seeded order. The step size falls linearly from
    /// `learning_rate` to a tenth of it over `epochs`, so the last epochs settle.
    fn epoch(&mut self, cases: &[TrainingCase], config: &FitConfig) {
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let progress = self.epochs_done as f32 / config.epochs.max(1) as f32;
        let learning_rate = config.learning_rate * (1.0 - 0.9 * progress.min(1.0));
        self.epochs_done += 1;
        let mut gradient = vec![0.0f32; NUM_FEATURES];
        let (mut rows, mut gains, mut matrix) = (Vec::new(), Vec::new(), Vec::new());
        self.order.shuffle(&mut self.rng);
        for batch in self.order.chunks(config.batch.max(1)) {
            gradient.iter_mut().for_each(|g| *g = 0.0);
            for &i in batch {
                let c = &cases[i];
                c.expand_into(&mut matrix);
                let n = c.rows();
                rows.clear();
                rows.extend(0..n);
                gains.clear();
                gains.extend((0..n).map(|r| if r == c.label_row { 1.0 } else { 0.0 }));
                softmax_gradient(&matrix, &rows, &gains, &self.weights, &mut gradient);
            }
            self.step += 1;
            let scale = 1.0 / batch.len() as f32;
            for f in (0..NUM_FEATURES).filter(|&f| self.active[f]) {
                let g = gradient[f] * scale + config.l2 * self.weights[f];
                self.m[f] = beta1 * self.m[f] + (1.0 - beta1) * g;
                self.v[f] = beta2 * self.v[f] + (1.0 - beta2) * g * g;
                let m_hat = self.m[f] / (1.0 - beta1.powi(self.step));
                let v_hat = self.v[f] / (1.0 - beta2.powi(self.step));
                self.weights[f] -= learning_rate * m_hat / (v_hat.sqrt() + eps);
            }
            project_monotone(&mut self.weights);
        }
    }
}

/// Splits the collected cases into a fitting part and a held-out part (the last `share` of them,
/// i.e. the latest validation sessions), for early stopping and honest validation numbers.
pub fn hold_out(cases: Vec<TrainingCase>, share: f64) -> (Vec<TrainingCase>, Vec<TrainingCase>) {
    let keep = cases.len() - ((cases.len() as f64 * share.clamp(0.0, 0.9)) as usize).min(cases.len());
    let mut cases = cases;
    let held = cases.split_off(keep);
    (cases, held)
}

/// [`fit`] epoch by epoch, keeping the weights of the epoch with the lowest listwise loss on
/// `held` (early stopping; the loss is far less noisy than MRR on a few thousand cases). Returns
/// them and that epoch (1-based; 0 = the initial weights were best).
pub fn fit_early_stopping(
    cases: &[TrainingCase],
    held: &[TrainingCase],
    init: &[f32],
    config: &FitConfig,
) -> (Vec<f32>, usize) {
    if held.is_empty() {
        return (fit(cases, init, config), config.epochs);
    }
    let mut trainer = Trainer::new(cases, init, config);
    let mut best = (evaluate(held, &trainer.weights, 1).0, trainer.weights.clone(), 0);
    for epoch in 1..=config.epochs {
        trainer.epoch(cases, config);
        let loss = evaluate(held, &trainer.weights, 1).0;
        if loss < best.0 {
            best = (loss, trainer.weights.clone(), epoch);
        }
    }
    (best.1, best.2)
}

/// The Rust source of `src/rank/default_weights.rs` for `weights`.
pub fn weights_source(weights: &[f32], provenance: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "//! Shipped default weights, index-aligned with `features::feature_name`.");
    let _ = writeln!(s, "//! Written by `replay fit --write-rust`: {provenance}");
    let _ = writeln!(s, "//! Features that never fired in the validation data keep their prior.");
    let _ = writeln!(s, "#![allow(clippy::excessive_precision)]");
    let _ = writeln!(s);
    let _ = writeln!(s, "pub const DEFAULT_WEIGHTS: [f32; {}] = [", weights.len());
    for (index, w) in weights.iter().enumerate() {
        let _ = writeln!(s, "    {w:.6}, // {}", feature_name(index));
    }
    let _ = writeln!(s, "];");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_personalizer::rank::features::SERVER_RANK;
    use shop_personalizer::rank::RISES_WITH_SERVER;

    #[test]
    fn the_fit_keeps_server_weights_non_negative_even_when_the_data_say_otherwise() {
        // The label is always the row the server ranked last: unconstrained, the rank weight would
        // go negative. Projected, it stops at 0 and the informative feature 6 does the work.
        let mut cases = Vec::new();
        for i in 0..100usize {
            let n = 4;
            let mut matrix = vec![0.0f32; n * NUM_FEATURES];
            for r in 0..n {
                matrix[r * NUM_FEATURES + SERVER_RANK] = 1.0 / (r as f32 + 2.0).log2();
            }
            matrix[(n - 1) * NUM_FEATURES + 6] = 1.0 + (i % 3) as f32 * 0.1;
            cases.push(TrainingCase::new(&matrix, n - 1, 1));
        }
        let mut init = vec![0.0; NUM_FEATURES];
        init[SERVER_RANK] = -1.0;
        let weights = fit(&cases, &init, &FitConfig { epochs: 40, ..FitConfig::default() });
        assert!(weights[SERVER_RANK] >= 0.0 && weights[SERVER_RANK] < 0.05, "{}", weights[SERVER_RANK]);
        assert!(weights[6] > 1.0, "{}", weights[6]);
    }

    #[test]
    fn fitting_learns_the_informative_feature() {
        // Feature 6 marks the label; feature 3 is noise. The fit must weigh 6 well above 3.
        let mut cases = Vec::new();
        for i in 0..200usize {
            let n = 5;
            let mut matrix = vec![0.0f32; n * NUM_FEATURES];
            let label = i % n;
            for r in 0..n {
                let mut h = (i as u64 * 1000 + r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                h ^= h >> 31;
                matrix[r * NUM_FEATURES + 3] = (h % 1000) as f32 / 1000.0;
            }
            matrix[label * NUM_FEATURES + 6] = 1.0;
            cases.push(TrainingCase::new(&matrix, label, 1));
        }
        let config = FitConfig { epochs: 30, ..FitConfig::default() };
        let weights = fit(&cases, &[0.0; NUM_FEATURES], &config);
        assert!(weights[6] > 1.0 && weights[6] > weights[3].abs() * 3.0, "{:?}", &weights[..8]);
        let (_, hit1, mrr1) = evaluate(&cases, &weights, 1);
        assert!((hit1 - mrr1).abs() < 1e-12);
        assert!(hit1 > 0.99);
        let source = weights_source(&weights, "test");
        assert!(source.contains("pub const DEFAULT_WEIGHTS"));
        assert!(weights.iter().enumerate().all(|(f, w)| !RISES_WITH_SERVER[f] || *w >= 0.0));
        assert!(
            source.contains(&format!("pub const DEFAULT_WEIGHTS: [f32; {NUM_FEATURES}]"))
                && source.contains("// cooc_fast\n")
        );
    }
}
