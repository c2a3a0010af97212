//! One shopper's device during a replayed session: every page view of the prefix fetched the
//! server's answer about that item (remembered by the session memory), the profile recorded the
//! views, and at the end the device ranks the pooled candidates with the real `Ranker`.

use std::collections::HashMap;
use std::sync::Arc;

use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::{CandidateSet, InMemoryShopper, RankConfig, RankContext, RankError, Ranker, Ranking};

use crate::data::Vocabulary;
use crate::server::Server;

/// Answers cached per device before the cache is emptied (bounds memory).
const ANSWER_CACHE: usize = 4096;
/// Affinity kept per recorded view by the replayed profile.
const AFFINITY_DECAY: f32 = 0.9;

/// Both orders for one case, as vocabulary ids, best first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseOrders {
    pub server: Vec<u32>,
    pub device: Vec<u32>,
    /// The device's order of the current answer alone (no pooling), when asked for.
    pub rerank: Vec<u32>,
}

/// A reusable replay device.
pub struct Device<'a> {
    server: &'a Server,
    vocab: &'a Vocabulary,
    ranker: Ranker,
    shopper: InMemoryShopper,
    cache: HashMap<u32, Arc<CandidateSet>>,
    ranking: Ranking,
    context: RankContext,
    scratch: Vec<(u32, f32)>,
    use_categories: bool,
}

impl<'a> Device<'a> {
    /// A device ranking the top `depth` with `weights` (None = shipped defaults).
    pub fn new(
        server: &'a Server,
        vocab: &'a Vocabulary,
        config: RankConfig,
        weights: Option<&[f32]>,
        depth: usize,
        use_categories: bool,
    ) -> Result<Self, RankError> {
        let mut ranker = Ranker::new(config);
        if let Some(w) = weights {
            ranker.model_mut().set_shared_weights(w)?;
        }
        let context = RankContext { limit: depth, ..RankContext::default() };
        Ok(Self {
            server,
            vocab,
            ranker,
            shopper: InMemoryShopper::new(AFFINITY_DECAY),
            cache: HashMap::new(),
            ranking: Ranking::default(),
            context,
            scratch: Vec::new(),
            use_categories,
        })
    }

    fn answer(&mut self, item: u32) -> Result<Arc<CandidateSet>, RankError> {
        if let Some(set) = self.cache.get(&item) {
            return Ok(set.clone());
        }
        if self.cache.len() >= ANSWER_CACHE {
            self.cache.clear();
        }
        let set = Arc::new(self.server.answer_set(item, self.vocab, &mut self.ranker, &mut self.scratch)?);
        self.cache.insert(item, set.clone());
        Ok(set)
    }

    /// Replays the page views of `prefix` (a fresh session and profile) and returns the pooled
    /// candidate set for the last page.
    pub fn visit(&mut self, prefix: &[u32]) -> Result<(Arc<CandidateSet>, CandidateSet), RankError> {
        self.ranker.end_session();
        self.shopper.clear();
        let keep = self.ranker.config().params().max_session_items;
        for (t, &item) in prefix.iter().enumerate() {
            let name = self.vocab.name(item);
            let keys = if self.use_categories { self.server.categories(item) } else { &[] };
            self.shopper.record(name, EventKind::View, t as f64, keys);
            if t + keep >= prefix.len() {
                let set = self.answer(item)?;
                self.ranker.remember_answer(name, self.server.about_embedding(item), set);
            }
        }
        let last = *prefix.last().unwrap_or(&0);
        let current = self.answer(last)?;
        let pooled = self.ranker.pool(&current, &self.shopper);
        Ok((current, pooled))
    }

    /// The server's and the device's orders for a prefix. Takes no label.
    pub fn orders(&mut self, prefix: &[u32], rerank_only: bool, out: &mut CaseOrders) -> Result<(), RankError> {
        out.server.clear();
        out.device.clear();
        out.rerank.clear();
        if prefix.is_empty() {
            return Ok(());
        }
        let (current, pooled) = self.visit(prefix)?;
        if rerank_only {
            self.ranker.rank_into(&current, &self.context, &self.shopper, &mut self.ranking)?;
            for item in &self.ranking.items {
                if let Some(v) = self.ranker.ids().name(item.item).and_then(|n| self.vocab.get(n)) {
                    out.rerank.push(v);
                }
            }
        }
        let depth = self.context.limit;
        if let Some(&last) = prefix.last() {
            self.server.answer_ids(last, &mut self.scratch);
            out.server.extend(self.scratch.iter().take(depth).map(|c| c.0));
        }
        self.ranker.rank_into(&pooled, &self.context, &self.shopper, &mut self.ranking)?;
        for item in &self.ranking.items {
            if let Some(v) = self.ranker.ids().name(item.item).and_then(|n| self.vocab.get(n)) {
                out.device.push(v);
            }
        }
        Ok(())
    }

    /// The feature matrix of the pooled set for a prefix and the row of `label` in it, if the
    /// label is among the candidates (for offline training on validation cases).
    pub fn training_rows(&mut self, prefix: &[u32], label: u32) -> Result<Option<(Vec<f32>, usize)>, RankError> {
        let (_, pooled) = self.visit(prefix)?;
        let label_id = self.ranker.ids().get(self.vocab.name(label));
        let Some(row) = label_id.and_then(|id| pooled.row_of(id)) else { return Ok(None) };
        let matrix = self.ranker.extract_features(&pooled, &self.shopper).to_vec();
        Ok(Some((matrix, row)))
    }
}
