//! The ranker of one engine and the candidate sets the page registered, by handle, LRU-bounded.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::rank::feedback::IMPRESSIONS_KEPT;
use crate::rank::{CandidateSet, Outcome, RankConfig, Ranker};

/// Registered candidate sets kept at once; registering one more evicts the least recently used.
pub const MAX_LIVE_SETS: usize = 32;
/// Feedback already learned from, so a repeated click on the same shown item counts once.
const LEARNED_KEPT: usize = 64;

/// Pooled sets kept at once (one per handle the page ranks, e.g. two widgets).
const POOLED_KEPT: usize = 4;

/// What a pooled set was built from: the registered set, the session memory as it was, and the
/// session items pooling drew on. Events that change none of them (impressions, dwell, scroll
/// depth) keep the pooled set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PoolKey {
    pub handle: u32,
    pub memory_generation: u64,
    pub sources: Vec<u32>,
}

#[derive(Debug, Clone)]
struct LiveSet {
    handle: u32,
    set: Arc<CandidateSet>,
}

/// Everything ranking keeps in the engine's memory.
#[derive(Debug, Clone)]
pub struct RankingState {
    pub(super) ranker: Ranker,
    /// Least recently used first.
    sets: VecDeque<LiveSet>,
    next_handle: u32,
    /// The last pooled sets (a registered set plus what earlier answers of the session offered),
    /// newest last, reused while neither the set, the session memory nor the session's items
    /// changed.
    pooled: VecDeque<(PoolKey, Arc<CandidateSet>)>,
    /// Bumped whenever the session memory changes (an answer remembered, learning forgotten).
    pub(super) memory_generation: u64,
    /// Impressions this engine handed out, newest last.
    issued: VecDeque<u64>,
    learned: VecDeque<(u64, u32, Outcome)>,
    /// Learning steps taken since the shipped weights (persisted with the model).
    pub(super) steps: u64,
    /// The learned model changed since it was last written.
    pub(super) model_dirty: bool,
    /// The stored model is unreadable and could not be backed up: it must not be overwritten.
    pub(super) save_blocked: bool,
}

impl Default for RankingState {
    fn default() -> Self {
        RankingState {
            ranker: Ranker::new(RankConfig::default()),
            sets: VecDeque::new(),
            next_handle: 1,
            pooled: VecDeque::new(),
            memory_generation: 0,
            issued: VecDeque::new(),
            learned: VecDeque::new(),
            steps: 0,
            model_dirty: false,
            save_blocked: false,
        }
    }
}

impl RankingState {
    /// Keeps `set` and returns its handle, evicting the least recently used set when full.
    pub(super) fn insert(&mut self, set: CandidateSet) -> u32 {
        let handle = self.next_handle;
        self.next_handle = self.next_handle.checked_add(1).unwrap_or(1);
        if self.sets.len() >= MAX_LIVE_SETS {
            self.sets.pop_front();
        }
        self.sets.push_back(LiveSet { handle, set: Arc::new(set) });
        handle
    }

    /// The set behind `handle`, now the most recently used.
    pub(super) fn touch(&mut self, handle: u32) -> Option<Arc<CandidateSet>> {
        let index = self.sets.iter().position(|s| s.handle == handle)?;
        let live = self.sets.remove(index)?;
        let set = live.set.clone();
        self.sets.push_back(live);
        Some(set)
    }

    /// The pooled set built for `key`, if it is kept.
    pub(super) fn pooled(&self, key: &PoolKey) -> Option<Arc<CandidateSet>> {
        self.pooled.iter().find(|(k, _)| k == key).map(|(_, set)| set.clone())
    }

    /// Keeps a pooled set; sets of an older session memory are dropped, and the oldest when full.
    pub(super) fn keep_pooled(&mut self, key: PoolKey, set: Arc<CandidateSet>) {
        let memory = key.memory_generation;
        self.pooled.retain(|(k, _)| k.memory_generation == memory && k.handle != key.handle);
        if self.pooled.len() >= POOLED_KEPT {
            self.pooled.pop_front();
        }
        self.pooled.push_back((key, set));
    }

    /// Drops the set behind `handle`; returns whether it was live.
    pub(super) fn release(&mut self, handle: u32) -> bool {
        let before = self.sets.len();
        self.sets.retain(|s| s.handle != handle);
        self.pooled.retain(|(k, _)| k.handle != handle);
        self.sets.len() != before
    }

    #[cfg(test)]
    pub(super) fn live_handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.sets.iter().map(|s| s.handle)
    }

    pub(super) fn note_issued(&mut self, impression: u64) {
        self.issued.push_back(impression);
        while self.issued.len() > IMPRESSIONS_KEPT {
            self.issued.pop_front();
        }
    }

    /// The newest impression that showed the item with dense id `item`.
    pub(super) fn impression_showing(&self, item: u32) -> Option<u64> {
        self.issued
            .iter()
            .rev()
            .copied()
            .find(|&id| self.ranker.impression(id).is_some_and(|shown| shown.shown.contains(&item)))
    }

    /// True the first time `(impression, item, outcome)` is seen.
    pub(super) fn first_time(&mut self, impression: u64, item: u32, outcome: Outcome) -> bool {
        if self.learned.contains(&(impression, item, outcome)) {
            return false;
        }
        self.learned.push_back((impression, item, outcome));
        while self.learned.len() > LEARNED_KEPT {
            self.learned.pop_front();
        }
        true
    }

    /// Forgets what was learned about this shopper (model, session answers, impressions) but
    /// keeps the registered sets, which hold only what the server sent.
    pub(super) fn forget_learning(&mut self) {
        let config = self.ranker.config().clone();
        let fresh = Ranker::new(config);
        // The item ids stay: the live sets refer to them.
        let ids = std::mem::take(&mut self.ranker.ids);
        self.ranker = fresh;
        self.ranker.ids = ids;
        self.pooled.clear();
        self.memory_generation += 1;
        self.issued.clear();
        self.learned.clear();
        self.steps = 0;
        self.model_dirty = false;
        self.save_blocked = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_evicted_least_recently_used_first() {
        let mut state = RankingState::default();
        let first = state.insert(CandidateSet::default());
        let second = state.insert(CandidateSet::default());
        for _ in 2..MAX_LIVE_SETS {
            state.insert(CandidateSet::default());
        }
        assert!(state.touch(first).is_some(), "using the first makes the second the oldest");
        let newest = state.insert(CandidateSet::default());
        assert!(state.touch(second).is_none(), "the least recently used set was evicted");
        assert!(state.touch(first).is_some() && state.touch(newest).is_some());
        assert_eq!(state.live_handles().count(), MAX_LIVE_SETS);
        assert!(state.release(first) && !state.release(first));
        assert!(state.touch(first).is_none());
    }

    #[test]
    fn pooled_sets_are_kept_per_handle_for_the_current_memory() {
        let mut state = RankingState::default();
        let key = |handle, memory_generation, sources: &[u32]| PoolKey {
            handle,
            memory_generation,
            sources: sources.to_vec(),
        };
        let set = Arc::new(CandidateSet::default());
        state.keep_pooled(key(1, 0, &[7]), set.clone());
        state.keep_pooled(key(2, 0, &[7]), set.clone());
        assert!(state.pooled(&key(1, 0, &[7])).is_some() && state.pooled(&key(2, 0, &[7])).is_some(), "two widgets");
        assert!(state.pooled(&key(1, 0, &[7, 3])).is_none(), "another session item");
        state.keep_pooled(key(1, 0, &[7, 3]), set.clone());
        assert!(state.pooled(&key(1, 0, &[7])).is_none(), "one set per handle");
        for handle in 3..10 {
            state.keep_pooled(key(handle, 0, &[]), set.clone());
        }
        assert_eq!(state.pooled.len(), POOLED_KEPT);
        state.keep_pooled(key(1, 1, &[7]), set.clone());
        assert_eq!(state.pooled.len(), 1, "a new memory drops every older pooled set");
        let handle = state.insert(CandidateSet::default());
        state.keep_pooled(key(handle, 1, &[]), set);
        state.release(handle);
        assert!(state.pooled(&key(handle, 1, &[])).is_none(), "released with its handle");
    }

    #[test]
    fn the_same_feedback_counts_once() {
        let mut state = RankingState::default();
        assert!(state.first_time(1, 7, Outcome::Click));
        assert!(!state.first_time(1, 7, Outcome::Click));
        assert!(state.first_time(1, 7, Outcome::AddToCart));
        assert!(state.first_time(2, 7, Outcome::Click));
    }
}
