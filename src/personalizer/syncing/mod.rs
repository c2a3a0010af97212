//! Engine-level sync: only clipped, noised updates of the ranker's shared weights ever leave.
//!
//! - [`Personalizer::configure_sync`] checks the aggregator URL, its public key and the privacy
//!   settings. Nothing is sent unless consent is `full`; lowering consent drops any booked update.
//! - `track` counts labelled impressions (a click, cart addition or purchase of an item a ranking
//!   showed: one learning step) since the last update.
//! - [`Personalizer::install_shared_model`] verifies a downloaded model (checksum, signature,
//!   dimension, version) and installs it into the ranker's shared weights, carrying over learning
//!   not yet sent. A bad model becomes a warning and the previous one stays.
//! - [`Personalizer::prepare_sync`] builds the update when the policy allows (consent, impressions,
//!   one per period, the ε budget), books its spend in the ledger and **saves the ledger before
//!   handing out the bytes**. A send that fails is retried with the same bytes, never a new update.
//!   [`Personalizer::finish_sync`] records the server's answer.
//! - When the policy runs, [`Personalizer::prepare_lift_report`] also prepares the period's lift
//!   report (see `lift.rs`): one a period, booked in the same ledger and budget, saved before its
//!   bytes are handed out, resent as the same bytes until accepted.
//! - The state lives under `shop-personalizer:<shop>:sync` (see `stored.rs`); an unreadable one
//!   is backed up with a warning and no update is sent until the next period. `forget()` removes
//!   it; the in-memory ledger stays for the page so forgetting cannot double a period's spend.
//!
//! The engine does no I/O: the facade (or [`Personalizer::sync_with`] natively) moves the bytes.

mod booked;
mod driver;
mod engine_calls;
mod hooks;
mod lift;
mod lift_secure;
mod persist;
mod secure;
mod stored;
#[cfg(test)]
pub(super) mod tests;
mod types;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::measure::CheckedReportConfig;
use crate::privacy::{LedgerSummary, PrivacyConfig, PrivacyError, PrivacyLedger, PrivacyParams};
use crate::rank::{RankError, DEFAULT_WEIGHTS, NUM_FEATURES};
use crate::storage::{KeyValueStore, StorageWarning, WarningCode};
use crate::sync::{DeviceSync, ModelInstall, SyncConfig, SyncError};
use booked::Booked;
use lift::check_lift_setup;
use secure::{booked_update, check_secure_aggregation, collusion_epsilon, DapSlot, SECURE_ACCOUNTING_STATEMENT};

use super::{check_time, view_time, Context};

pub use driver::{drive, SyncAction, SyncEngine, SyncHost, SyncInput, SyncRun, SyncSchedule};
pub use stored::{decode_sync, encode_sync, sync_key, StoredSync, SyncLoadError};
pub use types::{SkipReason, SyncOutcome, SyncPlan, SyncSetup, SyncingError, MIN_CHECK_INTERVAL_MS};

/// What syncing needs of the ranker: its shared weights, to compute an update from and to move
/// onto a downloaded model. The ranking part implements it (in the split browser package, the
/// core module's ranking through the page).
pub trait SharedWeights {
    /// The shared weights as learned on this device so far (one per feature).
    fn shared_weights(&self) -> Vec<f32>;
    /// Replaces the shared weights; `save` marks the learned model for the next flush.
    fn set_shared_weights(&mut self, weights: &[f32], save: bool) -> Result<(), RankError>;
}

/// The syncing part: settings, the privacy ledger, the booked update and lift report, the
/// installed shared model.
#[derive(Debug, Default)]
pub struct Syncing {
    device: Option<DeviceSync>,
    setup: Option<SyncSetup>,
    /// Default privacy settings until `configure_sync`.
    params: Option<PrivacyParams>,
    ledger: PrivacyLedger,
    labelled_since_sync: u32,
    carried_from: Option<Vec<f32>>,
    pending: Option<Vec<u8>>,
    /// The checked lift report settings (set by `configure_sync`).
    lift: Option<CheckedReportConfig>,
    /// A booked lift report not yet accepted by the server.
    pending_lift: Option<Vec<u8>>,
    /// Signed bytes of the installed model (or of a stored one awaiting verification).
    model_bytes: Option<Vec<u8>>,
    pause_armed: bool,
    paused_until_period: Option<u64>,
    dirty: bool,
    /// An unreadable stored state could not be backed up: never write over it.
    save_blocked: bool,
    /// The DAP task updates go to instead of the plain endpoint (`secureAggregation`).
    dap: DapSlot,
    /// The DAP task lift reports go to (`liftReport.noise` `secureAggregation`).
    lift_dap: lift_secure::LiftDapSlot,
}

impl Syncing {
    fn params(&self) -> PrivacyParams {
        self.params.clone().unwrap_or_else(default_params)
    }

    fn stored(&self) -> StoredSync {
        StoredSync {
            ledger: self.ledger.clone(),
            labelled_since_sync: self.labelled_since_sync,
            carried_from: self.carried_from.clone(),
            pending_upload: self.pending.as_deref().map(stored::to_hex),
            shared_model: self.model_bytes.as_deref().map(stored::to_hex),
            paused_until_period: self.paused_until_period,
            pending_lift_report: self.pending_lift.as_deref().map(stored::to_hex),
        }
    }
}

fn default_params() -> PrivacyParams {
    PrivacyParams::new(PrivacyConfig::default())
        .expect("the default privacy settings are valid (tested in privacy::params)")
}

fn unix_seconds(now_ms: u64) -> u64 {
    now_ms / 1_000
}

impl Syncing {
    /// Configures sync: where the aggregator is, its model-signing key, and the privacy settings.
    /// A stored shared model is verified again with this key. Call again to change settings.
    ///
    /// ```js
    /// p.configureSync({ aggregatorUrl: "https://agg.example", modelPublicKey: keyHex, maxJitterMs: 30000 });
    /// ```
    pub fn configure_sync<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        setup: SyncSetup,
    ) -> Result<(), SyncingError> {
        if setup.check_interval_ms < MIN_CHECK_INTERVAL_MS {
            return Err(SyncingError::CheckInterval(setup.check_interval_ms));
        }
        let params = PrivacyParams::new(setup.privacy.clone()).map_err(SyncError::from)?;
        let lift = check_lift_setup(&setup, &params)?;
        let lift_dap = lift_secure::check_lift_dap(&lift)?;
        let config = SyncConfig {
            aggregator_url: setup.aggregator_url.clone(),
            model_public_key: setup.model_public_key.clone(),
            max_jitter_ms: setup.max_jitter_ms,
        };
        let mut device = DeviceSync::new(&config, params.clone(), NUM_FEATURES)?;
        let dap = check_secure_aggregation(&setup, &params, NUM_FEATURES)?;
        if let Some(bytes) = self.model_bytes.clone() {
            if let Err(problem) = device.install_model(&bytes) {
                self.model_bytes = None;
                ctx.warn(StorageWarning::new(
                    WarningCode::Unreadable,
                    format!("the kept shared model was dropped ({problem}); the next download replaces it"),
                ));
            }
        }
        if secure::stranded(&dap, self.pending.as_deref()) {
            self.pending = None;
            self.dirty = true;
            self.save_state(ctx);
            ctx.warn(StorageWarning::new(WarningCode::SendRefused, secure::STRANDED_REPORT));
        }
        self.drop_unsendable_lift(ctx, &lift_dap);
        self.device = Some(device);
        self.dap = dap;
        self.lift_dap = lift_dap;
        self.params = Some(params);
        self.lift = Some(lift);
        self.setup = Some(setup);
        Ok(())
    }

    /// The settings given to [`Self::configure_sync`], if any.
    pub fn sync_setup(&self) -> Option<&SyncSetup> {
        self.setup.as_ref()
    }

    /// The installed shared model's version, if any.
    pub fn shared_model_version(&self) -> Option<u64> {
        self.device.as_ref()?.shared_model().map(|model| model.version)
    }

    /// Verifies downloaded model bytes and installs them into the ranker's shared weights,
    /// keeping learning not yet sent. Any problem keeps the previous model and adds a warning.
    pub fn install_shared_model<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        bytes: &[u8],
    ) -> Result<ModelInstall, SyncingError> {
        let device = self.device.as_mut().ok_or(SyncingError::NotConfigured)?;
        let installed = match device.install_model(bytes) {
            Ok(installed) => installed,
            Err(problem) => {
                let message = format!("the downloaded shared model was rejected: {problem}");
                ctx.warn(StorageWarning::new(WarningCode::ModelRejected, message));
                return Err(problem.into());
            }
        };
        if let ModelInstall::Installed { .. } = installed {
            let weights = device.shared_model().map(|model| model.weights.clone()).unwrap_or_default();
            self.model_bytes = Some(bytes.to_vec());
            self.adopt_shared_weights(ctx, ranker, &weights, true);
            self.save_state(ctx);
        }
        Ok(installed)
    }

    /// Notes that the shared model could not be downloaded (the previous one stays in use).
    pub fn record_model_download_failure<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, problem: &SyncError) {
        let message = format!("the shared model could not be downloaded ({problem}); the previous one stays in use");
        ctx.warn(StorageWarning::new(WarningCode::ModelDownloadFailed, message));
    }

    /// Moves the ranker onto new shared weights: `new + (local − reference)` keeps unsent learning.
    fn adopt_shared_weights<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        weights: &[f32],
        save: bool,
    ) {
        let reference: &[f32] = self.carried_from.as_deref().unwrap_or(&DEFAULT_WEIGHTS);
        let local = &ranker.shared_weights();
        let moved: Vec<f32> = weights.iter().zip(local).zip(reference).map(|((w, l), r)| w + (l - r)).collect();
        if let Err(problem) = ranker.set_shared_weights(&moved, save) {
            let message = format!(
                "the shared model could not be applied to the ranker ({problem}); it ranks with its own weights"
            );
            ctx.warn(StorageWarning::new(WarningCode::Unreadable, message));
            return;
        }
        self.carried_from = Some(weights.to_vec());
        self.dirty = true;
    }

    /// The weights an update is computed from: the installed model plus learning since the last update.
    fn upload_weights(&self, ranker: &dyn SharedWeights) -> Vec<f32> {
        let installed = self.device.as_ref().and_then(|device| device.shared_model());
        let Some(installed) = installed else { return Vec::new() };
        let reference: &[f32] = self.carried_from.as_deref().unwrap_or(&DEFAULT_WEIGHTS);
        let local = &ranker.shared_weights();
        installed.weights.iter().zip(local).zip(reference).map(|((w, l), r)| w + (l - r)).collect()
    }

    /// Decides whether to send now. Under `full` consent and when the policy allows, builds the
    /// update, books and saves its spend, and returns the bytes to POST after the jitter. A
    /// booked update not yet accepted is returned again (same bytes).
    pub fn prepare_sync<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        ranker: &mut dyn SharedWeights,
        now_ms: f64,
        seed: [u8; 32],
    ) -> SyncPlan {
        let Ok(now) = check_time(now_ms) else {
            return SyncPlan::Done(SyncOutcome::skipped(
                SkipReason::Invalid,
                format!("nowMs is {now_ms}: pass Date.now()"),
            ));
        };
        if !ctx.consent.persists() {
            return SyncPlan::Done(SyncOutcome::skipped(SkipReason::NoConsent, PrivacyError::NoConsent.to_string()));
        }
        let Some(device) = self.device.as_ref() else {
            return SyncPlan::Done(SyncOutcome::skipped(
                SkipReason::NotConfigured,
                SyncingError::NotConfigured.to_string(),
            ));
        };
        let mut rng = ChaCha20Rng::from_seed(seed);
        let max_jitter = self.setup.as_ref().map_or(0, |setup| setup.max_jitter_ms);
        if let Some(body) = self.pending.clone() {
            return self.plan_send(ctx, Booked::Update, body, rng.random_range(0..=max_jitter), true);
        }
        let params = device.privacy().clone();
        let now_s = unix_seconds(now);
        let period = params.period_of(now_s);
        if std::mem::take(&mut self.pause_armed) {
            self.paused_until_period = Some(period + 1);
            self.dirty = true;
        }
        if let Some(until) = self.paused_until_period.filter(|until| period < *until) {
            let message = format!(
                "the stored privacy ledger could not be read, so no update is sent before unix time {}",
                until * params.period_seconds()
            );
            return SyncPlan::Done(SyncOutcome::skipped(SkipReason::Paused, message));
        }
        self.adopt_other_tabs_ledger(ctx);
        let local = self.upload_weights(ranker);
        let Some(device) = self.device.as_ref() else {
            return SyncPlan::Done(SyncOutcome::skipped(
                SkipReason::NotConfigured,
                SyncingError::NotConfigured.to_string(),
            ));
        };
        let labelled = self.labelled_since_sync;
        match secure::prepare_upload(&self.dap, device, &local, labelled, now_s, &mut self.ledger, &mut rng) {
            Ok(upload) => {
                self.pending = Some(upload.body.clone());
                self.labelled_since_sync = 0;
                // What was learned so far is now sent: later learning is measured from here.
                self.carried_from = Some(ranker.shared_weights());
                self.dirty = true;
                self.plan_send(ctx, Booked::Update, upload.body, upload.jitter_ms, false)
            }
            Err(error) => SyncPlan::Done(self.refusal(error, &params, now_s)),
        }
    }

    fn refusal(&self, error: SyncError, params: &PrivacyParams, now_s: u64) -> SyncOutcome {
        let summary = self.ledger.summary(params, now_s);
        let message = error.to_string();
        match error {
            SyncError::Privacy(PrivacyError::PeriodLimitReached { next_period_starts, .. })
            | SyncError::Privacy(PrivacyError::BudgetExhausted { next_period_starts, .. }) => {
                SyncOutcome::RefusedByLedger {
                    message,
                    epsilon_this_period: summary.current_period_epsilon,
                    budget_epsilon: summary.period_budget_epsilon,
                    next_period_starts_unix_seconds: next_period_starts,
                }
            }
            SyncError::Privacy(PrivacyError::NotEnoughImpressions { .. }) => {
                SyncOutcome::skipped(SkipReason::NotEnoughImpressions, message)
            }
            SyncError::Privacy(PrivacyError::NoConsent) => SyncOutcome::skipped(SkipReason::NoConsent, message),
            SyncError::Privacy(PrivacyError::LiftReportSent { .. }) => {
                SyncOutcome::skipped(SkipReason::LiftReportNotDue, message)
            }
            SyncError::Privacy(PrivacyError::ClockWentBack) => SyncOutcome::skipped(SkipReason::ClockWentBack, message),
            SyncError::NoSharedModel => SyncOutcome::skipped(SkipReason::NoSharedModel, message),
            _ => SyncOutcome::skipped(SkipReason::Invalid, message),
        }
    }

    /// True when `body` is still the booked update and consent still allows sending it (check
    /// right before the request, after the jitter).
    pub fn may_send<S: KeyValueStore>(&self, ctx: &Context<S>, body: &[u8]) -> bool {
        ctx.consent.persists() && self.pending.as_deref() == Some(body)
    }

    /// The booked update not yet accepted by the server, if any.
    pub fn pending_upload(&self) -> Option<&[u8]> {
        self.pending.as_deref()
    }

    /// Records how sending `body` went. Accepted (or already delivered, a replayed nonce):
    /// done. Network failure, rate limit or a busy server: kept to resend the same bytes.
    /// Any other refusal: dropped with a warning (its spend stays booked).
    pub fn finish_sync<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome {
        if let Err(outcome) = self.settle(ctx, Booked::Update, body, result) {
            return outcome;
        }
        let epsilon_this_period = self.ledger_summary(now_ms).current_period_epsilon;
        let (model_version, bytes) = booked_update(body);
        SyncOutcome::Sent { model_version, bytes, resent, epsilon_this_period }
    }

    /// The privacy ledger in plain numbers (also in `profileSummary().privacyLedger`): model
    /// updates and lift reports, composed.
    pub fn ledger_summary(&self, now_ms: f64) -> LedgerSummary {
        let params = self.params();
        let mut summary = self.ledger.summary(&params, unix_seconds(view_time(now_ms)));
        summary.epsilon_per_lift_report = self.lift.as_ref().map_or(0.0, |lift| lift.booked_epsilon());
        if self.dap.is_some() {
            summary.accounting = SECURE_ACCOUNTING_STATEMENT.to_owned();
        }
        summary
    }

    /// With secure aggregation, `ε` of one update if the leader and the helper collude and see
    /// it with only its share of the noise (`K` times the booked `ρ`); `None` without.
    pub fn collusion_epsilon_per_update(&self) -> Option<f64> {
        collusion_epsilon(&self.dap, &self.params())
    }

    /// Where DAP reports go with secure aggregation (`{leaderUrl}/tasks/{taskId}/reports`).
    pub fn dap_reports_url(&self) -> Option<&str> {
        secure::reports_url(&self.dap)
    }

    /// Labelled impressions counted since the last update.
    pub fn labelled_since_sync(&self) -> u32 {
        self.labelled_since_sync
    }
}
