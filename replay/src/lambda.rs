//! A LambdaRank term for the offline fit: the softmax loss treats every case alike, while HR@20
//! and MRR@20 only count the top. For each candidate `j` the label is paired with, the pairwise
//! logistic gradient is weighted by how much swapping the two would change the label's
//! reciprocal rank within the top `k` (Burges, "From RankNet to LambdaRank to LambdaMART").

use shop_personalizer::rank::NUM_FEATURES;

/// The reciprocal rank within the top `k` of a 1-based rank.
fn gain(rank: usize, k: usize) -> f32 {
    if rank <= k { 1.0 / rank as f32 } else { 0.0 }
}

/// Adds `weight ×` the LambdaRank gradient of one case (`label` is its row) to `gradient`.
/// `scores` and `order` are scratch buffers.
pub fn lambda_gradient(matrix: &[f32], label: usize, weights: &[f32], k: usize, weight: f32, scores: &mut Vec<f32>, order: &mut Vec<u32>, gradient: &mut [f32]) {
    let n = matrix.len() / NUM_FEATURES;
    if label >= n || weight == 0.0 {
        return;
    }
    let row = |r: usize| &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
    scores.clear();
    scores.extend((0..n).map(|r| row(r).iter().zip(weights).map(|(x, w)| x * w).sum::<f32>()));
    order.clear();
    order.extend(0..n as u32);
    order.sort_unstable_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
    let label_rank = order.iter().position(|&r| r as usize == label).map_or(n, |p| p + 1);
    let label_gain = gain(label_rank, k);
    let label_score = scores[label];
    let mut label_pull = 0.0f32;
    for (place, &j) in order.iter().enumerate() {
        let j = j as usize;
        if j == label {
            continue;
        }
        let delta = (gain(place + 1, k) - label_gain).abs();
        if delta == 0.0 {
            continue;
        }
        let rho = 1.0 / (1.0 + (label_score - scores[j]).exp());
        let lambda = weight * delta * rho;
        label_pull += lambda;
        for (g, x) in gradient.iter_mut().zip(row(j)) {
            *g += lambda * x;
        }
    }
    for (g, x) in gradient.iter_mut().zip(row(label)) {
        *g -= label_pull * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_pushes_the_label_up_against_the_rows_above_it() {
        // Two rows, feature 0 only: label row 1 has x = 1, row 0 has x = 0, w = 0 → equal
        // scores, the sort keeps row 0 first: label rank 2. Swapping gains |1/1 − 1/2| = 0.5,
        // ρ = σ(0) = 0.5: λ = 0.25; gradient = λ (x_0 − x_1) = −0.25 on feature 0.
        let mut matrix = vec![0.0f32; 2 * NUM_FEATURES];
        matrix[NUM_FEATURES] = 1.0;
        let weights = vec![0.0f32; NUM_FEATURES];
        let mut gradient = vec![0.0f32; NUM_FEATURES];
        lambda_gradient(&matrix, 1, &weights, 20, 1.0, &mut Vec::new(), &mut Vec::new(), &mut gradient);
        assert!((gradient[0] + 0.25).abs() < 1e-6, "{}", gradient[0]);
        assert!(gradient[1..].iter().all(|g| g.abs() < 1e-9));
        // Beyond the cut-off nothing changes: k = 0 gives no gradient.
        let mut none = vec![0.0f32; NUM_FEATURES];
        lambda_gradient(&matrix, 1, &weights, 0, 1.0, &mut Vec::new(), &mut Vec::new(), &mut none);
        assert!(none.iter().all(|g| *g == 0.0));
    }
}
