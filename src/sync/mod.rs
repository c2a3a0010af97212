//! Sync: the wire formats between devices and the aggregation server (model updates, signed
//! models, lift reports), the [`Transport`] seam, and the device-side flow (verify a downloaded
//! model, prepare a private update).

#[cfg(feature = "secure-aggregation")]
pub mod dap;
pub mod device;
pub mod lift_wire;
pub mod model_file;
pub mod model_wire;
pub mod round_bound;
pub mod secure_aggregation;
pub mod share_wire;
pub mod transport;
pub mod update_wire;

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::privacy::PrivacyError;

pub use device::{DeviceSync, ModelInstall, PendingUpload, SyncConfig};
pub use lift_wire::LiftReportMessage;
pub use model_file::ModelFileError;
pub use model_wire::{
    in_current_layout, verifying_key_from_hex, SharedModel, FORMAT_1_DIMENSION, FORMAT_2_DIMENSION, FORMAT_3_DIMENSION,
    MODEL_FORMAT_VERSION,
};
pub use secure_aggregation::{deliver_update, LiftTasks, SecureAggregationSetup};
pub use share_wire::{LiftShareMessage, SharePair, ShareServer};
pub use transport::{deliver_lift_report, InMemoryTransport, Transport};
pub use update_wire::UpdateMessage;

/// Why a sync step failed. A failed model download always keeps the previous model.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SyncError {
    #[error("{0}")]
    Privacy(#[from] PrivacyError),
    #[error("body is {got} bytes, shorter than the {need}-byte minimum: it was cut off or is not a sync body")]
    Truncated { need: usize, got: usize },
    #[error("body does not start with the expected magic bytes: it is not a sync body")]
    BadMagic,
    #[error("body has format version {got}; this build reads version {supported}: update the library or server")]
    UnsupportedFormat { got: u8, supported: u8 },
    #[error("dimension {dimension} is outside 1..={max}")]
    BadDimension { dimension: usize, max: usize },
    #[error("body declares dimension {declared} but has {got} bytes of that section: it was cut off or padded")]
    LengthMismatch { declared: usize, got: usize },
    #[error("{field} is invalid ({})", Decimal(*.value))]
    BadField { field: &'static str, value: f64 },
    #[error("model checksum does not match its weights: the download was corrupted; the previous model is kept")]
    ChecksumMismatch,
    #[error("model signature does not verify against the configured public key: the previous model is kept")]
    BadSignature,
    #[error("model weight {index} is not finite: the previous model is kept")]
    NonFiniteModelWeight { index: usize },
    #[error("modelPublicKey must be 64 hex characters of an Ed25519 public key (GET /v1/model-key on the aggregator)")]
    BadPublicKey,
    #[error("aggregatorUrl must start with http:// or https://, got {url:?}")]
    BadUrl { url: String },
    #[error("the model has {got} weights but the ranker expects {expected}: the aggregator serves another model")]
    ModelDimension { got: usize, expected: usize },
    #[error("model version {got} is older than the installed version {current}: the previous model is kept")]
    StaleModel { got: u64, current: u64 },
    #[error(
        "model version {version} moves weight {index} by {change}, more than one aggregation round can ({bound}): \
         the previous model is kept"
    )]
    ModelStepTooLarge { version: u64, index: usize, change: f64, bound: f64 },
    #[error("no verified shared model yet: download one before preparing an update")]
    NoSharedModel,
    #[error("network request failed: {message}; it is retried at the next sync")]
    Transport { message: String },
    #[error("the aggregator refused the update ({status} {error}): {message}")]
    Rejected { status: u16, error: String, message: String },
    #[cfg(feature = "secure-aggregation")]
    #[error("secureAggregation: {0}")]
    Dap(#[from] dap::DapError),
}

impl Coded for SyncError {
    fn code(&self) -> ErrorCode {
        match self {
            SyncError::Privacy(error) => error.code(),
            SyncError::Truncated { .. }
            | SyncError::BadMagic
            | SyncError::UnsupportedFormat { .. }
            | SyncError::BadDimension { .. }
            | SyncError::LengthMismatch { .. }
            | SyncError::BadField { .. }
            | SyncError::ChecksumMismatch
            | SyncError::BadSignature
            | SyncError::NonFiniteModelWeight { .. }
            | SyncError::ModelDimension { .. }
            | SyncError::StaleModel { .. }
            | SyncError::ModelStepTooLarge { .. } => ErrorCode::InvalidSyncData,
            SyncError::BadPublicKey | SyncError::BadUrl { .. } => ErrorCode::InvalidConfig,
            SyncError::NoSharedModel => ErrorCode::NotReady,
            SyncError::Transport { .. } => ErrorCode::Network,
            SyncError::Rejected { .. } => ErrorCode::RejectedByServer,
            #[cfg(feature = "secure-aggregation")]
            SyncError::Dap(error) => error.code(),
        }
    }
}
