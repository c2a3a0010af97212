//! Ranking through the engine: the page registers each server answer once and gets a handle,
//! ranks it for the shopper as often as it likes, and the engine learns from clicks, cart
//! additions and purchases of ranked items.
//!
//! - [`Personalizer::register_candidates`] checks an answer ([`AnswerColumns`]) into a columnar
//!   set and keeps it under a handle; at most [`MAX_LIVE_SETS`] sets live at once, the least
//!   recently used is evicted. With consent, an answer about an item is also remembered as that
//!   item's neighbours for the rest of the session (that is how the device knows the session
//!   while the server only ever sees one item or query).
//! - [`Personalizer::rank`] ranks a handle with the profile ([`ProfileShopper`]) and the session's
//!   earlier answers, and returns ids, scores, reason codes and a human reason. A device in the
//!   lift holdout gets the server's order instead (`server_order.rs`).
//! - `track` hands clicks, cart additions and purchases of items shown by a recent ranking to the
//!   ranker's online learner (once per shown item and outcome). Every ranking reports the
//!   propensity of the order it showed, so the shop can evaluate policies without bias.
//! - The learned model is written under `shop-personalizer:<shop>:model` on `flush` (consent
//!   `full` only), read back when consent becomes `full`, and removed by `forget()` and when
//!   consent drops, with the rest of the shop's keys.

mod answer;
mod answer_text;
mod answer_tree;
mod live_sets;
mod model_store;
mod model_text;
mod ranked_columns;
mod server_order;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::CatalogError;
use crate::collect::event::TrackEvent;
use crate::error_code::{Coded, ErrorCode};
use crate::profile::ProfileShopper;
use std::sync::Arc;

use crate::rank::{Explanation, Outcome, Placement, RankContext, RankError, RankModel, ReasonCode, ShopperSignals};
use crate::storage::{KeyValueStore, Loaded, StorageWarning, WarningCode};

use super::syncing::SharedWeights;
use super::{check_time, Extension, Personalizer};

use crate::float_text::Decimal;
pub use answer::{field as answer_field, AnswerColumns, NeighbourColumns, ANSWER_FIELDS, NEIGHBOUR_FIELDS};
pub use answer_text::{read_plain_text, PlainColumns, Text};
pub use answer_tree::read_plain_tree;
use live_sets::PoolKey;
pub use live_sets::{RankingState, MAX_LIVE_SETS};
pub use model_store::{encode_model, load_model, model_key, ModelRead};
pub use ranked_columns::RankedColumns;

/// Why registering or ranking candidates was refused. Nothing is kept from a refused answer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RankingError {
    #[error("{0}")]
    Rank(#[from] RankError),
    #[error("candidate set {handle} is unknown or was evicted (only the {MAX_LIVE_SETS} most recently used sets are kept): call registerCandidates again with the server's answer")]
    UnknownHandle { handle: u32 },
    #[error("{column} has {got} entries for {expected} candidates: send one entry per candidate")]
    ColumnLength { column: &'static str, expected: usize, got: usize },
    #[error("embeddings hold {len} numbers for {candidates} candidates: send one embedding of the same dimension per candidate, row after row")]
    EmbeddingColumns { len: usize, candidates: usize },
    #[error("neighbours.offsets[{index}] is {value}: offsets start at 0, never decrease and end at the number of neighbour ids ({ids})")]
    NeighbourOffsets { index: usize, value: u32, ids: usize },
    #[error("attributes of candidate {id:?}: {source}")]
    Attributes { id: String, source: CatalogError },
    #[error("nowMs is {}: pass Date.now(), a non-negative number of milliseconds since 1970", Decimal(*.0))]
    BadTime(f64),
}

impl Coded for RankingError {
    fn code(&self) -> ErrorCode {
        match self {
            RankingError::Rank(error) => error.code(),
            RankingError::UnknownHandle { .. } => ErrorCode::UnknownHandle,
            RankingError::ColumnLength { .. }
            | RankingError::EmbeddingColumns { .. }
            | RankingError::NeighbourOffsets { .. }
            | RankingError::Attributes { .. } => ErrorCode::InvalidAnswer,
            RankingError::BadTime(_) => ErrorCode::BadTime,
        }
    }
}

/// One ranked item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RankedProduct {
    pub id: String,
    /// The model's score; higher ranks first (rules and diversity may reorder).
    pub score: f32,
    /// Every reason that contributed, machine-readable.
    pub reasons: Vec<ReasonCode>,
    /// A short sentence for the shopper ("Because you viewed Trail shoes"): `explanation.text`.
    pub reason: String,
    /// Why it is shown, naming only what added to its score: a code, its parameters (the
    /// interest that matched, the item viewed this session) and the shopper text.
    pub explanation: Explanation,
    /// The title the server sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub title: Option<String>,
    /// True for an item an earlier answer of the session offered, not the ranked set itself.
    pub from_session: bool,
}

/// A ranked list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RankedList {
    pub items: Vec<RankedProduct>,
    /// Identifies this shown order; clicks on its items tracked later teach the model.
    pub impression: u32,
    /// Probability that the ranking policy showed exactly this order (1 without exploration);
    /// log it with outcomes to evaluate other policies offline without bias.
    pub propensity: f64,
    /// True when the order was sampled to learn (exploration) instead of the best order.
    pub explored: bool,
}

/// What a tracked event teaches the ranker: `(item id, outcome)` pairs.
fn outcomes_of(event: &TrackEvent) -> Vec<(&str, Outcome)> {
    match event {
        TrackEvent::Click { item_id, .. } => vec![(item_id.as_str(), Outcome::Click)],
        TrackEvent::AddToCart { item_id, .. } => vec![(item_id.as_str(), Outcome::AddToCart)],
        TrackEvent::Purchase { items, .. } => {
            items.iter().map(|line| (line.item_id.as_str(), Outcome::Purchase)).collect()
        }
        _ => Vec::new(),
    }
}

impl SharedWeights for RankingState {
    fn shared_weights(&self) -> Vec<f32> {
        self.ranker.model().shared_weights().to_vec()
    }

    fn set_shared_weights(&mut self, weights: &[f32], save: bool) -> Result<(), RankError> {
        self.model_dirty |= save;
        self.ranker.model_mut().set_shared_weights(weights)
    }
}

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// The ranker's shared weights (a copy): what sync computes updates from.
    pub fn shared_weights(&self) -> Vec<f32> {
        self.ranking.shared_weights()
    }

    /// Registers one server answer and returns its handle for [`rank`](Self::rank). Checks every
    /// column first: a refused answer keeps nothing. With consent, an answer `about` an item is
    /// remembered as that item's neighbours for the rest of the session.
    ///
    /// ```js
    /// const handle = p.registerCandidates({ about: "sku-1", ids, scores, embeddings });
    /// ```
    pub fn register_candidates<T: AsRef<str>>(&mut self, answer: &AnswerColumns<'_, T>) -> Result<u32, RankingError> {
        let set = answer::build_set(answer, &mut self.ranking.ranker)?;
        let handle = self.ranking.insert(set);
        if let (Some(about), true) = (answer.about, self.ctx.consent.collects()) {
            if let Some(set) = self.ranking.touch(handle) {
                self.ranking.ranker.remember_answer(about, answer.about_embedding, set);
                self.ranking.memory_generation += 1;
            }
        }
        Ok(handle)
    }

    /// Forgets a registered set (it is also evicted by itself). Returns whether it was live.
    pub fn release_candidates(&mut self, handle: u32) -> bool {
        self.ranking.release(handle)
    }

    /// Ranks the set behind `handle` for `context` at `now_ms`. Outside search, items that
    /// earlier answers of the session offered join the ranking; search results are only
    /// reordered, never shortened or extended.
    ///
    /// ```js
    /// const { items } = p.rank(handle, { placement: "product", currentItem: "sku-1", limit: 8 });
    /// ```
    pub fn rank(&mut self, handle: u32, context: &RankContext, now_ms: f64) -> Result<RankedList, RankingError> {
        let now = check_time(now_ms).map_err(|_| RankingError::BadTime(now_ms))?;
        if self.extension.in_holdout() {
            return self.rank_server_order(handle, context);
        }
        let set = self.ranking.touch(handle).ok_or(RankingError::UnknownHandle { handle })?;
        let shopper = ProfileShopper::new(&self.profile, now, self.ctx.config.affinity_half_life_ms());
        let pooling =
            context.placement != Placement::Search && self.ctx.consent.collects() && shopper.session_len() > 0;
        let ranked_set = if pooling {
            let mut sources = Vec::new();
            self.ranking.ranker.pool_sources(&shopper, &mut sources);
            let key = PoolKey { handle, memory_generation: self.ranking.memory_generation, sources };
            match self.ranking.pooled(&key) {
                Some(pooled) => pooled,
                None => {
                    let pooled = Arc::new(self.ranking.ranker.pool_from(&set, &key.sources));
                    self.ranking.keep_pooled(key, pooled.clone());
                    pooled
                }
            }
        } else {
            set.clone()
        };
        let ranked_set = ranked_set.as_ref();
        let ranker = &mut self.ranking.ranker;
        let ranking = ranker.rank(ranked_set, context, &shopper)?;
        // Interests an explanation may name: those the profile summary lists (read only when an
        // item is explained by an interest).
        let named = if ranking.items.iter().any(|i| i.primary == Some(ReasonCode::MatchesInterest)) {
            self.profile.top_interest_keys(now, self.ctx.config.affinity_half_life_ms())
        } else {
            Vec::new()
        };
        let nameable = |key: &crate::catalog::AttributeKey| named.contains(&key);
        let mut items = Vec::with_capacity(ranking.items.len());
        for item in &ranking.items {
            let Some(id) = ranker.ids().name(item.item) else {
                continue;
            };
            let row = item.row as usize;
            let explanation = ranker.explain(ranked_set, item, context, &nameable);
            items.push(RankedProduct {
                id: id.to_owned(),
                score: item.score,
                reasons: item.reasons.iter().collect(),
                reason: explanation.text.clone(),
                explanation,
                title: ranked_set.title(row).map(str::to_owned),
                from_session: row >= set.len(),
            });
        }
        self.ranking.note_issued(ranking.impression);
        Ok(RankedList {
            items,
            impression: u32::try_from(ranking.impression).unwrap_or(u32::MAX),
            propensity: ranking.propensity,
            explored: ranking.explored,
        })
    }

    /// The ranking model as learned so far (shipped weights plus this device's learning).
    pub fn rank_model(&self) -> &RankModel {
        self.ranking.ranker.model()
    }

    /// Learning steps taken on this device since the shipped weights.
    pub fn rank_learning_steps(&self) -> u64 {
        self.ranking.steps
    }

    /// Feeds a recorded click, cart addition or purchase of an item a recent ranking showed to
    /// the online learner. Returns the learning steps taken (labelled impressions, for sync).
    pub(super) fn learn_from_event(&mut self, event: &TrackEvent) -> u64 {
        let mut steps = 0;
        for (id, outcome) in outcomes_of(event) {
            let state = &mut self.ranking;
            let Some(item) = state.ranker.ids().get(id) else {
                continue;
            };
            let Some(impression) = state.impression_showing(item) else {
                continue;
            };
            if state.first_time(impression, item, outcome) && state.ranker.feedback(impression, id, outcome).is_ok() {
                state.steps += 1;
                state.model_dirty = true;
                steps += 1;
            }
        }
        steps
    }

    /// Reads the stored model (consent just became `full`). Learning done before, in this page,
    /// wins over what is stored and is written at the next flush.
    pub(super) fn load_rank_model(&mut self) {
        let key = model_key(self.ctx.config.shop());
        match load_model(&mut self.ctx.store, &self.ctx.keys, &key) {
            Loaded::Absent => self.ranking.model_dirty = self.ranking.steps > 0,
            Loaded::Unavailable(warning) => self.ctx.warn(warning),
            Loaded::Found { value: ModelRead::Learned { .. }, .. } if self.ranking.steps > 0 => {
                self.ranking.model_dirty = true;
            }
            Loaded::Found { value: ModelRead::Learned { model, steps }, .. } => {
                *self.ranking.ranker.model_mut() = model;
                self.ranking.steps = steps;
                self.ranking.model_dirty = false;
            }
            Loaded::Found { value: ModelRead::Migrated { .. }, .. } if self.ranking.steps > 0 => {
                self.ranking.model_dirty = true;
            }
            Loaded::Found { value: ModelRead::Migrated { model, steps, from }, .. } => {
                self.ctx.warn(StorageWarning::new(WarningCode::Migrated, ModelRead::migrated_message(from)));
                *self.ranking.ranker.model_mut() = model;
                self.ranking.steps = steps;
                self.ranking.model_dirty = true;
            }
            Loaded::Found { value: ModelRead::OtherFeatures { found }, .. } => {
                self.ctx.warn(StorageWarning::new(WarningCode::Migrated, ModelRead::other_features_message(found)));
                self.ranking.model_dirty = true;
            }
            Loaded::SetAside { warning, blocked, .. } => {
                self.ctx.warn(warning);
                if blocked {
                    self.ranking.save_blocked = true;
                } else {
                    self.ranking.model_dirty = self.ranking.steps > 0;
                }
            }
        }
    }

    /// Writes the learned model when it changed (consent `full` only); failures become warnings.
    pub(super) fn save_rank_model(&mut self) {
        let state = &self.ranking;
        if !self.ctx.consent.persists() || !state.model_dirty || state.save_blocked {
            return;
        }
        let raw = encode_model(state.ranker.model(), state.steps);
        let key = model_key(self.ctx.config.shop());
        let result = self.ctx.store.set(&key, &raw).map_err(|e| {
            let code = match e {
                crate::storage::StoreError::QuotaExceeded => WarningCode::QuotaExceeded,
                crate::storage::StoreError::Unavailable(_) => WarningCode::StorageUnavailable,
            };
            StorageWarning::new(code, format!("the learned ranking model could not be saved: {e}"))
        });
        match result {
            Ok(()) => self.ranking.model_dirty = false,
            Err(warning) => self.ctx.warn(warning),
        }
    }

    /// Forgets what ranking learned about the shopper (forget, or consent dropped to `none`).
    pub(super) fn forget_ranking(&mut self) {
        self.ranking.forget_learning();
    }
}
