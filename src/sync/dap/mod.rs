//! Secure aggregation with the IETF standard: a clipped model update leaves the device as a
//! DAP-09 report ([`report`]) whose Prio3 input shares are HPKE-encrypted to two non-colluding
//! aggregators ([`hpke_seal`]), so neither sees one device's update and both check its proof.
//!
//! The VDAF is `Prio3FixedPointBoundedL2VecSum` with 16-bit fixed-point entries ([`vdaf`]): its
//! proof shows that the update's L2 norm is at most the clip bound, the sensitivity the
//! Gaussian-mechanism accounting of a sum rests on. A lift report leaves the same way as a
//! report of the lift task of its bucket ([`lift`], [`lift_task`]: one task per bucket) with
//! `Prio3SumVec`: clipped counts and their products in integers with a distributed discrete
//! Gaussian share, each entry proved to lie in `[0, 2^bits)`. Only in the on-demand module (feature `secure-aggregation`), never in
//! the core a page always loads.

pub mod device_task;
pub mod hpke_seal;
pub mod lift;
pub mod lift_task;
pub mod report;
pub mod vdaf;

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

pub use device_task::{noise_share_std, report_bound, DapDevice, DAP_MAX_NOISE_COHORT};
pub use hpke_seal::{HpkeKeypair, HpkeLabel};
pub use lift::{build_lift_report, BucketSums, LiftEncoding, LiftVdaf};
pub use lift_task::LiftDapDevice;
pub use report::{build_report, DapTask};
pub use vdaf::{
    decode_sum, encode_measurement, measurement_bound, model_update_vdaf, ModelUpdateVdaf, MAX_DIMENSION, MAX_NORM,
};

/// Why a secure-aggregation step failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DapError {
    #[error("the update has {got} values but the task aggregates {expected}: configure the task's dimension")]
    Dimension { got: usize, expected: usize },
    #[error("update value {index} is not finite: the update is not sent")]
    NonFinite { index: usize },
    #[error("clipBound must be finite and positive")]
    BadClipBound,
    #[error("the aggregator's HPKE config is not X25519/HKDF-SHA256/AES-128-GCM or its key is malformed: fetch it again from /hpke_config")]
    UnsupportedHpkeConfig,
    #[error("HPKE sealing or opening failed: the share is not for this key, or it was altered")]
    Hpke,
    #[error("the VDAF refused the measurement or share: {0}")]
    Vdaf(String),
    #[error("DAP message encoding failed: {0}")]
    Codec(String),
    #[error("{field} must be an http:// or https:// URL of at most 2048 characters")]
    BadUrl { field: &'static str },
    #[error("taskId must be base64url without padding (the task's 32 bytes in 43 characters)")]
    TaskIdNotBase64Url,
    #[error("taskId holds {got} bytes; a DAP task id has 32")]
    TaskIdLength { got: usize },
    #[error("{field} must be base64url of the aggregator's HpkeConfig (or of its /hpke_config list)")]
    BadHpkeConfig { field: &'static str },
    #[error("timePrecisionSecs must be 1..=604800, got {0}")]
    BadTimePrecision(u64),
    #[error("minBatchSize must be 1..={max}: the device never divides its noise among more reports, got {got}")]
    MinBatchSize { got: u32, max: u32 },
    #[error(
        "secureAggregation lift reports: a noise share of {steps} steps is too fine for the distributed discrete \
         Gaussian (at least 4): lower noise.minCohort or epsilon"
    )]
    LiftNoiseTooFine { steps: u32 },
    #[error(
        "secureAggregation lift reports: the measurement would take {elements} field elements (at most {max}): break \
         out fewer placements, or raise noise.minCohort or epsilon"
    )]
    LiftTooLarge { elements: usize, max: usize },
    #[error("noise.tasks' minBatchSize must be absent or equal noise.minCohort ({min_cohort}), got {got}")]
    LiftBatchSize { got: u32, min_cohort: u32 },
    #[error(
        "liftReport.noise.tasks.personalized and .holdout name the same task id: each bucket needs its own DAP task \
         (aggregator dap-task-pair --lift-min-cohort K writes both)"
    )]
    LiftSameTask,
}

impl Coded for DapError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Dimension { .. }
            | Self::BadClipBound
            | Self::UnsupportedHpkeConfig
            | Self::BadUrl { .. }
            | Self::TaskIdNotBase64Url
            | Self::TaskIdLength { .. }
            | Self::BadHpkeConfig { .. }
            | Self::BadTimePrecision(_)
            | Self::MinBatchSize { .. }
            | Self::LiftNoiseTooFine { .. }
            | Self::LiftTooLarge { .. }
            | Self::LiftBatchSize { .. }
            | Self::LiftSameTask => ErrorCode::InvalidConfig,
            Self::NonFinite { .. } | Self::Vdaf(_) => ErrorCode::InvalidArgument,
            Self::Hpke | Self::Codec(_) => ErrorCode::InvalidSyncData,
        }
    }
}
