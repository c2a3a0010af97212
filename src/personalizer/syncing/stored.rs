//! The sync state in storage, under `shop-personalizer:<shop>:sync`:
//! `{"format":"shop-personalizer/sync","version":1,"checksum":<crc32 of payload>,"payload":{...}}`,
//! the same envelope layout as the profile's and the ranking model's.
//!
//! The payload holds no behaviour: the privacy ledger (updates and spend per period), how many
//! labelled impressions were counted since the last update, the learning reference point, the
//! booked but unsent update body, and the last verified shared model (its signed bytes, verified
//! again against the configured key when sync is configured).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use thiserror::Error;

use crate::privacy::PrivacyLedger;

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

/// Why a stored sync state could not be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SyncLoadError {
    #[error("the stored sync state is {bytes} bytes, over the {MAX_SYNC_BYTES}-byte limit")]
    Oversized { bytes: usize },
    #[error("the stored sync state is not a sync envelope: {0}")]
    NotAnEnvelope(String),
    #[error("the stored sync state has format {0:?}, not {SYNC_FORMAT:?}")]
    UnknownFormat(String),
    #[error("the stored sync state's checksum does not match its content: it was altered or cut off")]
    ChecksumMismatch,
    #[error("the stored sync state has version {0}, newer than this library's {SYNC_VERSION}: update the library")]
    FutureVersion(u64),
    #[error("the stored sync state does not have the expected layout: {0}")]
    InvalidPayload(String),
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

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    version: u64,
    checksum: u32,
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    version: u64,
    checksum: u32,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// The sync state as a stored envelope.
pub fn encode_sync(state: &StoredSync) -> Result<String, serde_json::Error> {
    let payload = serde_json::value::to_raw_value(state)?;
    let checksum = crc32fast::hash(payload.get().as_bytes());
    serde_json::to_string(&EnvelopeOut { format: SYNC_FORMAT, version: SYNC_VERSION, checksum, payload: &payload })
}

/// Reads a stored sync envelope; a ledger with impossible values is refused too.
pub fn decode_sync(raw: &str) -> Result<StoredSync, SyncLoadError> {
    if raw.len() > MAX_SYNC_BYTES {
        return Err(SyncLoadError::Oversized { bytes: raw.len() });
    }
    let envelope: EnvelopeIn<'_> =
        serde_json::from_str(raw).map_err(|e| SyncLoadError::NotAnEnvelope(e.to_string()))?;
    if envelope.format != SYNC_FORMAT {
        return Err(SyncLoadError::UnknownFormat(envelope.format));
    }
    if envelope.version > SYNC_VERSION {
        return Err(SyncLoadError::FutureVersion(envelope.version));
    }
    if crc32fast::hash(envelope.payload.get().as_bytes()) != envelope.checksum {
        return Err(SyncLoadError::ChecksumMismatch);
    }
    let stored: StoredSync =
        serde_json::from_str(envelope.payload.get()).map_err(|e| SyncLoadError::InvalidPayload(e.to_string()))?;
    stored.ledger.check_integrity().map_err(|e| SyncLoadError::InvalidPayload(e.to_string()))?;
    let bad_hex =
        [&stored.pending_upload, &stored.shared_model].into_iter().flatten().any(|hex| from_hex(hex).is_none());
    if bad_hex {
        return Err(SyncLoadError::InvalidPayload("a stored body is not hex".to_owned()));
    }
    if stored.carried_from.as_ref().is_some_and(|w| w.iter().any(|v| !v.is_finite())) {
        return Err(SyncLoadError::InvalidPayload("the learning reference has a non-finite weight".to_owned()));
    }
    Ok(stored)
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
        assert!(matches!(decode_sync("{oops"), Err(SyncLoadError::NotAnEnvelope(_))));
        let other = raw.replace(SYNC_FORMAT, "shop-personalizer/profile");
        assert!(matches!(decode_sync(&other), Err(SyncLoadError::UnknownFormat(_))));
        let future = raw.replace(r#""version":1,"#, r#""version":4,"#);
        assert_eq!(decode_sync(&future), Err(SyncLoadError::FutureVersion(4)));
        let tampered = raw.replace(r#""labelledSinceSync":4"#, r#""labelledSinceSync":5"#);
        assert_eq!(decode_sync(&tampered), Err(SyncLoadError::ChecksumMismatch));
        assert!(matches!(decode_sync(&" ".repeat(MAX_SYNC_BYTES + 1)), Err(SyncLoadError::Oversized { .. })));
    }

    #[test]
    fn an_impossible_ledger_is_refused_even_with_a_good_checksum() {
        let payload = r#"{"ledger":{"periods":[{"period":5,"updates":1,"rho":-0.5}],"lifetimeUpdates":1,"lifetimeRho":0.5},"labelledSinceSync":0}"#;
        let raw = format!(
            r#"{{"format":"{SYNC_FORMAT}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert!(matches!(decode_sync(&raw), Err(SyncLoadError::InvalidPayload(_))));
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
