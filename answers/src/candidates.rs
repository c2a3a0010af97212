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
use crate::next_item::{next_item_embeddings, NextItemConfig};
use crate::recency::{weighted_popularity, Recency};
use crate::transitions::next_shares;
use crate::two_hop::{own_slots, two_hop_lists};
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

/// Where the items' embeddings come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EmbeddingSource {
    /// Random indexing over the co-visitation weights with a two-hop smoothing step; an item's
    /// about vector is its candidate vector.
    CoOccurrence,
    /// Trained for next-item prediction ([`crate::next_item`]): an about and a candidate vector.
    NextItem(NextItemConfig),
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
    /// Fill an answer short of `candidates` neighbours with two-hop neighbours (the neighbours of
    /// its neighbours, scored by the product of the two scores) before popular items.
    pub two_hop_fill: bool,
    /// With `two_hop_fill`, slots of every answer kept for two-hop neighbours even when the item
    /// has enough neighbours of its own (its weakest ones make room).
    pub two_hop_reserve: usize,
    /// Embedding dimension (0 = send none).
    pub embedding_dim: usize,
    /// Send each candidate's `next` value: the share of the answer's item's views that it came
    /// directly after ([`crate::transitions`]).
    pub next_column: bool,
    /// Steps after an item that count towards its `next` values (1: direct steps only).
    pub next_window: usize,
    pub embedding_source: EmbeddingSource,
    pub seed: u64,
    pub source: NeighbourSource,
    /// Recency weighting of the popularity and co-visitation counts (default off: plain counts).
    pub recency: Recency,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            candidates: 100,
            window: 12,
            backward_weight: 1.0,
            popularity_exponent: 0.25,
            candidate_neighbours: 0,
            // Chosen on both validation cuts (fitted, 40,000 cases): Diginetica HR@20 / MRR@20
            // 54.05 / 20.02 -> 54.54 / 20.17, #nowplaying 23.08 / 10.58 -> 23.24 / 10.68.
            two_hop_fill: true,
            two_hop_reserve: 0,
            embedding_dim: 64,
            next_column: true,
            next_window: 1,
            embedding_source: EmbeddingSource::CoOccurrence,
            seed: 7,
            source: NeighbourSource::CoVisitation,
            recency: Recency::default(),
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
    /// Per item, the two-hop neighbours that fill its answer (empty without two-hop fill).
    two_hop: Vec<Vec<(u32, f32)>>,
    /// The about vectors when they differ from the candidate vectors (else empty).
    about_embeddings: Vec<f32>,
    categories: Vec<Vec<AttributeKey>>,
    fallback: Vec<u32>,
    /// Per item, its direct successors with their shares, by successor id (empty without
    /// [`ServerConfig::next_column`]).
    transitions: Vec<Vec<(u32, f32)>>,
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
        Self::build_with_keys(sessions, None, items, keys, config)
    }

    /// As [`CandidateIndex::build`], with each item's attribute keys given (one list per item)
    /// and, for recency weighting, each session's time in the half-lives' unit (`None`: the
    /// sessions are spread evenly over one unit in their order, [`crate::recency`]).
    pub fn build_with_keys(
        sessions: &[Vec<u32>],
        times: Option<&[f64]>,
        items: usize,
        categories: Vec<Vec<AttributeKey>>,
        config: ServerConfig,
    ) -> Self {
        let (view_weights, pair_weights) = config.recency.session_weights(sessions.len(), times);
        let popularity = weighted_popularity(sessions, items, view_weights.as_deref());
        // Neighbour scores are normalised by views weighted as the co-visitations are.
        let pair_popularity =
            (pair_weights != view_weights).then(|| weighted_popularity(sessions, items, pair_weights.as_deref()));
        let transitions =
            if config.next_column { next_shares(sessions, items, config.next_window) } else { Vec::new() };
        let pairs = co_visitation(sessions, config.window, config.backward_weight, pair_weights.as_deref());
        let (embeddings, about_embeddings) = match config.embedding_source {
            EmbeddingSource::CoOccurrence => {
                (cooccurrence_embeddings(&pairs, items, config.embedding_dim, config.seed, EMBEDDING_PPMI), Vec::new())
            }
            EmbeddingSource::NextItem(next) => {
                let start = next
                    .from_cooccurrence
                    .then(|| cooccurrence_embeddings(&pairs, items, config.embedding_dim, config.seed, EMBEDDING_PPMI));
                let e =
                    next_item_embeddings(sessions, items, config.embedding_dim, config.seed, &next, start.as_deref());
                (e.candidate, e.about)
            }
        };
        let neighbours = match config.source {
            NeighbourSource::CoVisitation => {
                covisitation_neighbours(&pairs, pair_popularity.as_deref().unwrap_or(&popularity), &config)
            }
            NeighbourSource::Vmis(vmis) => vmis_neighbours(sessions, items, &vmis, config.candidates),
        };
        drop(pairs);
        let two_hop = if config.two_hop_fill { two_hop_lists(&neighbours, &config) } else { Vec::new() };
        let mut fallback: Vec<u32> = (0..items as u32).filter(|&i| popularity[i as usize] > 0.0).collect();
        fallback.sort_unstable_by(|x, y| popularity[*y as usize].total_cmp(&popularity[*x as usize]).then(x.cmp(y)));
        // One spare per neighbour an answer may already hold, so fill-up never runs short.
        fallback.truncate(2 * config.candidates + 1);
        let mut categories = categories;
        categories.resize(items, Vec::new());
        Self {
            config,
            neighbours,
            two_hop,
            popularity,
            embeddings,
            about_embeddings,
            categories,
            fallback,
            transitions,
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Items the index covers.
    pub fn items(&self) -> usize {
        self.popularity.len()
    }

    /// The answer about `item` as dense ids with scores, best first: its neighbours, filled up
    /// (with [`ServerConfig::two_hop_fill`]) with two-hop neighbours, then with popular items,
    /// each fill scored below every neighbour.
    pub fn answer_ids(&self, item: u32, out: &mut Vec<(u32, f32)>) {
        out.clear();
        let own = self.neighbours(item);
        let own = &own[..own.len().min(own_slots(&self.config))];
        out.extend_from_slice(own);
        let mut floor = own.last().map_or(0.0, |l| l.1.min(0.0)) - 1.0;
        let hops = self.two_hop.get(item as usize).map(Vec::as_slice).unwrap_or(&[]);
        if !hops.is_empty() && out.len() < self.config.candidates {
            let top = hops[0].1.max(1e-12);
            let room = self.config.candidates - out.len();
            // Below every neighbour, in two-hop order, above every popular fill.
            out.extend(hops.iter().take(room).map(|&(m, s)| (m, floor - 1.0 + s / top)));
            floor = out.last().map_or(floor, |l| l.1.min(floor)) - 1.0;
        }
        for (rank, &p) in self.fallback.iter().enumerate() {
            if out.len() >= self.config.candidates {
                break;
            }
            if p != item && !out.iter().any(|n| n.0 == p) {
                out.push((p, floor - rank as f32 * 1e-3));
            }
        }
    }

    /// The `next` value of `candidate` in the answer about `about`: the share of `about`'s views
    /// that `candidate` came directly after (see [`crate::transitions`]); `None` without
    /// [`ServerConfig::next_column`].
    pub fn next_share(&self, about: u32, candidate: u32) -> Option<f32> {
        if !self.config.next_column {
            return None;
        }
        let list = self.transitions.get(about as usize).map(Vec::as_slice).unwrap_or(&[]);
        Some(list.binary_search_by_key(&candidate, |t| t.0).map_or(0.0, |i| list[i].1))
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

    /// The vector sent as the `aboutEmbedding` of the answer about `item`: the one the device
    /// builds the session's embedding from (the candidate vector unless they were trained apart).
    pub fn about_embedding(&self, item: u32) -> Option<&[f32]> {
        let d = self.config.embedding_dim;
        if self.about_embeddings.is_empty() {
            return self.embedding(item);
        }
        (d > 0 && (item as usize) < self.items())
            .then(|| &self.about_embeddings[item as usize * d..(item as usize + 1) * d])
    }

    pub fn categories(&self, item: u32) -> &[AttributeKey] {
        self.categories.get(item as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Bytes the index holds on the heap (vectors' capacity, not allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        let lists: usize =
            self.neighbours.iter().chain(&self.two_hop).chain(&self.transitions).map(|l| l.capacity() * 8 + 24).sum();
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
        lists
            + keys
            + self.popularity.capacity() * 4
            + self.embeddings.capacity() * 4
            + self.about_embeddings.capacity() * 4
            + self.fallback.capacity() * 4
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

    #[test]
    fn two_hop_fill_comes_before_popular_items() {
        // 0 co-occurs with 1 only; 1 with 0 and 2; 3 is the most viewed item but never near 0 or 1.
        let sessions = vec![vec![0, 1], vec![1, 2], vec![3, 4], vec![3, 4], vec![3, 5]];
        let config = ServerConfig {
            candidates: 3,
            embedding_dim: 0,
            popularity_exponent: 0.0,
            two_hop_fill: true,
            ..ServerConfig::default()
        };
        let server = CandidateIndex::build(&sessions, 6, &HashMap::new(), config.clone());
        let mut out = Vec::new();
        server.answer_ids(0, &mut out);
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(out[0].1 > out[1].1 && out[1].1 > out[2].1, "{out:?}");
        let plain =
            CandidateIndex::build(&sessions, 6, &HashMap::new(), ServerConfig { two_hop_fill: false, ..config });
        plain.answer_ids(0, &mut out);
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 3, 4]);
    }

    #[test]
    fn the_next_column_is_the_share_of_direct_steps_forward() {
        // Steps: 0 → 1 twice and 0 → 2 once, 1 → 0 once; nothing follows 2 or 3.
        let sessions = vec![vec![0, 1], vec![0, 1, 0, 2], vec![3]];
        let config = ServerConfig { candidates: 3, embedding_dim: 0, ..ServerConfig::default() };
        let server = CandidateIndex::build(&sessions, 4, &HashMap::new(), config.clone());
        // Three steps from 0, so shares over 3 + 1.
        assert_eq!(server.next_share(0, 1), Some(0.5));
        assert_eq!(server.next_share(0, 2), Some(0.25));
        assert_eq!(server.next_share(0, 3), Some(0.0));
        assert_eq!(server.next_share(1, 0), Some(0.5));
        assert_eq!(server.next_share(2, 0), Some(0.0), "2 came after 0, never before it");
        assert_eq!(server.next_share(9, 0), Some(0.0), "an unknown item has no successors");
        let off = CandidateIndex::build(&sessions, 4, &HashMap::new(), ServerConfig { next_column: false, ..config });
        assert_eq!(off.next_share(0, 1), None);
    }

    #[test]
    fn reserved_two_hop_slots_replace_the_weakest_neighbours() {
        // 0's neighbours: 1 (twice), then 2; 1 also co-occurs with 4.
        let sessions = vec![vec![0, 1], vec![0, 1], vec![0, 2], vec![1, 4]];
        let config = ServerConfig {
            candidates: 2,
            embedding_dim: 0,
            popularity_exponent: 0.0,
            two_hop_fill: true,
            ..ServerConfig::default()
        };
        let mut out = Vec::new();
        CandidateIndex::build(&sessions, 5, &HashMap::new(), config.clone()).answer_ids(0, &mut out);
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 2]);
        let reserved = ServerConfig { two_hop_reserve: 1, ..config };
        CandidateIndex::build(&sessions, 5, &HashMap::new(), reserved).answer_ids(0, &mut out);
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 4]);
    }
}
