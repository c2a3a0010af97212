//! Persistence of the adaptation state under `shop-personalizer:<shop>:adapt`, in the same kind
//! of envelope as the profile but with its own format name and version:
//! `{"format":"shop-personalizer/adapt","version":1,"checksum":<crc32 of payload>,"payload":{...}}`.
//!
//! Loading never destroys anything: an unreadable value is copied to a free
//! `shop-personalizer:<shop>:backup:<n>` slot (shared with the profile's backups) before the key
//! is cleared; if no slot is free the value is left as it is and nothing is written over it.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use thiserror::Error;

use crate::adapt::{AdaptError, AdaptState, Adapter, AdapterConfig};
use crate::storage::{KeyValueStore, StorageKeys, StorageWarning, WarningCode};

use super::adapt_feedback::Feedback;

/// The `format` of the stored adaptation state.
pub const ADAPT_FORMAT_NAME: &str = "shop-personalizer/adapt";
/// The layout version written.
pub const ADAPT_FORMAT_VERSION: u64 = 1;
/// A stored value larger than this is refused on load (the state is bounded well below it).
pub const ADAPT_LOAD_LIMIT_BYTES: usize = 256 * 1024;

/// Why a stored adaptation state could not be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AdaptLoadError {
    #[error("the stored adaptation state is {0} bytes, over the {ADAPT_LOAD_LIMIT_BYTES}-byte limit")]
    Oversized(usize),
    #[error("the stored adaptation state is not a readable envelope: {0}")]
    Corrupt(String),
    #[error("the stored adaptation state has format {0:?}, not {ADAPT_FORMAT_NAME:?}")]
    UnknownFormat(String),
    #[error("the stored adaptation state's checksum does not match its content: it was altered or cut off")]
    ChecksumMismatch,
    #[error("the stored adaptation state has version {0}, newer than this library's {ADAPT_FORMAT_VERSION}: update the library")]
    FutureVersion(u64),
    #[error("the stored adaptation state does not have the expected layout: {0}")]
    InvalidPayload(String),
    #[error("the stored adaptation state was refused: {0}")]
    Rejected(#[from] AdaptError),
}

/// What is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAdaptation {
    pub state: AdaptState,
    #[serde(default)]
    pub feedback: Feedback,
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

/// `shop-personalizer:<shop>:adapt` (inside the shop's prefix, so `forget()` removes it).
pub fn adapt_key(shop: &str) -> String {
    format!("shop-personalizer:{shop}:adapt")
}

pub fn encode_adaptation(stored: &StoredAdaptation) -> Result<String, serde_json::Error> {
    let payload = serde_json::value::to_raw_value(stored)?;
    let checksum = crc32fast::hash(payload.get().as_bytes());
    serde_json::to_string(&EnvelopeOut {
        format: ADAPT_FORMAT_NAME,
        version: ADAPT_FORMAT_VERSION,
        checksum,
        payload: &payload,
    })
}

/// Reads a stored value and resumes the adapter from it under `config`.
pub fn decode_adaptation(raw: &str, config: AdapterConfig) -> Result<(Adapter, Feedback), AdaptLoadError> {
    if raw.len() > ADAPT_LOAD_LIMIT_BYTES {
        return Err(AdaptLoadError::Oversized(raw.len()));
    }
    let envelope: EnvelopeIn<'_> = serde_json::from_str(raw).map_err(|e| AdaptLoadError::Corrupt(e.to_string()))?;
    if envelope.format != ADAPT_FORMAT_NAME {
        return Err(AdaptLoadError::UnknownFormat(envelope.format));
    }
    if envelope.version > ADAPT_FORMAT_VERSION {
        return Err(AdaptLoadError::FutureVersion(envelope.version));
    }
    if crc32fast::hash(envelope.payload.get().as_bytes()) != envelope.checksum {
        return Err(AdaptLoadError::ChecksumMismatch);
    }
    let stored: StoredAdaptation =
        serde_json::from_str(envelope.payload.get()).map_err(|e| AdaptLoadError::InvalidPayload(e.to_string()))?;
    let adapter = Adapter::restore(config, stored.state)?;
    let mut feedback = stored.feedback;
    feedback.enforce_bounds();
    Ok((adapter, feedback))
}

/// What loading found.
#[derive(Debug, Default)]
pub struct AdaptLoad {
    pub restored: Option<(Adapter, Feedback)>,
    pub warning: Option<StorageWarning>,
    /// An unreadable value could not be backed up: it must not be overwritten.
    pub blocked: bool,
}

/// Loads the stored adaptation state; anything unreadable is backed up and reported, never lost.
pub fn load_adaptation<S: KeyValueStore>(
    store: &mut S,
    keys: &StorageKeys,
    key: &str,
    config: &AdapterConfig,
) -> AdaptLoad {
    let raw = match store.get(key) {
        Ok(Some(raw)) => raw,
        Ok(None) => return AdaptLoad::default(),
        Err(e) => {
            let warning = StorageWarning::new(WarningCode::StorageUnavailable, e.to_string());
            return AdaptLoad { warning: Some(warning), ..AdaptLoad::default() };
        }
    };
    let problem = match decode_adaptation(&raw, config.clone()) {
        Ok(restored) => return AdaptLoad { restored: Some(restored), ..AdaptLoad::default() },
        Err(problem) => problem,
    };
    match crate::storage::back_up(store, keys, &raw) {
        Ok(backup_key) => {
            // The backup holds the value now; a failed removal just means it is overwritten later.
            let _ = store.remove(key);
            let warning = StorageWarning {
                code: WarningCode::Unreadable,
                message: format!("{problem}; it was kept under {backup_key} and adaptation started afresh"),
                backup_key: Some(backup_key),
            };
            AdaptLoad { restored: None, warning: Some(warning), blocked: false }
        }
        Err(why) => {
            let message = format!(
                "{problem}; it could not be backed up ({why}), so it is left untouched and adaptation is not \
                 saved: call forget() to discard it"
            );
            let warning = StorageWarning::new(WarningCode::NotBackedUp, message);
            AdaptLoad { restored: None, warning: Some(warning), blocked: true }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;
    use proptest::prelude::*;

    fn stored(seed: u64) -> StoredAdaptation {
        let adapter = Adapter::new(AdapterConfig::default(), seed).unwrap();
        StoredAdaptation { state: adapter.state().clone(), feedback: Feedback::default() }
    }

    #[test]
    fn round_trips_in_its_own_envelope() {
        let value = stored(3);
        let raw = encode_adaptation(&value).unwrap();
        assert!(raw.starts_with(r#"{"format":"shop-personalizer/adapt","version":1,"checksum":"#));
        let (adapter, feedback) = decode_adaptation(&raw, AdapterConfig::default()).unwrap();
        assert_eq!(adapter.state(), &value.state);
        assert_eq!(feedback, Feedback::default());
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let raw = encode_adaptation(&stored(4)).unwrap();
        let decode = |raw: &str| decode_adaptation(raw, AdapterConfig::default()).map(|_| ());
        assert!(matches!(decode("{oops"), Err(AdaptLoadError::Corrupt(_))));
        let other = raw.replace(ADAPT_FORMAT_NAME, "shop-personalizer/profile");
        assert!(matches!(decode(&other), Err(AdaptLoadError::UnknownFormat(_))));
        let future = raw.replace("\"version\":1,\"checksum\"", "\"version\":9,\"checksum\"");
        assert_eq!(decode(&future), Err(AdaptLoadError::FutureVersion(9)));
        let tampered = raw.replacen("\"draw\":0.", "\"draw\":0.0", 1);
        assert_eq!(decode(&tampered), Err(AdaptLoadError::ChecksumMismatch));
        let big = " ".repeat(ADAPT_LOAD_LIMIT_BYTES + 1);
        assert!(matches!(decode(&big), Err(AdaptLoadError::Oversized(_))));
        let payload = r#"{"state":{"version":1}}"#;
        let wrong = format!(
            r#"{{"format":"{ADAPT_FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert!(matches!(decode(&wrong), Err(AdaptLoadError::InvalidPayload(_))));
    }

    #[test]
    fn unreadable_values_are_backed_up_then_cleared() {
        let keys = StorageKeys::for_shop("s");
        let key = adapt_key("s");
        let mut store = MemoryStore::new();
        store.set(&key, "garbage").unwrap();
        let load = load_adaptation(&mut store, &keys, &key, &AdapterConfig::default());
        assert!(load.restored.is_none() && !load.blocked);
        let warning = load.warning.unwrap();
        assert_eq!(warning.code, WarningCode::Unreadable);
        assert_eq!(store.get(&keys.backup(0)).unwrap().as_deref(), Some("garbage"));
        assert_eq!(store.get(&key).unwrap(), None);
        assert!(keys.owns(&key), "forget() removes the adaptation key with the shop's others");
    }

    #[test]
    fn without_a_free_backup_slot_the_value_stays() {
        let keys = StorageKeys::for_shop("s");
        let key = adapt_key("s");
        let mut store = MemoryStore::new();
        for n in 0..crate::storage::MAX_BACKUPS {
            store.set(&keys.backup(n), &format!("old {n}")).unwrap();
        }
        store.set(&key, "garbage").unwrap();
        let load = load_adaptation(&mut store, &keys, &key, &AdapterConfig::default());
        assert!(load.blocked);
        assert_eq!(load.warning.unwrap().code, WarningCode::NotBackedUp);
        assert_eq!(store.get(&key).unwrap().as_deref(), Some("garbage"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn encode_decode_round_trips(seed in any::<u64>()) {
            let value = stored(seed);
            let raw = encode_adaptation(&value).unwrap();
            let (adapter, _) = decode_adaptation(&raw, AdapterConfig::default()).unwrap();
            prop_assert_eq!(adapter.state(), &value.state);
        }

        #[test]
        fn any_string_is_refused_without_panicking(raw in ".{0,300}") {
            let _ = decode_adaptation(&raw, AdapterConfig::default());
        }
    }
}
