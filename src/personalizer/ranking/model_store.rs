//! The learned personal ranking model in storage, under `shop-personalizer:<shop>:model`, in the
//! shared envelope (see `storage::envelope`) as kind `shop-personalizer/rank-model`, version 1.
//!
//! Anything unreadable is a typed [`LoadError`]; the engine keeps the blob under a backup key like
//! an unreadable profile and starts from the shipped weights. Weights for another feature layout
//! (a library upgrade) are not damage. A layout this library knows how to carry forward
//! ([`FEATURE_LAYOUTS`]) keeps the shopper's personal adjustment, feature by feature, under the
//! new shipped shared weights ([`ModelRead::Migrated`]); any other is [`ModelRead::OtherFeatures`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rank::features::{NUM_LAYOUT_1_FEATURES, NUM_LAYOUT_2_FEATURES, NUM_RETURN, NUM_SEQUENCE, RETURN_START};
use crate::rank::{RankModel, NUM_BASE_FEATURES, NUM_FEATURES};
use crate::storage::json_reading;
use crate::storage::tree_reading::{list, object, required, single, whole_u64, whole_usize, TreeError};
use crate::storage::{load_stored, seal_encoded, KeyValueStore, LoadError, Loaded, Opened, StorageKeys, StoredKind};

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

    fn read_current(payload: &str) -> Result<StoredModel, String> {
        let tree = json_reading::parse(payload).map_err(|e| e.to_string())?;
        StoredModel::from_tree(&tree).map_err(|e| e.to_string())
    }
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
    /// Read by hand from the payload's tree, accepting what serde's derive accepts (every field
    /// required, unknown fields ignored), without the derive's generic reader in the core.
    fn from_tree(value: &Value) -> Result<Self, TreeError> {
        let f = object(value)?;
        Ok(StoredModel {
            features: required(f, "features", whole_usize)?,
            shared: required(f, "shared", |v| list(v, single))?,
            personal: required(f, "personal", |v| list(v, single))?,
            steps: required(f, "steps", whole_u64)?,
        })
    }

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
    Learned {
        model: RankModel,
        steps: u64,
    },
    /// A model of an earlier feature layout, carried forward: the personal adjustment of every
    /// feature both layouts have is kept, new features start at 0, the shared weights are the
    /// library's shipped ones (the next sync brings the shop's).
    Migrated {
        model: RankModel,
        steps: u64,
        from: usize,
    },
    /// Not damage: a library upgrade changed the model's features, so old weights do not apply.
    OtherFeatures {
        found: usize,
    },
}

impl ModelRead {
    /// What carrying a model forward from an earlier layout did.
    pub fn migrated_message(from: usize) -> String {
        format!(
            "the stored ranking model had {from} features; this library's model has {NUM_FEATURES}: the shopper's \
             learned adjustments were kept, the new features start from the shipped weights"
        )
    }

    /// Why stored weights of another layout are not used.
    pub fn other_features_message(found: usize) -> String {
        format!(
            "the stored ranking model has {found} features where this library's model has {NUM_FEATURES}; learning \
             restarts from the shipped weights"
        )
    }
}

/// The model as a stored envelope: the bytes `seal` writes of its [`StoredModel`], the payload
/// written by hand (`model_text.rs`) so serde_json's serializer is not in the core.
pub fn encode_model(model: &RankModel, steps: u64) -> String {
    seal_encoded::<ModelFormat>(&StoredModel::of(model, steps).payload_text(), &[], "")
}

/// An earlier feature layout: its size, and where the features added since then were inserted
/// (indices in the current layout, ascending). Every other feature kept its meaning and order.
pub struct FeatureLayout {
    pub features: usize,
    pub added: &'static [usize],
}

/// The features added since the 87-feature layout: the three repeat-pattern features (27..30),
/// then layout 2's return block and layout 3's sequence block at the end.
const ADDED_SINCE_87: [usize; 3 + NUM_RETURN + NUM_SEQUENCE] = {
    let mut all = [0; 3 + NUM_RETURN + NUM_SEQUENCE];
    all[0] = NUM_BASE_FEATURES - 3;
    all[1] = NUM_BASE_FEATURES - 2;
    all[2] = NUM_BASE_FEATURES - 1;
    let mut i = 0;
    while i < NUM_RETURN + NUM_SEQUENCE {
        all[3 + i] = RETURN_START + i;
        i += 1;
    }
    all
};

/// The layouts a stored model can be carried forward from.
pub const FEATURE_LAYOUTS: &[FeatureLayout] = &[
    // Session 1's 87 features.
    FeatureLayout { features: 87, added: &ADDED_SINCE_87 },
    // Layout 1 (90 features): layout 2 appended the return block.
    FeatureLayout { features: NUM_LAYOUT_1_FEATURES, added: ADDED_SINCE_87.split_at(3).1 },
    // Layout 2 (106 features): layout 3 appended the sequence block.
    FeatureLayout { features: NUM_LAYOUT_2_FEATURES, added: ADDED_SINCE_87.split_at(3 + NUM_RETURN).1 },
];

fn read_model(opened: Opened<StoredModel>) -> Result<ModelRead, LoadError> {
    let stored = opened.payload;
    if stored.features == NUM_FEATURES {
        return Ok(ModelRead::Learned { model: stored.to_model()?, steps: stored.steps });
    }
    let Some(layout) = FEATURE_LAYOUTS.iter().find(|layout| layout.features == stored.features) else {
        return Ok(ModelRead::OtherFeatures { found: stored.features });
    };
    let invalid = |e: crate::rank::RankError| LoadError::invalid::<ModelFormat>(MODEL_VERSION, e);
    if stored.personal.len() != layout.features || stored.shared.len() != layout.features {
        return Err(invalid(crate::rank::RankError::WeightsLength {
            expected: layout.features,
            got: stored.personal.len(),
        }));
    }
    let mut old = stored.personal.iter().copied();
    let personal: Vec<f32> =
        (0..NUM_FEATURES).map(|i| if layout.added.contains(&i) { 0.0 } else { old.next().unwrap_or(0.0) }).collect();
    let mut model = RankModel::default();
    model.set_personal_weights(&personal).map_err(invalid)?;
    Ok(ModelRead::Migrated { model, steps: stored.steps, from: layout.features })
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
    use crate::storage::seal;
    use proptest::prelude::*;

    /// A number of any JSON kind, or another value.
    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (0u64..100).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            (-2f64..2.0).prop_map(Value::from),
            "[a-z]{0,3}".prop_map(Value::from),
        ]
    }

    fn model_tree() -> impl Strategy<Value = Value> {
        let weights = prop::collection::vec(leaf(), 0..6).prop_map(Value::from);
        let field = prop_oneof![2 => leaf(), 1 => weights];
        const NAMES: [&str; 5] = ["features", "shared", "personal", "steps", "other"];
        let full = (leaf(), prop::collection::vec(leaf(), 0..6), prop::collection::vec(leaf(), 0..6), leaf());
        prop_oneof![
            full.prop_map(|(features, shared, personal, steps)| {
                serde_json::json!({ "features": features, "shared": shared, "personal": personal, "steps": steps })
            }),
            prop::collection::vec((prop::sample::select(&NAMES[..]), field), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    }

    proptest! {
        /// The hand reader reads what serde's derive reads, and refuses what it refuses.
        #[test]
        fn the_hand_reader_reads_what_the_derive_read(tree in model_tree()) {
            let derived = serde_json::from_value::<StoredModel>(tree.clone());
            match (StoredModel::from_tree(&tree), derived) {
                (Ok(hand), Ok(derived)) => prop_assert_eq!(hand, derived),
                (Err(_), Err(_)) => {}
                (hand, derived) => prop_assert!(false, "hand {:?}, derive {:?} for {}", hand, derived, tree),
            }
        }
    }

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
        let raw = encode_model(&model, 12);
        assert!(raw.starts_with(r#"{"format":"shop-personalizer/rank-model","version":1,"checksum":"#), "{raw}");
        let (back, steps) = learned(&raw);
        assert_eq!(steps, 12);
        assert_eq!(back.weights(), model.weights());
        assert_eq!(back.personal_weights(), model.personal_weights());
    }

    #[test]
    fn the_model_written_before_the_shared_envelope_reads_back_to_the_same_bytes() {
        let raw = include_str!("../../../tests/fixtures/stored/model_v1.json");
        let opened = crate::storage::open::<ModelFormat>(raw, MAX_MODEL_BYTES).expect("readable");
        assert_eq!(opened.payload.features, 87);
        assert_eq!(opened.payload.steps, 5);
        assert!((opened.payload.shared[0] - 0.060_679_592).abs() < 1e-9);
        assert_eq!(seal::<ModelFormat>(&opened.payload, &[]).expect("encode"), raw);
    }

    #[test]
    fn a_model_of_the_87_feature_layout_keeps_its_personal_adjustment_feature_by_feature() {
        let raw = include_str!("../../../tests/fixtures/stored/model_v1.json");
        let old = crate::storage::open::<ModelFormat>(raw, MAX_MODEL_BYTES).expect("readable").payload;
        let Ok(ModelRead::Migrated { model, steps, from }) = decode_model(raw) else {
            panic!("expected a migrated model");
        };
        assert_eq!((steps, from), (5, 87));
        assert_eq!(model.shared_weights(), RankModel::default().shared_weights());
        let personal = model.personal_weights();
        assert_eq!(personal.len(), NUM_FEATURES);
        assert_eq!(&personal[27..30], &[0.0, 0.0, 0.0]);
        // Base features before the new ones and the whole interaction block keep their values
        // (up to the projection that keeps server-placement weights >= 0 under the new shared).
        let same = |new: usize, old_index: usize| {
            let rises = crate::rank::RISES_WITH_SERVER[new];
            rises || (personal[new] - old.personal[old_index]).abs() < 1e-9
        };
        assert!((0..27).all(|i| same(i, i)));
        assert!((30..NUM_LAYOUT_1_FEATURES).all(|i| same(i, i - 3)));
        assert!(personal[RETURN_START..].iter().all(|w| *w == 0.0));
        assert!(old.personal.iter().any(|w| *w != 0.0), "the fixture has learned something");
    }

    /// A stored model of `features` (an older layout) with learned personal weights `i / 100`:
    /// it migrates keeping them, the blocks it lacks starting at 0.
    fn migrates_keeping_its_personal_adjustment(features: usize, steps: u64) {
        let personal: Vec<String> = (0..features).map(|i| format!("{}", i as f32 / 100.0)).collect();
        let zeros = vec!["0"; features].join(",");
        let raw = wrap(&format!(
            r#"{{"features":{features},"shared":[{zeros}],"personal":[{}],"steps":{steps}}}"#,
            personal.join(",")
        ));
        let Ok(ModelRead::Migrated { model, steps: read_steps, from }) = decode_model(&raw) else {
            panic!("expected a migrated model");
        };
        assert_eq!((read_steps, from), (steps, features));
        let personal = model.personal_weights();
        let rises = |i: usize| crate::rank::RISES_WITH_SERVER[i];
        assert!((0..features).all(|i| rises(i) || (personal[i] - i as f32 / 100.0).abs() < 1e-7));
        assert!(personal[features..].iter().all(|w| *w == 0.0));
    }

    #[test]
    fn a_model_of_layout_1_keeps_its_personal_adjustment_and_starts_the_return_block_at_0() {
        assert_eq!(RETURN_START, NUM_LAYOUT_1_FEATURES);
        migrates_keeping_its_personal_adjustment(NUM_LAYOUT_1_FEATURES, 4);
    }

    #[test]
    fn a_model_of_layout_2_keeps_its_personal_adjustment_and_starts_the_sequence_block_at_0() {
        migrates_keeping_its_personal_adjustment(NUM_LAYOUT_2_FEATURES, 6);
    }

    #[test]
    fn a_migrated_model_with_weights_of_the_wrong_length_is_refused() {
        let zeros = vec!["0"; 87].join(",");
        let lying = wrap(&format!(r#"{{"features":87,"shared":[{zeros}],"personal":[1,2],"steps":1}}"#));
        assert!(matches!(decode_model(&lying), Err(LoadError::InvalidPayload { .. })));
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let raw = encode_model(&learned_model(1.0), 3);
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
        let lying = wrap(&format!(r#"{{"features":{NUM_FEATURES},"shared":[{zeros}],"personal":[1],"steps":1}}"#));
        assert!(matches!(decode_model(&lying), Err(LoadError::InvalidPayload { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encode_decode_round_trips(seed in -5.0f32..5.0, steps in 0u64..1_000_000) {
            let model = learned_model(seed);
            let (back, back_steps) = learned(&encode_model(&model, steps));
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
