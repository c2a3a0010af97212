//! The seam between the engine's core (collect, profile, ranking, storage, consent) and its
//! on-demand parts (adaptation, syncing, lift measurement).
//!
//! The core calls an [`Extension`] at a few points — a recorded event, a ranking (is this device
//! in the lift holdout?), a consent change, `forget()`, a flush, another tab's `forget()`, an item
//! found sensitive, the profile summary — and hands it what it needs as arguments (the ranker's
//! [`SharedWeights`]). The on-demand parts keep a [`Context`] of their own over the same store, so
//! they read and write only their own stored envelopes and share no memory with the core:
//! natively they are [`OnDevice`] in the same process; the split browser package runs the same
//! [`OnDevice`] in its on-demand module and connects it to the core through the page. A core
//! built alone uses [`CoreOnly`], which holds nothing.

use crate::collect::event::TrackEvent;
use crate::config::ValidConfig;
use crate::consent::ConsentMode;
use crate::privacy::LedgerSummary;
use crate::storage::{KeyValueStore, StorageWarning};

use super::adapting::Adaptation;
use super::syncing::{SharedWeights, Syncing};
use super::{Context, Environment};

/// What the core engine tells its on-demand parts, and asks of them (see the module docs).
pub trait Extension {
    /// A recorded event (screened, not noise) that gave `labelled` learning steps to the ranker.
    fn observe(&mut self, event: &TrackEvent, new_session: bool, labelled: u64);
    /// True when this device is in the lift holdout: rankings then keep the server's order.
    fn in_holdout(&mut self) -> bool;
    /// Consent went `from` → `to`; the profile and the ranking model are already loaded or
    /// dropped, and stored data the new mode may not keep is already deleted.
    fn consent_changed(&mut self, ranker: &mut dyn SharedWeights, from: ConsentMode, to: ConsentMode);
    /// `forget()`: every stored key is being removed and the ranker was reset.
    fn forgotten(&mut self, ranker: &mut dyn SharedWeights);
    /// Another tab called `forget()` (the profile key vanished).
    fn other_tab_forgot(&mut self);
    /// An item turned out to be in a sensitive category: drop every mention of it.
    fn forget_item(&mut self, item_id: &str);
    /// `flush`: write what changed (consent `full` only).
    fn flush(&mut self);
    /// The privacy ledger for the profile summary, when syncing is present.
    fn ledger_summary(&self, now_ms: f64) -> Option<LedgerSummary>;
    /// The parts' own warnings, oldest first (the engine lists them after its own).
    fn warnings(&self) -> &[StorageWarning];
    /// Returns the parts' warnings and clears them.
    fn take_warnings(&mut self) -> Vec<StorageWarning>;
}

/// The adaptation and syncing parts, with a context of their own over the engine's store.
#[derive(Debug)]
pub struct OnDevice<S: KeyValueStore> {
    pub(super) ctx: Context<S>,
    pub(super) adaptation: Adaptation,
    pub(super) syncing: Syncing,
}

impl<S: KeyValueStore> OnDevice<S> {
    /// The parts over `store` (a handle on the engine's store) for a checked config; consent
    /// starts at `none`, as the engine's does, and follows it through [`Extension::consent_changed`].
    pub fn new(store: S, config: ValidConfig, env: Environment) -> Self {
        OnDevice {
            ctx: Context::new(store, config, env),
            adaptation: Adaptation::default(),
            syncing: Syncing::default(),
        }
    }

    /// The consent the parts act under.
    pub fn consent(&self) -> ConsentMode {
        self.ctx.consent
    }
}

impl<S: KeyValueStore> Extension for OnDevice<S> {
    fn observe(&mut self, event: &TrackEvent, new_session: bool, labelled: u64) {
        self.adaptation.observe(&mut self.ctx, event, new_session);
        self.syncing.count_labelled(labelled);
    }

    fn in_holdout(&mut self) -> bool {
        self.adaptation.lift_bucket(&mut self.ctx) == Some(crate::adapt::LiftBucket::Holdout)
    }

    fn consent_changed(&mut self, ranker: &mut dyn SharedWeights, from: ConsentMode, to: ConsentMode) {
        self.ctx.consent = to;
        let retention = crate::consent::retention(from, to);
        if retention.delete_stored {
            self.adaptation.stored_deleted();
        }
        if retention.wipe_memory {
            self.adaptation.wipe();
        }
        if to.persists() && !from.persists() {
            self.adaptation.persisting_again();
        }
        self.syncing.consent_changed(&mut self.ctx, ranker, from, to);
    }

    fn forgotten(&mut self, ranker: &mut dyn SharedWeights) {
        self.adaptation.wipe();
        self.adaptation.stored_deleted();
        self.syncing.forgotten(&mut self.ctx, ranker);
    }

    fn other_tab_forgot(&mut self) {
        self.adaptation.wipe();
    }

    fn forget_item(&mut self, item_id: &str) {
        self.adaptation.forget_item(item_id);
    }

    fn flush(&mut self) {
        self.adaptation.save_or_warn(&mut self.ctx);
        self.syncing.save_state(&mut self.ctx);
    }

    fn ledger_summary(&self, now_ms: f64) -> Option<LedgerSummary> {
        Some(self.syncing.ledger_summary(now_ms))
    }

    fn warnings(&self) -> &[StorageWarning] {
        &self.ctx.warnings
    }

    fn take_warnings(&mut self) -> Vec<StorageWarning> {
        std::mem::take(&mut self.ctx.warnings)
    }
}

/// No on-demand parts: the core alone (collect, profile, ranking).
#[derive(Debug, Default, Clone, Copy)]
pub struct CoreOnly;

impl Extension for CoreOnly {
    fn observe(&mut self, _: &TrackEvent, _: bool, _: u64) {}
    fn in_holdout(&mut self) -> bool {
        false
    }
    fn consent_changed(&mut self, _: &mut dyn SharedWeights, _: ConsentMode, _: ConsentMode) {}
    fn forgotten(&mut self, _: &mut dyn SharedWeights) {}
    fn other_tab_forgot(&mut self) {}
    fn forget_item(&mut self, _: &str) {}
    fn flush(&mut self) {}
    fn ledger_summary(&self, _: f64) -> Option<LedgerSummary> {
        None
    }
    fn warnings(&self) -> &[StorageWarning] {
        &[]
    }
    fn take_warnings(&mut self) -> Vec<StorageWarning> {
        Vec::new()
    }
}
