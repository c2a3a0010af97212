//! The engine's hooks into sync: `track` counts labelled impressions, consent changes and
//! `forget()` stop syncing and reset what was learned.

use crate::consent::ConsentMode;
use crate::storage::KeyValueStore;

use super::Personalizer;

impl<S: KeyValueStore> Personalizer<S> {
    /// `track` hook: counts the learning steps the event produced as labelled impressions.
    pub(in crate::personalizer) fn count_labelled(&mut self, steps_before: u64) {
        let gained = self.rank_learning_steps().saturating_sub(steps_before);
        if gained > 0 {
            let gained = u32::try_from(gained).unwrap_or(u32::MAX);
            self.syncing.labelled_since_sync = self.syncing.labelled_since_sync.saturating_add(gained);
            self.syncing.dirty = true;
        }
    }

    /// `set_consent` hook, after the profile and the ranking model are loaded or dropped.
    pub(in crate::personalizer) fn sync_consent_changed(&mut self, from: ConsentMode, to: ConsentMode) {
        if from.persists() && !to.persists() {
            // Withdrawn: a booked update or lift report is never sent; the stored state is already deleted.
            self.syncing.pending = None;
            self.syncing.pending_lift = None;
            self.syncing.dirty = false;
        }
        if from.collects() && !to.collects() {
            self.sync_learning_reset();
        }
        if to.persists() && !from.persists() {
            self.load_sync_state();
        }
    }

    /// `forget` hook: the stored state is gone with the shop's keys; what was learned is reset.
    /// The ledger stays in memory for this page (it holds no behaviour, only spend).
    pub(in crate::personalizer) fn sync_forgotten(&mut self) {
        self.syncing.pending = None;
        self.syncing.pending_lift = None;
        self.syncing.save_blocked = false;
        self.sync_learning_reset();
        self.syncing.dirty = false;
    }

    /// The ranker was reset to the shipped weights: put it back on the installed shared model.
    pub(super) fn sync_learning_reset(&mut self) {
        self.syncing.labelled_since_sync = 0;
        self.syncing.carried_from = None;
        let installed = self.syncing.device.as_ref().and_then(|d| d.shared_model()).map(|m| m.weights.clone());
        if let Some(weights) = installed {
            self.adopt_shared_weights(&weights, false);
        }
        self.syncing.dirty = false;
    }
}
