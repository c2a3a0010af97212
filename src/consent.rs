//! Consent: how much the personalizer may collect and keep.
//!
//! - `none` (the default until the shop calls `setConsent`): nothing is collected or stored;
//! - `session`: the profile lives in memory only and is gone when the page closes;
//! - `full`: the profile is persisted in localStorage.
//!
//! A browser sending Global Privacy Control (`navigator.globalPrivacyControl`) caps consent at
//! `session` unless the shop passes an explicit opt-in the shopper gave. Lowering consent deletes
//! what the new mode may not keep (see [`Retention`]).

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

/// How much may be collected and kept, from least to most: `"none"`, `"session"`, `"full"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ConsentMode {
    #[default]
    None,
    Session,
    Full,
}

/// Why a consent value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsentError {
    #[error("unknown consent mode {0:?}: call setConsent with \"none\", \"session\" or \"full\"")]
    UnknownMode(String),
}

impl Coded for ConsentError {
    fn code(&self) -> ErrorCode {
        match self {
            ConsentError::UnknownMode(_) => ErrorCode::InvalidArgument,
        }
    }
}

impl FromStr for ConsentMode {
    type Err = ConsentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "none" => Ok(ConsentMode::None),
            "session" => Ok(ConsentMode::Session),
            "full" => Ok(ConsentMode::Full),
            other => Err(ConsentError::UnknownMode(other.to_string())),
        }
    }
}

impl ConsentMode {
    /// The mode as JS spells it: `"none"`, `"session"` or `"full"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentMode::None => "none",
            ConsentMode::Session => "session",
            ConsentMode::Full => "full",
        }
    }

    pub fn collects(self) -> bool {
        self != ConsentMode::None
    }

    pub fn persists(self) -> bool {
        self == ConsentMode::Full
    }
}

/// The outcome of a consent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ConsentDecision {
    pub requested: ConsentMode,
    /// What applies now.
    pub effective: ConsentMode,
    /// True when Global Privacy Control lowered the request.
    pub capped_by_global_privacy_control: bool,
}

/// Applies Global Privacy Control to a request.
pub fn decide(requested: ConsentMode, global_privacy_control: bool, shopper_opted_in: bool) -> ConsentDecision {
    let capped = global_privacy_control && !shopper_opted_in && requested > ConsentMode::Session;
    ConsentDecision {
        requested,
        effective: if capped { ConsentMode::Session } else { requested },
        capped_by_global_privacy_control: capped,
    }
}

/// What must be deleted when consent changes from one mode to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Remove every stored key of the shop.
    pub delete_stored: bool,
    /// Forget the in-memory profile too.
    pub wipe_memory: bool,
}

/// What the new mode may not keep of what the old one kept.
pub fn retention(from: ConsentMode, to: ConsentMode) -> Retention {
    Retention { delete_stored: from.persists() && !to.persists(), wipe_memory: from.collects() && !to.collects() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_modes_and_rejects_others() {
        assert_eq!("full".parse(), Ok(ConsentMode::Full));
        assert_eq!("session".parse(), Ok(ConsentMode::Session));
        assert_eq!("none".parse(), Ok(ConsentMode::None));
        let err = "yes".parse::<ConsentMode>().unwrap_err();
        assert!(err.to_string().contains("\"none\", \"session\" or \"full\""));
        assert_eq!(ConsentMode::default(), ConsentMode::None);
        assert_eq!(serde_json::to_string(&ConsentMode::Full).unwrap(), "\"full\"");
    }

    #[test]
    fn global_privacy_control_caps_at_session_unless_opted_in() {
        let capped = decide(ConsentMode::Full, true, false);
        assert_eq!(capped.effective, ConsentMode::Session);
        assert!(capped.capped_by_global_privacy_control);
        assert_eq!(decide(ConsentMode::Full, true, true).effective, ConsentMode::Full);
        assert_eq!(decide(ConsentMode::Full, false, false).effective, ConsentMode::Full);
        let session = decide(ConsentMode::Session, true, false);
        assert_eq!(session.effective, ConsentMode::Session);
        assert!(!session.capped_by_global_privacy_control);
        assert_eq!(decide(ConsentMode::None, true, true).effective, ConsentMode::None);
    }

    #[test]
    fn lowering_deletes_what_the_new_mode_may_not_keep() {
        use ConsentMode::*;
        assert_eq!(retention(Full, Session), Retention { delete_stored: true, wipe_memory: false });
        assert_eq!(retention(Full, None), Retention { delete_stored: true, wipe_memory: true });
        assert_eq!(retention(Session, None), Retention { delete_stored: false, wipe_memory: true });
        assert_eq!(retention(Session, Full), Retention::default());
        assert_eq!(retention(None, Full), Retention::default());
        assert_eq!(retention(Full, Full), Retention::default());
    }
}
