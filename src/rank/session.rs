//! What earlier server answers of this session said, kept on the device.
//!
//! The server answers one request per page view about the current item or query only. The
//! device remembers those answers: the candidates of the answer about item `s` are `s`'s
//! co-visitation neighbours with the server's scores, and their embeddings. Combining them is
//! what lets the device know the session without the server ever seeing it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::candidates::{CandidateOrigin, CandidateSet, CandidateSetBuilder, MAX_CANDIDATES, NOT_IN_ANSWER};
use super::ids::ItemIds;

/// Answers kept by default; older ones are forgotten first.
pub const DEFAULT_MEMORY_ANSWERS: usize = 64;

#[derive(Debug, Clone)]
struct Remembered {
    about: u32,
    set: Arc<CandidateSet>,
    /// The largest server score of the answer, to read scores as 0..=1.
    max_score: f32,
}

/// What a remembered answer says about its item's neighbours, row by row.
#[derive(Debug, Clone, Copy)]
pub struct AnswerAbout<'a> {
    /// The candidates (dense ids), in the answer's order.
    pub ids: &'a [u32],
    /// Their raw server scores.
    pub scores: &'a [f32],
    /// The largest of `scores` (at least 0).
    pub max_score: f32,
    /// Each candidate's `next` value (see the answer's `next` column), or empty when the answer
    /// carried none.
    pub next: &'a [f32],
}

/// Earlier answers of the current session, bounded.
#[derive(Debug, Clone)]
pub struct SessionMemory {
    capacity: usize,
    answers: VecDeque<Remembered>,
    embeddings: HashMap<u32, Vec<f32>>,
}

impl Default for SessionMemory {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_ANSWERS)
    }
}

impl SessionMemory {
    /// A memory holding at most `capacity` answers (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), answers: VecDeque::new(), embeddings: HashMap::new() }
    }

    /// Records the server's answer about item `about` (dense id) and, if it sent one, that
    /// item's own embedding. A newer answer about the same item replaces the older one.
    pub fn remember(&mut self, about: u32, about_embedding: Option<&[f32]>, set: Arc<CandidateSet>) {
        self.answers.retain(|r| r.about != about);
        let max_score = set.server_scores.iter().fold(0.0f32, |m, &s| m.max(s));
        self.answers.push_back(Remembered { about, set, max_score });
        if let Some(e) = about_embedding.filter(|e| !e.is_empty() && e.iter().all(|v| v.is_finite())) {
            self.embeddings.insert(about, e.to_vec());
        }
        while self.answers.len() > self.capacity {
            if let Some(old) = self.answers.pop_front() {
                if !self.answers.iter().any(|r| r.about == old.about) {
                    self.embeddings.remove(&old.about);
                }
            }
        }
    }

    /// Forgets everything (a new session started).
    pub fn clear(&mut self) {
        self.answers.clear();
        self.embeddings.clear();
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The answer the server gave about `about`, if it is remembered.
    pub fn answer_about(&self, about: u32) -> Option<AnswerAbout<'_>> {
        self.answers.iter().rev().find(|r| r.about == about).map(|r| AnswerAbout {
            ids: &r.set.ids,
            scores: &r.set.server_scores,
            max_score: r.max_score,
            next: &r.set.next,
        })
    }

    /// The embedding of `item`: its own from the answer about it, else from any answer listing it.
    pub fn embedding_of(&self, item: u32) -> Option<&[f32]> {
        if let Some(e) = self.embeddings.get(&item) {
            return Some(e);
        }
        self.answers.iter().rev().find_map(|r| {
            let row = r.set.row_of(item)?;
            let e = r.set.embedding(row);
            (r.set.inv_norms[row] > 0.0).then_some(e)
        })
    }

    /// The title any remembered answer gave `item`.
    pub fn title_of(&self, item: u32) -> Option<&str> {
        self.answers.iter().rev().find_map(|r| r.set.row_of(item).and_then(|row| r.set.title(row)))
    }

    /// The current answer plus what earlier answers of the session offered: first the session
    /// items themselves (shoppers often return to them), then the neighbours of the session
    /// items round-robin, most recent item first, until `extra` rows were added. Pooled rows keep
    /// their data but have no position in the current answer.
    pub fn pool(
        &self,
        current: &CandidateSet,
        session_recent_first: &[u32],
        extra: usize,
        ids: &mut ItemIds,
    ) -> CandidateSet {
        let mut builder = CandidateSetBuilder::extending(current, ids);
        let limit = current.len().saturating_add(extra);
        builder.reserve(extra.min(MAX_CANDIDATES), 0, 0);
        for &s in session_recent_first {
            if builder.len() >= limit {
                break;
            }
            let found = self.answers.iter().rev().find_map(|r| r.set.row_of(s).map(|row| (&r.set, row)));
            match found {
                Some((set, row)) => builder.push_copy(set, row, NOT_IN_ANSWER, CandidateOrigin::EarlierAnswer),
                None => builder.push_bare(s),
            };
        }
        let answers: Vec<&Remembered> =
            session_recent_first.iter().filter_map(|s| self.answers.iter().rev().find(|r| r.about == *s)).collect();
        // Round-robin so every session item contributes its strongest neighbours before any
        // contributes weak ones.
        let longest = answers.iter().map(|r| r.set.len()).max().unwrap_or(0);
        for depth in 0..longest {
            for r in &answers {
                if builder.len() >= limit {
                    return builder.finish();
                }
                if depth < r.set.len() {
                    builder.push_copy(&r.set, depth, NOT_IN_ANSWER, CandidateOrigin::EarlierAnswer);
                }
            }
        }
        builder.finish()
    }
}
