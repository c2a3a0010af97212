//! The attention block of feature layout 3 (see `features::ATTENTION_START`): what session models
//! (SR-GNN, STAMP, NARM) get from attention over the session items' embeddings, computed from the
//! embeddings the device already holds (the answers' own and their candidates').
//!
//! Each distinct session item `i` (its latest occurrence `d_i` steps back) gets the weight
//! `α_i ∝ exp(SHARPNESS × (cos(i, last) − 1)) / (1 + d_i)`: the items most like the page being
//! viewed lead, the older ones fade harmonically (slower than the fast decay `emb_session` uses).
//! A candidate then gets its cosine to `Σ α_i ê_i`, and over the [`POOLED_ITEMS`] most recent
//! distinct items other than itself its largest cosine and the mean square of its cosines (clipped
//! at 0), its cosines to the second and third last views, its neighbour score in the answer about
//! the second last view, and `Σ α_i × its neighbour score in the answer about i`; and its cosine to
//! the other candidates' unit embeddings weighted by the server's score and by `cooc_fast` (the
//! neighbourhood the answer and the session's co-visitation point to).

use super::super::candidates::CandidateSet;
use super::super::features::*;
use super::super::session::SessionMemory;
use super::{dot, FeatureExtractor, NONE};

/// How sharply the attention weights follow the similarity to the last item.
const SHARPNESS: f32 = 4.0;
/// Most recent distinct session items whose cosines to every candidate are pooled (max, mean
/// square, second and third last): each costs one dot product per candidate.
pub(super) const POOLED_ITEMS: usize = 3;

/// The session side of the block, rebuilt per extraction in reused buffers.
#[derive(Debug, Default, Clone)]
pub(super) struct SessionAttention {
    /// Per session entry: its attention weight (they sum to 1; 0 for an item without an embedding).
    pub(super) alpha: Vec<f32>,
    /// Per session entry: its unit embedding (row-major), and whether it has one.
    unit: Vec<f32>,
    has: Vec<bool>,
    /// `Σ α_i ê_i` and its norm.
    pooled_session: Vec<f32>,
    norm: f32,
    /// The [`POOLED_ITEMS`] most recent distinct entries with an embedding, newest first.
    recent: Vec<u32>,
    /// The candidates' unit embeddings summed with the server's score and with `cooc_fast`.
    by_answer: Vec<f32>,
    by_cooc: Vec<f32>,
}

/// Cosine between unit vector `u` (whose dot with `centroid` is `along`) and `centroid` without
/// `u`'s own share `w`: `centroid − w u` has the squared norm `‖centroid‖² − 2 w along + w²`.
fn leave_one_out(along: f32, w: f32, squared_norm: f32) -> f32 {
    let rest = squared_norm - 2.0 * w * along + w * w;
    if rest > 1e-12 {
        (along - w) / rest.sqrt()
    } else {
        0.0
    }
}

impl FeatureExtractor {
    /// The attention weights of the session entries (`entry_alpha`, 0 for an item without an
    /// embedding), the attention-pooled session vector, and the unit embeddings of the
    /// [`POOLED_ITEMS`] most recent distinct items. Runs after `read_session`, before the
    /// co-visitation features (which read `entry_alpha`).
    pub(super) fn prepare_attention(&mut self, set: &CandidateSet, memory: &SessionMemory) {
        let d = set.embedding_dim();
        let n = self.entries.len();
        let a = &mut self.attention;
        a.alpha.clear();
        a.alpha.resize(n, 0.0);
        a.recent.clear();
        a.pooled_session.clear();
        a.pooled_session.resize(d, 0.0);
        a.norm = 0.0;
        if d == 0 || n == 0 {
            return;
        }
        a.unit.clear();
        a.unit.resize(n * d, 0.0);
        a.has.clear();
        a.has.resize(n, false);
        for (k, e) in self.entries.iter().enumerate() {
            let Some(v) = memory.embedding_of(e.id).filter(|v| v.len() == d) else { continue };
            let norm = dot(v, v).sqrt();
            if norm <= 1e-12 {
                continue;
            }
            for (out, x) in a.unit[k * d..(k + 1) * d].iter_mut().zip(v) {
                *out = x / norm;
            }
            a.has[k] = true;
        }
        let last = self.entries.iter().position(|e| e.last_distance == 0).filter(|&k| a.has[k]);
        let mut total = 0.0f32;
        for k in (0..n).filter(|&k| a.has[k]) {
            let unit = &a.unit[k * d..(k + 1) * d];
            let similarity = last.map_or(1.0, |l| dot(unit, &a.unit[l * d..(l + 1) * d]));
            let alpha = (SHARPNESS * (similarity - 1.0)).exp() / (1.0 + self.entries[k].last_distance as f32);
            a.alpha[k] = alpha;
            total += alpha;
        }
        if total.is_nan() || total <= 0.0 {
            a.alpha.iter_mut().for_each(|w| *w = 0.0);
            return;
        }
        for k in 0..n {
            a.alpha[k] /= total;
            let alpha = a.alpha[k];
            if alpha > 0.0 {
                for (acc, v) in a.pooled_session.iter_mut().zip(&a.unit[k * d..(k + 1) * d]) {
                    *acc += alpha * v;
                }
            }
        }
        a.norm = dot(&a.pooled_session, &a.pooled_session).sqrt();
        for _ in 0..POOLED_ITEMS {
            let next = (0..n)
                .filter(|&k| a.has[k] && !a.recent.contains(&(k as u32)))
                .min_by_key(|&k| self.entries[k].last_distance);
            let Some(k) = next else { break };
            a.recent.push(k as u32);
        }
    }

    /// The embedding features of the attention block, for every row with an embedding.
    pub(super) fn attention_features(&mut self, set: &CandidateSet) {
        let d = set.embedding_dim();
        let a = &self.attention;
        if d == 0 || a.norm <= 1e-12 {
            return;
        }
        // Which pooled slot holds the second and third last views (NONE: no such view).
        let slot_at = |distance: u32| {
            let entry = self.walk.iter().rev().find(|w| w.1 == distance).map(|w| self.entry_of[w.0 as usize]);
            entry.and_then(|e| a.recent.iter().position(|&p| p == e)).map_or(NONE, |p| p as u32)
        };
        let (prev, prev2) = (slot_at(1), slot_at(2));
        let a = &mut self.attention;
        a.by_answer.clear();
        a.by_answer.resize(d, 0.0);
        a.by_cooc.clear();
        a.by_cooc.resize(d, 0.0);
        for (row, x) in self.matrix.chunks_exact(NUM_FEATURES).enumerate() {
            let inv = set.inv_norms[row];
            let (answer, cooc) = (x[SERVER_SCORE], x[COOC_FAST]);
            if inv == 0.0 || (answer == 0.0 && cooc == 0.0) {
                continue;
            }
            for ((s, c), v) in a.by_answer.iter_mut().zip(a.by_cooc.iter_mut()).zip(set.embedding(row)) {
                *s += answer * inv * v;
                *c += cooc * inv * v;
            }
        }
        let a = &self.attention;
        let (answer_norm, cooc_norm) = (dot(&a.by_answer, &a.by_answer), dot(&a.by_cooc, &a.by_cooc));
        let mut cosines = [0.0f32; POOLED_ITEMS];
        for row in 0..set.len() {
            let inv = set.inv_norms[row];
            if inv == 0.0 {
                continue;
            }
            let e = set.embedding(row);
            let own = self.entry_of.get(set.ids[row] as usize).copied().unwrap_or(NONE);
            let (mut max, mut square, mut others) = (0.0f32, 0.0f32, 0u32);
            for (slot, &k) in a.recent.iter().enumerate() {
                let k = k as usize;
                let c = dot(e, &a.unit[k * d..(k + 1) * d]) * inv;
                cosines[slot] = c;
                if k as u32 != own {
                    let clipped = if c > 0.0 { c } else { 0.0 };
                    if others == 0 || c > max {
                        max = c;
                    }
                    square += clipped * clipped;
                    others += 1;
                }
            }
            let x = &mut self.matrix[row * NUM_FEATURES..(row + 1) * NUM_FEATURES];
            x[EMB_ATTENTION] = dot(e, &a.pooled_session) * inv / a.norm;
            x[EMB_ANSWER] = leave_one_out(dot(e, &a.by_answer) * inv, x[SERVER_SCORE], answer_norm);
            x[EMB_COOC] = leave_one_out(dot(e, &a.by_cooc) * inv, x[COOC_FAST], cooc_norm);
            if others > 0 {
                x[EMB_MAX] = max;
                x[EMB_MEAN_SQUARE] = square / others as f32;
            }
            if prev != NONE {
                x[EMB_PREV] = cosines[prev as usize];
            }
            if prev2 != NONE {
                x[EMB_PREV2] = cosines[prev2 as usize];
            }
        }
    }
}
