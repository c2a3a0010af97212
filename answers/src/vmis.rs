//! VMIS-kNN, the session-neighbourhood recommender of bol.com's Serenade (Kersbergen et al.,
//! "Serenade - Low-Latency Session-Based Recommendation in e-Commerce at Scale", SIGMOD 2022).
//!
//! An index keeps, per item, the `m` most recent historical sessions that hold it. For an
//! evolving session `s` of length `L`, each historical session `h` in those lists gets the
//! similarity `Σ π(p)` over the items of `s` it shares, `π(p) = (p + 1) / L` for the item at
//! position `p` (the latest item weighs 1). The `k` most similar sessions (ties: the more recent)
//! are the neighbourhood. Each item `i` of a neighbour `h` scores
//! `sim(h) · λ(h) · idf(i)`, summed over neighbours, where `λ(h) = 1 / (L − p*)` for the
//! position `p*` of the latest item of `s` that `h` shares, and `idf(i) = ln(|H| / |H_i|)`.
//!
//! The protocol lets the server see one item per request, so an answer about item `x` is the
//! VMIS-kNN recommendation for the one-item session `[x]`; the device then pools the answers
//! of the items the shopper viewed.

use std::collections::HashMap;

/// VMIS-kNN settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmisConfig {
    /// Neighbour sessions per query.
    pub k: usize,
    /// Most recent sessions kept per item.
    pub m: usize,
    /// Multiply item scores by their inverse document frequency (Serenade does).
    pub idf: bool,
}

impl Default for VmisConfig {
    fn default() -> Self {
        Self { k: 100, m: 500, idf: true }
    }
}

/// The session index: sessions are numbered in time order (a larger number is more recent).
#[derive(Debug, Clone)]
pub struct VmisIndex<'a> {
    sessions: &'a [Vec<u32>],
    /// Per item, the ids of the most recent `m` sessions holding it, most recent first.
    recent: Vec<Vec<u32>>,
    idf: Vec<f32>,
    config: VmisConfig,
}

impl<'a> VmisIndex<'a> {
    pub fn build(sessions: &'a [Vec<u32>], items: usize, config: VmisConfig) -> Self {
        let mut recent: Vec<Vec<u32>> = vec![Vec::new(); items];
        let mut holding = vec![0u32; items];
        for (id, session) in sessions.iter().enumerate().rev() {
            for (p, &item) in session.iter().enumerate() {
                if session[..p].contains(&item) {
                    continue;
                }
                holding[item as usize] += 1;
                let list = &mut recent[item as usize];
                if list.len() < config.m {
                    list.push(id as u32);
                }
            }
        }
        let total = sessions.len().max(1) as f32;
        let idf = holding.iter().map(|&n| if n == 0 { 0.0 } else { (total / n as f32).ln() }).collect();
        Self { sessions, recent, idf, config }
    }

    /// Scores items for the evolving `session` (oldest view first); items of the session
    /// itself are left out. Best first, ties by id.
    pub fn recommend(&self, session: &[u32], scores: &mut HashMap<u32, f32>) -> Vec<(u32, f32)> {
        let len = session.len();
        let mut similarity: HashMap<u32, f32> = HashMap::new();
        for (p, &item) in session.iter().enumerate() {
            if session[p + 1..].contains(&item) {
                continue; // the latest occurrence counts
            }
            let weight = (p + 1) as f32 / len as f32;
            for &h in self.recent.get(item as usize).map(Vec::as_slice).unwrap_or(&[]) {
                *similarity.entry(h).or_insert(0.0) += weight;
            }
        }
        let mut neighbours: Vec<(u32, f32)> = similarity.into_iter().collect();
        neighbours.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        neighbours.truncate(self.config.k);
        scores.clear();
        for &(h, sim) in &neighbours {
            let past = &self.sessions[h as usize];
            let Some(shared) = session.iter().rposition(|i| past.contains(i)) else { continue };
            let decay = 1.0 / (len - shared) as f32;
            for (q, &item) in past.iter().enumerate() {
                if past[..q].contains(&item) || session.contains(&item) {
                    continue;
                }
                let idf = if self.config.idf { self.idf[item as usize] } else { 1.0 };
                *scores.entry(item).or_insert(0.0) += sim * decay * idf;
            }
        }
        let mut out: Vec<(u32, f32)> = scores.iter().map(|(&i, &s)| (i, s)).filter(|e| e.1 > 0.0).collect();
        out.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// Every item's answer as the VMIS-kNN recommendation for the one-item session `[item]`,
/// at most `candidates` per item.
pub fn vmis_neighbours(
    sessions: &[Vec<u32>],
    items: usize,
    config: &VmisConfig,
    candidates: usize,
) -> Vec<Vec<(u32, f32)>> {
    let index = VmisIndex::build(sessions, items, *config);
    let mut scratch = HashMap::new();
    (0..items as u32)
        .map(|item| {
            let mut list = index.recommend(&[item], &mut scratch);
            list.truncate(candidates);
            list.shrink_to_fit();
            list
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_computed_neighbourhood() {
        // Sessions 0..3 (3 is the most recent). Query [1, 2]: π(1) = 1/2, π(2) = 1.
        let sessions = vec![vec![1, 5], vec![2, 6], vec![1, 2, 7], vec![3, 4]];
        let config = VmisConfig { k: 2, m: 10, idf: false };
        let index = VmisIndex::build(&sessions, 8, config);
        let mut scratch = HashMap::new();
        let out = index.recommend(&[1, 2], &mut scratch);
        // sim: s0 = 0.5, s1 = 1, s2 = 1.5; k = 2 keeps s2 and s1. Both share item 2 (latest,
        // λ = 1): 7 gets 1.5, 6 gets 1; 5 (only in s0) is not in the neighbourhood.
        assert_eq!(out, vec![(7, 1.5), (6, 1.0)]);
    }

    #[test]
    fn idf_and_recency_shape_one_item_answers() {
        // Item 0 is in every session; 9 only in one. k = 2: the two most recent sessions.
        let sessions = vec![vec![0, 8], vec![0, 9], vec![0, 9, 1], vec![0, 1]];
        let config = VmisConfig { k: 2, m: 10, idf: true };
        let lists = vmis_neighbours(&sessions, 10, &config, 5);
        let idf = |n: f32| (4.0f32 / n).ln();
        let answer = &lists[1];
        // Query [1]: neighbours s3, s2. 0 scores idf(0) = 0 twice and is dropped; 9 once.
        assert_eq!(answer.len(), 1);
        assert_eq!(answer[0].0, 9);
        assert!((answer[0].1 - idf(2.0)).abs() < 1e-6);
        // Query [0]: neighbours s3 and s2 (most recent): 1 twice, 9 once; 8 is too old.
        let ids: Vec<u32> = lists[0].iter().map(|e| e.0).collect();
        assert_eq!(ids, vec![1, 9]);
    }
}
