//! What the shopper sees and controls of their data: the export, the summary panel, removing
//! one interest and forgetting everything.

use crate::catalog::AttributeKey;
use crate::profile::{ProfileChange, ProfileSummary};
use crate::storage::{KeyValueStore, WarningCode};

use super::{view_time, Extension, Personalizer, PersonalizerError};

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// Removes every key this library wrote for the shop (profile and backups) and everything in
    /// memory. Consent stays as it is. Returns how many keys were removed. Warnings about what was
    /// stored go with it; that storage is unavailable stays true, and stays.
    ///
    /// ```js
    /// forgetButton.onclick = () => p.forget();
    /// ```
    pub fn forget(&mut self) -> Result<usize, PersonalizerError> {
        self.wipe_memory();
        self.forget_ranking();
        self.extension.forgotten(&mut self.ranking);
        self.stored_raw = None;
        self.blocked = false;
        self.ctx.warnings.retain(|w| w.code == WarningCode::StorageUnavailable);
        Ok(self.ctx.keys.remove_all(&mut self.ctx.store)?)
    }

    /// Human-readable JSON of everything kept for the shop: the summary, the profile as it is now,
    /// and `sections`, one per kind of stored state (profile, adaptation, ranking model, sync,
    /// backups) with its storage keys, its stored values and what it is for in plain words.
    ///
    /// ```js
    /// download("my-profile.json", p.exportProfile());
    /// ```
    pub fn export_profile(&self, now_ms: f64) -> String {
        let sections = super::export::stored_sections(&self.ctx.store, &self.ctx.keys);
        super::export::export_json(self.profile_summary(now_ms), &self.profile, view_time(now_ms), sections)
    }

    /// Top interests with weights, visit statistics, segment and what is kept, for a
    /// "what this shop knows about you" panel.
    ///
    /// ```js
    /// const { topInterests, visits, segment, kept } = p.profileSummary();
    /// ```
    pub fn profile_summary(&self, now_ms: f64) -> ProfileSummary {
        let mut summary = self.profile.summary(view_time(now_ms), self.ctx.config.affinity_half_life_ms());
        summary.privacy_ledger = self.extension.ledger_summary(now_ms);
        summary
    }

    /// Deletes one interest (a category also loses its subcategories) and saves at once.
    /// Returns whether it existed.
    ///
    /// ```js
    /// p.removeInterest(summary.topInterests[0].key); // { kind: "brand", value: "Acme" }
    /// ```
    pub fn remove_interest(&mut self, key: &AttributeKey, now_ms: f64) -> bool {
        if !self.ctx.consent.collects() || !self.profile.remove_interest(key) {
            return false;
        }
        self.record_applied(ProfileChange::RemoveInterest(key.clone()));
        if self.ctx.consent.persists() {
            self.flush_or_warn(now_ms);
        }
        true
    }
}
