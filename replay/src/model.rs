//! Model files in and out: the weights a fit writes (`replay fit --out`) and the weights a replay
//! ranks with (`--model`), in the envelope the aggregator signs and serves
//! (`shop_personalizer::sync::model_file`).

use std::path::Path;

use shop_personalizer::rank::NUM_FEATURES;
use shop_personalizer::sync::SharedModel;

use crate::ReplayError;

/// The model version a fitted file carries: the first shared model of a shop.
pub const FITTED_MODEL_VERSION: u64 = 1;

/// Reads a model file of the ranker's dimension; every bad file is a [`ReplayError::ModelFile`].
pub fn load(path: &Path) -> Result<Vec<f32>, ReplayError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ReplayError::Read { path: path.display().to_string(), reason: e.to_string() })?;
    SharedModel::decode_file(&bytes, NUM_FEATURES)
        .map(|model| model.weights)
        .map_err(|error| ReplayError::ModelFile { path: path.display().to_string(), error })
}

/// Writes `weights` as a model file at [`FITTED_MODEL_VERSION`].
pub fn save(path: &Path, weights: &[f32]) -> Result<(), ReplayError> {
    let bytes = SharedModel { version: FITTED_MODEL_VERSION, weights: weights.to_vec() }.encode_file();
    std::fs::write(path, bytes)
        .map_err(|e| ReplayError::Write { path: path.display().to_string(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_model_loads_back_and_a_bad_one_names_its_code() {
        let dir = std::env::temp_dir().join(format!("replay-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.bin");
        let weights: Vec<f32> = (0..NUM_FEATURES).map(|i| i as f32 * 0.25 - 3.0).collect();
        save(&path, &weights).unwrap();
        assert_eq!(load(&path).unwrap(), weights);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[30] ^= 4;
        std::fs::write(&path, &bytes).unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(message.contains("model_file_bad_checksum") && message.contains("model.bin"), "{message}");
        save(&path, &weights[..5]).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("model_file_wrong_dimension"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
