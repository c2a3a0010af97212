//! The engine's plain data for JS: the browser environment, track and flush outcomes, errors.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::CatalogError;
use crate::collect::event::EventError;
use crate::collect::noise::FilterReason;
use crate::config::ConfigError;
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::profile::stored::WriteError;
use crate::profile::DeviceClass;
use crate::storage::{StorageWarning, StoreError, WarningCode};

/// What the page knows about the browser, passed once at construction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct Environment {
    /// `navigator.webdriver`: the browser is automated.
    pub webdriver: bool,
    /// `navigator.globalPrivacyControl`.
    pub global_privacy_control: bool,
    pub device: DeviceClass,
}

/// What happened to a tracked event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "status", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TrackOutcome {
    /// Learned. `newSession` is true when it opened a new session.
    Recorded { new_session: bool },
    /// Dropped as noise or as a bot.
    Filtered { reason: FilterReason },
    /// Dropped because its item is in a sensitive category.
    Sensitive,
    /// Dropped because consent is `none`.
    NoConsent,
}

/// What `flush` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct FlushReport {
    /// True when something was written.
    pub written: bool,
    /// Size of the stored value after the flush, in bytes.
    pub stored_bytes: usize,
    /// True when data was dropped to fit the budget or the store, by this write or by an
    /// automatic one (every 20 changes, on page hide) since the last `flush()`.
    pub compacted: bool,
}

/// Everything the engine can refuse, with what to do about it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PersonalizerError {
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    #[error("event rejected, nothing of it was stored: {0}")]
    Event(#[from] EventError),
    #[error("item {index} rejected, no item of this call was kept: {source}")]
    Item { index: usize, source: CatalogError },
    #[error("upsertItems got {0} items; pass at most 1000 per call")]
    TooManyItems(usize),
    #[error("nowMs is {}: pass Date.now(), a non-negative number of milliseconds since 1970", Decimal(*.0))]
    BadTime(f64),
    #[error("localHourOfWeek is {0}: pass 0 to 167, the hours since Monday 00:00 local time")]
    BadHour(u32),
    #[error("the profile could not be saved: {0}")]
    Write(#[from] WriteError),
    #[error("saving is blocked: an unreadable stored profile could not be backed up, so it is left as it is; call forget() to discard it")]
    Blocked,
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

impl Coded for PersonalizerError {
    fn code(&self) -> ErrorCode {
        match self {
            PersonalizerError::Config(_) => ErrorCode::InvalidConfig,
            PersonalizerError::Event(_) => ErrorCode::InvalidEvent,
            PersonalizerError::Item { .. } | PersonalizerError::TooManyItems(_) => ErrorCode::InvalidItem,
            PersonalizerError::BadTime(_) | PersonalizerError::BadHour(_) => ErrorCode::BadTime,
            PersonalizerError::Write(error) => error.code(),
            PersonalizerError::Blocked => ErrorCode::UnreadableState,
            PersonalizerError::Store(error) => error.code(),
        }
    }
}

impl PersonalizerError {
    /// The warning a failed flush leaves where no caller sees the error (a save inside another
    /// call, a page listener's flush on `pagehide`).
    pub fn flush_warning(&self) -> StorageWarning {
        let code = match self {
            PersonalizerError::Blocked => WarningCode::NotBackedUp,
            PersonalizerError::Write(_) => WarningCode::QuotaExceeded,
            _ => WarningCode::StorageUnavailable,
        };
        StorageWarning::new(code, self.to_string())
    }
}

/// The warning of a page whose store cannot be used at all: the profile lives in memory only.
pub fn memory_only_warning(reason: &str) -> StorageWarning {
    let message =
        format!("localStorage is unavailable ({reason}); the profile lives in memory only until the page closes");
    StorageWarning::new(WarningCode::StorageUnavailable, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_have_the_js_shape() {
        let json = |o: TrackOutcome| serde_json::to_string(&o).unwrap();
        assert_eq!(json(TrackOutcome::Recorded { new_session: true }), r#"{"status":"recorded","newSession":true}"#);
        assert_eq!(
            json(TrackOutcome::Filtered { reason: FilterReason::DuplicateView }),
            r#"{"status":"filtered","reason":"duplicateView"}"#
        );
        assert_eq!(json(TrackOutcome::Sensitive), r#"{"status":"sensitive"}"#);
        assert_eq!(json(TrackOutcome::NoConsent), r#"{"status":"noConsent"}"#);
        let report = FlushReport { written: true, stored_bytes: 10, compacted: false };
        assert_eq!(serde_json::to_string(&report).unwrap(), r#"{"written":true,"storedBytes":10,"compacted":false}"#);
    }

    #[test]
    fn the_environment_reads_from_js_with_defaults() {
        let env: Environment = serde_json::from_str(r#"{"webdriver":true,"device":"mobile"}"#).unwrap();
        assert_eq!(env, Environment { webdriver: true, global_privacy_control: false, device: DeviceClass::Mobile });
        assert_eq!(serde_json::from_str::<Environment>("{}").unwrap(), Environment::default());
    }

    #[test]
    fn errors_say_what_to_do() {
        assert!(PersonalizerError::BadTime(f64::NAN).to_string().contains("Date.now()"));
        assert!(PersonalizerError::BadHour(200).to_string().contains("0 to 167"));
        assert!(PersonalizerError::Blocked.to_string().contains("call forget()"));
        assert!(PersonalizerError::TooManyItems(5000).to_string().contains("at most 1000"));
    }

    #[test]
    fn failed_flushes_warn_with_the_kind_of_failure() {
        assert_eq!(PersonalizerError::Blocked.flush_warning().code, WarningCode::NotBackedUp);
        let store = PersonalizerError::Store(StoreError::Unavailable("private mode".to_owned())).flush_warning();
        assert_eq!(store.code, WarningCode::StorageUnavailable);
        assert!(store.message.contains("private mode"), "{}", store.message);
        let memory = memory_only_warning("SecurityError");
        assert_eq!(memory.code, WarningCode::StorageUnavailable);
        assert!(memory.message.contains("SecurityError") && memory.message.contains("memory only"));
    }
}
