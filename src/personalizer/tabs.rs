//! Loading and the merge with other tabs: the engine keeps the changes it has not written and
//! re-applies them on top of whatever another tab stored, so no tab's events are lost.

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
        self.absorb_load(outcome);
        self.dirty = if found { !self.pending.is_empty() } else { !self.profile.is_empty() };
    }

    pub(super) fn absorb_load(&mut self, outcome: LoadOutcome) {
        for warning in outcome.warnings {
            self.warn(warning);
        }
        self.blocked = outcome.blocked;
        self.stored_raw = outcome.raw;
        if let Some(mut stored) = outcome.profile {
            stored.purge_sensitive(self.config.sensitive_categories());
            self.base = stored;
            self.rebuild();
        }
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
                let mut stored = decoded.profile;
                stored.purge_sensitive(self.config.sensitive_categories());
                self.base = stored;
                self.stored_raw = Some(raw);
                self.rebuild();
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
