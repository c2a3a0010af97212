//! Loading and the merge with other tabs: the engine keeps the changes it has not written and
//! re-applies them on top of whatever another tab stored, so no tab's events are lost.
//!
//! Two tabs can also write at nearly the same time, each on top of the same older value (browsers
//! propagate localStorage writes between tabs asynchronously). The later write then drops the
//! earlier one. To recover, a tab keeps the changes of its recent writes in a [`WriteLedger`]
//! until it sees a value that contains them, and applies them again on top of a value built
//! beside them. Each stored value lists the values it contains (`lineage`, see the envelope), and
//! the tab keeps the same list for its own state (`known`).
//!
//! The tab that wrote a dropped value may be gone (closed right after its flush): the tab that
//! dropped it learns of it from the `storage` event (`newValue`, which no read shows any more),
//! takes it as its base, applies its own changes again on top and writes at once
//! ([`Personalizer::on_storage_event`]). Events arrive in the order the browser applied the writes,
//! so they also tell a value written beside ours onto an empty store from one written after a
//! `forget()` (whose removal arrives first and wipes this tab).
//!
//! A tab that took in another tab's value holds its changes only as state, in no ledger (a tab
//! reopened after a close loads the closed tab's last write so). When it then reads or hears a
//! value written after that one but without it, it does not adopt it (which would drop the value
//! for good if its tab is gone): it writes its state over it, once per value taken in, and the tab
//! that wrote it, open since it just did, applies its own batches again on top.
//!
//! A tab's batches outlive it: each write carries its recent batches beside the profile (see
//! `carried.rs`), and a tab that takes a value in (loads it, adopts it, or hears of it too late to
//! adopt it) takes over the batches it carries that its state lacks. So a value built beside one
//! whose tab has closed gets that tab's changes applied again by whichever tab holds them. A value
//! read from the store that shares no history with a batch (another first write onto an empty
//! store, or a value written after a `forget()`) holds the batch undecided until that value's
//! `storage` event comes: a `forget()`'s removal event comes first and clears it.
//!
//! Limits: what is carried is bounded (whole batches of the last minutes, see `carried.rs`); two
//! tabs that both close before either hears of the other's last write lose that write
//! (`tests/tab_races.rs` measures how often: 4 of 300 runs with both tabs closing at Chromium's
//! lag lose 9 of 26,493 events, none with one tab closing).
//!
//! When the store has moved on to another tab's value that lacks the value an event brought,
//! the merge is written over it rather than rebased onto it (which would drop that value again);
//! the other tab hears that its write was replaced and applies its batches again.

use crate::collect::noise::NoiseFilter;
use crate::profile::stored::{decode, load_or_back_up, LoadOutcome};
use crate::profile::Profile;
use crate::storage::{bounded_lineage, lineage_root, value_id, KeyValueStore, StorageWarning, WarningCode};

use super::carried::{decode_carried, Carried};
use super::write_ledger::Seen;
use super::{Extension, Personalizer};

/// Most ids of stored values a tab remembers its state to contain.
const MAX_KNOWN: usize = 256;

/// The ids a state holding value `id` (with `lineage`) and this tab's `replayed` writes contains,
/// newest first, the root last. The replayed writes come right after `id`: they are as new to the
/// state as `id` is, and listed after the adopted lineage they were the first ids a bounded
/// lineage dropped, so the other tab took the merged value for an older one and ignored it.
///
/// Two histories meet when both tabs' first writes land on an empty store and each merges the
/// other's: then the state's root is the smaller of the two (of the value's root and those of
/// the replayed batches), so both tabs name the same root from then on and a batch of either
/// history stays related to every later value.
fn known_ids(id: u32, lineage: &[u32], replayed: &[u32], replayed_roots: &[u32]) -> Vec<u32> {
    let root = replayed_roots.iter().fold(lineage_root(id, lineage), |root, &other| root.min(other));
    let mut ids = vec![id];
    for &other in replayed.iter().chain(lineage) {
        if !ids.contains(&other) && other != root {
            ids.push(other);
        }
    }
    if !ids.contains(&root) {
        ids.push(root);
    }
    bounded_lineage(&ids, MAX_KNOWN)
}

/// What another tab's write meant for this one.
pub(super) enum Sync {
    Unchanged,
    Reloaded,
    Wiped,
    Unreadable,
    /// Left as it was: it was built beside the value this tab holds; the next write goes over it.
    Defended,
    /// Not adopted (older than this state, or beside it), but what it carried and the state lacked
    /// was taken over.
    TookOver,
}

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// Makes the current profile the base (merging can then no longer replay these changes).
    pub(super) fn fold_pending(&mut self) {
        self.base = self.profile.clone();
        self.pending.clear();
        self.ledger.clear();
    }

    /// `base` with the changes waiting to be applied again and the unwritten ones.
    pub(super) fn rebuild(&mut self) {
        let mut profile = self.base.clone();
        for change in self.ledger.waiting_changes().chain(&self.pending) {
            profile.apply(change, &self.ctx.config);
        }
        self.profile = profile;
    }

    pub(super) fn wipe_memory(&mut self) {
        self.known.clear();
        self.last_foreign = None;
        self.defended = None;
        self.profile = Profile::default();
        self.base = Profile::default();
        self.pending.clear();
        self.ledger.clear();
        self.dirty = false;
        self.noise = NoiseFilter::new();
        self.visit_counted = false;
    }

    pub(super) fn load_and_rebase(&mut self) {
        let outcome = {
            let limit = self.load_limit();
            load_or_back_up(&mut self.ctx.store, &self.ctx.keys, limit)
        };
        let found = outcome.profile.is_some();
        let rewrite = self.absorb_load(outcome);
        self.dirty = if found { rewrite || !self.pending.is_empty() } else { !self.profile.is_empty() };
    }

    /// Takes in what loading found; returns true when the stored value should be rewritten
    /// (it was migrated, or held items that are sensitive under the current config).
    pub(super) fn absorb_load(&mut self, outcome: LoadOutcome) -> bool {
        let migrated = outcome.warnings.iter().any(|w| w.code == WarningCode::Migrated);
        for warning in outcome.warnings {
            self.ctx.warn(warning);
        }
        self.blocked = outcome.blocked;
        self.ledger.clear();
        self.known = match &outcome.raw {
            Some(raw) => known_ids(value_id(raw), &outcome.lineage, &[], &[]),
            None => Vec::new(),
        };
        if let (Some(raw), Some(_)) = (&outcome.raw, &outcome.profile) {
            // A tab reopened after a close holds the closed tab's batches so, and can apply them
            // again on top of a value built beside them.
            let carried = self.carried_batches(outcome.recent.as_deref());
            self.ledger.inherit(value_id(raw), carried.batches, &carried.held);
        }
        self.last_foreign = self.known.first().copied();
        self.stored_raw = outcome.raw;
        match outcome.profile {
            Some(stored) => self.adopt_stored(stored) || migrated,
            None => false,
        }
    }

    /// Makes a stored profile the base, without anything now sensitive; returns whether it had any.
    fn adopt_stored(&mut self, mut stored: Profile) -> bool {
        let before = stored.clone();
        stored.purge_sensitive(self.ctx.config.sensitive_categories());
        let purged = stored != before;
        self.base = stored;
        self.rebuild();
        purged
    }

    /// Reads the profile key and, when another tab changed it, rebases onto it.
    pub(super) fn sync_from_store(&mut self) -> Sync {
        let current = match self.ctx.store.get(&self.ctx.keys.profile()) {
            Ok(current) => current,
            Err(e) => {
                self.ctx.warn(StorageWarning::new(WarningCode::StorageUnavailable, e.to_string()));
                return Sync::Unchanged;
            }
        };
        if current == self.stored_raw {
            return Sync::Unchanged;
        }
        let Some(raw) = current else {
            // Another tab called forget() (or the shopper cleared site data): forget here too.
            self.other_tab_forgot();
            return Sync::Wiped;
        };
        if self.known.contains(&value_id(&raw)) {
            // This state already holds it (this tab's own write, or a value merged from an event).
            self.stored_raw = Some(raw);
            return Sync::Unchanged;
        }
        self.take_in(raw, None)
    }

    /// Forgets everything, including what ranking and adaptation learned.
    fn other_tab_forgot(&mut self) {
        self.wipe_memory();
        self.forget_ranking();
        self.extension.other_tab_forgot();
        self.stored_raw = None;
    }

    /// Call from the `storage` event with its `key`, `oldValue` and `newValue` (each `null` when
    /// absent): picks up what another tab of the shop wrote, keeping this tab's unsaved changes,
    /// including a value the store no longer holds because this tab's write replaced it (its tab
    /// may be closed by now): that one is merged and written back at once.
    ///
    /// ```js
    /// addEventListener("storage", (e) => p.onStorageEvent(e.key, e.oldValue, e.newValue));
    /// ```
    pub fn on_storage_event(
        &mut self,
        key: Option<&str>,
        old_value: Option<&str>,
        new_value: Option<&str>,
        now_ms: f64,
    ) {
        if !self.ctx.consent.persists() || key.is_some_and(|k| k != self.ctx.keys.profile()) {
            return;
        }
        let Some(new_value) = new_value.filter(|_| key.is_some()) else {
            // Removed or `localStorage.clear()`ed: another tab forgot.
            if self.stored_raw.is_some() || !self.known.is_empty() {
                self.other_tab_forgot();
            }
            return;
        };
        if self.ledger.decide(value_id(new_value)) {
            // This tab's batches beside a value it read from the store (an empty store's other
            // first write) were not forgotten: no removal came before this value's event.
            self.rebuild();
            self.dirty = true;
            if self.known.contains(&value_id(new_value)) {
                self.save_or_warn(now_ms, true);
                return;
            }
        }
        if self.stored_raw.as_deref() == Some(new_value) || self.known.contains(&value_id(new_value)) {
            return;
        }
        let taken = self.take_in(new_value.to_owned(), Some(old_value.map(value_id)));
        match taken {
            Sync::Defended => return self.save_or_warn(now_ms, false),
            Sync::TookOver => return self.save_or_warn(now_ms, true),
            _ => {}
        }
        if let Sync::Reloaded = taken {
            let current = self.ctx.store.get(&self.ctx.keys.profile()).ok().flatten();
            let lost = current.as_deref() != Some(new_value);
            if lost || self.ledger.waiting_changes().next().is_some() {
                // Write the merge now, while this tab is surely open: the value may exist nowhere
                // else. When the store moved on to another tab's value that lacks it, write over
                // that one rather than rebase onto it (which would drop the value again): its tab
                // hears that its write was replaced and applies it again.
                let id = value_id(new_value);
                let limit = self.load_limit();
                let holds_it = |raw: &str| decode(raw, limit).is_ok_and(|d| d.lineage.contains(&id));
                let foreign = current.as_ref().is_some_and(|raw| Some(raw) != self.stored_raw.as_ref());
                let over = lost && foreign && !current.as_deref().is_some_and(holds_it);
                self.dirty = true;
                self.save_or_warn(now_ms, !over);
            }
        }
    }

    /// The batches a stored value carries (see `carried.rs`), but none with an item of a category
    /// this tab's config holds sensitive (a tab of an older config wrote it); unreadable ones are
    /// ignored with a warning (merging then works as without them).
    #[inline(never)]
    fn carried_batches(&mut self, recent: Option<&str>) -> Carried {
        let Some(text) = recent else { return Carried::default() };
        let sensitive = self.ctx.config.sensitive_categories();
        let decoded = decode_carried(text).map(|mut carried| {
            // Held by the value, but not taken over.
            let (doomed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut carried.batches)
                .into_iter()
                .partition(|batch| batch.changes.iter().any(|change| change.touches_sensitive(sensitive)));
            carried.batches = kept;
            carried.held.extend(doomed.iter().map(|batch| batch.origin));
            carried
        });
        decoded.unwrap_or_else(|problem| {
            let message = format!(
                "the recent changes stored beside the profile for other tabs could not be read ({problem}); \
                 they are ignored"
            );
            self.ctx.warn(StorageWarning::new(WarningCode::OtherTabUnreadable, message));
            Carried::default()
        })
    }

    /// Whether `seen` was written after the value this tab last took in from another tab but
    /// without it (its tab had not heard of it), for the first time for that value: read from the
    /// store (a tab's view only moves forward) or from an event replacing a value the state holds.
    fn built_beside_our_base(&self, seen: Seen<'_>) -> bool {
        let Some(base) = self.last_foreign else { return false };
        let after_it = match seen.replaced {
            None => true,
            Some(Some(old)) => self.known.contains(&old),
            Some(None) => false,
        };
        base != seen.id && !seen.lineage.contains(&base) && after_it && self.defended != Some(base)
    }

    /// Rebases onto a value another tab stored: read from the store (`replaced: None`) or from a
    /// `storage` event (`replaced`: the id of the value it replaced, `None` for an empty key).
    fn take_in(&mut self, raw: String, replaced: Option<Option<u32>>) -> Sync {
        let decoded = match decode(&raw, self.load_limit()) {
            Ok(decoded) => decoded,
            Err(problem) => {
                let message =
                    format!("another tab stored a profile this tab cannot read ({problem}); keeping this tab's copy");
                self.ctx.warn(StorageWarning::new(WarningCode::OtherTabUnreadable, message));
                return Sync::Unreadable;
            }
        };
        let id = value_id(&raw);
        let carried = self.carried_batches(decoded.recent.as_deref());
        let origins = carried.origins();
        let seen = Seen { id, lineage: &decoded.lineage, carried: &origins, replaced };
        if let (Some(_), Some(foreign)) = (replaced, self.last_foreign) {
            // An event's value that lacks what this tab took in from other tabs is older than it,
            // or a third tab's value beside it (which that tab merges): adopting it would drop it.
            // A value built on everything that one was built on holds it too, unless that one
            // carried changes of its own: then its tab, having written since, holds them too.
            let built_on_all =
                !self.foreign_lineage.is_empty() && self.foreign_lineage.iter().all(|id| seen.lineage.contains(id));
            if !(seen.lineage.contains(&foreign) || replaced == Some(Some(foreign)) || built_on_all) {
                // Whose tab may have closed before any tab took it in: what it carries and this
                // state lacks is applied here, and written at once.
                let known = &self.known;
                if self
                    .ledger
                    .take_over_lacking(id, carried.batches, |batch| batch.written_in.iter().any(|w| known.contains(w)))
                {
                    self.rebuild();
                    self.dirty = true;
                    return Sync::TookOver;
                }
                return Sync::Unchanged;
            }
        }
        if self.built_beside_our_base(seen) {
            // Adopting it would drop the value this tab took in, whose own changes no live ledger
            // may hold (its tab may have closed right after writing it): keep the state and write
            // it over that value once; its tab, open since it just wrote, applies its batches again.
            self.defended = self.last_foreign;
            self.dirty = true;
            // What that value carries and this state lacks goes into the write too (its tab may
            // close before it hears of the write).
            let known = &self.known;
            if self
                .ledger
                .take_over_lacking(id, carried.batches, |batch| batch.written_in.iter().any(|w| known.contains(w)))
            {
                self.rebuild();
            }
            if replaced.is_none() {
                self.stored_raw = Some(raw);
            }
            return Sync::Defended;
        }
        if self.ledger.reconcile(seen) {
            // This tab's write was dropped by a value built beside it: apply it again.
            self.dirty = true;
        }
        self.ledger.inherit(id, carried.batches, &carried.held);
        self.known = known_ids(id, &decoded.lineage, &self.ledger.replayed_writes(seen), &self.ledger.replayed_roots());
        self.last_foreign = Some(id);
        self.foreign_lineage = decoded.lineage.clone();
        if replaced.is_none() {
            self.stored_raw = Some(raw);
        }
        if self.adopt_stored(decoded.profile) {
            self.dirty = true;
        }
        Sync::Reloaded
    }
}
