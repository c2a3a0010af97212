//! The one envelope around every stored state of the library (profile, rank model, adaptation,
//! sync ledger):
//! `{"format":"shop-personalizer/<kind>","version":<n>,"checksum":<crc32 of payload>,"lineage":[...],"payload":{...}}`.
//!
//! Each kind of state is a [`StoredKind`]: its format name (the kind tag), the layout version it
//! writes, its payload type and a migration hook that turns an older layout into the current one.
//! The payload is embedded as JSON (readable in the browser's devtools) and the checksum covers its
//! exact text. Anything unreadable is a typed [`LoadError`] that names the kind, never a panic.
//!
//! `lineage` (optional, newest first, at most [`MAX_LINEAGE`]) lists the [`value_id`]s of the stored
//! values this one was merged onto. A tab uses it to tell whether a value another tab wrote already
//! contains its own last write, or was built beside it and overwrote it (see `personalizer/tabs.rs`).
//!
//! `recent` (optional, any JSON, outside the checksum) is what a kind carries beside its payload
//! for other tabs: the profile's recent change batches (see `personalizer/carried.rs`). Readers
//! that do not know it ignore it, so values with it stay readable by earlier versions.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use thiserror::Error;

use super::checksum::crc32;
use super::json_reading;
use super::json_text;
use super::tree_reading::{list, or_default, required, text, whole_u32, whole_u64, TreeError};
use crate::error_code::{Coded, ErrorCode};

/// Most ancestors listed in an envelope's lineage: 64 (at most about 700 bytes of JSON). Two tabs
/// tracking as fast as in `e2e/tabs.test.mjs` wrote 16 values between one tab's write and its
/// hearing of the other's, so the 16 ids kept before lost the ids a merge was recognised by.
pub const MAX_LINEAGE: usize = 64;

/// One kind of stored state: how its envelope is tagged, versioned and migrated.
pub trait StoredKind {
    /// The `format` field, e.g. `"shop-personalizer/profile"`.
    const FORMAT: &'static str;
    /// The layout version this library writes.
    const VERSION: u64;
    /// How messages name the state, e.g. `"profile"`.
    const NOUN: &'static str;
    type Payload: Serialize + DeserializeOwned;

    /// What the engine does instead when the stored value is unreadable and kept under a backup
    /// key, e.g. "a fresh profile started".
    const AFTER_BACKUP: &'static str = "it starts afresh";
    /// What is not saved while an unreadable value could not be backed up and is left in place.
    const WHILE_BLOCKED: &'static str = "nothing is saved";

    /// Reads a payload of the current layout; the error says what is wrong with it. By default
    /// through its tree ([`json_reading::read_json`]), so each payload type's reader is compiled
    /// once, for the tree; a kind may read the tree by hand instead (the profile does).
    fn read_current(payload: &str) -> Result<Self::Payload, String> {
        json_reading::read_json(payload)
    }

    /// Reads a payload of an older `version` (below [`Self::VERSION`]) into the current layout.
    /// The default knows no older layout and reads it as the current one.
    fn migrate(version: u64, payload: &str) -> Result<Self::Payload, String> {
        let _ = version;
        Self::read_current(payload)
    }
}

/// The identity of a stored value: the CRC-32 of its whole text.
pub fn value_id(raw: &str) -> u32 {
    crc32(raw.as_bytes())
}

/// Why a stored value could not be read. The caller keeps the blob under a backup key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    #[error("the stored {what} is {bytes} bytes, over the {limit}-byte limit for loading")]
    Oversized { what: &'static str, bytes: usize, limit: usize },
    #[error("the stored {what} is not valid JSON: {reason}")]
    CorruptJson { what: &'static str, reason: String },
    #[error("the stored value is JSON but not a {what} envelope: {reason}")]
    NotAnEnvelope { what: &'static str, reason: String },
    #[error("the stored value has format {found:?}, not {expected:?}")]
    UnknownFormat { expected: &'static str, found: String },
    #[error(
        "the stored {what}'s checksum is {stored:08x} but its content gives {computed:08x}: it was altered or cut off"
    )]
    ChecksumMismatch { what: &'static str, stored: u32, computed: u32 },
    #[error("the stored {what} has version {found}, newer than this library's {supported}: it was written by a newer version of shop-personalizer; update the library")]
    FutureVersion { what: &'static str, found: u64, supported: u64 },
    #[error("the stored version-{version} {what} does not have the expected layout: {reason}")]
    InvalidPayload { what: &'static str, version: u64, reason: String },
}

impl Coded for LoadError {
    fn code(&self) -> ErrorCode {
        match self {
            LoadError::Oversized { .. }
            | LoadError::CorruptJson { .. }
            | LoadError::NotAnEnvelope { .. }
            | LoadError::UnknownFormat { .. }
            | LoadError::ChecksumMismatch { .. }
            | LoadError::FutureVersion { .. }
            | LoadError::InvalidPayload { .. } => ErrorCode::UnreadableState,
        }
    }
}

impl LoadError {
    /// A payload of `K` that parsed but holds impossible values.
    pub fn invalid<K: StoredKind>(version: u64, reason: impl ToString) -> Self {
        LoadError::InvalidPayload { what: K::NOUN, version, reason: reason.to_string() }
    }
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

/// The fields of a stored envelope, the payload as its exact text.
struct EnvelopeIn<'a> {
    format: String,
    version: u64,
    checksum: u32,
    lineage: Vec<u32>,
    recent: Option<&'a str>,
    payload: &'a str,
}

impl<'a> EnvelopeIn<'a> {
    /// Reads an envelope's fields; `Err(Ok(..))` when `raw` is not JSON, `Err(Err(..))` when it is
    /// JSON of another shape.
    fn read(raw: &'a str) -> Result<Self, Result<String, String>> {
        let members = json_reading::object_members(raw).map_err(|e| Ok(e.to_string()))?;
        let members = members.ok_or_else(|| Err("expected an envelope object".to_owned()))?;
        let mut fields = serde_json::Map::new();
        let (mut payload, mut recent) = (None, None);
        for (name, value) in members {
            let known = matches!(name.as_str(), "format" | "version" | "checksum" | "lineage" | "payload" | "recent");
            let raw_seen = match name.as_str() {
                "payload" => payload.is_some(),
                "recent" => recent.is_some(),
                _ => false,
            };
            if known && (fields.contains_key(&name) || raw_seen) {
                return Err(Err(format!("duplicate field `{name}`")));
            }
            if name == "payload" {
                payload = Some(value);
            } else if name == "recent" {
                recent = Some(value);
            } else if known {
                // Known members are small (the payload is not parsed here): a tree each is cheap.
                fields.insert(name, json_reading::parse(value).map_err(|e| Err(e.to_string()))?);
            }
        }
        let shape = |e: TreeError| Err(e.to_string());
        let lineage_ids = |value: &serde_json::Value| list(value, whole_u32);
        Ok(EnvelopeIn {
            format: required(&fields, "format", text).map_err(shape)?,
            version: required(&fields, "version", whole_u64).map_err(shape)?,
            checksum: required(&fields, "checksum", whole_u32).map_err(shape)?,
            lineage: or_default(&fields, "lineage", lineage_ids).map_err(shape)?,
            recent,
            payload: payload.ok_or_else(|| Err("missing field `payload`".to_owned()))?,
        })
    }
}

/// A payload read from its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened<T> {
    pub payload: T,
    /// The version it was stored in, when it was migrated from an older one.
    pub migrated_from: Option<u64>,
    /// Ids of the values it was merged onto, newest first.
    pub lineage: Vec<u32>,
    /// The exact text of the `recent` member, when there is one.
    pub recent: Option<String>,
}

fn wrap(format: &'static str, version: u64, payload: &RawValue, lineage: &[u32]) -> Result<String, serde_json::Error> {
    let checksum = crc32(payload.get().as_bytes());
    let lineage = &lineage[..lineage.len().min(MAX_LINEAGE)];
    serde_json::to_string(&EnvelopeOut { format, version, checksum, lineage, payload })
}

/// `payload` as a stored envelope of kind `K`, merged onto the values in `lineage` (newest first).
pub fn seal<K: StoredKind>(payload: &K::Payload, lineage: &[u32]) -> Result<String, serde_json::Error> {
    let payload = serde_json::value::to_raw_value(payload)?;
    wrap(K::FORMAT, K::VERSION, &payload, lineage)
}

/// `payload_json` (the payload's compact JSON, as `serde_json::to_string` writes it) as a stored
/// envelope of kind `K`: the bytes [`seal`] writes, without encoding the payload a second time
/// (a flush encodes the profile once, to measure it, and stores that text). `recent_json`, when
/// not empty, is written as the `recent` member (JSON text, see the module docs).
pub fn seal_encoded<K: StoredKind>(payload_json: &str, lineage: &[u32], recent_json: &str) -> String {
    use std::fmt::Write;
    let lineage = &lineage[..lineage.len().min(MAX_LINEAGE)];
    let mut out = String::with_capacity(payload_json.len() + recent_json.len() + 106 + 11 * lineage.len());
    out.push_str("{\"format\":");
    json_text::push_str(&mut out, K::FORMAT);
    // Writing into a String cannot fail.
    let _ = write!(out, ",\"version\":{},\"checksum\":{}", K::VERSION, crc32(payload_json.as_bytes()));
    if let Some((first, rest)) = lineage.split_first() {
        let _ = write!(out, ",\"lineage\":[{first}");
        for id in rest {
            let _ = write!(out, ",{id}");
        }
        out.push(']');
    }
    if !recent_json.is_empty() {
        out.push_str(",\"recent\":");
        out.push_str(recent_json);
    }
    out.push_str(",\"payload\":");
    out.push_str(payload_json);
    out.push('}');
    out
}

/// Bytes the envelope of kind `K` adds around a payload, at most.
pub fn envelope_overhead<K: StoredKind>() -> usize {
    let empty = "null";
    let checksum_digits_max = u32::MAX.to_string().len();
    let longest_lineage = [u32::MAX; MAX_LINEAGE];
    let sealed = seal_encoded::<K>(empty, &longest_lineage, "");
    sealed.len() - empty.len() - 1 + checksum_digits_max
}

/// Reads a stored envelope of kind `K` of at most `max_bytes`, migrating older versions.
pub fn open<K: StoredKind>(raw: &str, max_bytes: usize) -> Result<Opened<K::Payload>, LoadError> {
    let what = K::NOUN;
    if raw.len() > max_bytes {
        return Err(LoadError::Oversized { what, bytes: raw.len(), limit: max_bytes });
    }
    let envelope = EnvelopeIn::read(raw).map_err(|e| match e {
        Ok(reason) => LoadError::CorruptJson { what, reason },
        Err(reason) => LoadError::NotAnEnvelope { what, reason },
    })?;
    if envelope.format != K::FORMAT {
        return Err(LoadError::UnknownFormat { expected: K::FORMAT, found: envelope.format });
    }
    if envelope.version > K::VERSION {
        return Err(LoadError::FutureVersion { what, found: envelope.version, supported: K::VERSION });
    }
    let text = envelope.payload;
    let computed = crc32(text.as_bytes());
    if computed != envelope.checksum {
        return Err(LoadError::ChecksumMismatch { what, stored: envelope.checksum, computed });
    }
    let version = envelope.version;
    let payload = if version == K::VERSION { K::read_current(text) } else { K::migrate(version, text) }
        .map_err(|e| LoadError::invalid::<K>(version, e))?;
    let mut lineage = envelope.lineage;
    lineage.truncate(MAX_LINEAGE);
    let recent = envelope.recent.map(str::to_owned);
    Ok(Opened { payload, migrated_from: (version < K::VERSION).then_some(version), lineage, recent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    /// A kind with one older layout, `{"n": <number>}` in version 1, `{"count": <number>}` now.
    struct Counter;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Count {
        count: u32,
    }

    impl StoredKind for Counter {
        const FORMAT: &'static str = "shop-personalizer/test-counter";
        const VERSION: u64 = 2;
        const NOUN: &'static str = "test counter";
        type Payload = Count;

        fn migrate(version: u64, payload: &str) -> Result<Count, String> {
            #[derive(Deserialize)]
            struct V1 {
                n: u32,
            }
            assert_eq!(version, 1, "only version 1 is older");
            serde_json::from_str::<V1>(payload).map(|v1| Count { count: v1.n }).map_err(|e| e.to_string())
        }
    }

    proptest! {
        #[test]
        fn sealing_encoded_text_writes_the_bytes_seal_writes(count in any::<u32>(), lineage in proptest::collection::vec(any::<u32>(), 0..20)) {
            let payload = Count { count };
            let text = serde_json::to_string(&payload).unwrap();
            prop_assert_eq!(seal_encoded::<Counter>(&text, &lineage, ""), seal::<Counter>(&payload, &lineage).unwrap());
        }
    }

    fn envelope(version: u64, payload: &str) -> String {
        let checksum = crc32fast::hash(payload.as_bytes());
        format!(r#"{{"format":"{}","version":{version},"checksum":{checksum},"payload":{payload}}}"#, Counter::FORMAT)
    }

    #[test]
    fn a_hand_written_envelope_opens_and_seals_back_to_the_same_bytes() {
        // crc32 of `{"count":3}` is 3907846187 (checked with `python3 -c 'import zlib; ...'`).
        let raw =
            r#"{"format":"shop-personalizer/test-counter","version":2,"checksum":3907846187,"payload":{"count":3}}"#;
        assert_eq!(crc32fast::hash(br#"{"count":3}"#), 3_907_846_187);
        let opened = open::<Counter>(raw, 1 << 10).unwrap();
        assert_eq!(opened, Opened { payload: Count { count: 3 }, migrated_from: None, lineage: vec![], recent: None });
        assert_eq!(seal::<Counter>(&opened.payload, &[]).unwrap(), raw);
        let with_lineage = seal::<Counter>(&Count { count: 3 }, &[7, 3]).unwrap();
        assert!(with_lineage.contains(r#""checksum":3907846187,"lineage":[7,3],"payload""#), "{with_lineage}");
        assert_eq!(open::<Counter>(&with_lineage, 1 << 10).unwrap().lineage, [7, 3]);
        let too_long: Vec<u32> = (0..MAX_LINEAGE as u32 + 24).collect();
        let capped = seal::<Counter>(&Count { count: 3 }, &too_long).unwrap();
        assert_eq!(open::<Counter>(&capped, 1 << 10).unwrap().lineage.len(), MAX_LINEAGE);
        assert!(capped.len() <= r#"{"count":3}"#.len() + envelope_overhead::<Counter>());
        // The figure serde_json's envelope of a `null` payload gave, before it was sealed by hand.
        let longest = wrap(Counter::FORMAT, Counter::VERSION, RawValue::NULL, &[u32::MAX; MAX_LINEAGE]).unwrap();
        assert_eq!(envelope_overhead::<Counter>(), longest.len() - "null".len() - 1 + 10);
    }

    #[test]
    fn a_recent_member_is_kept_as_text_outside_the_checksum() {
        let raw = seal_encoded::<Counter>(r#"{"count":3}"#, &[7], r#"[{"a":[1, 2]}]"#);
        assert!(raw.contains(r#""lineage":[7],"recent":[{"a":[1, 2]}],"payload":{"count":3}}"#), "{raw}");
        let opened = open::<Counter>(&raw, 1 << 10).unwrap();
        assert_eq!((opened.payload.count, opened.recent.as_deref()), (3, Some(r#"[{"a":[1, 2]}]"#)));
        // A reader that does not know it (the envelope without it) reads the same payload.
        let without = raw.replace(r#","recent":[{"a":[1, 2]}]"#, "");
        assert_eq!(open::<Counter>(&without, 1 << 10).unwrap().payload, opened.payload);
        let twice = raw.replace(r#""payload""#, r#""recent":1,"payload""#);
        assert!(matches!(open::<Counter>(&twice, 1 << 10), Err(LoadError::NotAnEnvelope { .. })));
    }

    #[test]
    fn an_older_version_goes_through_the_kinds_migration() {
        let opened = open::<Counter>(&envelope(1, r#"{"n":5}"#), 1 << 10).unwrap();
        assert_eq!(opened.payload, Count { count: 5 });
        assert_eq!(opened.migrated_from, Some(1));
        let err = open::<Counter>(&envelope(1, r#"{"count":5}"#), 1 << 10).unwrap_err();
        assert!(matches!(err, LoadError::InvalidPayload { what: "test counter", version: 1, .. }), "{err}");
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error_naming_the_kind() {
        let raw = envelope(2, r#"{"count":4}"#);
        let what = Counter::NOUN;
        assert!(matches!(open::<Counter>(&raw, 10), Err(LoadError::Oversized { limit: 10, .. })));
        assert!(matches!(open::<Counter>(&raw[..raw.len() - 3], 1 << 10), Err(LoadError::CorruptJson { .. })));
        assert!(matches!(open::<Counter>("[1,2]", 1 << 10), Err(LoadError::NotAnEnvelope { .. })));
        let other = raw.replace(Counter::FORMAT, "shop-personalizer/profile");
        let expected =
            LoadError::UnknownFormat { expected: Counter::FORMAT, found: "shop-personalizer/profile".into() };
        assert_eq!(open::<Counter>(&other, 1 << 10), Err(expected));
        let tampered = raw.replace("\"count\":4", "\"count\":5");
        assert!(matches!(open::<Counter>(&tampered, 1 << 10), Err(LoadError::ChecksumMismatch { .. })));
        let future = raw.replace("\"version\":2,", "\"version\":7,");
        assert_eq!(open::<Counter>(&future, 1 << 10), Err(LoadError::FutureVersion { what, found: 7, supported: 2 }));
        let message = open::<Counter>(&future, 1 << 10).unwrap_err().to_string();
        assert!(message.contains("test counter") && message.contains("update the library"), "{message}");
        let wrong = envelope(2, r#"{"count":"many"}"#);
        assert!(matches!(open::<Counter>(&wrong, 1 << 10), Err(LoadError::InvalidPayload { version: 2, .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn seal_open_round_trips(count in any::<u32>(), lineage in proptest::collection::vec(any::<u32>(), 0..20)) {
            let raw = seal::<Counter>(&Count { count }, &lineage).unwrap();
            let opened = open::<Counter>(&raw, 1 << 10).unwrap();
            prop_assert_eq!(opened.payload, Count { count });
            prop_assert_eq!(&opened.lineage[..], &lineage[..lineage.len().min(MAX_LINEAGE)]);
        }

        #[test]
        fn any_string_opens_or_errors_without_panicking(raw in ".{0,400}") {
            let _ = open::<Counter>(&raw, 1 << 10);
        }
    }
}
