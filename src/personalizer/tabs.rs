//! Loading and the merge with other tabs: the engine keeps the changes it has not written and
//! re-applies them on top of whatever another tab stored, so no tab's events are lost.

use crate::profile::Profile;
use crate::storage::{decode, load_or_back_up, KeyValueStore, LoadOutcome, StorageWarning, WarningCode};

use super::Personalizer;

/// What another tab's write meant for this one.
pub(super) enum Sync {
    Unchanged,
    Reloaded,
    Wiped,
    Unreadable,
}

impl<S: KeyValueStore> Personalizer<S> {
    pub(super) fn load_and_rebase(&mut self) {
        let outcome = {
            let limit = self.load_limit();
            load_or_back_up(&mut self.store, &self.keys, limit)
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
            self.warn(warning);
        }
        self.blocked = outcome.blocked;
        self.stored_raw = outcome.raw;
        match outcome.profile {
            Some(stored) => self.adopt_stored(stored) || migrated,
            None => false,
        }
    }

    /// Makes a stored profile the base, without anything now sensitive; returns whether it had any.
    fn adopt_stored(&mut self, mut stored: Profile) -> bool {
        let before = stored.clone();
        stored.purge_sensitive(self.config.sensitive_categories());
        let purged = stored != before;
        self.base = stored;
        self.rebuild();
        purged
    }

    /// Reads the profile key and, when another tab changed it, rebases onto it.
    pub(super) fn sync_from_store(&mut self) -> Sync {
        let current = match self.store.get(&self.keys.profile()) {
            Ok(current) => current,
            Err(e) => {
                self.warn(StorageWarning::new(WarningCode::StorageUnavailable, e.to_string()));
                return Sync::Unchanged;
            }
        };
        if current == self.stored_raw {
            return Sync::Unchanged;
        }
        let Some(raw) = current else {
            // Another tab called forget() (or the shopper cleared site data): forget here too.
            self.wipe_memory();
            self.stored_raw = None;
            return Sync::Wiped;
        };
        match decode(&raw, self.load_limit()) {
            Ok(decoded) => {
                self.stored_raw = Some(raw);
                if self.adopt_stored(decoded.profile) {
                    self.dirty = true;
                }
                Sync::Reloaded
            }
            Err(problem) => {
                let message = format!("another tab stored a profile this tab cannot read ({problem}); keeping this tab's copy");
                self.warn(StorageWarning::new(WarningCode::OtherTabUnreadable, message));
                Sync::Unreadable
            }
        }
    }
}
