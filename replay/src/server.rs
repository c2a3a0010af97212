//! The shop's server as the protocol allows it: the `answers` crate's candidate index (the code
//! the `answers` service serves), built from training sessions only. It answers about one item at
//! a time with that item's neighbours (scores), each candidate's shop-wide popularity, an
//! embedding computed from co-occurrence, and its category. This file only turns an answer into
//! the candidate set a storefront would register.

use std::collections::HashMap;
use std::ops::Deref;

use answers::CandidateIndex;
use shop_personalizer::rank::{CandidateRow, CandidateSet, RankError, Ranker};

pub use answers::{EmbeddingSource, HalfLife, NeighbourSource, NextItemConfig, Recency, ServerConfig, VmisConfig};

use crate::data::Vocabulary;

/// Aggregate item data computed from training sessions.
#[derive(Debug, Clone)]
pub struct Server(CandidateIndex);

impl Deref for Server {
    type Target = CandidateIndex;

    fn deref(&self) -> &CandidateIndex {
        &self.0
    }
}

impl Server {
    /// Builds the server from `sessions` over a vocabulary of `items` ids.
    pub fn build(sessions: &[Vec<u32>], items: usize, categories: &HashMap<u32, String>, config: ServerConfig) -> Self {
        Self(CandidateIndex::build(sessions, items, categories, config))
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
        let per_candidate = self.config().candidate_neighbours;
        for &(candidate, score) in scratch.iter() {
            own.clear();
            own.extend(self.neighbours(candidate).iter().take(per_candidate).map(|&(n, s)| (vocab.name(n), s)));
            builder.push(CandidateRow {
                neighbours: &own,
                id: vocab.name(candidate),
                score,
                popularity: Some(self.popularity(candidate)),
                attributes: self.categories(candidate),
                embedding: self.embedding(candidate),
                next: self.next_share(item, candidate),
                ..CandidateRow::default()
            })?;
        }
        Ok(builder.finish())
    }
}
