//! The on-demand parts in another module's memory: the split browser package loads them the
//! first time a page needs them, so the core engine reaches them through a [`PartsPort`].
//!
//! [`Remote`] is the core's [`Extension`] for that case. Until a port is attached it keeps, in
//! order, what the parts must still hear (recorded events, items found sensitive), forgets that
//! queue whenever the parts would have forgotten it, and answers "is this device in the lift
//! holdout?" from the stored adaptation state, as the parts would. On [`Remote::attach`] the parts
//! hear the consent in force and the queue, and from then on every call goes through.
//!
//! Nothing is shared but values: the ranker's shared weights go out as a copy and come back as a
//! [`WeightsChange`] the core applies. [`Detached`] is the other end: [`OnDevice`] answering a
//! port with such copies (the on-demand module runs it; natively it stands in for that module).

use crate::collect::event::TrackEvent;
use crate::consent::{self, ConsentMode};
use crate::measure::holdout::{LiftBucket, DEFAULT_HOLDOUT_SHARE};
use crate::privacy::LedgerSummary;
use crate::rank::model::kept_shared_weights;
use crate::rank::RankError;
use crate::storage::{KeyValueStore, StorageWarning};

use super::adapting::stored_holdout_draw;
use super::{Extension, OnDevice, SharedWeights};

/// Most calls kept for parts not attached yet; beyond it the oldest events go (their learning
/// steps are carried by the next one, so sync counts stay exact).
pub const MAX_QUEUED_FOR_PARTS: usize = 1_000;

/// What the core asks of on-demand parts that live elsewhere (see the module docs). The ranker's
/// shared weights travel as copies; a call that changes them returns the change.
pub trait PartsPort {
    fn observe(&mut self, event: &TrackEvent, new_session: bool, labelled: u64);
    fn in_holdout(&mut self) -> bool;
    fn consent_changed(&mut self, weights: Vec<f32>, from: ConsentMode, to: ConsentMode) -> Option<WeightsChange>;
    fn forgotten(&mut self, weights: Vec<f32>) -> Option<WeightsChange>;
    fn other_tab_forgot(&mut self);
    fn forget_item(&mut self, item_id: &str);
    fn flush(&mut self);
}

/// New shared weights for the core's ranker; `save` marks its learned model for the next flush.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsChange {
    pub weights: Vec<f32>,
    pub save: bool,
}

/// A copy of the ranker's shared weights that records what the parts set, checked and projected
/// exactly as the ranker keeps them, so the parts read back what the ranker would hold.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsSnapshot {
    weights: Vec<f32>,
    change: Option<WeightsChange>,
}

impl WeightsSnapshot {
    pub fn new(weights: Vec<f32>) -> Self {
        WeightsSnapshot { weights, change: None }
    }

    /// What the parts set, if anything: the weights the core's ranker must take.
    pub fn into_change(self) -> Option<WeightsChange> {
        self.change
    }
}

impl SharedWeights for WeightsSnapshot {
    fn shared_weights(&self) -> Vec<f32> {
        self.weights.clone()
    }

    fn set_shared_weights(&mut self, weights: &[f32], save: bool) -> Result<(), RankError> {
        self.weights = kept_shared_weights(weights)?;
        let save = save || self.change.as_ref().is_some_and(|c| c.save);
        self.change = Some(WeightsChange { weights: self.weights.clone(), save });
        Ok(())
    }
}

/// Applies what the parts changed to the core's ranker.
fn apply(ranker: &mut dyn SharedWeights, change: Option<WeightsChange>) {
    if let Some(change) = change {
        // The weights were checked as the ranker checks them; it cannot refuse them.
        let _ = ranker.set_shared_weights(&change.weights, change.save);
    }
}

/// The on-demand parts answering a port: every call that needs the ranker works on a copy.
#[derive(Debug)]
pub struct Detached<S: KeyValueStore>(pub OnDevice<S>);

impl<S: KeyValueStore> Detached<S> {
    /// Runs `f` on the parts attached to a copy of the ranker's weights; returns its result and
    /// what the ranker must take.
    pub fn with_weights<R>(
        &mut self,
        weights: Vec<f32>,
        f: impl FnOnce(&mut OnDevice<S>, &mut WeightsSnapshot) -> R,
    ) -> (R, Option<WeightsChange>) {
        let mut snapshot = WeightsSnapshot::new(weights);
        let result = f(&mut self.0, &mut snapshot);
        (result, snapshot.into_change())
    }
}

impl<S: KeyValueStore> PartsPort for Detached<S> {
    fn observe(&mut self, event: &TrackEvent, new_session: bool, labelled: u64) {
        self.0.observe(event, new_session, labelled);
    }
    fn in_holdout(&mut self) -> bool {
        self.0.in_holdout()
    }
    fn consent_changed(&mut self, weights: Vec<f32>, from: ConsentMode, to: ConsentMode) -> Option<WeightsChange> {
        self.with_weights(weights, |parts, ranker| parts.consent_changed(ranker, from, to)).1
    }
    fn forgotten(&mut self, weights: Vec<f32>) -> Option<WeightsChange> {
        self.with_weights(weights, |parts, ranker| parts.forgotten(ranker)).1
    }
    fn other_tab_forgot(&mut self) {
        self.0.other_tab_forgot();
    }
    fn forget_item(&mut self, item_id: &str) {
        self.0.forget_item(item_id);
    }
    fn flush(&mut self) {
        self.0.flush();
    }
}

/// A call kept for the parts until they are attached.
#[derive(Debug, Clone, PartialEq)]
enum Queued {
    Observed { event: TrackEvent, new_session: bool, labelled: u64 },
    ForgotItem(String),
}

/// The core's extension when the on-demand parts live elsewhere (see the module docs).
#[derive(Debug)]
pub struct Remote<S: KeyValueStore, P: PartsPort> {
    store: S,
    shop: String,
    consent: ConsentMode,
    port: Option<P>,
    queued: Vec<Queued>,
    /// The stored lift bucket, read once until something may have changed it.
    held_out: Option<Option<LiftBucket>>,
}

impl<S: KeyValueStore, P: PartsPort> Remote<S, P> {
    /// No parts yet, over a handle on the engine's store, for `shop`.
    pub fn new(store: S, shop: &str) -> Self {
        Remote {
            store,
            shop: shop.to_owned(),
            consent: ConsentMode::None,
            port: None,
            queued: Vec::new(),
            held_out: None,
        }
    }

    pub fn is_attached(&self) -> bool {
        self.port.is_some()
    }

    /// The attached parts, if any.
    pub fn port(&mut self) -> Option<&mut P> {
        self.port.as_mut()
    }

    /// Attaches the parts: they hear the consent in force, then every queued call in order.
    /// Attaching again replaces the parts (the new ones hear only the consent).
    pub fn attach(&mut self, mut port: P, ranker: &mut dyn SharedWeights) {
        if self.consent != ConsentMode::None {
            let change = port.consent_changed(ranker.shared_weights(), ConsentMode::None, self.consent);
            apply(ranker, change);
        }
        for call in self.queued.drain(..) {
            match call {
                Queued::Observed { event, new_session, labelled } => port.observe(&event, new_session, labelled),
                Queued::ForgotItem(id) => port.forget_item(&id),
            }
        }
        self.port = Some(port);
        self.held_out = None;
    }

    /// The lift bucket as the parts would answer it before a page configures adaptation: they
    /// read stored state only under `full` consent, and use the default holdout share.
    pub fn stored_bucket(&mut self) -> Option<LiftBucket> {
        if !self.consent.persists() {
            return None;
        }
        let (store, shop) = (&self.store, &self.shop);
        *self.held_out.get_or_insert_with(|| stored_holdout_draw(store, shop).map(|d| d.bucket(DEFAULT_HOLDOUT_SHARE)))
    }

    /// Keeps a call for the parts, dropping the oldest event beyond [`MAX_QUEUED_FOR_PARTS`].
    fn queue(&mut self, call: Queued) {
        self.queued.push(call);
        if self.queued.len() > MAX_QUEUED_FOR_PARTS {
            let Some(oldest) = self.queued.iter().position(|c| matches!(c, Queued::Observed { .. })) else {
                self.queued.remove(0);
                return;
            };
            let Queued::Observed { labelled: carried, .. } = self.queued.remove(oldest) else { return };
            let next = self.queued.iter_mut().find_map(|c| match c {
                Queued::Observed { labelled, .. } => Some(labelled),
                Queued::ForgotItem(_) => None,
            });
            if let Some(labelled) = next {
                *labelled = labelled.saturating_add(carried);
            }
        }
    }

    /// What the parts would forget when their memory is wiped.
    fn forget_queue(&mut self) {
        self.queued.clear();
        self.held_out = None;
    }
}

impl<S: KeyValueStore, P: PartsPort> Extension for Remote<S, P> {
    fn observe(&mut self, event: &TrackEvent, new_session: bool, labelled: u64) {
        match &mut self.port {
            Some(port) => port.observe(event, new_session, labelled),
            None if self.consent.collects() => {
                self.queue(Queued::Observed { event: event.clone(), new_session, labelled })
            }
            None => {}
        }
    }

    fn in_holdout(&mut self) -> bool {
        match &mut self.port {
            Some(port) => port.in_holdout(),
            None => self.stored_bucket() == Some(LiftBucket::Holdout),
        }
    }

    fn consent_changed(&mut self, ranker: &mut dyn SharedWeights, from: ConsentMode, to: ConsentMode) {
        self.consent = to;
        self.held_out = None;
        match &mut self.port {
            Some(port) => {
                let change = port.consent_changed(ranker.shared_weights(), from, to);
                apply(ranker, change)
            }
            None if consent::retention(from, to).wipe_memory => self.forget_queue(),
            None => {}
        }
    }

    fn forgotten(&mut self, ranker: &mut dyn SharedWeights) {
        match &mut self.port {
            Some(port) => {
                let change = port.forgotten(ranker.shared_weights());
                apply(ranker, change)
            }
            None => self.forget_queue(),
        }
    }

    fn other_tab_forgot(&mut self) {
        match &mut self.port {
            Some(port) => port.other_tab_forgot(),
            None => self.forget_queue(),
        }
    }

    fn forget_item(&mut self, item_id: &str) {
        match &mut self.port {
            Some(port) => port.forget_item(item_id),
            // Kept whatever the consent: the parts may have stored mentions of the item.
            None if !self.queued.iter().any(|c| matches!(c, Queued::ForgotItem(id) if id == item_id)) => {
                self.queue(Queued::ForgotItem(item_id.to_owned()))
            }
            None => {}
        }
    }

    fn flush(&mut self) {
        if let Some(port) = &mut self.port {
            port.flush();
        }
    }

    /// The parts' ledger reaches the page through the facade, beside the core's summary.
    fn ledger_summary(&self, _now_ms: f64) -> Option<LedgerSummary> {
        None
    }

    /// The parts' warnings reach the page through the facade, after the core's.
    fn warnings(&self) -> &[StorageWarning] {
        &[]
    }

    fn take_warnings(&mut self) -> Vec<StorageWarning> {
        Vec::new()
    }
}

/// The engine with its on-demand parts elsewhere.
impl<S: KeyValueStore, P: PartsPort> super::Personalizer<S, Remote<S, P>> {
    /// Attaches the on-demand parts (see [`Remote::attach`]).
    pub fn attach_parts(&mut self, port: P) {
        self.extension.attach(port, &mut self.ranking);
    }

    /// The attached parts, if any.
    pub fn parts(&mut self) -> Option<&mut P> {
        self.extension.port()
    }

    /// The lift bucket before the parts are loaded (see [`Remote::stored_bucket`]).
    pub fn stored_lift_bucket(&mut self) -> Option<LiftBucket> {
        self.extension.stored_bucket()
    }

    /// True when the parts have state stored for this shop (a page used them before), so they
    /// must hear this page's events: the facade then loads them at once.
    pub fn parts_state_stored(&self) -> bool {
        let shop = self.ctx.config.shop();
        let keys = [super::adapting::adapt_key(shop), super::sync_key(shop)];
        keys.iter().any(|key| matches!(self.ctx.store.get(key), Ok(Some(_))))
    }

    /// Applies what a sync step of parts elsewhere changed in the shared weights.
    pub fn apply_weights_change(&mut self, change: Option<WeightsChange>) {
        apply(&mut self.ranking, change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    /// A port that records what it heard.
    #[derive(Default)]
    struct Heard {
        events: usize,
        labelled: u64,
        forgotten_items: Vec<String>,
    }

    impl PartsPort for Heard {
        fn observe(&mut self, _: &TrackEvent, _: bool, labelled: u64) {
            self.events += 1;
            self.labelled += labelled;
        }
        fn in_holdout(&mut self) -> bool {
            false
        }
        fn consent_changed(&mut self, _: Vec<f32>, _: ConsentMode, _: ConsentMode) -> Option<WeightsChange> {
            None
        }
        fn forgotten(&mut self, _: Vec<f32>) -> Option<WeightsChange> {
            None
        }
        fn other_tab_forgot(&mut self) {}
        fn forget_item(&mut self, item_id: &str) {
            self.forgotten_items.push(item_id.to_owned());
        }
        fn flush(&mut self) {}
    }

    #[test]
    fn a_full_queue_drops_the_oldest_events_but_keeps_their_learning_steps() {
        let mut remote: Remote<MemoryStore, Heard> = Remote::new(MemoryStore::new(), "acme");
        let mut ranker = WeightsSnapshot::new(vec![0.0; 3]);
        remote.consent_changed(&mut ranker, ConsentMode::None, ConsentMode::Full);
        let event = TrackEvent::Dismiss { item_id: "a".into() };
        let extra = 25;
        for _ in 0..MAX_QUEUED_FOR_PARTS + extra {
            remote.observe(&event, false, 1);
        }
        remote.forget_item("a");
        remote.forget_item("a");
        remote.attach(Heard::default(), &mut ranker);
        let heard = remote.port().unwrap();
        assert_eq!(heard.events, MAX_QUEUED_FOR_PARTS - 1, "bounded, with room for the forgotten item");
        assert_eq!(heard.labelled, (MAX_QUEUED_FOR_PARTS + extra) as u64, "no learning step lost");
        assert_eq!(heard.forgotten_items, ["a"], "once, after the events");
        assert_eq!(ranker.into_change(), None, "the parts changed no weights");
    }

    #[test]
    fn without_consent_nothing_is_queued() {
        let mut remote: Remote<MemoryStore, Heard> = Remote::new(MemoryStore::new(), "acme");
        let mut ranker = WeightsSnapshot::new(Vec::new());
        remote.observe(&TrackEvent::Dismiss { item_id: "a".into() }, false, 1);
        remote.attach(Heard::default(), &mut ranker);
        assert_eq!(remote.port().unwrap().events, 0);
    }
}
