//! The plain data of engine-level sync: the page's sync settings, what a sync attempt did, and
//! what can be refused.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::adapt::LiftBucket;
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::measure::{LiftReportConfig, ReportError};
use crate::privacy::PrivacyConfig;
use crate::sync::{SecureAggregationSetup, SyncError};

/// Sync settings (JS: `configureSync({ aggregatorUrl, modelPublicKey, maxJitterMs })`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncSetup {
    /// Base URL of the aggregation server, e.g. `http://127.0.0.1:8787`.
    pub aggregator_url: String,
    /// The aggregator's Ed25519 public key, 64 hex characters (`GET /v1/model-key`).
    pub model_public_key: String,
    /// Upper bound of the random delay before an update is sent, in ms (default 30 000).
    #[serde(default = "default_max_jitter_ms")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub max_jitter_ms: u32,
    /// Privacy settings; every field defaults (z = 1, C = 1, δ = 1e-6, one update a day, ε ≤ 8 a day).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub privacy: PrivacyConfig,
    /// Lift report settings (placements broken out, caps, ε, noise mode); every field defaults
    /// (no placement broken out, ε = 2 per report, local noise). Must match the aggregator's.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub lift_report: LiftReportConfig,
    /// Refresh the model and send updates by itself (default true); `syncNow()` works either way.
    #[serde(default = "default_auto_sync")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub auto_sync: bool,
    /// How often the automatic loop checks whether an update may be sent, in ms (default 60 000, at least 1 000).
    #[serde(default = "default_check_interval_ms")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub check_interval_ms: u32,
    /// Least time between two model downloads of the automatic loop, in ms (default 600 000).
    #[serde(default = "default_model_refresh_ms")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub model_refresh_ms: u32,
    /// Send model updates as DAP-09 reports to a leader/helper pair that never sees one device's
    /// update unless the two collude; the device then adds only its share of the noise of a sum
    /// of `minBatchSize` (at most 100) reports. Off by default.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub secure_aggregation: Option<SecureAggregationSetup>,
}

fn default_max_jitter_ms() -> u32 {
    30_000
}

fn default_auto_sync() -> bool {
    true
}

fn default_check_interval_ms() -> u32 {
    60_000
}

fn default_model_refresh_ms() -> u32 {
    600_000
}

/// Shortest accepted `checkIntervalMs`.
pub const MIN_CHECK_INTERVAL_MS: u32 = 1_000;

/// Why nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum SkipReason {
    /// `configureSync` was not called.
    NotConfigured,
    /// Consent is not `full`: nothing is ever sent then.
    NoConsent,
    /// No verified shared model yet (the download failed or was rejected).
    NoSharedModel,
    /// Too few labelled impressions since the last update.
    NotEnoughImpressions,
    /// The stored ledger was unreadable: nothing is sent until the next period.
    Paused,
    /// The clock is earlier than the last recorded update.
    ClockWentBack,
    /// The network failed or the server was busy; the same bytes are sent at the next attempt.
    SendFailed,
    /// The server refused the update; it is dropped (its privacy spend stays booked).
    Rejected,
    /// The spend could not be saved, so the update is held back until storage works.
    StorageFailed,
    /// The update could not be built (e.g. the local model is broken).
    Invalid,
    /// No lift report is due: one leaves per period, once the device counted anything since
    /// the last one (and only with adaptation configured).
    LiftReportNotDue,
    /// Another sync of this page is still running (or the Personalizer was in another call).
    Busy,
}

/// What one sync attempt did (`syncNow()` resolves to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "status", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SyncOutcome {
    /// An update reached the aggregator. `resent` when it was booked at an earlier attempt.
    Sent { model_version: u64, bytes: usize, resent: bool, epsilon_this_period: f64 },
    /// This period's lift report reached the aggregator. `resent` when booked at an earlier attempt.
    LiftReportSent { bucket: LiftBucket, bytes: usize, resent: bool, epsilon_this_period: f64 },
    /// Nothing was sent; `message` says why in words.
    Skipped { reason: SkipReason, message: String },
    /// The privacy ledger refused: this period's update limit or ε budget is spent.
    RefusedByLedger {
        message: String,
        epsilon_this_period: f64,
        budget_epsilon: f64,
        next_period_starts_unix_seconds: u64,
    },
}

impl SyncOutcome {
    pub fn skipped(reason: SkipReason, message: impl Into<String>) -> Self {
        SyncOutcome::Skipped { reason, message: message.into() }
    }
}

/// What to do next after [`super::Personalizer::prepare_sync`]: send these bytes after the
/// jitter, or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncPlan {
    /// POST `body` to the update endpoint after waiting `jitter_ms`, then call `finish_sync`.
    Send { body: Vec<u8>, jitter_ms: u32, resend: bool },
    /// Nothing to send; the outcome says why.
    Done(SyncOutcome),
}

/// Why sync could not be configured or a model not installed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SyncingError {
    #[error("{0}")]
    Sync(#[from] SyncError),
    #[error("sync is not configured: call configureSync({{ aggregatorUrl, modelPublicKey }}) first")]
    NotConfigured,
    #[error("checkIntervalMs is {0}: pass at least 1000")]
    CheckInterval(u32),
    #[error("liftReport: {0}")]
    LiftReport(#[from] ReportError),
    #[error("liftReport.delta is {} but privacy.delta is {}: use the same delta for both (default 1e-6)", Decimal(*.lift), Decimal(*.privacy))]
    LiftDelta { lift: f64, privacy: f64 },
}

impl Coded for SyncingError {
    fn code(&self) -> ErrorCode {
        match self {
            SyncingError::Sync(error) => error.code(),
            SyncingError::NotConfigured => ErrorCode::NotConfigured,
            SyncingError::LiftReport(error) => error.code(),
            SyncingError::CheckInterval(_) | SyncingError::LiftDelta { .. } => ErrorCode::InvalidConfig,
        }
    }
}
