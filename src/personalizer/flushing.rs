//! Writing the profile: merged with what other tabs stored (see `tabs.rs`), compacted to the
//! budget and, when other data of the site fills the store, further to fit, which is reported:
//! a `compactedToFit` warning, and `compacted: true` in the next `flush()` report even when an
//! automatic flush (every few changes, on page hide, after a merge) did the cutting.

use crate::profile::stored::{load_or_back_up, write_compacted};
use crate::profile::ProfileChange;
use crate::storage::{
    bounded_lineage, lineage_root, value_id, KeyValueStore, StorageWarning, WarningCode, MAX_LINEAGE,
};

use super::carried::CarriedView;
use super::carried::{batch_origin, encode_carried, MAX_CARRIED_AGE_MS};
use super::{
    Extension, FlushReport, Personalizer, PersonalizerError, Sync, AUTOSAVE_ANYWAY_AFTER_CHANGES, FLUSH_AFTER_CHANGES,
    MIN_AUTOSAVE_INTERVAL_MS,
};

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// Writes unsaved changes (merging what other tabs wrote). Call on `visibilitychange` to
    /// hidden and on `pagehide`. Does nothing unless consent is `full`. `compacted` is true when
    /// this write or an automatic one since the last `flush()` dropped data to fit.
    ///
    /// ```js
    /// addEventListener("pagehide", () => p.flush());
    /// ```
    pub fn flush(&mut self, now_ms: f64) -> Result<FlushReport, PersonalizerError> {
        let mut report = self.autosave(now_ms)?;
        report.compacted |= std::mem::take(&mut self.compaction_unreported);
        Ok(report)
    }

    /// Whether `track` should write by itself now: enough changes wait, and the last write is
    /// not too recent (or very many wait). A clock that went back counts as "long enough".
    pub(super) fn autosave_due(&self, now: u64) -> bool {
        let waiting = self.pending.len();
        let rested = self
            .last_write_ms
            .and_then(|last| now.checked_sub(last))
            .is_none_or(|since| since >= MIN_AUTOSAVE_INTERVAL_MS);
        waiting >= FLUSH_AFTER_CHANGES && (rested || waiting >= AUTOSAVE_ANYWAY_AFTER_CHANGES)
    }

    /// [`Self::flush`] for a write nobody reads the report of (a page listener's): a compaction
    /// stays to be reported by the next `flush()`.
    pub fn autosave(&mut self, now_ms: f64) -> Result<FlushReport, PersonalizerError> {
        self.save(now_ms, true)
    }

    /// Writes unsaved changes; `rebase`: onto what the store holds now (the usual), else over it
    /// (see `on_storage_event`: the state holds a value the store has lost).
    pub(super) fn save(&mut self, now_ms: f64, rebase: bool) -> Result<FlushReport, PersonalizerError> {
        let now = super::check_time(now_ms)?;
        if !self.ctx.consent.persists() {
            return Ok(FlushReport::default());
        }
        self.save_rank_model();
        self.extension.flush();
        if self.blocked {
            return Err(PersonalizerError::Blocked);
        }
        if let Sync::Unreadable = if rebase { self.sync_from_store() } else { Sync::Unchanged } {
            // Another tab (say a newer library version) left something unreadable: keep a copy first.
            let outcome = {
                let limit = self.load_limit();
                load_or_back_up(&mut self.ctx.store, &self.ctx.keys, limit)
            };
            self.absorb_load(outcome);
            if self.blocked {
                return Err(PersonalizerError::Blocked);
            }
        }
        let stored_bytes = self.stored_raw.as_ref().map_or(0, String::len);
        if !self.dirty {
            return Ok(FlushReport { written: false, stored_bytes, compacted: false });
        }
        let mut merged = self.profile.clone();
        let budget = self.ctx.config.storage_budget_bytes();
        let half_life = self.ctx.config.affinity_half_life_ms();
        // What the state contains; never the value this write replaces when it does not (see
        // `sync_from_store`).
        let lineage = bounded_lineage(&self.known, MAX_LINEAGE);
        let parent = lineage.first().copied();
        // The new changes' batch, and the recent ones, go with the write for other tabs (see
        // `carried.rs`); the write's own id is the root only of a first write.
        let origin = batch_origin(parent, &self.pending);
        // A batch that forgets an item or removes an interest names what the shopper wanted gone
        // (and may hold events of it): it is never carried.
        let carried = !self.pending.iter().any(|change| !matches!(change, ProfileChange::Record(_)));
        let new = (carried && !self.pending.is_empty()).then(|| CarriedView {
            origin,
            touched_ms: now,
            parent,
            root: lineage.last().copied(),
            written_in: &[],
            changes: &self.pending,
        });
        let recent = encode_carried(&self.ledger.carried(now, MAX_CARRIED_AGE_MS, new), budget);
        let written = write_compacted(
            &mut self.ctx.store,
            &self.ctx.keys,
            &mut merged,
            &lineage,
            &recent,
            budget,
            now,
            half_life,
        )
        .map_err(PersonalizerError::Write)?;
        if let Some((before, after)) = written.cut_to_fit {
            self.warn_cut_to_fit(before, after, budget);
        }
        self.compaction_unreported |= written.compacted;
        let id = value_id(&written.raw);
        let report = FlushReport { written: true, stored_bytes: written.raw.len(), compacted: written.compacted };
        self.base = merged.clone();
        self.profile = merged;
        let root = lineage_root(id, &lineage);
        self.ledger.record_batch(id, (origin, carried), parent, root, std::mem::take(&mut self.pending), now);
        self.dirty = false;
        self.last_write_ms = Some(now);
        self.stored_raw = Some(written.raw);
        self.known = std::iter::once(id).chain(lineage).collect();
        Ok(report)
    }

    /// One `compactedToFit` warning for the latest cut (an earlier one not yet taken is replaced).
    fn warn_cut_to_fit(&mut self, before: usize, after: usize, budget: usize) {
        let message = format!(
            "storage is nearly full with other data of this site: the profile was cut from {before} to {after} bytes \
             (its budget is {budget}) to fit, dropping its oldest and weakest history; free space used by other \
             scripts of this site, or lower storageBudgetBytes"
        );
        self.ctx.warnings.retain(|w| w.code != WarningCode::CompactedToFit);
        self.ctx.warn(StorageWarning::new(WarningCode::CompactedToFit, message));
    }

    /// [`Self::autosave`] where no caller sees the error (a save inside another call, a page
    /// listener's flush on `pagehide`): a failure becomes a warning.
    pub fn flush_or_warn(&mut self, now_ms: f64) {
        self.save_or_warn(now_ms, true);
    }

    pub(super) fn save_or_warn(&mut self, now_ms: f64, rebase: bool) {
        if let Err(e) = self.save(now_ms, rebase) {
            self.ctx.warn(e.flush_warning());
        }
    }
}
