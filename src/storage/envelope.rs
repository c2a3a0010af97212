//! The versioned envelope around the stored profile:
//! `{"format":"shop-personalizer/profile","version":1,"checksum":<crc32 of payload>,"lineage":[...],"payload":{...}}`.
//!
//! The payload is embedded as JSON (readable in the browser's devtools) and the checksum covers its
//! exact text. Older versions are migrated forward on load; anything unreadable is a typed
//! [`LoadError`], never a panic.
//!
//! `lineage` (optional, newest first, at most [`MAX_LINEAGE`]) lists the [`value_id`]s of the stored
//! values this one was merged onto. A tab uses it to tell whether a value another tab wrote already
//! contains its own last write, or was built beside it and overwrote it (see `personalizer/tabs.rs`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use thiserror::Error;

use crate::profile::Profile;

use super::migrate;

/// The `format` field of every envelope this library writes.
pub const FORMAT_NAME: &str = "shop-personalizer/profile";
/// The layout version this library writes. Version 0 is the pre-release layout (see `migrate.rs`).
pub const CURRENT_VERSION: u64 = 1;
/// Most ancestors listed in an envelope's lineage.
pub const MAX_LINEAGE: usize = 16;

/// The identity of a stored value: the CRC-32 of its whole text.
pub fn value_id(raw: &str) -> u32 {
    crc32fast::hash(raw.as_bytes())
}

/// Why a stored profile could not be read. The caller keeps the blob under a backup key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    #[error("the stored profile is {bytes} bytes, over the {limit}-byte limit for loading")]
    Oversized { bytes: usize, limit: usize },
    #[error("the stored profile is not valid JSON: {0}")]
    CorruptJson(String),
    #[error("the stored value is JSON but not a profile envelope: {0}")]
    NotAnEnvelope(String),
    #[error("the stored value has format {0:?}, not {FORMAT_NAME:?}")]
    UnknownFormat(String),
    #[error(
        "the stored profile's checksum is {stored:08x} but its content gives {computed:08x}: it was altered or cut off"
    )]
    ChecksumMismatch { stored: u32, computed: u32 },
    #[error("the stored profile has version {found}, newer than this library's {CURRENT_VERSION}: it was written by a newer version of shop-personalizer; update the library")]
    FutureVersion { found: u64 },
    #[error("the stored version-{version} profile does not have the expected layout: {reason}")]
    InvalidPayload { version: u64, reason: String },
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    version: u64,
    checksum: u32,
    #[serde(skip_serializing_if = "<[u32]>::is_empty")]
    lineage: &'a [u32],
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    version: u64,
    checksum: u32,
    #[serde(default)]
    lineage: Vec<u32>,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// A profile read from storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub profile: Profile,
    /// The version it was stored in, when it was migrated from an older one.
    pub migrated_from: Option<u64>,
    /// Ids of the values it was merged onto, newest first.
    pub lineage: Vec<u32>,
}

/// Wraps `payload` (compact JSON text) in an envelope.
fn wrap(payload: &RawValue, lineage: &[u32]) -> Result<String, serde_json::Error> {
    let checksum = crc32fast::hash(payload.get().as_bytes());
    let lineage = &lineage[..lineage.len().min(MAX_LINEAGE)];
    serde_json::to_string(&EnvelopeOut { format: FORMAT_NAME, version: CURRENT_VERSION, checksum, lineage, payload })
}

/// The profile as a stored envelope without lineage.
pub fn encode(profile: &Profile) -> Result<String, serde_json::Error> {
    encode_with_lineage(profile, &[])
}

/// The profile as a stored envelope merged onto the values in `lineage` (newest first).
pub fn encode_with_lineage(profile: &Profile, lineage: &[u32]) -> Result<String, serde_json::Error> {
    let payload = serde_json::value::to_raw_value(profile)?;
    wrap(&payload, lineage)
}

/// Bytes the envelope adds around a payload, at most.
pub fn envelope_overhead() -> usize {
    let empty = RawValue::NULL;
    let checksum_digits_max = u32::MAX.to_string().len();
    let longest_lineage = [u32::MAX; MAX_LINEAGE];
    wrap(empty, &longest_lineage).map_or(512, |s| s.len() - empty.get().len() - 1 + checksum_digits_max)
}

/// Reads a stored envelope of at most `max_bytes`, migrating older versions.
pub fn decode(raw: &str, max_bytes: usize) -> Result<Decoded, LoadError> {
    if raw.len() > max_bytes {
        return Err(LoadError::Oversized { bytes: raw.len(), limit: max_bytes });
    }
    let envelope: EnvelopeIn<'_> = serde_json::from_str(raw).map_err(|e| {
        if serde_json::from_str::<serde::de::IgnoredAny>(raw).is_ok() {
            LoadError::NotAnEnvelope(e.to_string())
        } else {
            LoadError::CorruptJson(e.to_string())
        }
    })?;
    if envelope.format != FORMAT_NAME {
        return Err(LoadError::UnknownFormat(envelope.format));
    }
    if envelope.version > CURRENT_VERSION {
        return Err(LoadError::FutureVersion { found: envelope.version });
    }
    let payload = envelope.payload.get();
    let computed = crc32fast::hash(payload.as_bytes());
    if computed != envelope.checksum {
        return Err(LoadError::ChecksumMismatch { stored: envelope.checksum, computed });
    }
    let version = envelope.version;
    let invalid = |e: serde_json::Error| LoadError::InvalidPayload { version, reason: e.to_string() };
    let mut profile: Profile = if version == CURRENT_VERSION {
        serde_json::from_str(payload).map_err(invalid)?
    } else {
        migrate::to_current(version, payload).map_err(invalid)?
    };
    profile.enforce_bounds();
    let mut lineage = envelope.lineage;
    lineage.truncate(MAX_LINEAGE);
    Ok(Decoded { profile, migrated_from: (version < CURRENT_VERSION).then_some(version), lineage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemAttributes;
    use crate::collect::event::TrackEvent;
    use crate::config::ValidConfig;
    use crate::profile::{ProfileChange, RecordedEvent};
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 20;

    fn sample(views: usize) -> Profile {
        let mut profile = Profile::default();
        for i in 0..views {
            let attrs = ItemAttributes {
                category_path: vec!["Shoes".into(), format!("Kind {}", i % 3)],
                brand: Some(format!("Brand \"{i}\" ü")),
                price: Some(i as f64 * 3.7),
                tags: vec![],
            };
            let change = ProfileChange::Record(RecordedEvent {
                event: TrackEvent::View { item_id: format!("id-{i}"), item: None },
                at_ms: 1_700_000_000_000 + i as u64 * 1_000,
                hour_of_week: (i % 168) as u8,
                attributes: vec![(format!("id-{i}"), attrs)],
                visit_device: None,
            });
            profile.apply(&change, &ValidConfig::default());
        }
        profile
    }

    #[test]
    fn round_trips_with_a_checksum_over_the_payload() {
        let profile = sample(5);
        let raw = encode(&profile).unwrap();
        assert!(raw.starts_with(r#"{"format":"shop-personalizer/profile","version":1,"checksum":"#));
        let decoded = decode(&raw, LIMIT).unwrap();
        assert_eq!(decoded.migrated_from, None);
        assert!(decoded.lineage.is_empty());
        assert_eq!(encode(&decoded.profile).unwrap(), raw);
        let with_lineage = encode_with_lineage(&profile, &[7, 3]).unwrap();
        assert!(with_lineage.contains(r#""lineage":[7,3],"payload""#));
        assert_eq!(decode(&with_lineage, LIMIT).unwrap().lineage, [7, 3]);
        let too_long: Vec<u32> = (0..40).collect();
        let capped = encode_with_lineage(&profile, &too_long).unwrap();
        assert_eq!(decode(&capped, LIMIT).unwrap().lineage.len(), MAX_LINEAGE);
        assert!(capped.len() <= serde_json::to_string(&profile).unwrap().len() + envelope_overhead());
        assert!(raw.len() <= serde_json::to_string(&profile).unwrap().len() + envelope_overhead());
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let raw = encode(&sample(2)).unwrap();
        assert!(matches!(decode(&raw, 10), Err(LoadError::Oversized { limit: 10, .. })));
        assert!(matches!(decode(&raw[..raw.len() - 3], LIMIT), Err(LoadError::CorruptJson(_))));
        assert!(matches!(decode("[1,2]", LIMIT), Err(LoadError::NotAnEnvelope(_))));
        let other = raw.replace(FORMAT_NAME, "someone-else");
        assert_eq!(decode(&other, LIMIT), Err(LoadError::UnknownFormat("someone-else".into())));
        let tampered = raw.replace("\"Shoes\"", "\"Shoez\"");
        assert!(matches!(decode(&tampered, LIMIT), Err(LoadError::ChecksumMismatch { .. })));
        let future = raw.replace("\"version\":1,", "\"version\":7,");
        assert_eq!(decode(&future, LIMIT), Err(LoadError::FutureVersion { found: 7 }));
        let payload = r#"{"visits":"many"}"#;
        let wrong = format!(
            r#"{{"format":"{FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert!(matches!(decode(&wrong, LIMIT), Err(LoadError::InvalidPayload { version: 1, .. })));
        assert!(decode(&future, LIMIT).unwrap_err().to_string().contains("update the library"));
    }

    #[test]
    fn an_empty_payload_object_is_an_empty_profile() {
        let payload = "{}";
        let raw = format!(
            r#"{{"format":"{FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert_eq!(decode(&raw, LIMIT).unwrap().profile, Profile::default());
    }

    #[test]
    fn hand_edited_payloads_are_cleaned_on_load() {
        let payload = r#"{"catalog":{"":{"brand":"A","lastUsedMs":1},"a":{"price":-5,"lastUsedMs":1},"c":{"categoryPath":["X"],"lastUsedMs":1}},"visits":{"revenue":-3}}"#;
        let raw = format!(
            r#"{{"format":"{FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        let profile = decode(&raw, LIMIT).unwrap().profile;
        let ids: Vec<_> = profile.catalog().iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["c"]);
        assert!(profile.visits().revenue.abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encode_decode_round_trips(views in 0usize..60) {
            let profile = sample(views);
            let raw = encode(&profile).unwrap();
            let decoded = decode(&raw, LIMIT).unwrap().profile;
            // Stored affinities are rounded to 4 decimals; everything else is exact.
            prop_assert_eq!(decoded.affinities().len(), profile.affinities().len());
            for ((k1, a1), (k2, a2)) in decoded.affinities().iter().zip(profile.affinities().iter()) {
                prop_assert_eq!(k1, k2);
                prop_assert!((a1.value - a2.value).abs() <= 5e-5);
                prop_assert_eq!(a1.updated_ms, a2.updated_ms);
            }
            prop_assert_eq!(decoded.history(), profile.history());
            prop_assert_eq!(decoded.visits(), profile.visits());
            prop_assert_eq!(decoded.catalog(), profile.catalog());
            prop_assert_eq!(decoded.hour_of_week(), profile.hour_of_week());
            prop_assert_eq!(encode(&decoded).unwrap(), raw);
        }

        #[test]
        fn any_string_decodes_or_errors_without_panicking(raw in ".{0,400}") {
            let _ = decode(&raw, LIMIT);
        }

        #[test]
        fn any_byte_flip_is_caught_or_harmless(index in 0usize..400, byte in any::<u8>()) {
            let raw = encode(&sample(3)).unwrap();
            let mut bytes = raw.into_bytes();
            let i = index % bytes.len();
            bytes[i] = byte;
            let damaged = String::from_utf8_lossy(&bytes);
            let _ = decode(&damaged, LIMIT);
        }
    }
}
