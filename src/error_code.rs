//! The stable codes every error carries, so that callers branch on a code instead of parsing the
//! English message. One vocabulary for the whole crate: each module's error enum maps its
//! variants onto it ([`Coded`]), and the JS facade throws `Error`s whose `code` property is the
//! code's camelCase name (`"unknownHandle"`).
//!
//! Codes group what the caller does about an error, not where it came from: every malformed
//! sync body is `invalidSyncData`, whichever field was wrong. The names are a public contract
//! (the `.d.ts` union and the README table list them): add codes, never rename one.

use serde::{Deserialize, Serialize};

/// What went wrong, as far as the caller's reaction goes. The message beside it says the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// A setting of the constructor's config, `configureSync` or `configureAdaptation` is out of
    /// range or malformed. Fix the setting; retrying the same call fails again.
    InvalidConfig,
    /// `track` got a malformed event; nothing of it was stored. Fix the event or drop it.
    InvalidEvent,
    /// An item (`upsertItems`, `chooseVariant`) is malformed; no item of the call was kept.
    InvalidItem,
    /// `registerCandidates` got a malformed server answer; nothing of it was kept. Render the
    /// server's order without personalization.
    InvalidAnswer,
    /// Another argument is malformed: a rank context, sections, offers, variants, a consent
    /// mode, an interest key. Fix the call, or fall back to the shop's default.
    InvalidArgument,
    /// `rank` got a handle that is unknown or was evicted: call `registerCandidates` again.
    UnknownHandle,
    /// An outcome or feedback names a decision or impression that is not waiting for one (too
    /// old, or reported twice). Drop it.
    UnknownDecision,
    /// The clock (`Date.now()`) or the local hour is not a usable time, or it went back.
    BadTime,
    /// A feature was used before it was set up: call `configureSync` first.
    NotConfigured,
    /// The call needs consent `"full"`: call `setConsent("full")` first.
    NoConsent,
    /// Not possible yet (too few labelled impressions, no shared model): it happens later by itself.
    NotReady,
    /// This period's privacy budget or update limit is spent: wait for the next period.
    BudgetSpent,
    /// Storage is full even after compacting the profile: free space of this site or lower
    /// `storageBudgetBytes`. Recent changes stay in memory.
    QuotaExceeded,
    /// Storage cannot be used at all (blocked, sandboxed): the profile lives in memory only.
    StorageUnavailable,
    /// Stored data cannot be read (corrupt, or written by a newer version): call `forget()` to
    /// start fresh, or update the library.
    UnreadableState,
    /// A request to the aggregator or helper failed; it is retried at the next sync.
    Network,
    /// The aggregator refused what was sent; it is dropped. Check the aggregator's version and settings.
    RejectedByServer,
    /// Data exchanged with the aggregator is malformed or does not verify (a cut-off body, a model
    /// with a bad signature or of another shape); the previous model is kept.
    InvalidSyncData,
    /// The Personalizer was called from inside one of its own calls (e.g. from a listener it
    /// triggered). Call it again afterwards.
    Busy,
    /// The browser lacks something the call needs (`crypto.getRandomValues`).
    Unsupported,
    /// A bug in this library. After one, every call of the instance throws this code: construct
    /// a new `Personalizer`, which reloads the stored profile.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidEvent,
        ErrorCode::InvalidItem,
        ErrorCode::InvalidAnswer,
        ErrorCode::InvalidArgument,
        ErrorCode::UnknownHandle,
        ErrorCode::UnknownDecision,
        ErrorCode::BadTime,
        ErrorCode::NotConfigured,
        ErrorCode::NoConsent,
        ErrorCode::NotReady,
        ErrorCode::BudgetSpent,
        ErrorCode::QuotaExceeded,
        ErrorCode::StorageUnavailable,
        ErrorCode::UnreadableState,
        ErrorCode::Network,
        ErrorCode::RejectedByServer,
        ErrorCode::InvalidSyncData,
        ErrorCode::Busy,
        ErrorCode::Unsupported,
        ErrorCode::Internal,
    ];

    /// The code as JS sees it, e.g. `"unknownHandle"` (the same text serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidConfig => "invalidConfig",
            ErrorCode::InvalidEvent => "invalidEvent",
            ErrorCode::InvalidItem => "invalidItem",
            ErrorCode::InvalidAnswer => "invalidAnswer",
            ErrorCode::InvalidArgument => "invalidArgument",
            ErrorCode::UnknownHandle => "unknownHandle",
            ErrorCode::UnknownDecision => "unknownDecision",
            ErrorCode::BadTime => "badTime",
            ErrorCode::NotConfigured => "notConfigured",
            ErrorCode::NoConsent => "noConsent",
            ErrorCode::NotReady => "notReady",
            ErrorCode::BudgetSpent => "budgetSpent",
            ErrorCode::QuotaExceeded => "quotaExceeded",
            ErrorCode::StorageUnavailable => "storageUnavailable",
            ErrorCode::UnreadableState => "unreadableState",
            ErrorCode::Network => "network",
            ErrorCode::RejectedByServer => "rejectedByServer",
            ErrorCode::InvalidSyncData => "invalidSyncData",
            ErrorCode::Busy => "busy",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error with a stable [`ErrorCode`]; every error enum of the crate implements it.
pub trait Coded {
    fn code(&self) -> ErrorCode;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_js_name_is_the_serde_name_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).expect("serializes");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        // No wildcard: a new code does not compile here until it gets the next position, and
        // the length check then asks for it in `ALL` too.
        let position = |code: ErrorCode| match code {
            ErrorCode::InvalidConfig => 0,
            ErrorCode::InvalidEvent => 1,
            ErrorCode::InvalidItem => 2,
            ErrorCode::InvalidAnswer => 3,
            ErrorCode::InvalidArgument => 4,
            ErrorCode::UnknownHandle => 5,
            ErrorCode::UnknownDecision => 6,
            ErrorCode::BadTime => 7,
            ErrorCode::NotConfigured => 8,
            ErrorCode::NoConsent => 9,
            ErrorCode::NotReady => 10,
            ErrorCode::BudgetSpent => 11,
            ErrorCode::QuotaExceeded => 12,
            ErrorCode::StorageUnavailable => 13,
            ErrorCode::UnreadableState => 14,
            ErrorCode::Network => 15,
            ErrorCode::RejectedByServer => 16,
            ErrorCode::InvalidSyncData => 17,
            ErrorCode::Busy => 18,
            ErrorCode::Unsupported => 19,
            ErrorCode::Internal => 20,
        };
        for (index, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(position(code), index, "{code:?}");
        }
        assert_eq!(position(ErrorCode::Internal) + 1, ErrorCode::ALL.len());
    }

    #[test]
    fn the_names_are_the_published_ones() {
        // The contract with callers: changing a line here breaks their code.
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(
            names,
            [
                "invalidConfig",
                "invalidEvent",
                "invalidItem",
                "invalidAnswer",
                "invalidArgument",
                "unknownHandle",
                "unknownDecision",
                "badTime",
                "notConfigured",
                "noConsent",
                "notReady",
                "budgetSpent",
                "quotaExceeded",
                "storageUnavailable",
                "unreadableState",
                "network",
                "rejectedByServer",
                "invalidSyncData",
                "busy",
                "unsupported",
                "internal",
            ]
        );
    }
}
