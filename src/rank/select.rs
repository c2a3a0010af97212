//! Choosing the shown order from scores: greedy (optionally diversified by MMR and per-category
//! caps) or, when exploring, a Plackett-Luce sample whose exact probability is logged.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::candidates::{CandidateSet, NO_CATEGORY};
use super::extract::dot;

/// How much to trade relevance for variety.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiversitySettings {
    /// 0 = pure relevance, 1 = maximal variety (MMR's 1 − λ).
    pub strength: f32,
    /// At most this many items of one (deepest) category, while other items remain.
    pub max_per_category: Option<u32>,
}

/// Reusable buffers of the selection.
#[derive(Debug, Default, Clone)]
pub struct Selector {
    pool: Vec<u32>,
    max_sim: Vec<f32>,
    taken: Vec<bool>,
    category_counts: Vec<u32>,
    keys: Vec<f32>,
}

/// Score descending; ties go to the earlier `order` (the server's order; the row when `order` is
/// shorter).
fn by_score<'a>(scores: &'a [f32], order: &'a [u32]) -> impl Fn(&u32, &u32) -> std::cmp::Ordering + 'a {
    let key = move |r: u32| (order.get(r as usize).copied().unwrap_or(r), r);
    move |a, b| scores[*b as usize].total_cmp(&scores[*a as usize]).then(key(*a).cmp(&key(*b)))
}

/// Moves the `needed` best rows (score desc, then `order` asc) to the front of `rows`, sorted.
fn top_sorted(rows: &mut [u32], scores: &[f32], order: &[u32], needed: usize) {
    let needed = needed.min(rows.len());
    if needed == 0 {
        return;
    }
    let by_score = by_score(scores, order);
    let mut compare = |a, b| by_score(&a, &b);
    crate::ordering::select_rows_by(rows, needed, &mut compare);
    crate::ordering::sort_rows_by(&mut rows[..needed], &mut compare);
}

fn similarity(set: &CandidateSet, a: usize, b: usize) -> f32 {
    let (ia, ib) = (set.inv_norms[a], set.inv_norms[b]);
    if ia > 0.0 && ib > 0.0 {
        return dot(set.embedding(a), set.embedding(b)) * ia * ib;
    }
    let (ca, cb) = (set.primary_category[a], set.primary_category[b]);
    if ca != NO_CATEGORY && ca == cb {
        1.0
    } else {
        0.0
    }
}

impl Selector {
    /// Appends to `out` the best `needed` of `rows` in greedy order; equal scores keep the
    /// server's order (`server_order[row]`, lower first). With diversity on, picks by maximal
    /// marginal relevance among the strongest `3 × needed` (at least 50) rows.
    #[allow(clippy::too_many_arguments)]
    pub fn greedy(
        &mut self,
        set: &CandidateSet,
        scores: &[f32],
        server_order: &[u32],
        rows: &[u32],
        needed: usize,
        diversity: DiversitySettings,
        out: &mut Vec<u32>,
    ) {
        self.pool.clear();
        self.pool.extend_from_slice(rows);
        let needed = needed.min(rows.len());
        let plain = diversity.strength <= 0.0 && diversity.max_per_category.is_none();
        if plain {
            top_sorted(&mut self.pool, scores, server_order, needed);
            out.extend_from_slice(&self.pool[..needed]);
            return;
        }
        let considered =
            if diversity.strength > 0.0 { (needed * 3).max(50).min(self.pool.len()) } else { self.pool.len() };
        top_sorted(&mut self.pool, scores, server_order, considered);
        self.pool.truncate(considered);
        let (lo, hi) = self.pool.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(scores[r as usize]), hi.max(scores[r as usize]))
        });
        let span = if hi > lo { hi - lo } else { 1.0 };
        self.max_sim.clear();
        self.max_sim.resize(self.pool.len(), 0.0);
        self.taken.clear();
        self.taken.resize(self.pool.len(), false);
        self.category_counts.clear();
        self.category_counts.resize(set.attr_keys.len(), 0);
        let lambda = 1.0 - diversity.strength.clamp(0.0, 1.0);
        let cap = diversity.max_per_category.unwrap_or(u32::MAX);
        for _ in 0..needed {
            let mut best: Option<(usize, f32, bool)> = None;
            for (i, &r) in self.pool.iter().enumerate() {
                if self.taken[i] {
                    continue;
                }
                let relevance = (scores[r as usize] - lo) / span;
                let value = lambda * relevance - (1.0 - lambda) * self.max_sim[i];
                let category = set.primary_category[r as usize];
                let capped = category != NO_CATEGORY && self.category_counts[category as usize] >= cap;
                let better = match best {
                    None => true,
                    Some((_, v, c)) => (c && !capped) || (c == capped && value > v),
                };
                if better {
                    best = Some((i, value, capped));
                }
            }
            let Some((i, _, _)) = best else { break };
            self.taken[i] = true;
            let chosen = self.pool[i] as usize;
            out.push(chosen as u32);
            let category = set.primary_category[chosen];
            if category != NO_CATEGORY {
                self.category_counts[category as usize] += 1;
            }
            if lambda < 1.0 {
                for (j, &r) in self.pool.iter().enumerate() {
                    if !self.taken[j] {
                        let s = similarity(set, chosen, r as usize);
                        self.max_sim[j] = self.max_sim[j].max(s);
                    }
                }
            }
        }
    }

    /// Appends to `out` a Plackett-Luce sample of `needed` of `rows` at `temperature`
    /// (Gumbel-top-k), and returns the natural log of its probability.
    pub fn sample(
        &mut self,
        scores: &[f32],
        rows: &[u32],
        needed: usize,
        temperature: f32,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u32>,
    ) -> f64 {
        let needed = needed.min(rows.len());
        self.keys.clear();
        self.keys.resize(scores.len(), f32::NEG_INFINITY);
        for &r in rows {
            let u: f64 = rng.random::<f64>().max(1e-300);
            let gumbel = -(-u.ln()).ln();
            self.keys[r as usize] = scores[r as usize] / temperature + gumbel as f32;
        }
        self.pool.clear();
        self.pool.extend_from_slice(rows);
        top_sorted(&mut self.pool, &self.keys, &[], needed);
        let start = out.len();
        out.extend_from_slice(&self.pool[..needed]);
        plackett_luce_log_prob(scores, rows, &out[start..], temperature)
    }
}

/// Natural log of the probability that a Plackett-Luce model with weights `exp(score / t)` over
/// `rows` draws exactly `order` as its first picks.
pub fn plackett_luce_log_prob(scores: &[f32], rows: &[u32], order: &[u32], temperature: f32) -> f64 {
    if order.is_empty() {
        return 0.0;
    }
    let t = f64::from(temperature);
    let max = rows.iter().map(|&r| f64::from(scores[r as usize])).fold(f64::NEG_INFINITY, f64::max);
    let mut remaining: f64 = rows.iter().map(|&r| ((f64::from(scores[r as usize]) - max) / t).exp()).sum();
    let mut log_prob = 0.0;
    for &r in order {
        let w = ((f64::from(scores[r as usize]) - max) / t).exp();
        log_prob += w.ln() - remaining.max(f64::MIN_POSITIVE).ln();
        remaining = (remaining - w).max(0.0);
    }
    log_prob
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plackett_luce_probability_matches_hand_computation() {
        // Weights e^0 = 1, e^ln2 = 2, e^ln3 = 3 (t = 1); order [2, 1] → 3/6 × 2/3 = 1/3.
        let scores = [0.0, 2f32.ln(), 3f32.ln()];
        let p = plackett_luce_log_prob(&scores, &[0, 1, 2], &[2, 1], 1.0).exp();
        assert!((p - 1.0 / 3.0).abs() < 1e-6, "{p}");
        // Every full order's probabilities add up to one.
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        let total: f64 = orders.iter().map(|o| plackett_luce_log_prob(&scores, &[0, 1, 2], o, 1.0).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn sampling_frequencies_follow_the_model() {
        let scores = [0.0, 2f32.ln(), 3f32.ln()];
        let mut selector = Selector::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut first_is_top = 0;
        let trials = 20_000;
        for _ in 0..trials {
            let mut out = Vec::new();
            selector.sample(&scores, &[0, 1, 2], 1, 1.0, &mut rng, &mut out);
            first_is_top += usize::from(out[0] == 2);
        }
        let share = first_is_top as f64 / trials as f64;
        assert!((share - 0.5).abs() < 0.02, "{share}");
    }
}
