//! Embedding similarity: the candidate against the recency-weighted session, the item being
//! viewed and the long-term profile.

use super::super::candidates::CandidateSet;
use super::super::features::{EMB_LAST, EMB_LONG_TERM, EMB_SESSION, NUM_FEATURES};
use super::super::session::SessionMemory;
use super::super::shopper::ShopperSignals;
use super::FeatureExtractor;

/// Dot product in eight independent lanes, so the compiler can vectorize it.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let (head_a, tail_a) = a.split_at(n - n % 8);
    let (head_b, tail_b) = b.split_at(n - n % 8);
    for (ca, cb) in head_a.chunks_exact(8).zip(head_b.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += ca[i] * cb[i];
        }
    }
    let tail: f32 = tail_a.iter().zip(tail_b).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

impl FeatureExtractor {
    pub(super) fn embedding_features(
        &mut self,
        set: &CandidateSet,
        shopper: &dyn ShopperSignals,
        memory: &SessionMemory,
        decay: f32,
    ) {
        let d = set.embedding_dim();
        if d == 0 {
            return;
        }
        self.session_embedding.clear();
        self.session_embedding.resize(d, 0.0);
        self.last_embedding.clear();
        self.last_embedding.resize(d, 0.0);
        for &(source, distance) in &self.walk {
            let Some(e) = memory.embedding_of(source).filter(|e| e.len() == d) else { continue };
            let norm = dot(e, e).sqrt();
            if norm <= 1e-12 {
                continue;
            }
            let w = decay.powi(distance as i32) / norm;
            for (acc, v) in self.session_embedding.iter_mut().zip(e) {
                *acc += w * v;
            }
            if distance == 0 {
                for (acc, v) in self.last_embedding.iter_mut().zip(e) {
                    *acc = v / norm;
                }
            }
        }
        let session_norm = dot(&self.session_embedding, &self.session_embedding).sqrt();
        let last_norm = dot(&self.last_embedding, &self.last_embedding).sqrt();
        let long_term = shopper.long_term_embedding().filter(|e| e.len() == d);
        let long_norm = long_term.map(|e| dot(e, e).sqrt()).unwrap_or(0.0);
        for row in 0..set.len() {
            let inv = set.inv_norms[row];
            if inv == 0.0 {
                continue;
            }
            let e = set.embedding(row);
            let x = &mut self.matrix[row * NUM_FEATURES..(row + 1) * NUM_FEATURES];
            if session_norm > 1e-12 {
                x[EMB_SESSION] = dot(e, &self.session_embedding) * inv / session_norm;
            }
            if last_norm > 1e-12 {
                x[EMB_LAST] = dot(e, &self.last_embedding) * inv / last_norm;
            }
            if let Some(lt) = long_term.filter(|_| long_norm > 1e-12) {
                x[EMB_LONG_TERM] = dot(e, lt) * inv / long_norm;
            }
        }
    }
}
