//! The learned personal ranking model in storage, under `shop-personalizer:<shop>:model`, in the
//! shared envelope (see `storage::envelope`) as kind `shop-personalizer/rank-model`, version 1.
//!
//! Anything unreadable is a typed [`LoadError`]; the engine keeps the blob under a backup key like
//! an unreadable profile and starts from the shipped weights. Weights for another feature layout
//! (a library upgrade) are not damage: [`ModelRead::OtherFeatures`].

use serde::{Deserialize, Serialize};

use crate::rank::{RankModel, NUM_FEATURES};
use crate::storage::{load_stored, seal, KeyValueStore, LoadError, Loaded, Opened, StorageKeys, StoredKind};

/// The `format` field of a stored model.
pub const MODEL_FORMAT: &str = "shop-personalizer/rank-model";
/// The model layout version this library writes.
pub const MODEL_VERSION: u64 = 1;
/// A stored model larger than this is refused (it holds three short weight vectors).
const MAX_MODEL_BYTES: usize = 64 * 1024;

/// The stored model's kind.
pub struct ModelFormat;

impl StoredKind for ModelFormat {
    const FORMAT: &'static str = MODEL_FORMAT;
    const VERSION: u64 = MODEL_VERSION;
    const NOUN: &'static str = "ranking model";
    const AFTER_BACKUP: &'static str = "learning restarts from the shipped weights";
    const WHILE_BLOCKED: &'static str = "the learned model is not saved";
    type Payload = StoredModel;
}

/// `shop-personalizer:<shop>:model`; `shop` is already validated.
pub fn model_key(shop: &str) -> String {
    format!("shop-personalizer:{shop}:model")
}

/// What is kept of the model. The shared weights are restored as the new sync baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredModel {
    pub features: usize,
    pub shared: Vec<f32>,
    pub personal: Vec<f32>,
    /// Learning steps taken on this device.
    pub steps: u64,
}

impl StoredModel {
    pub fn of(model: &RankModel, steps: u64) -> Self {
        StoredModel {
            features: NUM_FEATURES,
            shared: model.shared_weights().to_vec(),
            personal: model.personal_weights().to_vec(),
            steps,
        }
    }

    /// The model these weights describe; fails on weights of the wrong length or not finite.
    pub fn to_model(&self) -> Result<RankModel, LoadError> {
        let invalid = |e: crate::rank::RankError| LoadError::invalid::<ModelFormat>(MODEL_VERSION, e);
        let mut model = RankModel::with_weights(&self.shared).map_err(invalid)?;
        model.set_personal_weights(&self.personal).map_err(invalid)?;
        Ok(model)
    }
}

/// A readable stored model.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelRead {
    Learned { model: RankModel, steps: u64 },
    /// Not damage: a library upgrade changed the model's features, so old weights do not apply.
    OtherFeatures { found: usize },
}

impl ModelRead {
    /// Why stored weights of another layout are not used.
    pub fn other_features_message(found: usize) -> String {
        format!(
            "the stored ranking model has {found} features where this library's model has {NUM_FEATURES}; learning \
             restarts from the shipped weights"
        )
    }
}

/// The model as a stored envelope.
pub fn encode_model(model: &RankModel, steps: u64) -> Result<String, serde_json::Error> {
    seal::<ModelFormat>(&StoredModel::of(model, steps), &[])
}

fn read_model(opened: Opened<StoredModel>) -> Result<ModelRead, LoadError> {
    let stored = opened.payload;
    if stored.features != NUM_FEATURES {
        return Ok(ModelRead::OtherFeatures { found: stored.features });
    }
    Ok(ModelRead::Learned { model: stored.to_model()?, steps: stored.steps })
}

/// Reads a stored model envelope.
#[cfg(test)]
pub fn decode_model(raw: &str) -> Result<ModelRead, LoadError> {
    read_model(crate::storage::open::<ModelFormat>(raw, MAX_MODEL_BYTES)?)
}

/// Loads the stored model under `key`; anything unreadable is backed up (see `storage::load_stored`).
pub fn load_model<S: KeyValueStore>(store: &mut S, keys: &StorageKeys, key: &str) -> Loaded<ModelRead> {
    load_stored::<ModelFormat, _, _>(store, keys, key, MAX_MODEL_BYTES, read_model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn learned_model(seed: f32) -> RankModel {
        let mut model = RankModel::default();
        let personal: Vec<f32> = (0..NUM_FEATURES).map(|i| seed * (i as f32 - 40.0) / 7.0).collect();
        model.set_personal_weights(&personal).expect("finite weights");
        model
    }

    fn learned(raw: &str) -> (RankModel, u64) {
        match decode_model(raw) {
            Ok(ModelRead::Learned { model, steps }) => (model, steps),
            other => panic!("expected a learned model, got {other:?}"),
        }
    }

    #[test]
    fn a_model_round_trips_through_its_envelope() {
        let model = learned_model(0.3);
        let raw = encode_model(&model, 12).expect("encode");
        assert!(
            raw.starts_with(r#"{"format":"shop-personalizer/rank-model","version":1,"checksum":"#),
            "{raw}"
        );
        let (back, steps) = learned(&raw);
        assert_eq!(steps, 12);
        assert_eq!(back.weights(), model.weights());
        assert_eq!(back.personal_weights(), model.personal_weights());
    }

    #[test]
    fn the_model_written_before_the_shared_envelope_reads_back_to_the_same_bytes() {
        let raw = include_str!("../../../tests/fixtures/stored/model_v1.json");
        let (model, steps) = learned(raw);
        assert_eq!(steps, 5);
        assert!((model.shared_weights()[0] - 0.060_679_592).abs() < 1e-9);
        assert_eq!(encode_model(&model, steps).expect("encode"), raw);
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let raw = encode_model(&learned_model(1.0), 3).expect("encode");
        assert!(matches!(decode_model("{not json"), Err(LoadError::CorruptJson { what: "ranking model", .. })));
        let other = raw.replace(MODEL_FORMAT, "shop-personalizer/profile");
        assert!(matches!(decode_model(&other), Err(LoadError::UnknownFormat { .. })));
        let future = raw.replace(r#""version":1,"#, r#""version":9,"#);
        assert!(matches!(decode_model(&future), Err(LoadError::FutureVersion { found: 9, supported: 1, .. })));
        let tampered = raw.replace(r#""steps":3"#, r#""steps":4"#);
        assert!(matches!(decode_model(&tampered), Err(LoadError::ChecksumMismatch { .. })));
        let oversized = " ".repeat(MAX_MODEL_BYTES + 1);
        assert!(matches!(decode_model(&oversized), Err(LoadError::Oversized { .. })));
        let message = decode_model(&future).unwrap_err().to_string();
        assert!(message.contains("ranking model") && message.contains("update the library"), "{message}");
    }

    fn wrap(payload: &str) -> String {
        format!(
            r#"{{"format":"{MODEL_FORMAT}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        )
    }

    #[test]
    fn weights_of_another_layout_or_not_finite_are_refused() {
        let short = wrap(r#"{"features":3,"shared":[1,2,3],"personal":[0,0,0],"steps":1}"#);
        assert_eq!(decode_model(&short), Ok(ModelRead::OtherFeatures { found: 3 }));
        let zeros = vec!["0"; NUM_FEATURES].join(",");
        let lying = wrap(&format!(
            r#"{{"features":{NUM_FEATURES},"shared":[{zeros}],"personal":[1],"steps":1}}"#
        ));
        assert!(matches!(decode_model(&lying), Err(LoadError::InvalidPayload { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encode_decode_round_trips(seed in -5.0f32..5.0, steps in 0u64..1_000_000) {
            let model = learned_model(seed);
            let (back, back_steps) = learned(&encode_model(&model, steps).expect("encode"));
            prop_assert_eq!(back_steps, steps);
            for (a, b) in back.weights().iter().zip(model.weights()) {
                prop_assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0));
            }
        }

        #[test]
        fn any_string_decodes_or_errors_without_panicking(raw in ".{0,300}") {
            let _ = decode_model(&raw);
        }
    }
}
