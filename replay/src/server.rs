//! The shop's server as the protocol allows it: built from training sessions only, it answers
//! about one item at a time with that item's co-visitation neighbours (scores), each
//! candidate's shop-wide popularity, an embedding computed from co-occurrence, and its category.

use std::collections::HashMap;

use shop_personalizer::catalog::AttributeKey;
use shop_personalizer::rank::{CandidateRow, CandidateSet, RankError, Ranker};

use crate::data::Vocabulary;
use crate::embedding::cooccurrence_embeddings;

/// Raw co-visitation weights made better embeddings than PPMI on the validation split.
const EMBEDDING_PPMI: bool = false;

/// How the server side is built. The defaults were chosen on a validation split cut from the
/// training sessions of the development data, not on any test file.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Candidates per answer.
    pub candidates: usize,
    /// Largest distance between two views of a session that still count as co-visitation.
    pub window: usize,
    /// Weight of a co-visitation where the neighbour came before the item (after = 1).
    pub backward_weight: f32,
    /// Neighbour score = co-visitation weight / popularity^exponent.
    pub popularity_exponent: f32,
    /// Neighbours sent along with each candidate (its own strongest co-visitations).
    pub candidate_neighbours: usize,
    /// Embedding dimension (0 = send none).
    pub embedding_dim: usize,
    pub seed: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            candidates: 100,
            window: 12,
            backward_weight: 1.0,
            popularity_exponent: 0.25,
            candidate_neighbours: 0,
            embedding_dim: 64,
            seed: 7,
        }
    }
}

/// Aggregate item data computed from training sessions.
#[derive(Debug, Clone)]
pub struct Server {
    config: ServerConfig,
    neighbours: Vec<Vec<(u32, f32)>>,
    popularity: Vec<f32>,
    embeddings: Vec<f32>,
    categories: Vec<Vec<AttributeKey>>,
    fallback: Vec<u32>,
}

impl Server {
    /// Builds the server from `sessions` over a vocabulary of `items` ids.
    pub fn build(sessions: &[Vec<u32>], items: usize, categories: &HashMap<u32, String>, config: ServerConfig) -> Self {
        let mut popularity = vec![0.0f32; items];
        for &item in sessions.iter().flatten() {
            popularity[item as usize] += 1.0;
        }
        let pairs = co_visitation(sessions, config.window, config.backward_weight);
        let embeddings = cooccurrence_embeddings(&pairs, items, config.embedding_dim, config.seed, EMBEDDING_PPMI);
        let mut neighbours: Vec<Vec<(u32, f32)>> = vec![Vec::new(); items];
        let mut start = 0;
        while start < pairs.len() {
            let a = (pairs[start].0 >> 32) as usize;
            let mut end = start;
            while end < pairs.len() && (pairs[end].0 >> 32) as usize == a {
                end += 1;
            }
            let mut list: Vec<(u32, f32)> = pairs[start..end]
                .iter()
                .map(|&(key, w)| {
                    let b = (key & 0xffff_ffff) as u32;
                    (b, w / popularity[b as usize].max(1.0).powf(config.popularity_exponent))
                })
                .collect();
            list.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            list.truncate(config.candidates);
            neighbours[a] = list;
            start = end;
        }
        let mut fallback: Vec<u32> = (0..items as u32).filter(|&i| popularity[i as usize] > 0.0).collect();
        fallback.sort_unstable_by(|x, y| popularity[*y as usize].total_cmp(&popularity[*x as usize]).then(x.cmp(y)));
        // One spare per neighbour an answer may already hold, so fill-up never runs short.
        fallback.truncate(2 * config.candidates + 1);
        let categories = (0..items as u32)
            .map(|i| categories.get(&i).map(|c| vec![AttributeKey::Category(c.clone())]).unwrap_or_default())
            .collect();
        Self { config, neighbours, popularity, embeddings, categories, fallback }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The server's answer about `item` as dense vocabulary ids with scores, best first: its
    /// neighbours, filled up with popular items (scored below every neighbour).
    pub fn answer_ids(&self, item: u32, out: &mut Vec<(u32, f32)>) {
        out.clear();
        let own = self.neighbours.get(item as usize).map(Vec::as_slice).unwrap_or(&[]);
        out.extend_from_slice(own);
        let floor = own.last().map_or(0.0, |l| l.1.min(0.0)) - 1.0;
        for (rank, &p) in self.fallback.iter().enumerate() {
            if out.len() >= self.config.candidates {
                break;
            }
            if p != item && !own.iter().any(|n| n.0 == p) {
                out.push((p, floor - rank as f32 * 1e-3));
            }
        }
    }

    pub fn embedding(&self, item: u32) -> Option<&[f32]> {
        let d = self.config.embedding_dim;
        (d > 0).then(|| &self.embeddings[item as usize * d..(item as usize + 1) * d])
    }

    pub fn categories(&self, item: u32) -> &[AttributeKey] {
        self.categories.get(item as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Converts the answer about `item` into a candidate set, as the storefront would.
    pub fn answer_set(
        &self,
        item: u32,
        vocab: &Vocabulary,
        ranker: &mut Ranker,
        scratch: &mut Vec<(u32, f32)>,
    ) -> Result<CandidateSet, RankError> {
        self.answer_ids(item, scratch);
        let mut builder = ranker.builder();
        let mut own: Vec<(&str, f32)> = Vec::new();
        for &(candidate, score) in scratch.iter() {
            own.clear();
            if let Some(list) = self.neighbours.get(candidate as usize) {
                own.extend(list.iter().take(self.config.candidate_neighbours).map(|&(n, s)| (vocab.name(n), s)));
            }
            builder.push(CandidateRow {
                neighbours: &own,
                id: vocab.name(candidate),
                score,
                popularity: Some(self.popularity[candidate as usize]),
                attributes: self.categories(candidate),
                embedding: self.embedding(candidate),
                ..CandidateRow::default()
            })?;
        }
        Ok(builder.finish())
    }
}

/// Weighted co-visitation pairs `(a << 32 | b, weight)`, sorted by key and summed: `b` seen
/// `d ≤ window` steps after `a` adds `1/d`, before `a` adds `backward/d`.
fn co_visitation(sessions: &[Vec<u32>], window: usize, backward: f32) -> Vec<(u64, f32)> {
    let mut pairs: Vec<(u64, f32)> = Vec::new();
    for s in sessions {
        for p in 0..s.len() {
            let lo = p.saturating_sub(window);
            let hi = (p + window + 1).min(s.len());
            for q in lo..hi {
                if q == p || s[q] == s[p] {
                    continue;
                }
                let d = p.abs_diff(q) as f32;
                let w = if q > p { 1.0 / d } else { backward / d };
                pairs.push((u64::from(s[p]) << 32 | u64::from(s[q]), w));
            }
        }
    }
    pairs.sort_unstable_by_key(|p| p.0);
    let mut merged: Vec<(u64, f32)> = Vec::with_capacity(pairs.len() / 2);
    for (key, w) in pairs {
        match merged.last_mut() {
            Some(last) if last.0 == key => last.1 += w,
            _ => merged.push((key, w)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_visitation_weights_follow_distance_and_direction() {
        // Session [0, 1, 2]: 0→1 at 1, 0→2 at 2 (1/2), 1→0 backward (0.5), 1→2 at 1 ...
        let pairs = co_visitation(&[vec![0, 1, 2]], 5, 0.5);
        let get = |a: u64, b: u64| pairs.iter().find(|p| p.0 == a << 32 | b).map(|p| p.1);
        assert_eq!(get(0, 1), Some(1.0));
        assert_eq!(get(0, 2), Some(0.5));
        assert_eq!(get(1, 0), Some(0.5));
        assert_eq!(get(2, 0), Some(0.25));
        assert_eq!(get(0, 0), None);
    }

    #[test]
    fn answers_are_neighbours_then_popular_items() {
        let sessions = vec![vec![0, 1], vec![0, 1], vec![2, 3], vec![3, 3]];
        let config =
            ServerConfig { candidates: 3, embedding_dim: 4, popularity_exponent: 0.0, ..ServerConfig::default() };
        let server = Server::build(&sessions, 4, &HashMap::new(), config);
        let mut out = Vec::new();
        server.answer_ids(0, &mut out);
        assert_eq!(out[0], (1, 2.0));
        // Fill-up by popularity: 3 (3 views) then 1 is already there, then 0 is the item itself → 2.
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 3, 2]);
        assert!(out[1].1 < out[0].1);
        let e = server.embedding(0).unwrap();
        assert!((e.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
