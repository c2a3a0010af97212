//! The adaptation state across tabs of one shop: merged, not last-writer-wins.
//!
//! Each tab keeps the stored state it last read or wrote (`base`). Before every decision and
//! every write it reads the adaptation key; when another tab wrote since, it rebases: the new
//! state is the other tab's value plus what this tab changed since `base` (a three-way merge):
//!
//! - lift counters: `theirs + (ours − base)` per placement and metric, so counts add up once and a
//!   report taken in one tab (its counts subtracted) keeps what another tab counted meanwhile;
//! - bandit posteriors: evidence adds in natural parameters, observations add up
//!   ([`crate::adapt::Bandit::merged`]);
//! - offer history: the shows this tab added join the other tab's, so frequency caps and
//!   cooldowns count every tab's shows (each decision reads the store first);
//! - the holdout draw: always the stored one; a tab that drew its own before seeing it adopts it;
//! - click attributions and the placements that hold recommendations (for lift counting): the
//!   entries this tab added or removed since `base` are added to or removed from the other tab's;
//! - decisions waiting for a reaction (layout sections, offer, copy variants) belong to the page
//!   that made them: each tab keeps its own, so no tab learns from another page's decision (the
//!   stored value holds the last writer's, which the next page of that tab picks up).
//!
//! Writes can also cross (localStorage reaches other tabs asynchronously): every write carries a
//! lineage like the profile's, and a tab keeps its recent writes in a [`WriteLedger`]; when a value
//! appears that was built beside its write and dropped it, the tab merges that write in again.
//! Each write names its tab (`writer`), so two tabs that store the same state still write values
//! with different ids.
//!
//! Limits: a lift report taken on a stale view (another tab's report not yet seen) reports those
//! counts again; the merge then keeps every count at zero or above. Reports are exact when the
//! reporting tab's view is current, as it is whenever the storage event has arrived. As for the
//! profile, two tabs that both create the very first state of a shopper cannot tell each other's
//! value from one written after a `forget()`: the one stored last wins and the other adopts it.

use crate::adapt::{AdaptState, Adapter, Bandit, OfferHistory};
use crate::measure::LiftCounters;
use crate::storage::{
    descendant_lineage, lineage_root, value_id, KeyValueStore, Loaded, StorageWarning, StoreError, WarningCode,
};

use crate::personalizer::adapting::feedback::Feedback;
use crate::personalizer::adapting::store::{adapt_key, encode_adaptation, load_adaptation, StoredAdaptation};
use crate::personalizer::write_ledger::{Seen, WriteLedger};
use crate::personalizer::Context;

use super::Adaptation;

/// A write of this tab: the state it was built on and the state written.
#[derive(Debug, Clone)]
pub struct AdaptWrite {
    parent: Option<StoredAdaptation>,
    written: StoredAdaptation,
}

/// What this tab knows of the stored adaptation state.
#[derive(Debug, Clone, Default)]
pub struct AdaptTabs {
    /// The state as last read or written (`None`: nothing read yet, or nothing stored).
    base: Option<StoredAdaptation>,
    /// The raw value last seen under the key, and its lineage.
    raw: Option<String>,
    lineage: Vec<u32>,
    ledger: WriteLedger<AdaptWrite>,
    /// The entropy this tab's state was created from, when it was (see [`StoredAdaptation::writer`]).
    pub created_from: Option<u64>,
}

/// `theirs` plus what `ours` changed since `base` (see the module docs).
pub fn merged(base: Option<&StoredAdaptation>, ours: &StoredAdaptation, theirs: &StoredAdaptation) -> StoredAdaptation {
    let (b, o, t) = (base.map(|b| &b.state), &ours.state, &theirs.state);
    let state = AdaptState {
        version: o.version.max(t.version),
        bandit: Bandit::merged(b.map(|b| &b.bandit), &o.bandit, &t.bandit),
        holdout: t.holdout,
        offer_history: OfferHistory::merged(b.map(|b| &b.offer_history), &o.offer_history, &t.offer_history),
        lift: LiftCounters::merged(b.map(|b| &b.lift), &o.lift, &t.lift),
    };
    let empty = Feedback::default();
    let (b, o, t) = (base.map_or(&empty, |b| &b.feedback), &ours.feedback, &theirs.feedback);
    let mut feedback = Feedback {
        // Decisions waiting for a reaction belong to the page that made them: a tab never
        // settles (learns from) a decision another tab's page is still showing.
        layout: o.layout.clone(),
        offer: o.offer.clone(),
        variants: o.variants.clone(),
        recommended_placements: merged_list(
            &b.recommended_placements,
            &o.recommended_placements,
            &t.recommended_placements,
        ),
        attributions: merged_list(&b.attributions, &o.attributions, &t.attributions),
    };
    feedback.enforce_bounds();
    StoredAdaptation { state, feedback, writer: ours.writer }
}

/// `theirs` without the entries `ours` removed from `base` and with those it added (as multisets).
fn merged_list<T: PartialEq + Clone>(base: &[T], ours: &[T], theirs: &[T]) -> Vec<T> {
    let mut added: Vec<&T> = ours.iter().collect();
    let mut removed: Vec<&T> = Vec::new();
    for entry in base {
        match added.iter().position(|o| *o == entry) {
            Some(kept) => {
                added.remove(kept);
            }
            None => removed.push(entry),
        }
    }
    let mut merged = Vec::with_capacity(theirs.len() + added.len());
    for entry in theirs {
        match removed.iter().position(|r| *r == entry) {
            Some(gone) => {
                removed.remove(gone);
            }
            None => merged.push(entry.clone()),
        }
    }
    merged.extend(added.into_iter().cloned());
    merged
}

impl AdaptTabs {
    /// Stored data was deleted or forgotten: nothing is known of it any more.
    pub fn clear(&mut self) {
        *self = AdaptTabs::default();
    }
}

impl Adaptation {
    fn current(&self) -> Option<StoredAdaptation> {
        let adapter = self.adapter.as_ref()?;
        let writer = self.entropy.or(self.tabs.created_from).unwrap_or(0);
        Some(StoredAdaptation { state: adapter.state().clone(), feedback: self.feedback.clone(), writer })
    }

    /// Reads the adaptation key and, when another tab wrote since this tab last read or wrote it,
    /// merges that value with this tab's changes (consent `full` only).
    pub(super) fn refresh<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) {
        let key = adapt_key(ctx.config.shop());
        let current = match ctx.store.get(&key) {
            Ok(current) => current,
            Err(e) => return ctx.warn(StorageWarning::new(WarningCode::StorageUnavailable, e.to_string())),
        };
        if self.loaded && current == self.tabs.raw {
            return;
        }
        self.loaded = true;
        self.blocked = false;
        let load = load_adaptation(&mut ctx.store, &ctx.keys, &key, &self.config);
        let tabs = &mut self.tabs;
        let (theirs, raw, lineage) = match load {
            Loaded::Found { value: (adapter, feedback), raw, lineage, .. } => {
                (StoredAdaptation { state: adapter.state().clone(), feedback, writer: 0 }, raw, lineage)
            }
            Loaded::Absent if tabs.raw.is_some() => {
                // Another tab called forget() or lowered consent: forget here too, never resurrect.
                self.wipe();
                self.loaded = true;
                return;
            }
            Loaded::Absent => {
                // Nothing stored yet (first visit): write what this tab holds.
                self.dirty |= self.adapter.is_some();
                return;
            }
            Loaded::Unavailable(warning) => return ctx.warn(warning),
            Loaded::SetAside { warning, blocked, raw_left, .. } => {
                tabs.clear();
                tabs.raw = raw_left;
                self.blocked = blocked;
                self.dirty |= self.adapter.is_some();
                return ctx.warn(warning);
            }
        };
        let seen = Seen { id: value_id(&raw), lineage: &lineage, carried: &[], replaced: None };
        let lacking = tabs.ledger.take_lacking(seen);
        let base = tabs.base.take();
        let mut state = match self.current() {
            Some(ours) => merged(base.as_ref(), &ours, &theirs),
            None => theirs.clone(),
        };
        for write in &lacking {
            // This tab's write was dropped by a value built beside it: merge it in again.
            state = merged(write.parent.as_ref(), &write.written, &state);
        }
        let tabs = &mut self.tabs;
        tabs.base = Some(theirs.clone());
        tabs.raw = Some(raw);
        tabs.lineage = lineage;
        if state.state != theirs.state || state.feedback != theirs.feedback {
            self.dirty = true;
        }
        // The merged state passes the adapter's checks unless the stored one did not.
        if let Ok(adapter) = Adapter::restore(self.config.clone(), state.state) {
            self.adapter = Some(adapter);
            self.feedback = state.feedback;
        }
    }

    /// Writes this tab's state (already merged by [`Self::refresh`]) with its lineage.
    pub(super) fn write<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) -> Result<(), StorageWarning> {
        let Some(state) = self.current() else { return Ok(()) };
        let tabs = &self.tabs;
        let parent = tabs.raw.as_deref().map(value_id);
        let lineage = descendant_lineage(parent, &tabs.lineage);
        let raw = encode_adaptation(&state, &lineage)
            .map_err(|e| StorageWarning::new(WarningCode::StorageUnavailable, e.to_string()))?;
        ctx.store.set(&adapt_key(ctx.config.shop()), &raw).map_err(|e| {
            let code = match e {
                StoreError::QuotaExceeded => WarningCode::QuotaExceeded,
                StoreError::Unavailable(_) => WarningCode::StorageUnavailable,
            };
            StorageWarning::new(code, format!("the adaptation state could not be saved: {e}"))
        })?;
        let tabs = &mut self.tabs;
        let write = AdaptWrite { parent: tabs.base.take(), written: state.clone() };
        let id = value_id(&raw);
        tabs.ledger.record(id, parent, lineage_root(id, &lineage), vec![write]);
        tabs.base = Some(state);
        tabs.raw = Some(raw);
        tabs.lineage = lineage;
        Ok(())
    }
}

#[cfg(test)]
#[path = "tabs_tests.rs"]
mod tests;
