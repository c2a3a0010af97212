//! Item embeddings trained for next-item prediction on the training sessions: the server fits
//! exactly the score the device computes from them. The device's `emb_session` feature is the
//! cosine between a candidate's vector and `Σ fast_decay^d ê(s_{t−d})` over the session's views
//! (`ê` the unit vector an answer sent about each viewed item), so the server learns, per item,
//! an *about* vector (sent as `aboutEmbedding`) and a *candidate* vector (sent with the item
//! wherever it is a candidate) such that `τ · cos(Σ decay^d ê_about(s_{t−d}), ê_candidate(next))`
//! is a good sampled-softmax score for the next view. Plain SGD over the sessions in file order,
//! one thread, every random choice from one seeded generator, so a build repeats exactly.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Settings of the next-item embedding fit (chosen on the validation cut of the development data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextItemConfig {
    /// Passes over the training sessions.
    pub epochs: usize,
    /// Negative items sampled per step (by popularity^0.75).
    pub negatives: usize,
    /// Views of the session before the next one that form its context (the latest first).
    pub context: usize,
    /// Weight per step back in the context: the device's `fast_decay` (default 0.6).
    pub decay: f32,
    /// Scale of the cosine in the softmax (an inverse temperature).
    pub scale: f32,
    /// SGD step size at the start (falls linearly to a tenth).
    pub learning_rate: f32,
    /// One vector per item for both roles instead of an about and a candidate vector.
    pub tied: bool,
    /// Start both roles from the co-occurrence vectors (random indexing) instead of at random.
    pub from_cooccurrence: bool,
}

impl Default for NextItemConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            negatives: 20,
            context: 8,
            decay: 0.6,
            scale: 10.0,
            learning_rate: 0.05,
            tied: false,
            from_cooccurrence: false,
        }
    }
}

/// The fitted vectors, unit length, `items × dim` each (zero rows for items never seen).
#[derive(Debug, Clone, PartialEq)]
pub struct NextItemEmbeddings {
    /// Sent with an item when it is a candidate.
    pub candidate: Vec<f32>,
    /// Sent as the `aboutEmbedding` of the answer about an item (empty when tied).
    pub about: Vec<f32>,
}

/// Draws items by popularity^0.75 from a cumulative table.
struct NegativeSampler {
    cumulative: Vec<f64>,
}

impl NegativeSampler {
    fn new(counts: &[f32]) -> Self {
        let mut total = 0.0f64;
        let cumulative = counts
            .iter()
            .map(|&c| {
                total += f64::from(c).powf(0.75);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> u32 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len().saturating_sub(1)) as u32
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12)
}

/// `grad ← (grad − (grad·unit) unit) / length`: the gradient through `unit = v / |v|`.
fn through_normalization(grad: &mut [f32], unit: &[f32], length: f32) {
    let along: f32 = grad.iter().zip(unit).map(|(g, u)| g * u).sum();
    for (g, u) in grad.iter_mut().zip(unit) {
        *g = (*g - along * u) / length;
    }
}

/// Scratch of one step, reused.
struct Step {
    units: Vec<f32>,
    lengths: Vec<f32>,
    weights: Vec<f32>,
    session: Vec<f32>,
    grad_session: Vec<f32>,
    out_units: Vec<f32>,
    out_lengths: Vec<f32>,
    logits: Vec<f32>,
    grad: Vec<f32>,
}

/// Fits the embeddings on `sessions` (dense ids below `items`) with `dim` dimensions, starting
/// from `start` (`items × dim`, e.g. the co-occurrence vectors) when given, else at random.
pub fn next_item_embeddings(
    sessions: &[Vec<u32>],
    items: usize,
    dim: usize,
    seed: u64,
    config: &NextItemConfig,
    start: Option<&[f32]>,
) -> NextItemEmbeddings {
    if dim == 0 || items == 0 {
        return NextItemEmbeddings { candidate: Vec::new(), about: Vec::new() };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let spread = 1.0 / (dim as f32).sqrt();
    let mut init = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| {
                let r = (rng.random::<f32>() * 2.0 - 1.0) * spread;
                // A zero start row (an item without co-occurrence) gets a small random one.
                start.filter(|s| s.len() == n && s[i - i % dim..][..dim].iter().any(|&v| v != 0.0)).map_or(r, |s| s[i])
            })
            .collect()
    };
    let mut about = init(items * dim);
    let mut candidate = if config.tied { Vec::new() } else { init(items * dim) };
    let mut counts = vec![0.0f32; items];
    for &i in sessions.iter().flatten() {
        counts[i as usize] += 1.0;
    }
    let sampler = NegativeSampler::new(&counts);
    let steps_per_epoch: usize = sessions.iter().map(|s| s.len().saturating_sub(1)).sum();
    let total_steps = (steps_per_epoch * config.epochs).max(1);
    let context = config.context.max(1);
    let outputs = config.negatives + 1;
    let mut step = Step {
        units: vec![0.0; context * dim],
        lengths: vec![0.0; context],
        weights: vec![0.0; context],
        session: vec![0.0; dim],
        grad_session: vec![0.0; dim],
        out_units: vec![0.0; outputs * dim],
        out_lengths: vec![0.0; outputs],
        logits: vec![0.0; outputs],
        grad: vec![0.0; dim],
    };
    let mut targets = vec![0u32; outputs];
    let mut ctx: Vec<u32> = Vec::with_capacity(context);
    let mut done = 0usize;
    for _ in 0..config.epochs {
        for s in sessions {
            for t in 0..s.len().saturating_sub(1) {
                let rate = config.learning_rate * (1.0 - 0.9 * done as f32 / total_steps as f32);
                done += 1;
                targets[0] = s[t + 1];
                for j in 1..outputs {
                    let mut n = sampler.draw(&mut rng);
                    if n == targets[0] {
                        n = sampler.draw(&mut rng);
                    }
                    targets[j] = n;
                }
                ctx.clear();
                ctx.extend(s[..=t].iter().rev().take(context));
                train_step(&mut about, &mut candidate, config, dim, &ctx, &targets, rate, &mut step);
            }
        }
    }
    for table in [&mut about, &mut candidate] {
        for (row, e) in table.chunks_exact_mut(dim).enumerate() {
            if counts[row] == 0.0 {
                e.iter_mut().for_each(|v| *v = 0.0);
            } else {
                let n = norm(e);
                e.iter_mut().for_each(|v| *v /= n);
            }
        }
    }
    if config.tied {
        NextItemEmbeddings { candidate: about, about: Vec::new() }
    } else {
        NextItemEmbeddings { candidate, about }
    }
}

/// One sampled-softmax step: context `ctx` (latest first), `targets[0]` the next view, the rest
/// negatives.
#[allow(clippy::too_many_arguments)]
fn train_step(
    about: &mut [f32],
    candidate: &mut [f32],
    config: &NextItemConfig,
    dim: usize,
    ctx: &[u32],
    targets: &[u32],
    rate: f32,
    st: &mut Step,
) {
    let tied = config.tied;
    st.session.iter_mut().for_each(|v| *v = 0.0);
    let mut w = 1.0f32;
    for (k, &item) in ctx.iter().enumerate() {
        let e = &about[item as usize * dim..(item as usize + 1) * dim];
        let len = norm(e);
        st.lengths[k] = len;
        st.weights[k] = w;
        let unit = &mut st.units[k * dim..(k + 1) * dim];
        for ((u, v), acc) in unit.iter_mut().zip(e).zip(st.session.iter_mut()) {
            *u = v / len;
            *acc += w * *u;
        }
        w *= config.decay;
    }
    let session_len = norm(&st.session);
    st.session.iter_mut().for_each(|v| *v /= session_len);
    let out_of = |item: u32| item as usize * dim..(item as usize + 1) * dim;
    let mut max = f32::NEG_INFINITY;
    for (j, &item) in targets.iter().enumerate() {
        let e = if tied { &about[out_of(item)] } else { &candidate[out_of(item)] };
        let len = norm(e);
        st.out_lengths[j] = len;
        let unit = &mut st.out_units[j * dim..(j + 1) * dim];
        let mut dot = 0.0;
        for ((u, v), q) in unit.iter_mut().zip(e).zip(&st.session) {
            *u = v / len;
            dot += *u * q;
        }
        st.logits[j] = config.scale * dot;
        max = max.max(st.logits[j]);
    }
    let total: f32 = st.logits.iter().map(|z| (z - max).exp()).sum();
    st.grad_session.iter_mut().for_each(|v| *v = 0.0);
    for j in 0..targets.len() {
        let p = (st.logits[j] - max).exp() / total;
        let g = config.scale * (p - if j == 0 { 1.0 } else { 0.0 });
        let unit = &st.out_units[j * dim..(j + 1) * dim];
        for (acc, u) in st.grad_session.iter_mut().zip(unit) {
            *acc += g * u;
        }
        st.grad.iter_mut().zip(&st.session).for_each(|(d, q)| *d = g * q);
        through_normalization(&mut st.grad, unit, st.out_lengths[j]);
        let table: &mut [f32] = if tied { about } else { candidate };
        for (v, d) in table[out_of(targets[j])].iter_mut().zip(&st.grad) {
            *v -= rate * d;
        }
    }
    through_normalization(&mut st.grad_session, &st.session, session_len);
    for (k, &item) in ctx.iter().enumerate() {
        st.grad.iter_mut().zip(&st.grad_session).for_each(|(d, g)| *d = st.weights[k] * g);
        through_normalization(&mut st.grad, &st.units[k * dim..(k + 1) * dim], st.lengths[k]);
        for (v, d) in about[out_of(item)].iter_mut().zip(&st.grad) {
            *v -= rate * d;
        }
    }
}

#[cfg(test)]
#[path = "next_item_tests.rs"]
mod tests;
