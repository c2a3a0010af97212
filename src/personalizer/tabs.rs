//! Loading and the merge with other tabs: the engine keeps the changes it has not written and
//! re-applies them on top of whatever another tab stored, so no tab's events are lost.
//!
//! Two tabs can also write at nearly the same time, each on top of the same older value (browsers
//! propagate localStorage writes between tabs asynchronously). The later write then drops the
//! earlier one. To recover, a tab keeps the changes of its recent writes in a [`WriteLedger`]
//! until it sees a value built on them. Each stored value lists its ancestors (`lineage`, see the
//! envelope): a value whose ancestors include this tab's write contains it; a value whose
//! ancestors include the value this tab wrote onto, but not this tab's write, was built beside it
//! and overwrote it, so the tab re-applies that write's changes on top.

use crate::collect::noise::NoiseFilter;
use crate::profile::stored::{decode, load_or_back_up, LoadOutcome};
use crate::profile::{Profile, ProfileChange};
use crate::storage::{KeyValueStore, StorageWarning, WarningCode, MAX_LINEAGE};

use super::{Extension, Personalizer};

/// One of this tab's writes not yet seen inside another tab's value.
#[derive(Debug, Clone)]
struct OwnWrite {
    id: u32,
    /// The value it was written onto, if any.
    parent: Option<u32>,
    /// How many of the ledger's changes it carries (counted from the ledger's start).
    changes_upto: usize,
}

/// This tab's recent writes and the changes they carried, until another tab's value shows them.
/// The profile's changes are [`ProfileChange`]s; the adaptation state's are whole writes (see
/// `adapting/tabs.rs`).
#[derive(Debug, Clone)]
pub(super) struct WriteLedger<C = ProfileChange> {
    writes: Vec<OwnWrite>,
    changes: Vec<C>,
}

impl<C> Default for WriteLedger<C> {
    fn default() -> Self {
        WriteLedger { writes: Vec::new(), changes: Vec::new() }
    }
}

impl<C> WriteLedger<C> {
    /// Notes a write of `id` onto `parent` that carried `changes`.
    pub(super) fn record(&mut self, id: u32, parent: Option<u32>, changes: Vec<C>) {
        self.changes.extend(changes);
        self.writes.push(OwnWrite { id, parent, changes_upto: self.changes.len() });
        if self.writes.len() > MAX_LINEAGE {
            // Older than any lineage can show: assume it was seen.
            self.forget_through(0);
        }
    }

    pub(super) fn clear(&mut self) {
        self.writes.clear();
        self.changes.clear();
    }

    /// Drops writes up to and including `index` with their changes.
    fn forget_through(&mut self, index: usize) {
        let Some(upto) = self.writes.get(index).map(|write| write.changes_upto) else { return };
        self.changes.drain(..upto);
        self.writes.drain(..=index);
        for write in &mut self.writes {
            write.changes_upto -= upto;
        }
    }

    /// Given the lineage of a value another tab stored, returns the changes of this tab's writes
    /// that the value lacks (to re-apply on top of it), and forgets every write.
    pub(super) fn reconcile(&mut self, lineage: &[u32]) -> Vec<C> {
        if let Some(latest_seen) = self.writes.iter().rposition(|w| lineage.contains(&w.id)) {
            self.forget_through(latest_seen);
        }
        let overwritten = self.writes.first().and_then(|w| w.parent).is_some_and(|parent| lineage.contains(&parent));
        let lacking = if overwritten { std::mem::take(&mut self.changes) } else { Vec::new() };
        self.clear();
        lacking
    }
}

/// What another tab's write meant for this one.
pub(super) enum Sync {
    Unchanged,
    Reloaded,
    Wiped,
    Unreadable,
}

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// Makes the current profile the base (merging can then no longer replay these changes).
    pub(super) fn fold_pending(&mut self) {
        self.base = self.profile.clone();
        self.pending.clear();
        self.ledger.clear();
    }

    pub(super) fn rebuild(&mut self) {
        let mut profile = self.base.clone();
        for change in &self.pending {
            profile.apply(change, &self.ctx.config);
        }
        self.profile = profile;
    }

    pub(super) fn wipe_memory(&mut self) {
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
        self.stored_raw = outcome.raw;
        self.stored_lineage = outcome.lineage;
        self.ledger.clear();
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
            // Another tab called forget() (or the shopper cleared site data): forget here too,
            // including what ranking and adaptation learned.
            self.wipe_memory();
            self.forget_ranking();
            self.extension.other_tab_forgot();
            self.stored_raw = None;
            self.stored_lineage.clear();
            return Sync::Wiped;
        };
        match decode(&raw, self.load_limit()) {
            Ok(decoded) => {
                let mut lacking = self.ledger.reconcile(&decoded.lineage);
                if !lacking.is_empty() {
                    // Our last write was overwritten by a value built beside it: apply it again.
                    lacking.append(&mut self.pending);
                    self.pending = lacking;
                    self.dirty = true;
                }
                self.stored_raw = Some(raw);
                self.stored_lineage = decoded.lineage;
                if self.adopt_stored(decoded.profile) {
                    self.dirty = true;
                }
                Sync::Reloaded
            }
            Err(problem) => {
                let message =
                    format!("another tab stored a profile this tab cannot read ({problem}); keeping this tab's copy");
                self.ctx.warn(StorageWarning::new(WarningCode::OtherTabUnreadable, message));
                Sync::Unreadable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(n: usize) -> ProfileChange {
        ProfileChange::ForgetItem(format!("item-{n}"))
    }

    fn ledger() -> WriteLedger<ProfileChange> {
        let mut ledger = WriteLedger::default();
        ledger.record(10, Some(1), vec![change(0)]);
        ledger.record(11, Some(10), vec![change(1), change(2)]);
        ledger
    }

    #[test]
    fn a_value_built_on_our_latest_write_lacks_nothing() {
        let mut ledger = ledger();
        assert!(ledger.reconcile(&[11, 10, 1]).is_empty());
        assert!(ledger.writes.is_empty() && ledger.changes.is_empty());
    }

    #[test]
    fn a_value_built_on_our_first_write_lacks_the_second() {
        assert_eq!(ledger().reconcile(&[10, 1]), vec![change(1), change(2)]);
    }

    #[test]
    fn a_value_built_beside_our_writes_lacks_all_of_them() {
        assert_eq!(ledger().reconcile(&[1]), vec![change(0), change(1), change(2)]);
    }

    #[test]
    fn an_unrelated_value_resurrects_nothing() {
        // E.g. a fresh profile written after another tab's forget().
        assert!(ledger().reconcile(&[]).is_empty());
        assert!(ledger().reconcile(&[99]).is_empty());
    }

    #[test]
    fn the_ledger_stays_bounded() {
        let mut ledger = WriteLedger::<ProfileChange>::default();
        for n in 0..MAX_LINEAGE as u32 + 5 {
            ledger.record(100 + n, Some(99 + n), vec![change(n as usize)]);
        }
        assert_eq!(ledger.writes.len(), MAX_LINEAGE);
        assert_eq!(ledger.changes.len(), MAX_LINEAGE);
        assert_eq!(ledger.changes[0], change(5));
    }
}
