//! The engine the JS `Personalizer` class wraps: consent, collection, the profile and its storage.
//!
//! Generic over the [`KeyValueStore`] so it runs natively against [`crate::storage::MemoryStore`]
//! and in the browser against localStorage. The engine reads no clock: every call that needs the
//! time takes `now_ms` (`Date.now()`).
//!
//! Writes are batched: tracking changes memory and marks it dirty; [`Personalizer::flush`] writes
//! (the facade calls it on `visibilitychange`/`pagehide`, and it runs by itself every
//! [`FLUSH_AFTER_CHANGES`] changes, at most once every [`MIN_AUTOSAVE_INTERVAL_MS`]). Two tabs lose no events: each keeps the changes it has not
//! written yet and, whenever another tab has written, re-applies them on top of what that tab
//! stored (see `profile::apply`).

mod adapting;
mod carried;
mod context;
mod data_controls;
mod event_text;
mod export;
mod extension;
mod flushing;
mod outcome;
mod ranking;
mod remote;
mod result_text;
mod syncing;
mod tabs;
pub(crate) mod write_ledger;

use crate::catalog::Item;
use crate::collect::event::TrackEvent;
use crate::collect::noise::{NoiseDecision, NoiseFilter};
use crate::collect::screen::{ItemDirectory, Screened};
use crate::config::{PersonalizerConfig, ValidConfig};
use crate::consent::{self, ConsentDecision, ConsentMode};
use crate::profile::{Profile, ProfileChange, RecordedEvent, HOURS_PER_WEEK};
use crate::storage::{KeyValueStore, StorageWarning, WarningCode};

pub use adapting::{
    AdaptationError, DecisionOutcome, LayoutContext, OfferRequest, ADAPT_FORMAT_NAME, ADAPT_FORMAT_VERSION,
    NO_CONSENT_REASON,
};
pub use context::Context;
pub use extension::{CoreOnly, Extension, OnDevice};
pub use outcome::{memory_only_warning, Environment, FlushReport, PersonalizerError, TrackOutcome};
pub use ranking::{
    answer_field, read_plain_text, read_plain_tree, AnswerColumns, NeighbourColumns, PlainColumns, RankedColumns,
    RankedList, RankedProduct, RankingError, Text, ANSWER_FIELDS, MAX_LIVE_SETS, NEIGHBOUR_FIELDS,
};
pub use remote::{Detached, PartsPort, Remote, WeightsChange, WeightsSnapshot, MAX_QUEUED_FOR_PARTS};
pub use syncing::{
    decode_sync, drive, encode_sync, sync_key, SharedWeights, SkipReason, StoredSync, SyncAction, SyncEngine, SyncHost,
    SyncInput, SyncLoadError, SyncOutcome, SyncPlan, SyncRun, SyncSchedule, SyncSetup, SyncingError,
};
use tabs::Sync;
use write_ledger::WriteLedger;

/// Unwritten changes after which `track` flushes by itself (at most once every
/// [`MIN_AUTOSAVE_INTERVAL_MS`], unless [`AUTOSAVE_ANYWAY_AFTER_CHANGES`] are waiting).
pub const FLUSH_AFTER_CHANGES: usize = 20;
/// Shortest time between two writes `track` makes by itself: a burst of events (impressions while
/// scrolling) costs one rewrite of the profile, not one every few events. Page hide still flushes.
pub const MIN_AUTOSAVE_INTERVAL_MS: u64 = 2_000;
/// Unwritten changes after which `track` writes even within [`MIN_AUTOSAVE_INTERVAL_MS`].
pub const AUTOSAVE_ANYWAY_AFTER_CHANGES: usize = MAX_PENDING_CHANGES / 2;
/// Most unwritten changes kept for merging; beyond this they are folded into the base.
const MAX_PENDING_CHANGES: usize = 1_000;
/// Most items one `upsertItems` call accepts.
pub const MAX_UPSERT_ITEMS: usize = 1_000;
/// A stored value over this many times the budget is refused on load (and backed up).
const LOAD_LIMIT_FACTOR: usize = 4;
/// Largest accepted `now_ms` (2^53, the largest exact integer in a JS number).
const MAX_TIME_MS: f64 = 9_007_199_254_740_992.0;

/// The personalizer engine. See the module docs.
#[derive(Debug)]
pub struct Personalizer<S: KeyValueStore, X: Extension = OnDevice<S>> {
    /// Store, config, keys, environment, consent and warnings, shared by the parts.
    ctx: Context<S>,
    /// What callers see: `base` with `pending` applied.
    profile: Profile,
    /// The profile as last read from or written to the store.
    base: Profile,
    /// Changes not yet written, re-applied on top of other tabs' writes.
    pending: Vec<ProfileChange>,
    /// Something in memory is not in the store yet.
    dirty: bool,
    /// When this engine last wrote the profile (none yet: the first autosave is not held back).
    last_write_ms: Option<u64>,
    /// The raw value last seen under the profile key.
    stored_raw: Option<String>,
    /// Ids of the stored values the state contains, newest first (the next write's lineage).
    known: Vec<u32>,
    /// The latest value of another tab taken in (see `tabs.rs`).
    last_foreign: Option<u32>,
    foreign_lineage: Vec<u32>,
    /// The `last_foreign` this tab already wrote over a value built beside it for (see `tabs.rs`).
    /// Once only: two tabs that each hold a value the other lacks would overwrite each other forever.
    defended: Option<u32>,
    /// This tab's recent changes, in case another tab's write built beside them drops them.
    ledger: WriteLedger<ProfileChange>,
    /// A write since the last `flush()` report dropped data to fit (automatic flushes included).
    compaction_unreported: bool,
    noise: NoiseFilter,
    items: ItemDirectory,
    visit_counted: bool,
    blocked: bool,
    /// Registered candidate sets, the ranker and its learned model (see `ranking.rs`).
    ranking: ranking::RankingState,
    /// The on-demand parts (adaptation and syncing, natively [`OnDevice`]); see `extension.rs`.
    extension: X,
}

fn check_time(now_ms: f64) -> Result<u64, PersonalizerError> {
    if now_ms.is_finite() && (0.0..=MAX_TIME_MS).contains(&now_ms) {
        Ok(now_ms as u64)
    } else {
        Err(PersonalizerError::BadTime(now_ms))
    }
}

/// A time for read-only views: a bad clock reads as "no decay" rather than an error.
fn view_time(now_ms: f64) -> u64 {
    check_time(now_ms).unwrap_or(0)
}

impl<S: KeyValueStore + Clone> Personalizer<S> {
    /// Creates the engine with its adaptation and syncing parts beside it, over another handle
    /// on the same store; see [`Self::open_with`].
    pub fn open(store: S, config: PersonalizerConfig, env: Environment) -> Result<Self, PersonalizerError> {
        let parts = OnDevice::new(store.clone(), config.clone().validate()?, env);
        Personalizer::open_with(store, config, env, parts)
    }
}

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// Creates the engine; consent starts at `none`, so nothing is read, collected or stored yet.
    ///
    /// ```js
    /// const p = new Personalizer({ shop: "acme", sensitiveCategories: ["Health"] });
    /// ```
    pub fn open_with(
        store: S,
        config: PersonalizerConfig,
        env: Environment,
        extension: X,
    ) -> Result<Self, PersonalizerError> {
        let config = config.validate()?;
        let mut ctx = Context::new(store, config, env);
        if let Some(reason) = ctx.store.unavailable_reason() {
            let warning = memory_only_warning(reason);
            ctx.warn(warning);
        }
        Ok(Personalizer {
            ctx,
            profile: Profile::default(),
            base: Profile::default(),
            pending: Vec::new(),
            dirty: false,
            last_write_ms: None,
            stored_raw: None,
            known: Vec::new(),
            last_foreign: None,
            foreign_lineage: Vec::new(),
            defended: None,
            ledger: WriteLedger::default(),
            compaction_unreported: false,
            noise: NoiseFilter::new(),
            items: ItemDirectory::default(),
            visit_counted: false,
            blocked: false,
            ranking: ranking::RankingState::default(),
            extension,
        })
    }

    /// Sets consent. Global Privacy Control caps `full` at `session` unless `shopperOptedIn`.
    /// Raising to `full` loads the stored profile; lowering deletes what the new mode may not keep.
    ///
    /// ```js
    /// const { effective } = p.setConsent("full", false); // "session" if the browser sends GPC
    /// ```
    pub fn set_consent(&mut self, requested: ConsentMode, shopper_opted_in: bool) -> ConsentDecision {
        let decision = consent::decide(requested, self.ctx.env.global_privacy_control, shopper_opted_in);
        let (from, to) = (self.ctx.consent, decision.effective);
        let retention = consent::retention(from, to);
        if retention.delete_stored {
            if let Err(e) = self.ctx.keys.remove_all(&mut self.ctx.store) {
                self.ctx.warn(StorageWarning::new(
                    WarningCode::StorageUnavailable,
                    format!("could not delete stored data: {e}"),
                ));
            }
            self.stored_raw = None;
            self.known.clear();
            self.last_foreign = None;
            self.defended = None;
            self.blocked = false;
            self.fold_pending();
        }
        if retention.wipe_memory {
            self.wipe_memory();
            self.forget_ranking();
        }
        self.ctx.consent = to;
        if to.persists() && !from.persists() {
            self.load_and_rebase();
            self.load_rank_model();
        }
        if to.collects() && !from.collects() {
            let views =
                self.profile.session_items().iter().filter(|e| e.kind == crate::collect::event::EventKind::View);
            let last = (self.profile.visits().sessions > 0).then_some(self.profile.session().last_activity_ms as f64);
            self.noise = NoiseFilter::resume(last, views.map(|e| (e.item_id.as_str(), e.at_ms as f64)));
        }
        self.extension.consent_changed(&mut self.ranking, from, to);
        decision
    }

    /// The consent that applies now.
    pub fn consent(&self) -> ConsentMode {
        self.ctx.consent
    }

    /// Records one event. Invalid events are rejected with an error and store nothing; valid ones
    /// may still be dropped (noise, bot, sensitive, no consent), which the outcome says.
    ///
    /// ```js
    /// p.track({ type: "view", itemId: "sku-1", item: { categoryPath: ["Shoes"], price: 89 } });
    /// // → { status: "recorded", newSession: true }
    /// ```
    pub fn track(
        &mut self,
        event: TrackEvent,
        now_ms: f64,
        local_hour_of_week: u32,
    ) -> Result<TrackOutcome, PersonalizerError> {
        let at_ms = check_time(now_ms)?;
        if local_hour_of_week as usize >= HOURS_PER_WEEK {
            return Err(PersonalizerError::BadHour(local_hour_of_week));
        }
        event.validate()?;
        if !self.ctx.consent.collects() {
            return Ok(TrackOutcome::NoConsent);
        }
        let screened = self.items.screen(event, &self.profile, self.ctx.config.sensitive_categories());
        self.erase_newly_sensitive();
        let (event, attributes) = match screened {
            Screened::Sensitive => return Ok(TrackOutcome::Sensitive),
            Screened::Keep { event, attributes } => (event, attributes),
        };
        let new_session = match self.noise.decide(self.ctx.config.noise(), &event, now_ms, self.ctx.env.webdriver) {
            NoiseDecision::Filtered { reason } => return Ok(TrackOutcome::Filtered { reason }),
            NoiseDecision::Recorded { new_session } => new_session,
        };
        let labelled = self.learn_from_event(&event);
        self.extension.observe(&event, new_session, labelled);
        let visit_device = (!self.visit_counted).then_some(self.ctx.env.device);
        self.visit_counted = true;
        let hour_of_week = local_hour_of_week as u8;
        self.commit(ProfileChange::Record(RecordedEvent { event, at_ms, hour_of_week, attributes, visit_device }));
        if self.ctx.consent.persists() && self.autosave_due(at_ms) {
            self.flush_or_warn(now_ms);
        }
        Ok(TrackOutcome::Recorded { new_session })
    }

    /// Tells the engine about items (attributes used by later id-only events). Items in a
    /// sensitive category are never kept, and any trace of them is removed. All or nothing:
    /// one invalid item rejects the call. Returns how many items were kept.
    ///
    /// ```js
    /// p.upsertItems([{ id: "sku-1", categoryPath: ["Shoes", "Running"], brand: "Acme", price: 89, tags: [] }]);
    /// ```
    pub fn upsert_items(&mut self, items: &[Item]) -> Result<usize, PersonalizerError> {
        if items.len() > MAX_UPSERT_ITEMS {
            return Err(PersonalizerError::TooManyItems(items.len()));
        }
        for (index, item) in items.iter().enumerate() {
            item.validate().map_err(|source| PersonalizerError::Item { index, source })?;
        }
        let sensitive = self.ctx.config.sensitive_categories().to_vec();
        let kept = items.iter().filter(|item| !self.items.learn(item, &sensitive)).count();
        self.erase_newly_sensitive();
        Ok(kept)
    }

    /// Call from the `storage` event with its `key` (`null` when storage was cleared): picks up
    /// what another tab of the shop wrote, keeping this tab's unsaved changes.
    ///
    /// ```js
    /// addEventListener("storage", (e) => p.onStorageChanged(e.key));
    /// ```
    pub fn on_storage_changed(&mut self, key: Option<&str>) {
        if !self.ctx.consent.persists() || key.is_some_and(|k| k != self.ctx.keys.profile()) {
            return;
        }
        self.sync_from_store();
    }

    /// Problems that did not stop the engine (unreadable stored data and where it was kept,
    /// migrations, a full store), oldest first.
    ///
    /// ```js
    /// for (const w of p.warnings()) console.warn(w.code, w.message);
    /// ```
    pub fn warnings(&self) -> Vec<StorageWarning> {
        self.ctx.warnings.iter().chain(self.extension.warnings()).cloned().collect()
    }

    /// Returns the warnings and clears them.
    pub fn take_warnings(&mut self) -> Vec<StorageWarning> {
        let mut warnings = std::mem::take(&mut self.ctx.warnings);
        warnings.extend(self.extension.take_warnings());
        warnings
    }

    /// The profile (for ranking, offers and layout).
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn config(&self) -> &ValidConfig {
        &self.ctx.config
    }

    /// True when there are changes not yet written.
    pub fn has_unsaved_changes(&self) -> bool {
        self.dirty && self.ctx.consent.persists()
    }

    fn load_limit(&self) -> usize {
        self.ctx.config.storage_budget_bytes() * LOAD_LIMIT_FACTOR
    }

    /// Erases every mention of items just found to be sensitive.
    fn erase_newly_sensitive(&mut self) {
        for id in self.items.take_newly_sensitive() {
            self.extension.forget_item(&id);
            // No later write may carry a trace of it for other tabs (see `carried.rs`).
            self.ledger.stop_carrying(|change| change.mentions_item(&id));
            let mentioned = self.profile.mentions_item(&id) || self.profile.cached_attributes(&id).is_some();
            if self.ctx.consent.collects() && mentioned {
                self.commit(ProfileChange::ForgetItem(id));
            }
        }
    }

    fn commit(&mut self, change: ProfileChange) {
        self.profile.apply(&change, &self.ctx.config);
        self.record_applied(change);
    }

    /// Notes a change already applied to `profile`.
    fn record_applied(&mut self, change: ProfileChange) {
        self.pending.push(change);
        self.dirty = true;
        if self.pending.len() > MAX_PENDING_CHANGES {
            self.fold_pending();
        }
    }
}
