//! Boosted regression trees on the residual of the linear listwise softmax: a fitted-only,
//! additive term (`score = w·x + Σ trees(x)`), fitted by Newton boosting on the same listwise
//! loss with the linear scores held fixed. Histogram splits over per-feature quantile bins; every
//! split is a raw-value threshold (`x[f] <= t` goes left), so a tree scores raw feature rows.

use shop_personalizer::rank::NUM_FEATURES;

use crate::cases::TrainingCase;

/// Settings of one boosting run.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeConfig {
    pub trees: usize,
    pub depth: usize,
    pub shrinkage: f32,
    /// L2 on leaf values (Newton step `-G / (H + lambda)`).
    pub lambda: f64,
    /// Least hessian a child must hold for a split.
    pub min_hessian: f64,
    /// Rows kept per case: the best `top_rows` by linear score (cases whose label is below them are left out).
    pub top_rows: usize,
    /// Quantile bins per feature (at most 255).
    pub bins: usize,
    pub threads: usize,
}

impl Default for TreeConfig {
    fn default() -> Self {
        Self { trees: 40, depth: 3, shrinkage: 0.1, lambda: 1.0, min_hessian: 1.0, top_rows: 50, bins: 64, threads: 2 }
    }
}

/// One complete binary tree of depth `d`: `2^d - 1` splits in breadth-first order (node `i`'s
/// children are `2i + 1`, `2i + 2`), then `2^d` leaf values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub features: Vec<u8>,
    pub thresholds: Vec<f32>,
    pub leaves: Vec<f32>,
}

impl Tree {
    pub fn score(&self, row: &[f32]) -> f32 {
        let mut node = 0usize;
        while node < self.features.len() {
            let go_left = row[usize::from(self.features[node])] <= self.thresholds[node];
            node = 2 * node + if go_left { 1 } else { 2 };
        }
        self.leaves[node - self.features.len()]
    }
}

/// The sum of trees.
pub fn forest_score(trees: &[Tree], row: &[f32]) -> f32 {
    trees.iter().map(|t| t.score(row)).sum()
}

/// The boosting rows: per case the kept rows' bins and linear scores, and the label's row.
struct Rows {
    bins: Vec<u8>,
    base: Vec<f32>,
    /// (first row, end, label row) per case.
    groups: Vec<(usize, usize, usize)>,
}

fn linear(row: &[f32], weights: &[f32]) -> f32 {
    row.iter().zip(weights).map(|(x, w)| x * w).sum()
}

/// Per-feature thresholds: up to `bins - 1` distinct quantiles of a sample of rows.
fn thresholds(cases: &[TrainingCase], weights: &[f32], config: &TreeConfig) -> Vec<Vec<f32>> {
    let mut columns = vec![Vec::new(); NUM_FEATURES];
    let step = (cases.len() / 4000).max(1);
    let mut matrix = Vec::new();
    for c in cases.iter().step_by(step) {
        c.expand_into(&mut matrix);
        for r in kept_rows(&matrix, weights, config.top_rows) {
            for (f, col) in columns.iter_mut().enumerate() {
                col.push(matrix[r * NUM_FEATURES + f]);
            }
        }
    }
    columns
        .into_iter()
        .map(|mut col| {
            col.sort_by(f32::total_cmp);
            let mut cuts: Vec<f32> =
                (1..config.bins).map(|b| col[(b * col.len() / config.bins).min(col.len().saturating_sub(1))]).collect();
            cuts.dedup();
            // The largest value gets no cut of its own (nothing would go right of it).
            if cuts.last() == col.last() {
                cuts.pop();
            }
            cuts
        })
        .collect()
}

fn kept_rows(matrix: &[f32], weights: &[f32], top: usize) -> Vec<usize> {
    let n = matrix.len() / NUM_FEATURES;
    let scores: Vec<f32> = matrix.chunks_exact(NUM_FEATURES).map(|r| linear(r, weights)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(top);
    order
}

fn bin_of(cuts: &[f32], x: f32) -> u8 {
    cuts.partition_point(|&t| t < x) as u8
}

fn build_rows(cases: &[TrainingCase], weights: &[f32], cuts: &[Vec<f32>], top: usize) -> Rows {
    let mut rows = Rows { bins: Vec::new(), base: Vec::new(), groups: Vec::new() };
    let mut matrix = Vec::new();
    for c in cases {
        c.expand_into(&mut matrix);
        let kept = kept_rows(&matrix, weights, top);
        // A label below the kept rows leaves its case out: appended, it would be the one row
        // outside them, which the trees would learn to spot.
        if !kept.contains(&c.label_row) {
            continue;
        }
        let start = rows.base.len();
        let mut label = start;
        for r in kept {
            let row = &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
            if r == c.label_row {
                label = rows.base.len();
            }
            rows.base.push(linear(row, weights));
            rows.bins.extend(row.iter().zip(cuts).map(|(&x, cut)| bin_of(cut, x)));
        }
        rows.groups.push((start, rows.base.len(), label));
    }
    rows
}

/// Softmax gradient and hessian of every row given the current scores; returns the mean loss.
fn gradients(rows: &Rows, scores: &[f32], g: &mut [f64], h: &mut [f64]) -> f64 {
    let mut loss = 0.0;
    for &(start, end, label) in &rows.groups {
        let s = &scores[start..end];
        let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = s.iter().map(|&x| f64::from(x - max).exp()).sum();
        loss += z.ln() - f64::from(scores[label] - max);
        for r in start..end {
            let p = f64::from(scores[r] - max).exp() / z;
            g[r] = p - f64::from(u8::from(r == label));
            h[r] = (p * (1.0 - p)).max(1e-6);
        }
    }
    loss / rows.groups.len().max(1) as f64
}

/// Histograms (g, h) per (node of the level, feature, bin) over `rows` in `range`.
fn histograms(
    rows: &Rows,
    node: &[u16],
    level: std::ops::Range<usize>,
    g: &[f64],
    h: &[f64],
    bins: usize,
    range: std::ops::Range<usize>,
) -> Vec<(f64, f64)> {
    let mut hist = vec![(0.0, 0.0); level.len() * NUM_FEATURES * bins];
    for r in range {
        let local = usize::from(node[r]) - level.start;
        let base = local * NUM_FEATURES * bins;
        for (f, &b) in rows.bins[r * NUM_FEATURES..(r + 1) * NUM_FEATURES].iter().enumerate() {
            let cell = &mut hist[base + f * bins + usize::from(b)];
            cell.0 += g[r];
            cell.1 += h[r];
        }
    }
    hist
}

fn grow(rows: &Rows, cuts: &[Vec<f32>], g: &[f64], h: &[f64], config: &TreeConfig) -> (Tree, Vec<u16>) {
    let n = rows.base.len();
    let bins = config.bins;
    let splits = (1usize << config.depth) - 1;
    let mut tree =
        Tree { features: vec![0; splits], thresholds: vec![f32::INFINITY; splits], leaves: vec![0.0; splits + 1] };
    let mut node = vec![0u16; n];
    let score = |gs: f64, hs: f64| gs * gs / (hs + config.lambda);
    for level in 0..config.depth {
        let level_start = (1usize << level) - 1;
        let nodes = 1usize << level;
        let threads = config.threads.max(1);
        let chunk = n.div_ceil(threads).max(1);
        let parts: Vec<Vec<(f64, f64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let node = &node;
                    let range = (t * chunk).min(n)..((t + 1) * chunk).min(n);
                    scope.spawn(move || histograms(rows, node, level_start..level_start + nodes, g, h, bins, range))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        let mut hist = parts[0].clone();
        for part in &parts[1..] {
            for (a, b) in hist.iter_mut().zip(part) {
                a.0 += b.0;
                a.1 += b.1;
            }
        }
        for local in 0..nodes {
            let id = level_start + local;
            let mut best = (0.0, 0usize, 0usize);
            for (f, cut) in cuts.iter().enumerate() {
                let cells = &hist[(local * NUM_FEATURES + f) * bins..(local * NUM_FEATURES + f + 1) * bins];
                let (gt, ht) = cells.iter().fold((0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1));
                let (mut gl, mut hl) = (0.0, 0.0);
                for (b, cell) in cells.iter().enumerate().take(cut.len()) {
                    gl += cell.0;
                    hl += cell.1;
                    let (gr, hr) = (gt - gl, ht - hl);
                    if hl < config.min_hessian || hr < config.min_hessian {
                        continue;
                    }
                    let gain = score(gl, hl) + score(gr, hr) - score(gt, ht);
                    if gain > best.0 {
                        best = (gain, f, b);
                    }
                }
            }
            if best.0 > 0.0 {
                tree.features[id] = best.1 as u8;
                tree.thresholds[id] = cuts[best.1][best.2];
            }
        }
        for (r, at) in node.iter_mut().enumerate() {
            let id = usize::from(*at);
            let f = usize::from(tree.features[id]);
            let left = tree.thresholds[id].is_infinite()
                || usize::from(rows.bins[r * NUM_FEATURES + f])
                    <= cuts[f].partition_point(|&t| t < tree.thresholds[id]);
            *at = (2 * id + if left { 1 } else { 2 }) as u16;
        }
    }
    let mut sums = vec![(0.0, 0.0); splits + 1];
    for ((&at, gr), hr) in node.iter().zip(g).zip(h) {
        let leaf = usize::from(at) - splits;
        sums[leaf].0 += gr;
        sums[leaf].1 += hr;
    }
    for (leaf, (gs, hs)) in tree.leaves.iter_mut().zip(sums) {
        *leaf = (-(gs / (hs + config.lambda)) * f64::from(config.shrinkage)) as f32;
    }
    (tree, node)
}

/// Boosts trees on `cases` over the fixed linear `weights`, keeping the count with the lowest
/// listwise loss on `held` (early stopping). Returns the trees and the held-out loss per count.
pub fn boost(
    cases: &[TrainingCase],
    held: &[TrainingCase],
    weights: &[f32],
    config: &TreeConfig,
) -> (Vec<Tree>, Vec<f64>) {
    let cuts = thresholds(cases, weights, config);
    let rows = build_rows(cases, weights, &cuts, config.top_rows);
    let held_rows = build_rows(held, weights, &cuts, config.top_rows);
    let mut scores = rows.base.clone();
    let mut held_scores = held_rows.base.clone();
    let (mut g, mut h) = (vec![0.0; scores.len()], vec![0.0; scores.len()]);
    let (mut hg, mut hh) = (vec![0.0; held_scores.len()], vec![0.0; held_scores.len()]);
    let mut trees = Vec::new();
    let mut losses = vec![gradients(&held_rows, &held_scores, &mut hg, &mut hh)];
    for _ in 0..config.trees {
        gradients(&rows, &scores, &mut g, &mut h);
        let (tree, node) = grow(&rows, &cuts, &g, &h, config);
        let splits = tree.features.len();
        for (s, &n) in scores.iter_mut().zip(&node) {
            *s += tree.leaves[usize::from(n) - splits];
        }
        let mut matrix_row = vec![0.0f32; NUM_FEATURES];
        for (r, s) in held_scores.iter_mut().enumerate() {
            // Score held rows from their bins' representative: the bin's upper cut is <= t
            // exactly when the raw value is, so any value of the bin decides alike.
            for (f, x) in matrix_row.iter_mut().enumerate() {
                let b = usize::from(held_rows.bins[r * NUM_FEATURES + f]);
                *x = cuts[f].get(b).copied().unwrap_or(f32::INFINITY);
            }
            *s += tree.score(&matrix_row);
        }
        trees.push(tree);
        losses.push(gradients(&held_rows, &held_scores, &mut hg, &mut hh));
    }
    let best = losses.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    trees.truncate(best);
    (trees, losses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(rows: &[[f32; 2]], label_row: usize) -> TrainingCase {
        let mut matrix = vec![0.0f32; rows.len() * NUM_FEATURES];
        for (r, row) in rows.iter().enumerate() {
            // Features past the interaction block are stored as they are.
            let at = NUM_FEATURES - 2;
            matrix[r * NUM_FEATURES + at..r * NUM_FEATURES + at + 2].copy_from_slice(row);
        }
        TrainingCase::new(&matrix, label_row, 1)
    }

    #[test]
    fn a_tree_sends_values_at_or_below_its_threshold_left() {
        // Depth 2: the root splits feature 1 at 0.5, its children feature 0 at 2 and at 3.
        let tree = Tree { features: vec![1, 0, 0], thresholds: vec![0.5, 2.0, 3.0], leaves: vec![1.0, 2.0, 3.0, 4.0] };
        let mut row = vec![0.0f32; NUM_FEATURES];
        row[1] = 0.5;
        row[0] = 2.0;
        assert_eq!(tree.score(&row), 1.0);
        row[0] = 2.5;
        assert_eq!(tree.score(&row), 2.0);
        row[1] = 0.6;
        assert_eq!(tree.score(&row), 3.0);
        row[0] = 3.5;
        assert_eq!(tree.score(&row), 4.0);
        assert_eq!(forest_score(&[tree.clone(), tree], &row), 8.0);
    }

    #[test]
    fn boosting_learns_a_rule_no_linear_score_can() {
        // The label is the one row where exactly one of the two features is high (XOR): every
        // linear weight vector leaves it tied with or below a decoy, trees of depth 2 find it.
        let a = NUM_FEATURES - 2;
        let cases: Vec<TrainingCase> = (0..300)
            .map(|i| {
                let rows = [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]];
                case(&rows, 2 + i % 2)
            })
            .collect();
        let weights = vec![0.0f32; NUM_FEATURES];
        let config = TreeConfig { trees: 30, depth: 2, shrinkage: 0.3, top_rows: 10, ..TreeConfig::default() };
        let (trees, losses) = boost(&cases[..200], &cases[200..], &weights, &config);
        assert!(!trees.is_empty() && losses[trees.len()] < losses[0] - 0.5, "{losses:?}");
        let score = |x: f32, y: f32| {
            let mut row = vec![0.0f32; NUM_FEATURES];
            (row[a], row[a + 1]) = (x, y);
            forest_score(&trees, &row)
        };
        for decoy in [score(0.0, 0.0), score(1.0, 1.0)] {
            assert!(score(0.0, 1.0) > decoy + 0.5 && score(1.0, 0.0) > decoy + 0.5);
        }
        // A case whose label is below the kept rows is left out of the fit, not appended.
        let below = TreeConfig { top_rows: 1, ..config };
        let (none, losses) = boost(&cases[..50], &cases[..50], &weights, &below);
        assert!(none.is_empty() && losses.iter().all(|l| l.abs() < 1e-9), "{losses:?}");
    }
}
