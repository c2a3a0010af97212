//! Saving and loading the sync state (see `stored.rs` for its layout).

use crate::rank::NUM_FEATURES;
use crate::storage::{KeyValueStore, Loaded, StorageWarning, WarningCode};
use crate::sync::ModelInstall;

use super::stored::{self, decode_sync, encode_sync, load_sync, sync_key, StoredSync};
use super::{Context, SharedWeights, Syncing};

impl Syncing {
    /// `flush` hook: writes the sync state when it changed (consent `full` only).
    pub fn save_state<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) {
        // Written only once sync is configured: a shop that never syncs gets no sync key.
        let blocked = self.save_blocked;
        if blocked || !self.dirty || !ctx.consent.persists() || self.device.is_none() {
            return;
        }
        if let Err(why) = self.write_state(ctx) {
            let code = WarningCode::StorageUnavailable;
            ctx.warn(StorageWarning::new(code, format!("the sync state could not be saved: {why}")));
        }
    }

    pub(super) fn write_state<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) -> Result<(), String> {
        if !ctx.consent.persists() {
            return Err("consent is not full".to_owned());
        }
        if self.save_blocked {
            return Err(
                "an unreadable stored sync state could not be backed up: call forget() to discard it".to_owned()
            );
        }
        let raw = encode_sync(&self.stored()).map_err(|e| e.to_string())?;
        ctx.store.set(&sync_key(ctx.config.shop()), &raw).map_err(|e| e.to_string())?;
        self.dirty = false;
        Ok(())
    }

    /// Reads the stored sync state (consent just became `full`). An unreadable one is backed up,
    /// and sending pauses until the next period since what was spent is unknown.
    pub(super) fn load_state<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, ranker: &mut dyn SharedWeights) {
        let key = sync_key(ctx.config.shop());
        match load_sync(&mut ctx.store, &ctx.keys, &key) {
            // Nothing stored (first visit, or consent was lowered in this page): write what this
            // page holds at the next save.
            Loaded::Absent => self.dirty = true,
            Loaded::Unavailable(warning) => ctx.warn(warning),
            Loaded::Found { value, .. } => self.absorb_stored(ctx, ranker, value),
            Loaded::SetAside { warning, blocked, .. } => {
                // What was spent is unknown: sending pauses until the next period.
                self.pause_armed = true;
                self.save_blocked = blocked;
                ctx.warn(warning);
                self.dirty = true;
                self.save_state(ctx);
            }
        }
    }

    fn absorb_stored<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        stored: StoredSync,
    ) {
        if stored.ledger.releases() >= self.ledger.releases() {
            self.ledger = stored.ledger;
        }
        self.labelled_since_sync = self.labelled_since_sync.saturating_add(stored.labelled_since_sync);
        self.paused_until_period = self.paused_until_period.max(stored.paused_until_period);
        if self.pending.is_none() {
            self.pending = stored.pending_upload.as_deref().and_then(stored::from_hex);
        }
        if self.pending_lift.is_none() {
            self.pending_lift = stored.pending_lift_report.as_deref().and_then(stored::from_hex);
            if self.setup.is_some() {
                let slot = self.lift_dap.take();
                self.drop_unsendable_lift(ctx, &slot);
                self.lift_dap = slot;
            }
        }
        if self.carried_from.is_none() {
            self.carried_from = stored.carried_from.filter(|weights| weights.len() == NUM_FEATURES);
        }
        if let Some(bytes) = stored.shared_model.as_deref().and_then(stored::from_hex) {
            match self.device.as_mut() {
                Some(device) => {
                    if let Ok(ModelInstall::Installed { .. }) = device.install_model(&bytes) {
                        self.model_bytes = Some(bytes);
                    }
                }
                None if self.model_bytes.is_none() => self.model_bytes = Some(bytes),
                None => {}
            }
        }
        // The ranker was just loaded from storage: put it on the installed model, keeping unsent learning.
        let installed = self.device.as_ref().and_then(|d| d.shared_model()).map(|m| m.weights.clone());
        if let Some(weights) = installed {
            self.adopt_shared_weights(ctx, ranker, &weights, true);
        }
        self.dirty = true;
    }

    /// Another tab of the shop may have sent an update or lift report since this tab read the
    /// ledger: its stored ledger wins when it counts more releases.
    pub(super) fn adopt_other_tabs_ledger<S: KeyValueStore>(&mut self, ctx: &Context<S>) {
        let Ok(Some(raw)) = ctx.store.get(&sync_key(ctx.config.shop())) else { return };
        let Ok(stored) = decode_sync(&raw) else { return };
        if stored.ledger.releases() > self.ledger.releases() {
            self.ledger = stored.ledger;
            self.dirty = true;
        }
    }
}
