//! Persistence of the adaptation state under `shop-personalizer:<shop>:adapt`, in the shared
//! envelope (see `storage::envelope`) as kind `shop-personalizer/adapt`, version 1, with the
//! lineage of the values it was merged onto (see `adapting/tabs.rs`).
//!
//! Loading never destroys anything: an unreadable value is copied to a free
//! `shop-personalizer:<shop>:backup:<n>` slot (shared with the profile's backups) before the key
//! is cleared; if no slot is free the value is left as it is and nothing is written over it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::adapt::{AdaptState, Adapter, AdapterConfig};
use crate::measure::holdout::HoldoutDraw;
use crate::storage::json_reading;
use crate::storage::tree_reading::{number, object, required, TreeError};
use crate::storage::{load_stored, seal, KeyValueStore, LoadError, Loaded, Opened, StorageKeys, StoredKind};

use super::feedback::Feedback;

/// The `format` of the stored adaptation state.
pub const ADAPT_FORMAT_NAME: &str = "shop-personalizer/adapt";
/// The layout version written.
pub const ADAPT_FORMAT_VERSION: u64 = 1;
/// A stored value larger than this is refused on load (the state is bounded well below it).
pub const ADAPT_LOAD_LIMIT_BYTES: usize = 256 * 1024;

/// The stored adaptation state's kind.
pub struct AdaptFormat;

impl StoredKind for AdaptFormat {
    const FORMAT: &'static str = ADAPT_FORMAT_NAME;
    const VERSION: u64 = ADAPT_FORMAT_VERSION;
    const NOUN: &'static str = "adaptation state";
    const AFTER_BACKUP: &'static str = "adaptation started afresh";
    const WHILE_BLOCKED: &'static str = "adaptation is not saved";
    type Payload = StoredAdaptation;
}

/// What is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAdaptation {
    pub state: AdaptState,
    #[serde(default)]
    pub feedback: Feedback,
    /// Tells this tab's writes from another tab's that happen to hold the same state (each write's
    /// id, the CRC of its text, must differ; see `adapting/tabs.rs`). 0 when unknown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub writer: u64,
}

fn is_zero(writer: &u64) -> bool {
    *writer == 0
}

/// `shop-personalizer:<shop>:adapt` (inside the shop's prefix, so `forget()` removes it).
pub fn adapt_key(shop: &str) -> String {
    format!("shop-personalizer:{shop}:adapt")
}

/// The state as a stored envelope merged onto the values in `lineage` (newest first).
pub fn encode_adaptation(stored: &StoredAdaptation, lineage: &[u32]) -> Result<String, serde_json::Error> {
    seal::<AdaptFormat>(stored, lineage)
}

/// Resumes the adapter from an opened value under `config`; a state the adapter refuses is unreadable.
fn resumed(opened: Opened<StoredAdaptation>, config: AdapterConfig) -> Result<(Adapter, Feedback), LoadError> {
    let stored = opened.payload;
    let adapter = Adapter::restore(config, stored.state).map_err(|e| LoadError::invalid::<AdaptFormat>(1, e))?;
    let mut feedback = stored.feedback;
    feedback.enforce_bounds();
    Ok((adapter, feedback))
}

/// The stored adaptation state read for its lift holdout draw alone (the rest is skipped): what
/// the core needs to rank before the on-demand parts are loaded.
struct AdaptHoldoutOnly;

impl StoredKind for AdaptHoldoutOnly {
    const FORMAT: &'static str = AdaptFormat::FORMAT;
    const VERSION: u64 = AdaptFormat::VERSION;
    const NOUN: &'static str = AdaptFormat::NOUN;
    const AFTER_BACKUP: &'static str = AdaptFormat::AFTER_BACKUP;
    const WHILE_BLOCKED: &'static str = AdaptFormat::WHILE_BLOCKED;
    type Payload = HoldoutOnly;

    /// `state.holdout.draw` alone, read by hand (each level required, other fields ignored, as
    /// the derive reads it), without the derive's generic reader in the core.
    fn read_current(payload: &str) -> Result<HoldoutOnly, String> {
        let tree = json_reading::parse(payload).map_err(|e| e.to_string())?;
        HoldoutOnly::from_tree(&tree).map_err(|e| e.to_string())
    }
}

impl HoldoutOnly {
    fn from_tree(value: &Value) -> Result<Self, TreeError> {
        fn draw(v: &Value) -> Result<HoldoutOnlyDraw, TreeError> {
            Ok(HoldoutOnlyDraw { draw: required(object(v)?, "draw", number)? })
        }
        fn holdout(v: &Value) -> Result<HoldoutOnlyState, TreeError> {
            Ok(HoldoutOnlyState { holdout: required(object(v)?, "holdout", draw)? })
        }
        Ok(HoldoutOnly { state: required(object(value)?, "state", holdout)? })
    }
}

#[derive(Serialize, Deserialize)]
struct HoldoutOnly {
    state: HoldoutOnlyState,
}

#[derive(Serialize, Deserialize)]
struct HoldoutOnlyState {
    holdout: HoldoutOnlyDraw,
}

#[derive(Serialize, Deserialize)]
struct HoldoutOnlyDraw {
    draw: f64,
}

/// This device's stored lift holdout draw, if a readable adaptation state is stored for `shop`
/// (checksum checked; nothing is backed up or written: the on-demand parts do that when they load).
pub fn stored_holdout_draw<S: KeyValueStore>(store: &S, shop: &str) -> Option<HoldoutDraw> {
    let raw = store.get(&adapt_key(shop)).ok()??;
    let opened = crate::storage::open::<AdaptHoldoutOnly>(&raw, ADAPT_LOAD_LIMIT_BYTES).ok()?;
    HoldoutDraw::from_stored(opened.payload.state.holdout.draw)
}

/// Reads a stored value and resumes the adapter from it under `config`.
#[cfg(test)]
pub fn decode_adaptation(raw: &str, config: AdapterConfig) -> Result<(Adapter, Feedback), LoadError> {
    resumed(crate::storage::open::<AdaptFormat>(raw, ADAPT_LOAD_LIMIT_BYTES)?, config)
}

/// Loads the stored adaptation state; anything unreadable is backed up (see `storage::load_stored`).
pub fn load_adaptation<S: KeyValueStore>(
    store: &mut S,
    keys: &StorageKeys,
    key: &str,
    config: &AdapterConfig,
) -> Loaded<(Adapter, Feedback)> {
    load_stored::<AdaptFormat, _, _>(store, keys, key, ADAPT_LOAD_LIMIT_BYTES, |opened| resumed(opened, config.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;
    use proptest::prelude::*;

    fn holdout_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (0f64..1.0).prop_map(Value::from),
            "[a-z]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            const NAMES: [&str; 4] = ["state", "holdout", "draw", "other"];
            prop_oneof![
                prop::collection::vec((prop::sample::select(&NAMES[..]), inner.clone()), 0..3)
                    .prop_map(|entries| Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
                (0f64..1.0).prop_map(|draw| serde_json::json!({ "state": { "holdout": { "draw": draw } } })),
            ]
        })
    }

    proptest! {
        /// The hand reader of the holdout draw reads what serde's derive reads: the same draw or
        /// both refuse (but for a struct given as an array, which only the derive reads).
        #[test]
        fn the_holdout_reader_reads_what_the_derive_read(tree in holdout_tree()) {
            let derived = serde_json::from_value::<HoldoutOnly>(tree.clone()).map(|h| h.state.holdout.draw);
            let hand = HoldoutOnly::from_tree(&tree).map(|h| h.state.holdout.draw);
            prop_assert_eq!(hand.ok(), derived.ok(), "{}", tree);
        }
    }

    fn stored(seed: u64) -> StoredAdaptation {
        let adapter = Adapter::new(AdapterConfig::default(), seed).unwrap();
        StoredAdaptation { state: adapter.state().clone(), feedback: Feedback::default(), writer: 0 }
    }

    #[test]
    fn the_holdout_draw_is_read_alone_and_only_from_a_sound_value() {
        let mut store = MemoryStore::new();
        assert_eq!(stored_holdout_draw(&store, "acme"), None, "nothing stored");
        let value = stored(3);
        let raw = encode_adaptation(&value, &[]).unwrap();
        store.set(&adapt_key("acme"), &raw).unwrap();
        assert_eq!(stored_holdout_draw(&store, "acme"), Some(value.state.holdout));
        assert_eq!(stored_holdout_draw(&store, "other"), None, "another shop's key");
        let damaged = raw.replace("\"draw\":0.", "\"draw\":0.1");
        store.set(&adapt_key("acme"), &damaged).unwrap();
        assert_eq!(stored_holdout_draw(&store, "acme"), None, "a checksum mismatch reads as nothing");
    }

    #[test]
    fn round_trips_in_its_own_envelope() {
        let value = stored(3);
        let raw = encode_adaptation(&value, &[]).unwrap();
        assert!(raw.starts_with(r#"{"format":"shop-personalizer/adapt","version":1,"checksum":"#));
        let (adapter, feedback) = decode_adaptation(&raw, AdapterConfig::default()).unwrap();
        assert_eq!(adapter.state(), &value.state);
        assert_eq!(feedback, Feedback::default());
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let raw = encode_adaptation(&stored(4), &[]).unwrap();
        let decode = |raw: &str| decode_adaptation(raw, AdapterConfig::default()).map(|_| ());
        assert!(matches!(decode("{oops"), Err(LoadError::CorruptJson { what: "adaptation state", .. })));
        let other = raw.replace(ADAPT_FORMAT_NAME, "shop-personalizer/profile");
        assert!(matches!(decode(&other), Err(LoadError::UnknownFormat { .. })));
        let future = raw.replace("\"version\":1,\"checksum\"", "\"version\":9,\"checksum\"");
        assert!(matches!(decode(&future), Err(LoadError::FutureVersion { found: 9, .. })));
        let tampered = raw.replacen("\"draw\":0.", "\"draw\":0.0", 1);
        assert!(matches!(decode(&tampered), Err(LoadError::ChecksumMismatch { .. })));
        let big = " ".repeat(ADAPT_LOAD_LIMIT_BYTES + 1);
        assert!(matches!(decode(&big), Err(LoadError::Oversized { .. })));
        let payload = r#"{"state":{"version":1}}"#;
        let wrong = format!(
            r#"{{"format":"{ADAPT_FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert!(matches!(decode(&wrong), Err(LoadError::InvalidPayload { .. })));
    }

    #[test]
    fn the_state_written_before_the_shared_envelope_reads_back_to_the_same_bytes() {
        let raw = include_str!("../../../tests/fixtures/stored/adapt_v1.json");
        let (adapter, feedback) = decode_adaptation(raw, AdapterConfig::default()).unwrap();
        assert!((adapter.state().holdout.value() - 0.071_434_686_085_109_17).abs() < 1e-15);
        assert_eq!(adapter.state().bandit.observations("offer:welcome-10"), 1);
        assert!((adapter.state().lift.sessions() - 1.0).abs() < 1e-12);
        let stored = StoredAdaptation { state: adapter.state().clone(), feedback, writer: 0 };
        assert_eq!(encode_adaptation(&stored, &[]).unwrap(), raw);
    }

    #[test]
    fn an_unreadable_value_is_set_aside_with_what_adaptation_does_instead() {
        let keys = StorageKeys::for_shop("s");
        let key = adapt_key("s");
        let mut store = MemoryStore::new();
        store.set(&key, "garbage").unwrap();
        let Loaded::SetAside { warning, blocked: false, raw_left: None, .. } =
            load_adaptation(&mut store, &keys, &key, &AdapterConfig::default())
        else {
            panic!("set aside and cleared")
        };
        assert!(warning.message.contains("adaptation state") && warning.message.contains("adaptation started afresh"));
        assert_eq!(store.get(&keys.backup(0)).unwrap().as_deref(), Some("garbage"));
        assert!(keys.owns(&key), "forget() removes the adaptation key with the shop's others");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn encode_decode_round_trips(seed in any::<u64>()) {
            let value = stored(seed);
            let raw = encode_adaptation(&value, &[]).unwrap();
            let (adapter, _) = decode_adaptation(&raw, AdapterConfig::default()).unwrap();
            prop_assert_eq!(adapter.state(), &value.state);
        }

        #[test]
        fn any_string_is_refused_without_panicking(raw in ".{0,300}") {
            let _ = decode_adaptation(&raw, AdapterConfig::default());
        }
    }
}
