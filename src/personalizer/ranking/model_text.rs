//! The stored model's payload written by hand, byte for byte what `serde_json::to_string` writes
//! of [`StoredModel`] (weights in serde_json's `f32` form), so serde_json's serializer is not in
//! the core module.

use crate::storage::json_text::{push_f32, push_list, push_raw, push_u64};

use super::model_store::StoredModel;

impl StoredModel {
    /// The payload as compact JSON, as `serde_json::to_string` writes it.
    pub fn payload_text(&self) -> String {
        let mut out = String::with_capacity(64 + 12 * (self.shared.len() + self.personal.len()));
        push_raw(&mut out, "{\"features\":");
        push_u64(&mut out, self.features as u64);
        push_raw(&mut out, ",\"shared\":");
        push_list(&mut out, &self.shared, |out, w| push_f32(out, *w));
        push_raw(&mut out, ",\"personal\":");
        push_list(&mut out, &self.personal, |out, w| push_f32(out, *w));
        push_raw(&mut out, ",\"steps\":");
        push_u64(&mut out, self.steps);
        push_raw(&mut out, "}");
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::personalizer::ranking::model_store::{encode_model, ModelFormat};
    use crate::rank::RankModel;
    use crate::storage::seal;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn the_hand_written_envelope_is_the_one_seal_writes(
            shared in proptest::collection::vec(any::<f32>(), 0..40),
            personal in proptest::collection::vec(prop_oneof![any::<f32>(), Just(f32::NAN), Just(-0.0f32)], 0..40),
            steps in any::<u64>(),
            features in any::<usize>(),
        ) {
            let stored = StoredModel { features, shared, personal, steps };
            prop_assert_eq!(stored.payload_text(), serde_json::to_string(&stored).unwrap());
            let mut model = RankModel::default();
            let personal: Vec<f32> = (0..crate::rank::NUM_FEATURES).map(|i| 1.5 * (i as f32 - 40.0) / 7.0).collect();
            model.set_personal_weights(&personal).expect("finite weights");
            prop_assert_eq!(encode_model(&model, steps), seal::<ModelFormat>(&StoredModel::of(&model, steps), &[]).unwrap());
        }

    }
}
