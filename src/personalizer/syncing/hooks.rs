//! The engine's hooks into sync: `track` counts labelled impressions, consent changes and
//! `forget()` stop syncing and reset what was learned.

use crate::consent::ConsentMode;
use crate::storage::KeyValueStore;

use super::{Context, SharedWeights, Syncing};

impl Syncing {
    /// `track` hook: counts the learning steps an event produced (`gained`) as labelled impressions.
    pub fn count_labelled(&mut self, gained: u64) {
        if gained > 0 {
            let gained = u32::try_from(gained).unwrap_or(u32::MAX);
            self.labelled_since_sync = self.labelled_since_sync.saturating_add(gained);
            self.dirty = true;
        }
    }

    /// `set_consent` hook, after the profile and the ranking model are loaded or dropped.
    pub fn consent_changed<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        from: ConsentMode,
        to: ConsentMode,
    ) {
        if from.persists() && !to.persists() {
            // Withdrawn: a booked update or lift report is never sent; the stored state is already deleted.
            self.pending = None;
            self.pending_lift = None;
            self.dirty = false;
        }
        if from.collects() && !to.collects() {
            self.learning_reset(ctx, ranker);
        }
        if to.persists() && !from.persists() {
            self.load_state(ctx, ranker);
        }
    }

    /// `forget` hook: the stored state is gone with the shop's keys; what was learned is reset.
    /// The ledger stays in memory for this page (it holds no behaviour, only spend).
    pub fn forgotten<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, ranker: &mut dyn SharedWeights) {
        self.pending = None;
        self.pending_lift = None;
        self.save_blocked = false;
        self.learning_reset(ctx, ranker);
        self.dirty = false;
    }

    /// The ranker was reset to the shipped weights: put it back on the installed shared model.
    pub fn learning_reset<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, ranker: &mut dyn SharedWeights) {
        self.labelled_since_sync = 0;
        self.carried_from = None;
        let installed = self.device.as_ref().and_then(|d| d.shared_model()).map(|m| m.weights.clone());
        if let Some(weights) = installed {
            self.adopt_shared_weights(ctx, ranker, &weights, false);
        }
        self.dirty = false;
    }
}
