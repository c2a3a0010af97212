//! Privacy: the accounting of differentially private model updates and lift reports, the
//! device's ledger, the builder that clips, noises and quantizes an update, and the crate's one
//! Gaussian sampler ([`sampling::standard_normal`]). See [`accountant`] for the guarantee.

pub mod accountant;
pub mod ledger;
pub mod params;
pub mod sampling;
pub mod update;

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

pub use ledger::{LedgerSummary, PeriodSummary, PrivacyLedger};
pub use params::{PrivacyConfig, PrivacyParams};
pub use sampling::QuantizedVector;
pub use update::{NoisyUpdate, UpdateBuilder, UpdateInputs};

/// Why an update was not built or a privacy setting was refused. Refusals spend no budget.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PrivacyError {
    #[error("privacy setting {field} must be {rule}, got {}", Decimal(*.value))]
    InvalidParam { field: &'static str, rule: &'static str, value: f64 },
    #[error(
        "one update would spend epsilon {epsilon_per_update:.3} but the period budget is {budget}: \
         raise noiseMultiplier to at least {min_noise_multiplier:.3} or raise periodBudgetEpsilon"
    )]
    BudgetBelowOneUpdate { epsilon_per_update: f64, budget: f64, min_noise_multiplier: f64 },
    #[error("model updates are only sent under full consent: call setConsent(\"full\") first")]
    NoConsent,
    #[error("only {have} labelled impressions since the last sync; {need} are needed before the next")]
    NotEnoughImpressions { have: u32, need: u32 },
    #[error("{updates} update(s) already sent this period; the next period starts at unix time {next_period_starts}")]
    PeriodLimitReached { updates: u32, next_period_starts: u64 },
    #[error(
        "this period already spent epsilon {spent:.3} of {budget}; one more update would exceed it. \
         The budget renews at unix time {next_period_starts}"
    )]
    BudgetExhausted { spent: f64, budget: f64, next_period_starts: u64 },
    #[error("local model has {local} weights but the shared model has {shared}: download the current shared model")]
    DimensionMismatch { local: usize, shared: usize },
    #[error("weight {index} is not a finite number: reset the local model")]
    NonFiniteWeight { index: usize },
    #[error("this period's lift report was already sent; the next one can leave from unix time {next_period_starts}")]
    LiftReportSent { next_period_starts: u64 },
    #[error(
        "one lift report (epsilon {lift_epsilon:.3}) and one model update (epsilon {update_epsilon:.3}) together \
         spend epsilon {together:.3}, over the period budget {budget}: lower liftReport.epsilon, raise \
         noiseMultiplier or raise periodBudgetEpsilon"
    )]
    LiftReportOverBudget { lift_epsilon: f64, update_epsilon: f64, together: f64, budget: f64 },
    #[error("the clock is earlier than the last recorded update: no update is sent until it catches up")]
    ClockWentBack,
    #[error("the stored privacy ledger is inconsistent: keep it as is and send nothing until it is reset by forget()")]
    CorruptLedger,
}

impl Coded for PrivacyError {
    fn code(&self) -> ErrorCode {
        match self {
            PrivacyError::InvalidParam { .. }
            | PrivacyError::BudgetBelowOneUpdate { .. }
            | PrivacyError::LiftReportOverBudget { .. } => ErrorCode::InvalidConfig,
            PrivacyError::NoConsent => ErrorCode::NoConsent,
            PrivacyError::NotEnoughImpressions { .. } => ErrorCode::NotReady,
            PrivacyError::PeriodLimitReached { .. }
            | PrivacyError::BudgetExhausted { .. }
            | PrivacyError::LiftReportSent { .. } => ErrorCode::BudgetSpent,
            PrivacyError::DimensionMismatch { .. } => ErrorCode::InvalidSyncData,
            PrivacyError::NonFiniteWeight { .. } => ErrorCode::Internal,
            PrivacyError::ClockWentBack => ErrorCode::BadTime,
            PrivacyError::CorruptLedger => ErrorCode::UnreadableState,
        }
    }
}
