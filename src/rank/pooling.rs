//! The ranker's session memory: remembering earlier answers and pooling what they offered into
//! the current answer (see [`SessionMemory::pool`](super::SessionMemory::pool)).

use std::sync::Arc;

use super::candidates::CandidateSet;
use super::ranker::Ranker;
use super::shopper::ShopperSignals;

impl Ranker {
    /// Remembers the server's answer about item `about` for the rest of the session.
    pub fn remember_answer(&mut self, about: &str, about_embedding: Option<&[f32]>, set: Arc<CandidateSet>) {
        let about = self.ids.intern(about);
        self.memory.remember(about, about_embedding, set);
    }

    /// The current answer plus what earlier answers of the session offered (see
    /// [`SessionMemory::pool`](super::SessionMemory::pool)); the shopper's session decides which answers count.
    pub fn pool(&mut self, current: &CandidateSet, shopper: &dyn ShopperSignals) -> CandidateSet {
        let mut sources = Vec::new();
        self.pool_sources(shopper, &mut sources);
        self.pool_from(current, &sources)
    }

    /// The session items pooling draws on, most recent first, without repeats (dense ids).
    /// [`pool_from`](Self::pool_from) of the same set and sources gives the same set as long as
    /// the session memory is unchanged, so a caller may keep it.
    pub fn pool_sources(&self, shopper: &dyn ShopperSignals, out: &mut Vec<u32>) {
        out.clear();
        let len = shopper.session_len();
        for index in (len.saturating_sub(self.config.params().max_session_items)..len).rev() {
            let id = shopper.session_item(index).and_then(|item| self.ids.get(item.id));
            if let Some(id) = id.filter(|id| !out.contains(id)) {
                out.push(id);
            }
        }
    }

    /// [`pool`](Self::pool) with the sources already worked out.
    pub fn pool_from(&mut self, current: &CandidateSet, recent_first: &[u32]) -> CandidateSet {
        self.memory.pool(current, recent_first, self.config.params().pool_extra, &mut self.ids)
    }

    /// Starts a new session: forgets earlier answers.
    pub fn end_session(&mut self) {
        self.memory.clear();
    }
}
