//! Saving and loading the sync state (see `stored.rs` for its layout).

use crate::rank::NUM_FEATURES;
use crate::storage::{KeyValueStore, Loaded, StorageWarning, WarningCode};
use crate::sync::ModelInstall;

use super::stored::{self, decode_sync, encode_sync, load_sync, sync_key, StoredSync};
use super::Personalizer;

impl<S: KeyValueStore> Personalizer<S> {
    /// `flush` hook: writes the sync state when it changed (consent `full` only).
    pub(in crate::personalizer) fn save_sync_state(&mut self) {
        // Written only once sync is configured: a shop that never syncs gets no sync key.
        let blocked = self.syncing.save_blocked;
        if blocked || !self.syncing.dirty || !self.ctx.consent.persists() || self.syncing.device.is_none() {
            return;
        }
        if let Err(why) = self.write_sync_state() {
            let code = WarningCode::StorageUnavailable;
            self.ctx.warn(StorageWarning::new(code, format!("the sync state could not be saved: {why}")));
        }
    }

    pub(super) fn write_sync_state(&mut self) -> Result<(), String> {
        if !self.ctx.consent.persists() {
            return Err("consent is not full".to_owned());
        }
        if self.syncing.save_blocked {
            return Err(
                "an unreadable stored sync state could not be backed up: call forget() to discard it".to_owned()
            );
        }
        let raw = encode_sync(&self.syncing.stored()).map_err(|e| e.to_string())?;
        self.ctx.store.set(&sync_key(self.ctx.config.shop()), &raw).map_err(|e| e.to_string())?;
        self.syncing.dirty = false;
        Ok(())
    }

    /// Reads the stored sync state (consent just became `full`). An unreadable one is backed up,
    /// and sending pauses until the next period since what was spent is unknown.
    pub(super) fn load_sync_state(&mut self) {
        let key = sync_key(self.ctx.config.shop());
        match load_sync(&mut self.ctx.store, &self.ctx.keys, &key) {
            // Nothing stored (first visit, or consent was lowered in this page): write what this
            // page holds at the next save.
            Loaded::Absent => self.syncing.dirty = true,
            Loaded::Unavailable(warning) => self.ctx.warn(warning),
            Loaded::Found { value, .. } => self.absorb_stored(value),
            Loaded::SetAside { warning, blocked, .. } => {
                // What was spent is unknown: sending pauses until the next period.
                self.syncing.pause_armed = true;
                self.syncing.save_blocked = blocked;
                self.ctx.warn(warning);
                self.syncing.dirty = true;
                self.save_sync_state();
            }
        }
    }

    fn absorb_stored(&mut self, stored: StoredSync) {
        if stored.ledger.releases() >= self.syncing.ledger.releases() {
            self.syncing.ledger = stored.ledger;
        }
        self.syncing.labelled_since_sync = self.syncing.labelled_since_sync.saturating_add(stored.labelled_since_sync);
        self.syncing.paused_until_period = self.syncing.paused_until_period.max(stored.paused_until_period);
        if self.syncing.pending.is_none() {
            self.syncing.pending = stored.pending_upload.as_deref().and_then(stored::from_hex);
        }
        if self.syncing.pending_lift.is_none() {
            self.syncing.pending_lift = stored.pending_lift_report.as_deref().and_then(stored::from_hex);
        }
        if self.syncing.carried_from.is_none() {
            self.syncing.carried_from = stored.carried_from.filter(|weights| weights.len() == NUM_FEATURES);
        }
        if let Some(bytes) = stored.shared_model.as_deref().and_then(stored::from_hex) {
            match self.syncing.device.as_mut() {
                Some(device) => {
                    if let Ok(ModelInstall::Installed { .. }) = device.install_model(&bytes) {
                        self.syncing.model_bytes = Some(bytes);
                    }
                }
                None if self.syncing.model_bytes.is_none() => self.syncing.model_bytes = Some(bytes),
                None => {}
            }
        }
        // The ranker was just loaded from storage: put it on the installed model, keeping unsent learning.
        let installed = self.syncing.device.as_ref().and_then(|d| d.shared_model()).map(|m| m.weights.clone());
        if let Some(weights) = installed {
            self.adopt_shared_weights(&weights, true);
        }
        self.syncing.dirty = true;
    }

    /// Another tab of the shop may have sent an update or lift report since this tab read the
    /// ledger: its stored ledger wins when it counts more releases.
    pub(super) fn adopt_other_tabs_ledger(&mut self) {
        let Ok(Some(raw)) = self.ctx.store.get(&sync_key(self.ctx.config.shop())) else { return };
        let Ok(stored) = decode_sync(&raw) else { return };
        if stored.ledger.releases() > self.syncing.ledger.releases() {
            self.syncing.ledger = stored.ledger;
            self.syncing.dirty = true;
        }
    }
}
