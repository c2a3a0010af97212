//! The sync state in storage, under `shop-personalizer:<shop>:sync`, in the shared envelope (see
//! `storage::envelope`) as kind `shop-personalizer/sync`, version 1.
//!
//! The payload holds no behaviour: the privacy ledger (updates and spend per period), how many
//! labelled impressions were counted since the last update, the learning reference point, the
//! booked but unsent update body, and the last verified shared model (its signed bytes, verified
//! again against the configured key when sync is configured).

use serde::{Deserialize, Serialize};

use crate::privacy::PrivacyLedger;
use crate::storage::{load_stored, open, seal, KeyValueStore, LoadError, Loaded, Opened, StorageKeys, StoredKind};

/// The `format` field of a stored sync state.
pub const SYNC_FORMAT: &str = "shop-personalizer/sync";
/// The layout version this library writes.
pub const SYNC_VERSION: u64 = 1;
/// A stored sync state larger than this is refused (a ledger, two short vectors, two bodies).
const MAX_SYNC_BYTES: usize = 256 * 1024;

/// `shop-personalizer:<shop>:sync`; `shop` is already validated.
pub fn sync_key(shop: &str) -> String {
    format!("shop-personalizer:{shop}:sync")
}

/// Why a stored sync state could not be used (the envelope's error, naming the sync state).
pub type SyncLoadError = LoadError;

/// The stored sync state's kind.
pub struct SyncFormat;

impl StoredKind for SyncFormat {
    const FORMAT: &'static str = SYNC_FORMAT;
    const VERSION: u64 = SYNC_VERSION;
    const NOUN: &'static str = "sync state";
    const AFTER_BACKUP: &'static str = "no model update is sent until the next period";
    const WHILE_BLOCKED: &'static str = "the sync state is not saved and no model update is sent until the next period";
    type Payload = StoredSync;
}

/// What is kept between pages.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSync {
    pub ledger: PrivacyLedger,
    pub labelled_since_sync: u32,
    /// The shared weights unsent learning is measured from (absent: the shipped weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<Vec<f32>>,
    /// A booked update not yet accepted by the server, hex: resent as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_upload: Option<String>,
    /// The signed bytes of the installed shared model, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_model: Option<String>,
    /// A booked lift report not yet accepted by the server, hex: resent as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_lift_report: Option<String>,
    /// No update is sent before this period (set after an unreadable ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until_period: Option<u64>,
}

/// The sync state as a stored envelope.
pub fn encode_sync(state: &StoredSync) -> Result<String, serde_json::Error> {
    seal::<SyncFormat>(state, &[])
}

/// A ledger with impossible values, or a body that is not hex, is refused too.
fn checked(opened: Opened<StoredSync>) -> Result<StoredSync, LoadError> {
    let stored = opened.payload;
    let invalid = |reason: String| LoadError::invalid::<SyncFormat>(SYNC_VERSION, reason);
    stored.ledger.check_integrity().map_err(|e| invalid(e.to_string()))?;
    let bad_hex =
        [&stored.pending_upload, &stored.shared_model].into_iter().flatten().any(|hex| from_hex(hex).is_none());
    if bad_hex {
        return Err(invalid("a stored body is not hex".to_owned()));
    }
    if stored.carried_from.as_ref().is_some_and(|w| w.iter().any(|v| !v.is_finite())) {
        return Err(invalid("the learning reference has a non-finite weight".to_owned()));
    }
    Ok(stored)
}

/// Reads a stored sync envelope.
pub fn decode_sync(raw: &str) -> Result<StoredSync, LoadError> {
    checked(open::<SyncFormat>(raw, MAX_SYNC_BYTES)?)
}

/// Loads the stored sync state under `key`; anything unreadable is backed up (see `storage::load_stored`).
pub fn load_sync<S: KeyValueStore>(store: &mut S, keys: &StorageKeys, key: &str) -> Loaded<StoredSync> {
    load_stored::<SyncFormat, _, _>(store, keys, key, MAX_SYNC_BYTES, checked)
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// The bytes of a hex string, or `None` if it is not hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::{PrivacyConfig, PrivacyParams};
    use proptest::prelude::*;

    fn sample() -> StoredSync {
        let params = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
        let mut ledger = PrivacyLedger::default();
        ledger.record_update(&params, 86_400 * 3).expect("fits");
        StoredSync {
            ledger,
            labelled_since_sync: 4,
            carried_from: Some(vec![0.5, -1.0]),
            pending_upload: Some(to_hex(b"SPUP\x01")),
            shared_model: None,
            paused_until_period: Some(7),
            pending_lift_report: None,
        }
    }

    #[test]
    fn hex_matches_a_hand_written_case() {
        assert_eq!(to_hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(from_hex("00AB7f"), Some(vec![0x00, 0xab, 0x7f]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn a_state_round_trips_through_its_envelope() {
        let raw = encode_sync(&sample()).expect("encode");
        assert!(raw.starts_with(r#"{"format":"shop-personalizer/sync","version":1,"checksum":"#), "{raw}");
        assert_eq!(decode_sync(&raw), Ok(sample()));
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let raw = encode_sync(&sample()).expect("encode");
        assert!(matches!(decode_sync("{oops"), Err(LoadError::CorruptJson { what: "sync state", .. })));
        let other = raw.replace(SYNC_FORMAT, "shop-personalizer/profile");
        assert!(matches!(decode_sync(&other), Err(LoadError::UnknownFormat { .. })));
        let future = raw.replace(r#""version":1,"#, r#""version":4,"#);
        assert!(matches!(decode_sync(&future), Err(LoadError::FutureVersion { found: 4, supported: 1, .. })));
        let tampered = raw.replace(r#""labelledSinceSync":4"#, r#""labelledSinceSync":5"#);
        assert!(matches!(decode_sync(&tampered), Err(LoadError::ChecksumMismatch { .. })));
        assert!(matches!(decode_sync(&" ".repeat(MAX_SYNC_BYTES + 1)), Err(LoadError::Oversized { .. })));
    }

    #[test]
    fn the_state_written_before_the_shared_envelope_reads_back_to_the_same_bytes() {
        let raw = include_str!("../../../tests/fixtures/stored/sync_v1.json");
        let stored = decode_sync(raw).expect("readable");
        assert_eq!(stored.labelled_since_sync, 1);
        assert!(stored.pending_upload.is_none() && stored.shared_model.is_some());
        assert_eq!(encode_sync(&stored).expect("encode"), raw);
    }

    #[test]
    fn an_impossible_ledger_is_refused_even_with_a_good_checksum() {
        let payload = r#"{"ledger":{"periods":[{"period":5,"updates":1,"rho":-0.5}],"lifetimeUpdates":1,"lifetimeRho":0.5},"labelledSinceSync":0}"#;
        let raw = format!(
            r#"{{"format":"{SYNC_FORMAT}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert!(matches!(decode_sync(&raw), Err(LoadError::InvalidPayload { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        }

        #[test]
        fn any_string_decodes_or_errors_without_panicking(raw in ".{0,300}") {
            let _ = decode_sync(&raw);
        }
    }
}
