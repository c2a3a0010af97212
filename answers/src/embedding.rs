//! Item embeddings the server computes from co-occurrence: random indexing over the
//! co-visitation weights (optionally PPMI-reweighted), plus one smoothing pass over the
//! neighbours (a step of power iteration, so items that share neighbours move closer).
//! The mix (3 parts two-hop to 1 part first-order, raw weights) was chosen on the validation
//! split of the development data.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Weight of the smoothed (two-hop) vector against the first-order one.
const SMOOTHING: f32 = 3.0;

fn normalize_rows(vectors: &mut [f32], dim: usize) {
    for e in vectors.chunks_exact_mut(dim) {
        let norm = e.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            e.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

/// Unit-length embeddings (`items × dim`, zero rows for items without co-occurrence) from
/// `pairs` = sorted `(a << 32 | b, weight)`.
pub fn cooccurrence_embeddings(pairs: &[(u64, f32)], items: usize, dim: usize, seed: u64, ppmi: bool) -> Vec<f32> {
    if dim == 0 {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let random: Vec<f32> = (0..items * dim).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
    let mut totals = vec![0.0f64; items];
    for &(key, w) in pairs {
        totals[(key >> 32) as usize] += f64::from(w);
    }
    let grand: f64 = totals.iter().sum();
    let weight = |key: u64, w: f32| -> f32 {
        if !ppmi {
            return w;
        }
        let (a, b) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
        let pmi = (f64::from(w) * grand / (totals[a] * totals[b]).max(1e-12)).ln();
        pmi.max(0.0) as f32
    };
    let mut first = vec![0.0f32; items * dim];
    for &(key, w) in pairs {
        let (a, b) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
        let w = weight(key, w);
        for (e, r) in first[a * dim..(a + 1) * dim].iter_mut().zip(&random[b * dim..(b + 1) * dim]) {
            *e += w * r;
        }
    }
    normalize_rows(&mut first, dim);
    let mut second = vec![0.0f32; items * dim];
    for &(key, w) in pairs {
        let (a, b) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
        let w = weight(key, w);
        for d in 0..dim {
            second[a * dim + d] += w * first[b * dim + d];
        }
    }
    normalize_rows(&mut second, dim);
    for (f, s) in first.iter_mut().zip(&second) {
        *f += SMOOTHING * s;
    }
    normalize_rows(&mut first, dim);
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_with_shared_neighbours_are_closer_than_strangers() {
        // 0 and 1 both co-occur with 2 and 3; 4 only with 5.
        let mut pairs = Vec::new();
        for (a, b) in [(0u64, 2u64), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0), (3, 1), (4, 5), (5, 4)] {
            pairs.push((a << 32 | b, 1.0f32));
        }
        pairs.sort_unstable_by_key(|p| p.0);
        for ppmi in [false, true] {
            let e = cooccurrence_embeddings(&pairs, 6, 64, 1, ppmi);
            let cos = |x: usize, y: usize| (0..64).map(|d| e[x * 64 + d] * e[y * 64 + d]).sum::<f32>();
            assert!(cos(0, 1) > 0.9, "{}", cos(0, 1));
            assert!(cos(0, 4).abs() < cos(0, 1) - 0.5);
        }
    }
}
