//! The engine's sync calls: each hands the syncing part the shared context and, where it needs
//! them, the ranker's shared weights or the adaptation part's lift counts.

use std::cell::RefCell;

use crate::privacy::LedgerSummary;
use crate::storage::KeyValueStore;
use crate::sync::{ModelInstall, SyncError, Transport};

use super::driver::{drive, SyncEngine, SyncHost, SyncRun};
use super::{SyncOutcome, SyncPlan, SyncSetup, SyncingError};
use crate::personalizer::Personalizer;

impl<S: KeyValueStore> Personalizer<S> {
    /// Configures sync: where the aggregator is, its model-signing key, and the privacy settings.
    /// A stored shared model is verified again with this key. Call again to change settings.
    ///
    /// ```js
    /// p.configureSync({ aggregatorUrl: "https://agg.example", modelPublicKey: keyHex, maxJitterMs: 30000 });
    /// ```
    pub fn configure_sync(&mut self, setup: SyncSetup) -> Result<(), SyncingError> {
        self.extension.syncing.configure_sync(&mut self.ctx, setup)
    }

    /// The settings given to [`Self::configure_sync`], if any.
    pub fn sync_setup(&self) -> Option<&SyncSetup> {
        self.extension.syncing.sync_setup()
    }

    /// The installed shared model's version, if any.
    pub fn shared_model_version(&self) -> Option<u64> {
        self.extension.syncing.shared_model_version()
    }

    /// Verifies downloaded model bytes and installs them into the ranker's shared weights,
    /// keeping learning not yet sent. Any problem keeps the previous model and adds a warning.
    pub fn install_shared_model(&mut self, bytes: &[u8]) -> Result<ModelInstall, SyncingError> {
        self.extension.syncing.install_shared_model(&mut self.ctx, &mut self.ranking, bytes)
    }

    /// Notes that the shared model could not be downloaded (the previous one stays in use).
    pub fn record_model_download_failure(&mut self, problem: &SyncError) {
        self.extension.syncing.record_model_download_failure(&mut self.ctx, problem)
    }

    /// Decides whether to send an update now; see [`super::Syncing::prepare_sync`].
    pub fn prepare_sync(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan {
        self.extension.syncing.prepare_sync(&mut self.ctx, &mut self.ranking, now_ms, seed)
    }

    /// True when `body` is still the booked update and consent still allows sending it.
    pub fn may_send(&self, body: &[u8]) -> bool {
        self.extension.syncing.may_send(&self.ctx, body)
    }

    /// The booked update not yet accepted by the server, if any.
    pub fn pending_upload(&self) -> Option<&[u8]> {
        self.extension.syncing.pending_upload()
    }

    /// Records how sending the update `body` went; see [`super::Syncing::finish_sync`].
    pub fn finish_sync(
        &mut self,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome {
        self.extension.syncing.finish_sync(&mut self.ctx, body, resent, result, now_ms)
    }

    /// Decides whether this period's lift report leaves now, taking it from the adaptation
    /// part's counters when it does; see [`super::Syncing::prepare_lift_report`].
    pub fn prepare_lift_report(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan {
        let adaptation = &mut self.extension.adaptation;
        self.extension.syncing.prepare_lift_report(&mut self.ctx, now_ms, seed, |ctx, config, noise_seed| {
            adaptation.take_due_lift_report(ctx, config, noise_seed)
        })
    }

    /// True when `body` is still the booked lift report and consent still allows sending it.
    pub fn may_send_lift_report(&self, body: &[u8]) -> bool {
        self.extension.syncing.may_send_lift_report(&self.ctx, body)
    }

    /// The booked lift report not yet accepted by the server, if any.
    pub fn pending_lift_report(&self) -> Option<&[u8]> {
        self.extension.syncing.pending_lift_report()
    }

    /// Records how sending the lift report `body` went.
    pub fn finish_lift_report(
        &mut self,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome {
        self.extension.syncing.finish_lift_report(&mut self.ctx, body, resent, result, now_ms)
    }

    /// The privacy ledger in plain numbers (also in `profileSummary().privacyLedger`).
    pub fn sync_ledger_summary(&self, now_ms: f64) -> LedgerSummary {
        self.extension.syncing.ledger_summary(now_ms)
    }

    /// Labelled impressions counted since the last update.
    pub fn labelled_since_sync(&self) -> u32 {
        self.extension.syncing.labelled_since_sync()
    }
}

impl<S: KeyValueStore> Personalizer<S> {
    /// Native runner (tests, tools): one [`SyncRun`] — model refresh, update, then the period's
    /// lift report — through `transport`, without waiting the random delays. The browser runs
    /// the very same steps with its fetch transport and timers.
    pub async fn sync_with(&mut self, transport: &impl Transport, now_ms: f64, seed: [u8; 32]) -> SyncOutcome {
        let mut lift_seed = seed;
        lift_seed[0] ^= 0x4c;
        let mut run = SyncRun::new(true, seed, lift_seed);
        drive(&NativeHost { engine: RefCell::new(self), now_ms }, transport, &mut run).await
    }

    /// Native runner of the period's lift report alone (see [`Self::sync_with`]).
    pub async fn sync_lift_report_with(
        &mut self,
        transport: &impl Transport,
        now_ms: f64,
        seed: [u8; 32],
    ) -> SyncOutcome {
        let mut run = SyncRun::lift_report_only(seed);
        drive(&NativeHost { engine: RefCell::new(self), now_ms }, transport, &mut run).await
    }
}

/// A host for native runs: a fixed clock, no waiting.
struct NativeHost<'a, S: KeyValueStore> {
    engine: RefCell<&'a mut Personalizer<S>>,
    now_ms: f64,
}

impl<S: KeyValueStore> SyncHost for NativeHost<'_, S> {
    type Engine = Personalizer<S>;

    fn with_engine<R>(&self, f: impl FnOnce(&mut Personalizer<S>) -> R) -> Option<R> {
        let mut engine = self.engine.try_borrow_mut().ok()?;
        Some(f(&mut engine))
    }

    fn now_ms(&self) -> f64 {
        self.now_ms
    }

    async fn sleep(&self, _ms: u32) {}
}

impl<S: KeyValueStore> SyncEngine for Personalizer<S> {
    fn collects(&self) -> bool {
        self.ctx.consent.collects()
    }
    fn sync_configured(&self) -> bool {
        self.extension.syncing.sync_setup().is_some()
    }
    fn shared_model_version(&self) -> Option<u64> {
        Personalizer::shared_model_version(self)
    }
    fn install_shared_model(&mut self, bytes: &[u8]) {
        // A rejected model is already a warning; the previous one stays.
        let _ = Personalizer::install_shared_model(self, bytes);
    }
    fn record_model_download_failure(&mut self, problem: &SyncError) {
        Personalizer::record_model_download_failure(self, problem)
    }
    fn prepare_sync(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan {
        Personalizer::prepare_sync(self, now_ms, seed)
    }
    fn may_send(&self, body: &[u8]) -> bool {
        Personalizer::may_send(self, body)
    }
    fn finish_sync(&mut self, body: &[u8], resent: bool, result: Result<(), SyncError>, now_ms: f64) -> SyncOutcome {
        Personalizer::finish_sync(self, body, resent, result, now_ms)
    }
    fn prepare_lift_report(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan {
        Personalizer::prepare_lift_report(self, now_ms, seed)
    }
    fn may_send_lift_report(&self, body: &[u8]) -> bool {
        Personalizer::may_send_lift_report(self, body)
    }
    fn finish_lift_report(
        &mut self,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome {
        Personalizer::finish_lift_report(self, body, resent, result, now_ms)
    }
}
