//! Building a [`CandidateSet`] row by row, each row checked (ids, finite numbers, embedding
//! dimension, neighbours), or from an earlier set's columns whole.

use std::sync::atomic::Ordering;

use super::{
    CandidateOrigin, CandidateRow, CandidateSet, MAX_CANDIDATES, MAX_EMBEDDING_DIM, MAX_NEIGHBOURS, NEXT_SERIAL,
    NOT_IN_ANSWER, NO_CATEGORY,
};
use crate::catalog::{validate_item_id, AttributeKey};
use crate::rank::ids::{FastMap, ItemIds};
use crate::rank::RankError;

/// Builds a [`CandidateSet`] row by row, checking each row.
pub struct CandidateSetBuilder<'a> {
    ids: &'a mut ItemIds,
    set: CandidateSet,
    rows_by_id: FastMap<u32, u32>,
    key_index: FastMap<AttributeKey, u32>,
    /// Category depth of each of `set.attr_keys` (0 for other kinds), worked out once per key.
    key_depths: Vec<usize>,
}

impl<'a> CandidateSetBuilder<'a> {
    pub fn new(ids: &'a mut ItemIds) -> Self {
        let mut set = CandidateSet::default();
        set.attr_offsets.push(0);
        set.nb_offsets.push(0);
        Self { ids, set, rows_by_id: FastMap::default(), key_index: FastMap::default(), key_depths: Vec::new() }
    }

    /// A builder that starts with every row of `set` as rows of the current answer (position =
    /// row), the same as [`push_copy`](Self::push_copy) of each row in order, but copying the
    /// columns whole instead of row by row (this is how earlier answers are pooled).
    pub fn extending(set: &CandidateSet, ids: &'a mut ItemIds) -> Self {
        let mut copy = set.clone();
        copy.serial = 0;
        for (row, position) in copy.positions.iter_mut().enumerate() {
            *position = row as u32;
        }
        copy.origins.fill(CandidateOrigin::CurrentAnswer);
        // The next column is about the answer's own item, not the pooled set's (see the field).
        copy.next.clear();
        let rows_by_id = copy.ids.iter().enumerate().map(|(row, &id)| (id, row as u32)).collect();
        let key_index = copy.attr_keys.iter().enumerate().map(|(k, key)| (key.clone(), k as u32)).collect();
        let key_depths = copy.attr_keys.iter().map(AttributeKey::category_depth).collect();
        Self { ids, set: copy, rows_by_id, key_index, key_depths }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Makes room for `rows` more rows with `neighbours` neighbours and `embedding_numbers`
    /// embedding numbers in all.
    pub fn reserve(&mut self, rows: usize, neighbours: usize, embedding_numbers: usize) {
        let set = &mut self.set;
        for column in [
            &mut set.ids,
            &mut set.positions,
            &mut set.primary_category,
            &mut set.attr_offsets,
            &mut set.nb_offsets,
            &mut set.title_ends,
        ] {
            column.reserve(rows);
        }
        for column in [&mut set.server_scores, &mut set.popularity, &mut set.inv_norms] {
            column.reserve(rows);
        }
        set.origins.reserve(rows);
        set.nb_ids.reserve(neighbours);
        set.nb_scores.reserve(neighbours);
        set.embeddings.reserve(embedding_numbers);
        self.rows_by_id.reserve(rows);
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// True when the dense id is already a row.
    pub fn contains(&self, id: u32) -> bool {
        self.rows_by_id.contains_key(&id)
    }

    /// Appends a row of the current answer; its position is its index.
    pub fn push(&mut self, row: CandidateRow<'_>) -> Result<(), RankError> {
        validate_item_id(row.id)?;
        let id = self.ids.intern(row.id);
        if self.rows_by_id.contains_key(&id) {
            return Err(RankError::DuplicateId { id: row.id.to_owned() });
        }
        if self.set.len() >= MAX_CANDIDATES {
            return Err(RankError::TooManyCandidates { len: self.set.len() + 1, max: MAX_CANDIDATES });
        }
        check_finite(row.id, "score", row.score)?;
        if let Some(p) = row.popularity {
            if !p.is_finite() || p < 0.0 {
                return Err(RankError::BadNumber { id: row.id.to_owned(), field: "popularity", value: p });
            }
        }
        if let Some(e) = row.embedding {
            self.check_embedding(row.id, e)?;
        }
        if row.neighbours.len() > MAX_NEIGHBOURS {
            return Err(RankError::TooManyNeighbours {
                id: row.id.to_owned(),
                len: row.neighbours.len(),
                max: MAX_NEIGHBOURS,
            });
        }
        for &(nb, score) in row.neighbours {
            validate_item_id(nb)?;
            check_finite(row.id, "neighbour score", score)?;
        }
        if let Some(p) = row.next {
            if !(0.0..=1.0).contains(&p) {
                return Err(RankError::BadNumber { id: row.id.to_owned(), field: "next", value: p });
            }
            self.set.next.resize(self.set.len(), 0.0);
            self.set.next.push(p);
        }
        let position = self.set.len() as u32;
        self.push_columns(
            id,
            row.score,
            position,
            CandidateOrigin::CurrentAnswer,
            row.popularity.unwrap_or(0.0),
            row.title,
        );
        for key in row.attributes {
            let k = self.key_ref(key);
            self.set.attr_refs.push(k);
        }
        self.close_attributes();
        self.push_embedding(row.embedding);
        for &(nb, score) in row.neighbours {
            let nb = self.ids.intern(nb);
            self.set.nb_ids.push(nb);
            self.set.nb_scores.push(score);
        }
        self.set.nb_offsets.push(self.set.nb_ids.len() as u32);
        Ok(())
    }

    /// Copies row `row` of an already checked set with the given position and origin.
    /// Returns false when the item is already present or the set is full.
    pub fn push_copy(&mut self, from: &CandidateSet, row: usize, position: u32, origin: CandidateOrigin) -> bool {
        let Some(id) = from.id(row) else { return false };
        if self.rows_by_id.contains_key(&id) || self.set.len() >= MAX_CANDIDATES {
            return false;
        }
        let title = from.title(row);
        self.push_columns(id, from.server_scores[row], position, origin, from.popularity[row], title);
        for &k in from.attribute_refs(row) {
            if let Some(key) = from.attr_keys.get(k as usize) {
                let k = self.key_ref(key);
                self.set.attr_refs.push(k);
            }
        }
        self.close_attributes();
        let embedding = from.embedding(row);
        let compatible =
            !embedding.is_empty() && (self.set.embedding_dim == 0 || self.set.embedding_dim == embedding.len());
        if compatible && self.set.embedding_dim == 0 {
            self.set.embedding_dim = embedding.len();
            self.set.embeddings.resize((self.set.len() - 1) * embedding.len(), 0.0);
        }
        if compatible {
            // The source worked out the norm of the same numbers already.
            self.set.embeddings.extend_from_slice(embedding);
            self.set.inv_norms.push(from.inv_norms[row]);
        } else {
            self.push_embedding(None);
        }
        let (nb_ids, nb_scores) = from.neighbours(row);
        self.set.nb_ids.extend_from_slice(nb_ids);
        self.set.nb_scores.extend_from_slice(nb_scores);
        self.set.nb_offsets.push(self.set.nb_ids.len() as u32);
        true
    }

    /// Appends an item known only by its dense id (a session item no answer described).
    pub fn push_bare(&mut self, id: u32) -> bool {
        if self.rows_by_id.contains_key(&id) || self.set.len() >= MAX_CANDIDATES {
            return false;
        }
        self.push_columns(id, 0.0, NOT_IN_ANSWER, CandidateOrigin::EarlierAnswer, 0.0, None);
        self.close_attributes();
        self.push_embedding(None);
        self.set.nb_offsets.push(self.set.nb_ids.len() as u32);
        true
    }

    pub fn finish(mut self) -> CandidateSet {
        if !self.set.next.is_empty() {
            self.set.next.resize(self.set.len(), 0.0);
        }
        self.set.serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        self.set
    }

    fn check_embedding(&mut self, id: &str, e: &[f32]) -> Result<(), RankError> {
        if e.is_empty() || e.len() > MAX_EMBEDDING_DIM {
            return Err(RankError::EmbeddingLength {
                id: id.to_owned(),
                expected: self.set.embedding_dim,
                got: e.len(),
            });
        }
        if self.set.embedding_dim != 0 && e.len() != self.set.embedding_dim {
            return Err(RankError::EmbeddingLength {
                id: id.to_owned(),
                expected: self.set.embedding_dim,
                got: e.len(),
            });
        }
        if let Some(&bad) = e.iter().find(|v| !v.is_finite()) {
            return Err(RankError::BadNumber { id: id.to_owned(), field: "embedding", value: bad });
        }
        if self.set.embedding_dim == 0 {
            self.set.embedding_dim = e.len();
            self.set.embeddings.resize(self.set.len() * e.len(), 0.0);
        }
        Ok(())
    }

    fn push_columns(
        &mut self,
        id: u32,
        score: f32,
        position: u32,
        origin: CandidateOrigin,
        popularity: f32,
        title: Option<&str>,
    ) {
        self.rows_by_id.insert(id, self.set.len() as u32);
        self.set.ids.push(id);
        self.set.server_scores.push(score);
        self.set.positions.push(position);
        self.set.origins.push(origin);
        self.set.popularity.push(popularity);
        self.set.title_text.push_str(title.unwrap_or(""));
        self.set.title_ends.push(u32::try_from(self.set.title_text.len()).unwrap_or(u32::MAX));
    }

    fn key_ref(&mut self, key: &AttributeKey) -> u32 {
        if let Some(&k) = self.key_index.get(key) {
            return k;
        }
        let k = self.set.attr_keys.len() as u32;
        self.set.attr_keys.push(key.clone());
        self.key_depths.push(key.category_depth());
        self.key_index.insert(key.clone(), k);
        k
    }

    /// Ends the attribute list of the last row and records its deepest category.
    fn close_attributes(&mut self) {
        let start = *self.set.attr_offsets.last().unwrap_or(&0) as usize;
        let depths = &self.key_depths;
        let deepest = self.set.attr_refs[start..]
            .iter()
            .copied()
            .filter(|&k| depths[k as usize] > 0)
            .max_by_key(|&k| depths[k as usize])
            .unwrap_or(NO_CATEGORY);
        self.set.primary_category.push(deepest);
        self.set.attr_offsets.push(self.set.attr_refs.len() as u32);
    }

    fn push_embedding(&mut self, embedding: Option<&[f32]>) {
        let d = self.set.embedding_dim;
        if d == 0 {
            self.set.inv_norms.push(0.0);
            return;
        }
        match embedding {
            Some(e) if e.len() == d => {
                let norm = e.iter().map(|v| v * v).sum::<f32>().sqrt();
                self.set.embeddings.extend_from_slice(e);
                self.set.inv_norms.push(if norm > 1e-12 { 1.0 / norm } else { 0.0 });
            }
            _ => {
                self.set.embeddings.resize(self.set.embeddings.len() + d, 0.0);
                self.set.inv_norms.push(0.0);
            }
        }
    }
}

fn check_finite(id: &str, field: &'static str, value: f32) -> Result<(), RankError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(RankError::BadNumber { id: id.to_owned(), field, value })
    }
}
