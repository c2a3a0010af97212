//! Shared by the fuzz target and the native regression test (`tests/fuzz_regressions.rs`):
//! how a fuzz input becomes a stored value, and what loading it must guarantee.

use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer};
use shop_personalizer::profile::stored::decode;
use shop_personalizer::storage::{KeyValueStore, MemoryStore};

const PROFILE_KEY: &str = "shop-personalizer:fuzz:profile";
const BACKUP_0: &str = "shop-personalizer:fuzz:backup:0";

/// An input whose first byte is odd becomes an envelope with a correct checksum around the rest
/// (version 0, 1 or 2 by the first byte), so the fuzzer reaches the payload parsers and
/// migrations; any other input is stored as it is.
pub fn stored_value(data: &[u8]) -> String {
    match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => {
            let payload = String::from_utf8_lossy(rest);
            let version = (mode >> 1) % 3;
            format!(
                r#"{{"format":"shop-personalizer/profile","version":{version},"checksum":{},"payload":{payload}}}"#,
                crc32fast::hash(payload.as_bytes())
            )
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    }
}

/// Loads the input through the decoder and the engine. Panics when loading panics, when the
/// stored value is lost (neither loaded, left in place nor backed up), or when the engine cannot
/// write a fresh profile afterwards.
pub fn check_loader(data: &[u8]) {
    let blob = stored_value(data);
    // The engine refuses values over four times the storage budget (64 KiB by default).
    let decoded = decode(&blob, 4 * 65_536);
    let mut store = MemoryStore::new();
    store.set(PROFILE_KEY, &blob).expect("an unlimited store accepts anything");
    let config = PersonalizerConfig { shop: "fuzz".into(), ..PersonalizerConfig::default() };
    let mut engine = Personalizer::open(store.clone(), config, Environment::default()).expect("a valid config");
    engine.set_consent(ConsentMode::Full, false);
    let in_place = store.get(PROFILE_KEY).ok().flatten().as_deref() == Some(blob.as_str());
    let backed_up = store.get(BACKUP_0).ok().flatten().as_deref() == Some(blob.as_str());
    assert!(decoded.is_ok() || in_place || backed_up, "an unreadable stored value was lost");
    assert_eq!(decoded.is_ok(), !backed_up, "only unreadable values are backed up");
    engine.flush(1.7e12).expect("a fresh or loaded profile can always be written");
    if backed_up {
        assert_eq!(store.get(BACKUP_0).ok().flatten().as_deref(), Some(blob.as_str()), "the backup survives a write");
    }
}

/// The other stored states, by the input's first byte: (key suffix, format).
const OTHER_STATES: [(&str, &str); 3] = [
    ("model", "shop-personalizer/rank-model"),
    ("adapt", "shop-personalizer/adapt"),
    ("sync", "shop-personalizer/sync"),
];

/// The first byte picks the state (rank model, adaptation, sync ledger) and, when odd, wraps the
/// rest in that state's envelope with a correct checksum (version 0, 1 or 2); returns the key
/// suffix and the stored value.
pub fn other_state_value(data: &[u8]) -> (&'static str, String) {
    let Some((&mode, rest)) = data.split_first() else { return ("model", String::new()) };
    let (name, format) = OTHER_STATES[usize::from(mode >> 1) % OTHER_STATES.len()];
    let text = String::from_utf8_lossy(rest);
    if mode & 1 == 0 {
        return (name, text.into_owned());
    }
    let version = (mode >> 3) % 3;
    let checksum = crc32fast::hash(text.as_bytes());
    (name, format!(r#"{{"format":"{format}","version":{version},"checksum":{checksum},"payload":{text}}}"#))
}

/// Loads the input as the rank model, adaptation state or sync ledger through the engine. Panics
/// when loading panics, when the value is lost (neither left in place nor backed up), when a
/// backup is made without a warning naming it, or when the engine cannot flush afterwards.
pub fn check_other_state(data: &[u8]) {
    use shop_personalizer::adapt::AdapterConfig;

    let (name, blob) = other_state_value(data);
    let key = format!("shop-personalizer:fuzz:{name}");
    let mut store = MemoryStore::new();
    store.set(&key, &blob).expect("an unlimited store accepts anything");
    let config = PersonalizerConfig { shop: "fuzz".into(), ..PersonalizerConfig::default() };
    let mut engine = Personalizer::open(store.clone(), config, Environment::default()).expect("a valid config");
    engine.set_consent(ConsentMode::Full, false);
    engine.configure_adaptation(AdapterConfig::default(), 7).expect("the default adaptation config is valid");
    let _ = engine.lift_bucket();
    let in_place = store.get(&key).ok().flatten().as_deref() == Some(blob.as_str());
    let backed_up = store.get(BACKUP_0).ok().flatten().as_deref() == Some(blob.as_str());
    assert!(in_place || backed_up, "a stored {name} was lost");
    let warned = engine.warnings().iter().any(|w| w.backup_key.as_deref() == Some(BACKUP_0));
    assert_eq!(backed_up && !in_place, warned, "a backup of the {name} is announced by a warning");
    engine.flush(1.7e12).expect("the profile can always be written");
    if backed_up {
        assert_eq!(store.get(BACKUP_0).ok().flatten().as_deref(), Some(blob.as_str()), "the backup survives a write");
    }
}

/// A model-file fuzz input: an odd first byte wraps the rest in a correct header (format 1,
/// version 1, dimension rest.len() / 4) and checksum, so the weight checks are reached; any other
/// input is the file as it is. The dimension the loader expects is the first byte mod 8.
pub fn model_file_value(data: &[u8]) -> (Vec<u8>, usize) {
    let Some((&first, rest)) = data.split_first() else { return (Vec::new(), 0) };
    let expected = usize::from(first % 8);
    if first % 2 == 0 {
        return (rest.to_vec(), expected);
    }
    let weights: Vec<f32> =
        rest.chunks_exact(4).map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])).collect();
    (shop_personalizer::sync::SharedModel { version: 1, weights }.encode_file(), expected)
}

/// Reading a model file never panics; what it accepts has the expected dimension, finite weights,
/// and encodes back to the same bytes (a file of an earlier format: to the same model).
pub fn check_model_file(data: &[u8]) {
    use shop_personalizer::sync::SharedModel;

    let (file, expected) = model_file_value(data);
    if let Ok(model) = SharedModel::decode_file(&file, expected) {
        assert_eq!(model.weights.len(), expected, "a file of another dimension was accepted");
        assert!(model.weights.iter().all(|w| w.is_finite()), "a non-finite weight was accepted");
        if file[4] == shop_personalizer::sync::MODEL_FORMAT_VERSION {
            assert_eq!(model.encode_file(), file, "an accepted file encodes back to other bytes");
        } else {
            // An earlier format is written back in the current one, with the same model.
            assert_eq!(
                SharedModel::decode_file(&model.encode_file(), expected),
                Ok(model),
                "an upgraded file reads back"
            );
        }
    }
}

/// The stored-state JSON parser (`storage::json_reading`) against serde_json on any text: both
/// accept it and build the same tree, or both refuse it; never a panic.
pub fn check_json_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ours = shop_personalizer::storage::json_reading::parse(&text);
    let reference = serde_json::from_str::<serde_json::Value>(&text);
    match (&ours, &reference) {
        (Ok(found), Ok(expected)) => assert_eq!(found, expected, "{text:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{text:?}: ours {ours:?}, serde_json {reference:?}"),
    }
}
