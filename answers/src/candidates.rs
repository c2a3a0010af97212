//! The candidates a shop's server can compute without ever seeing a shopper's session: per item
//! its neighbours with scores (co-visitation, or a VMIS-kNN session neighbourhood), each item's
//! shop-wide popularity, an embedding computed from co-occurrence, and its category. Items are
//! dense `u32` ids; names and catalogue data live with the caller.
//!
//! The replay tool builds its server side with this code, so its numbers describe what the
//! `answers` service serves.

use std::collections::HashMap;

use shop_personalizer::catalog::AttributeKey;

use crate::covisit::co_visitation;
use crate::embedding::cooccurrence_embeddings;
use crate::vmis::{vmis_neighbours, VmisConfig};

/// Raw co-visitation weights made better embeddings than PPMI on the validation split.
const EMBEDDING_PPMI: bool = false;

/// Where an item's neighbours come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NeighbourSource {
    /// Windowed co-visitation over every training session (the replay's original server side).
    CoVisitation,
    /// VMIS-kNN (bol.com's Serenade) with the item as a one-item session.
    Vmis(VmisConfig),
}

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
    pub source: NeighbourSource,
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
            source: NeighbourSource::CoVisitation,
        }
    }
}

/// Aggregate item data computed from training sessions.
#[derive(Debug, Clone)]
pub struct CandidateIndex {
    config: ServerConfig,
    neighbours: Vec<Vec<(u32, f32)>>,
    popularity: Vec<f32>,
    embeddings: Vec<f32>,
    categories: Vec<Vec<AttributeKey>>,
    fallback: Vec<u32>,
}

/// Each item's neighbours from sorted co-visitation pairs, scored by weight / popularity^exponent.
fn covisitation_neighbours(pairs: &[(u64, f32)], popularity: &[f32], config: &ServerConfig) -> Vec<Vec<(u32, f32)>> {
    let mut neighbours: Vec<Vec<(u32, f32)>> = vec![Vec::new(); popularity.len()];
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
    neighbours
}

impl CandidateIndex {
    /// Builds the index from `sessions` (in time order, oldest first) over `items` dense ids.
    pub fn build(sessions: &[Vec<u32>], items: usize, categories: &HashMap<u32, String>, config: ServerConfig) -> Self {
        let keys = (0..items as u32)
            .map(|i| categories.get(&i).map(|c| vec![AttributeKey::Category(c.clone())]).unwrap_or_default())
            .collect();
        Self::build_with_keys(sessions, items, keys, config)
    }

    /// As [`CandidateIndex::build`], with each item's attribute keys given (one list per item).
    pub fn build_with_keys(
        sessions: &[Vec<u32>],
        items: usize,
        categories: Vec<Vec<AttributeKey>>,
        config: ServerConfig,
    ) -> Self {
        let mut popularity = vec![0.0f32; items];
        for &item in sessions.iter().flatten() {
            popularity[item as usize] += 1.0;
        }
        let pairs = co_visitation(sessions, config.window, config.backward_weight);
        let embeddings = cooccurrence_embeddings(&pairs, items, config.embedding_dim, config.seed, EMBEDDING_PPMI);
        let neighbours = match config.source {
            NeighbourSource::CoVisitation => covisitation_neighbours(&pairs, &popularity, &config),
            NeighbourSource::Vmis(vmis) => vmis_neighbours(sessions, items, &vmis, config.candidates),
        };
        drop(pairs);
        let mut fallback: Vec<u32> = (0..items as u32).filter(|&i| popularity[i as usize] > 0.0).collect();
        fallback.sort_unstable_by(|x, y| popularity[*y as usize].total_cmp(&popularity[*x as usize]).then(x.cmp(y)));
        // One spare per neighbour an answer may already hold, so fill-up never runs short.
        fallback.truncate(2 * config.candidates + 1);
        let mut categories = categories;
        categories.resize(items, Vec::new());
        Self { config, neighbours, popularity, embeddings, categories, fallback }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Items the index covers.
    pub fn items(&self) -> usize {
        self.popularity.len()
    }

    /// The answer about `item` as dense ids with scores, best first: its neighbours, filled up
    /// with popular items (scored below every neighbour).
    pub fn answer_ids(&self, item: u32, out: &mut Vec<(u32, f32)>) {
        out.clear();
        let own = self.neighbours(item);
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

    /// The most popular items, best first, with their view counts.
    pub fn popular(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.fallback.iter().map(|&i| (i, self.popularity[i as usize]))
    }

    /// `item`'s own neighbours with scores, best first (empty for an unknown item).
    pub fn neighbours(&self, item: u32) -> &[(u32, f32)] {
        self.neighbours.get(item as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn popularity(&self, item: u32) -> f32 {
        self.popularity.get(item as usize).copied().unwrap_or(0.0)
    }

    pub fn embedding(&self, item: u32) -> Option<&[f32]> {
        let d = self.config.embedding_dim;
        (d > 0 && (item as usize) < self.items()).then(|| &self.embeddings[item as usize * d..(item as usize + 1) * d])
    }

    pub fn categories(&self, item: u32) -> &[AttributeKey] {
        self.categories.get(item as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Bytes the index holds on the heap (vectors' capacity, not allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        let lists: usize = self.neighbours.iter().map(|l| l.capacity() * 8 + 24).sum();
        let keys: usize = self
            .categories
            .iter()
            .map(|k| {
                24 + k.capacity() * std::mem::size_of::<AttributeKey>()
                    + k.iter()
                        .map(|key| match key {
                            AttributeKey::Category(t) | AttributeKey::Brand(t) | AttributeKey::Tag(t) => t.capacity(),
                            AttributeKey::PriceBand(_) => 0,
                        })
                        .sum::<usize>()
            })
            .sum();
        lists + keys + self.popularity.capacity() * 4 + self.embeddings.capacity() * 4 + self.fallback.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_neighbours_then_popular_items() {
        let sessions = vec![vec![0, 1], vec![0, 1], vec![2, 3], vec![3, 3]];
        let config =
            ServerConfig { candidates: 3, embedding_dim: 4, popularity_exponent: 0.0, ..ServerConfig::default() };
        let server = CandidateIndex::build(&sessions, 4, &HashMap::new(), config);
        let mut out = Vec::new();
        server.answer_ids(0, &mut out);
        assert_eq!(out[0], (1, 2.0));
        // Fill-up by popularity: 3 (3 views) then 1 is already there, then 0 is the item itself → 2.
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 3, 2]);
        assert!(out[1].1 < out[0].1);
        let e = server.embedding(0).unwrap();
        assert!((e.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(server.embedding(9).is_none());
    }
}
