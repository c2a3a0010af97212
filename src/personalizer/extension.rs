//! The seam between the engine's core (collect, profile, ranking, storage, consent) and its
//! on-demand parts (adaptation, syncing, lift measurement).
//!
//! The core calls an [`Extension`] at a few points — a recorded event, a ranking (is this device
//! in the lift holdout?), a consent change, `forget()`, a flush, another tab's `forget()`, an item
//! found sensitive, the profile summary — and hands it what it needs as arguments (the shared
//! [`Context`], the ranker's [`SharedWeights`]). Natively and in a one-module build the extension
//! is [`OnDevice`], the adaptation and syncing parts in the same memory; a core built alone uses
//! [`CoreOnly`], which holds nothing; the split browser package connects the core to the
//! on-demand module through the page.

use crate::collect::event::TrackEvent;
use crate::consent::ConsentMode;
use crate::privacy::LedgerSummary;
use crate::storage::KeyValueStore;

use super::adapting::Adaptation;
use super::syncing::{SharedWeights, Syncing};
use super::Context;

/// What the core engine tells its on-demand parts, and asks of them (see the module docs).
pub trait Extension<S: KeyValueStore> {
    /// A recorded event (screened, not noise) that gave `labelled` learning steps to the ranker.
    fn observe(&mut self, ctx: &mut Context<S>, event: &TrackEvent, new_session: bool, labelled: u64);
    /// True when this device is in the lift holdout: rankings then keep the server's order.
    fn in_holdout(&mut self, ctx: &mut Context<S>) -> bool;
    /// Consent went `from` → `to`; the profile and the ranking model are already loaded or
    /// dropped, and stored data the new mode may not keep is already deleted.
    fn consent_changed(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        from: ConsentMode,
        to: ConsentMode,
    );
    /// `forget()`: every stored key is being removed and the ranker was reset.
    fn forgotten(&mut self, ctx: &mut Context<S>, ranker: &mut dyn SharedWeights);
    /// Another tab called `forget()` (the profile key vanished).
    fn other_tab_forgot(&mut self);
    /// An item turned out to be in a sensitive category: drop every mention of it.
    fn forget_item(&mut self, item_id: &str);
    /// `flush`: write what changed (consent `full` only).
    fn flush(&mut self, ctx: &mut Context<S>);
    /// The privacy ledger for the profile summary, when syncing is present.
    fn ledger_summary(&self, now_ms: f64) -> Option<LedgerSummary>;
}

/// The adaptation and syncing parts in the engine's own memory.
#[derive(Debug, Default)]
pub struct OnDevice {
    pub(super) adaptation: Adaptation,
    pub(super) syncing: Syncing,
}

impl<S: KeyValueStore> Extension<S> for OnDevice {
    fn observe(&mut self, ctx: &mut Context<S>, event: &TrackEvent, new_session: bool, labelled: u64) {
        self.adaptation.observe(ctx, event, new_session);
        self.syncing.count_labelled(labelled);
    }

    fn in_holdout(&mut self, ctx: &mut Context<S>) -> bool {
        self.adaptation.lift_bucket(ctx) == Some(crate::adapt::LiftBucket::Holdout)
    }

    fn consent_changed(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        from: ConsentMode,
        to: ConsentMode,
    ) {
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
        self.syncing.consent_changed(ctx, ranker, from, to);
    }

    fn forgotten(&mut self, ctx: &mut Context<S>, ranker: &mut dyn SharedWeights) {
        self.adaptation.wipe();
        self.adaptation.stored_deleted();
        self.syncing.forgotten(ctx, ranker);
    }

    fn other_tab_forgot(&mut self) {
        self.adaptation.wipe();
    }

    fn forget_item(&mut self, item_id: &str) {
        self.adaptation.forget_item(item_id);
    }

    fn flush(&mut self, ctx: &mut Context<S>) {
        self.adaptation.save_or_warn(ctx);
        self.syncing.save_state(ctx);
    }

    fn ledger_summary(&self, now_ms: f64) -> Option<LedgerSummary> {
        Some(self.syncing.ledger_summary(now_ms))
    }
}

/// No on-demand parts: the core alone (collect, profile, ranking), as the light browser module
/// runs before adaptation or sync is first used.
#[derive(Debug, Default, Clone, Copy)]
pub struct CoreOnly;

impl<S: KeyValueStore> Extension<S> for CoreOnly {
    fn observe(&mut self, _: &mut Context<S>, _: &TrackEvent, _: bool, _: u64) {}
    fn in_holdout(&mut self, _: &mut Context<S>) -> bool {
        false
    }
    fn consent_changed(&mut self, _: &mut Context<S>, _: &mut dyn SharedWeights, _: ConsentMode, _: ConsentMode) {}
    fn forgotten(&mut self, _: &mut Context<S>, _: &mut dyn SharedWeights) {}
    fn other_tab_forgot(&mut self) {}
    fn forget_item(&mut self, _: &str) {}
    fn flush(&mut self, _: &mut Context<S>) {}
    fn ledger_summary(&self, _: f64) -> Option<LedgerSummary> {
        None
    }
}
