//! The sync calls: on the on-demand parts ([`OnDevice`]) they take the ranker's shared weights
//! as an argument where they need them; the engine passes its own ranker. One [`SyncEngine`]
//! implementation, [`Attached`], serves every runner: the native one here and the browser's.

use std::cell::RefCell;

use crate::privacy::LedgerSummary;
use crate::storage::KeyValueStore;
use crate::sync::{ModelInstall, SyncError, Transport};

use super::driver::{drive, SyncEngine, SyncHost, SyncRun};
use super::{SharedWeights, SyncOutcome, SyncPlan, SyncSetup, SyncingError};
use crate::personalizer::{OnDevice, Personalizer};

impl<S: KeyValueStore> OnDevice<S> {
    /// Configures sync: where the aggregator is, its model-signing key, and the privacy settings.
    /// A stored shared model is verified again with this key. Call again to change settings.
    ///
    /// ```js
    /// p.configureSync({ aggregatorUrl: "https://agg.example", modelPublicKey: keyHex, maxJitterMs: 30000 });
    /// ```
    pub fn configure_sync(&mut self, setup: SyncSetup) -> Result<(), SyncingError> {
        self.syncing.configure_sync(&mut self.ctx, setup)
    }

    /// The settings given to [`Self::configure_sync`], if any.
    pub fn sync_setup(&self) -> Option<&SyncSetup> {
        self.syncing.sync_setup()
    }

    /// The privacy ledger in plain numbers (also in `profileSummary().privacyLedger`).
    pub fn sync_ledger_summary(&self, now_ms: f64) -> LedgerSummary {
        self.syncing.ledger_summary(now_ms)
    }

    /// With secure aggregation, `ε` of one update if the two aggregators collude (the ledger
    /// books the sum's); `None` without.
    pub fn collusion_epsilon_per_update(&self) -> Option<f64> {
        self.syncing.collusion_epsilon_per_update()
    }

    /// Where DAP reports go (`{leaderUrl}/tasks/{taskId}/reports`) with secure aggregation.
    pub fn dap_reports_url(&self) -> Option<&str> {
        self.syncing.dap_reports_url()
    }

    /// Where lift DAP reports go: `[personalized, holdout]`, each bucket's lift task's
    /// `{leaderUrl}/tasks/{taskId}/reports`.
    pub fn lift_dap_reports_urls(&self) -> Option<[String; 2]> {
        self.syncing.lift_dap_reports_urls()
    }

    /// `ε` of one lift report if the lift task's aggregators collude; `None` without that task.
    pub fn collusion_epsilon_per_lift_report(&self) -> Option<f64> {
        self.syncing.collusion_epsilon_per_lift_report()
    }

    /// Labelled impressions counted since the last update.
    pub fn labelled_since_sync(&self) -> u32 {
        self.syncing.labelled_since_sync()
    }

    /// The booked update not yet accepted by the server, if any.
    pub fn pending_upload(&self) -> Option<&[u8]> {
        self.syncing.pending_upload()
    }

    /// The booked lift report not yet accepted by the server, if any.
    pub fn pending_lift_report(&self) -> Option<&[u8]> {
        self.syncing.pending_lift_report()
    }

    /// The parts with the ranker's shared weights: what a sync run works on.
    pub fn attached<'a>(&'a mut self, ranker: &'a mut dyn SharedWeights) -> Attached<'a, S> {
        Attached { parts: self, ranker }
    }
}

/// The on-demand parts with the ranker's shared weights, for one sync step.
pub struct Attached<'a, S: KeyValueStore> {
    parts: &'a mut OnDevice<S>,
    ranker: &'a mut dyn SharedWeights,
}

impl<S: KeyValueStore> Attached<'_, S> {
    /// Verifies downloaded model bytes and installs them into the ranker's shared weights,
    /// keeping learning not yet sent. Any problem keeps the previous model and adds a warning.
    pub fn install_shared_model(&mut self, bytes: &[u8]) -> Result<ModelInstall, SyncingError> {
        let parts = &mut *self.parts;
        parts.syncing.install_shared_model(&mut parts.ctx, self.ranker, bytes)
    }
}

impl<S: KeyValueStore> SyncEngine for Attached<'_, S> {
    fn collects(&self) -> bool {
        self.parts.ctx.consent.collects()
    }
    fn sync_configured(&self) -> bool {
        self.parts.syncing.sync_setup().is_some()
    }
    fn shared_model_version(&self) -> Option<u64> {
        self.parts.syncing.shared_model_version()
    }
    fn install_shared_model(&mut self, bytes: &[u8]) {
        // A rejected model is already a warning; the previous one stays.
        let _ = Attached::install_shared_model(self, bytes);
    }
    fn record_model_download_failure(&mut self, problem: &SyncError) {
        let parts = &mut *self.parts;
        parts.syncing.record_model_download_failure(&mut parts.ctx, problem)
    }
    fn prepare_sync(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan {
        let parts = &mut *self.parts;
        parts.syncing.prepare_sync(&mut parts.ctx, self.ranker, now_ms, seed)
    }
    fn may_send(&self, body: &[u8]) -> bool {
        self.parts.syncing.may_send(&self.parts.ctx, body)
    }
    fn finish_sync(&mut self, body: &[u8], resent: bool, result: Result<(), SyncError>, now_ms: f64) -> SyncOutcome {
        let parts = &mut *self.parts;
        parts.syncing.finish_sync(&mut parts.ctx, body, resent, result, now_ms)
    }
    fn prepare_lift_report(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan {
        // The period's lift report comes from the adaptation part's counters when it is due.
        let OnDevice { ctx, adaptation, syncing } = &mut *self.parts;
        syncing.prepare_lift_report(ctx, now_ms, seed, |ctx, config, noise_seed| {
            adaptation.take_due_lift_report(ctx, config, noise_seed)
        })
    }
    fn may_send_lift_report(&self, body: &[u8]) -> bool {
        self.parts.syncing.may_send_lift_report(&self.parts.ctx, body)
    }
    fn finish_lift_report(
        &mut self,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome {
        let parts = &mut *self.parts;
        parts.syncing.finish_lift_report(&mut parts.ctx, body, resent, result, now_ms)
    }
}

/// The engine's sync calls: the parts, attached to the engine's own ranker.
impl<S: KeyValueStore> Personalizer<S> {
    /// See [`OnDevice::configure_sync`].
    pub fn configure_sync(&mut self, setup: SyncSetup) -> Result<(), SyncingError> {
        self.extension.configure_sync(setup)
    }

    /// See [`OnDevice::sync_setup`].
    pub fn sync_setup(&self) -> Option<&SyncSetup> {
        self.extension.sync_setup()
    }

    /// The parts attached to this engine's ranker (every sync step; see [`Attached`]).
    pub fn sync_engine(&mut self) -> Attached<'_, S> {
        self.extension.attached(&mut self.ranking)
    }

    /// The installed shared model's version, if any.
    pub fn shared_model_version(&self) -> Option<u64> {
        self.extension.syncing.shared_model_version()
    }

    /// See [`Attached::install_shared_model`].
    pub fn install_shared_model(&mut self, bytes: &[u8]) -> Result<ModelInstall, SyncingError> {
        self.sync_engine().install_shared_model(bytes)
    }

    /// See [`OnDevice::sync_ledger_summary`].
    pub fn sync_ledger_summary(&self, now_ms: f64) -> LedgerSummary {
        self.extension.sync_ledger_summary(now_ms)
    }

    /// See [`OnDevice::collusion_epsilon_per_update`].
    pub fn collusion_epsilon_per_update(&self) -> Option<f64> {
        self.extension.collusion_epsilon_per_update()
    }

    /// See [`OnDevice::collusion_epsilon_per_lift_report`].
    pub fn collusion_epsilon_per_lift_report(&self) -> Option<f64> {
        self.extension.collusion_epsilon_per_lift_report()
    }

    /// See [`OnDevice::labelled_since_sync`].
    pub fn labelled_since_sync(&self) -> u32 {
        self.extension.labelled_since_sync()
    }

    /// See [`OnDevice::pending_upload`].
    pub fn pending_upload(&self) -> Option<&[u8]> {
        self.extension.pending_upload()
    }

    /// See [`OnDevice::pending_lift_report`].
    pub fn pending_lift_report(&self) -> Option<&[u8]> {
        self.extension.pending_lift_report()
    }

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
    fn with_engine<R>(&self, f: impl FnOnce(&mut dyn SyncEngine) -> R) -> Option<R> {
        let mut engine = self.engine.try_borrow_mut().ok()?;
        Some(f(&mut engine.sync_engine()))
    }

    fn now_ms(&self) -> f64 {
        self.now_ms
    }

    async fn sleep(&self, _ms: u32) {}
}
