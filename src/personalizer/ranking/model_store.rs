//! The learned personal ranking model in storage, under `shop-personalizer:<shop>:model`:
//! `{"format":"shop-personalizer/rank-model","version":1,"checksum":<crc32 of payload>,"payload":{...}}`,
//! the same envelope layout as the profile's with its own format name and version.
//!
//! Anything unreadable is a typed [`ModelLoadError`]; the engine keeps the blob under a backup
//! key like an unreadable profile and starts from the shipped weights.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use thiserror::Error;

use crate::rank::{RankModel, NUM_FEATURES};

/// The `format` field of a stored model.
pub const MODEL_FORMAT: &str = "shop-personalizer/rank-model";
/// The model layout version this library writes.
pub const MODEL_VERSION: u64 = 1;
/// A stored model larger than this is refused (it holds three short weight vectors).
const MAX_MODEL_BYTES: usize = 64 * 1024;

/// `shop-personalizer:<shop>:model`; `shop` is already validated.
pub fn model_key(shop: &str) -> String {
    format!("shop-personalizer:{shop}:model")
}

/// Why a stored model could not be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelLoadError {
    #[error("the stored ranking model is {bytes} bytes, over the {MAX_MODEL_BYTES}-byte limit")]
    Oversized { bytes: usize },
    #[error("the stored ranking model is not a model envelope: {0}")]
    NotAnEnvelope(String),
    #[error("the stored ranking model has format {0:?}, not {MODEL_FORMAT:?}")]
    UnknownFormat(String),
    #[error("the stored ranking model's checksum does not match its content: it was altered or cut off")]
    ChecksumMismatch,
    #[error("the stored ranking model has version {0}, newer than this library's {MODEL_VERSION}: update the library")]
    FutureVersion(u64),
    #[error("the stored ranking model does not have the expected layout: {0}")]
    InvalidPayload(String),
    /// Not damage: a library upgrade changed the model's features, so old weights do not apply.
    #[error("the stored ranking model has {found} features where this library's model has {NUM_FEATURES}; learning restarts from the shipped weights")]
    OtherFeatures { found: usize },
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
    pub fn to_model(&self) -> Result<RankModel, ModelLoadError> {
        let invalid = |e: crate::rank::RankError| ModelLoadError::InvalidPayload(e.to_string());
        let mut model = RankModel::with_weights(&self.shared).map_err(invalid)?;
        model.set_personal_weights(&self.personal).map_err(invalid)?;
        Ok(model)
    }
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

/// The model as a stored envelope.
pub fn encode_model(model: &RankModel, steps: u64) -> Result<String, serde_json::Error> {
    let payload = serde_json::value::to_raw_value(&StoredModel::of(model, steps))?;
    let checksum = crc32fast::hash(payload.get().as_bytes());
    serde_json::to_string(&EnvelopeOut {
        format: MODEL_FORMAT,
        version: MODEL_VERSION,
        checksum,
        payload: &payload,
    })
}

/// Reads a stored model envelope.
pub fn decode_model(raw: &str) -> Result<(RankModel, u64), ModelLoadError> {
    if raw.len() > MAX_MODEL_BYTES {
        return Err(ModelLoadError::Oversized { bytes: raw.len() });
    }
    let envelope: EnvelopeIn<'_> =
        serde_json::from_str(raw).map_err(|e| ModelLoadError::NotAnEnvelope(e.to_string()))?;
    if envelope.format != MODEL_FORMAT {
        return Err(ModelLoadError::UnknownFormat(envelope.format));
    }
    if envelope.version > MODEL_VERSION {
        return Err(ModelLoadError::FutureVersion(envelope.version));
    }
    if crc32fast::hash(envelope.payload.get().as_bytes()) != envelope.checksum {
        return Err(ModelLoadError::ChecksumMismatch);
    }
    let stored: StoredModel =
        serde_json::from_str(envelope.payload.get()).map_err(|e| ModelLoadError::InvalidPayload(e.to_string()))?;
    if stored.features != NUM_FEATURES {
        return Err(ModelLoadError::OtherFeatures { found: stored.features });
    }
    Ok((stored.to_model()?, stored.steps))
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

    #[test]
    fn a_model_round_trips_through_its_envelope() {
        let model = learned_model(0.3);
        let raw = encode_model(&model, 12).expect("encode");
        assert!(
            raw.starts_with(r#"{"format":"shop-personalizer/rank-model","version":1,"checksum":"#),
            "{raw}"
        );
        let (back, steps) = decode_model(&raw).expect("decode");
        assert_eq!(steps, 12);
        assert_eq!(back.weights(), model.weights());
        assert_eq!(back.personal_weights(), model.personal_weights());
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let raw = encode_model(&learned_model(1.0), 3).expect("encode");
        assert!(matches!(
            decode_model("{not json"),
            Err(ModelLoadError::NotAnEnvelope(_))
        ));
        let other = raw.replace(MODEL_FORMAT, "shop-personalizer/profile");
        assert!(matches!(decode_model(&other), Err(ModelLoadError::UnknownFormat(_))));
        let future = raw.replace(r#""version":1,"#, r#""version":9,"#);
        assert_eq!(decode_model(&future).err(), Some(ModelLoadError::FutureVersion(9)));
        let tampered = raw.replace(r#""steps":3"#, r#""steps":4"#);
        assert_eq!(decode_model(&tampered).err(), Some(ModelLoadError::ChecksumMismatch));
        let oversized = " ".repeat(MAX_MODEL_BYTES + 1);
        assert!(matches!(
            decode_model(&oversized),
            Err(ModelLoadError::Oversized { .. })
        ));
        assert!(decode_model(&future)
            .unwrap_err()
            .to_string()
            .contains("update the library"));
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
        assert_eq!(
            decode_model(&short).err(),
            Some(ModelLoadError::OtherFeatures { found: 3 })
        );
        let zeros = vec!["0"; NUM_FEATURES].join(",");
        let lying = wrap(&format!(
            r#"{{"features":{NUM_FEATURES},"shared":[{zeros}],"personal":[1],"steps":1}}"#
        ));
        assert!(matches!(decode_model(&lying), Err(ModelLoadError::InvalidPayload(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encode_decode_round_trips(seed in -5.0f32..5.0, steps in 0u64..1_000_000) {
            let model = learned_model(seed);
            let (back, back_steps) = decode_model(&encode_model(&model, steps).expect("encode")).expect("decode");
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
