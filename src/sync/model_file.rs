//! A model file: the shared model's envelope before the aggregator signs it.
//!
//! ```text
//! offset    size field
//!      0       4 magic "SPMD"
//!      4       1 format version (3: feature layout 3; format-1 and format-2 files are still read)
//!      5       8 model version (u64)
//!     13       4 dimension d (u32)
//!     17     4*d weights (f32)
//!  17+4d      32 SHA-256 of every byte before it
//! ```
//! These are exactly the first `49 + 4d` bytes of the signed download ([`SharedModel::encode_signed`]
//! appends the aggregator's Ed25519 signature of them), so a file written by `replay fit` and the
//! model the aggregator serves from it (`--initial-model`) are one format. A file carries no
//! signature: whoever serves it signs it with their own key.
//!
//! Format 3 holds feature layout 3 (109 weights: layout 2 plus the sequence block); format 2 held
//! layout 2 (106: layout 1 plus the return block). A format-1 file of layout 1's 90 weights or a
//! format-2 file of layout 2's 106 is read as layout 3 with the blocks it lacks at 0, which ranks
//! exactly as it did; a format above 3 is `model_file_wrong_version` (an older build reading a
//! newer file says the same), and a file of another dimension `model_file_wrong_dimension`.

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::model_wire::{in_current_layout, SharedModel, MAX_MODEL_DIMENSION, MODEL_FORMAT_VERSION, MODEL_MAGIC};

const HEADER_LEN: usize = 17;
const CHECKSUM_LEN: usize = 32;

/// Why a model file was refused. Each variant has a stable [`ModelFileError::code`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelFileError {
    #[error("the file is {got} bytes, shorter than the {need}-byte minimum: it was cut off or is not a model file")]
    Truncated { need: usize, got: usize },
    #[error("the file does not start with \"SPMD\": it is not a model file (replay fit writes one)")]
    BadMagic,
    #[error("the file has format version {got}; this build reads version {supported}: refit it or update the tools")]
    WrongVersion { got: u8, supported: u8 },
    #[error(
        "the file declares {declared} weights but holds {got} bytes of weights (4 per weight) between its header and \
         checksum: it was cut off or padded"
    )]
    LengthMismatch { declared: usize, got: usize },
    #[error("the file's checksum does not match its weights: it was corrupted or edited; write it again")]
    BadChecksum,
    #[error("the file has {got} weights but {expected} are expected: it was fitted for another feature set")]
    WrongDimension { got: usize, expected: usize },
    #[error("weight {index} of the file is not finite: refit the model")]
    NonFiniteWeight { index: usize },
}

impl ModelFileError {
    /// The stable code of this error (a public contract: add codes, never rename one).
    pub fn code(&self) -> &'static str {
        match self {
            ModelFileError::Truncated { .. } => "model_file_truncated",
            ModelFileError::BadMagic => "model_file_bad_magic",
            ModelFileError::WrongVersion { .. } => "model_file_wrong_version",
            ModelFileError::LengthMismatch { .. } => "model_file_length_mismatch",
            ModelFileError::BadChecksum => "model_file_bad_checksum",
            ModelFileError::WrongDimension { .. } => "model_file_wrong_dimension",
            ModelFileError::NonFiniteWeight { .. } => "model_file_non_finite_weight",
        }
    }
}

impl SharedModel {
    /// The model file: the signed download's body and checksum, without a signature.
    pub fn encode_file(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * self.weights.len() + CHECKSUM_LEN);
        out.extend_from_slice(&MODEL_MAGIC);
        out.push(MODEL_FORMAT_VERSION);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.weights.len() as u32).to_le_bytes());
        for weight in &self.weights {
            out.extend_from_slice(&weight.to_le_bytes());
        }
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(checksum.as_slice());
        out
    }

    /// Reads a model file and checks format, length, checksum, dimension (`expected`) and that
    /// every weight is finite.
    pub fn decode_file(bytes: &[u8], expected: usize) -> Result<Self, ModelFileError> {
        let minimum = HEADER_LEN + CHECKSUM_LEN;
        if bytes.len() < minimum {
            return Err(ModelFileError::Truncated { need: minimum, got: bytes.len() });
        }
        if bytes[0..4] != MODEL_MAGIC {
            return Err(ModelFileError::BadMagic);
        }
        let format = bytes[4];
        if !(1..=MODEL_FORMAT_VERSION).contains(&format) {
            return Err(ModelFileError::WrongVersion { got: format, supported: MODEL_FORMAT_VERSION });
        }
        let mut version = [0_u8; 8];
        version.copy_from_slice(&bytes[5..13]);
        let mut dimension = [0_u8; 4];
        dimension.copy_from_slice(&bytes[13..17]);
        let declared = u32::from_le_bytes(dimension) as usize;
        let weight_bytes = bytes.len() - minimum;
        if declared > MAX_MODEL_DIMENSION || weight_bytes != 4 * declared {
            return Err(ModelFileError::LengthMismatch { declared, got: weight_bytes });
        }
        let (body, checksum) = bytes.split_at(HEADER_LEN + 4 * declared);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(ModelFileError::BadChecksum);
        }
        let weights: Vec<f32> = body[HEADER_LEN..]
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        let weights = in_current_layout(format, weights);
        if weights.len() != expected {
            return Err(ModelFileError::WrongDimension { got: declared, expected });
        }
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(ModelFileError::NonFiniteWeight { index });
        }
        Ok(Self { version: u64::from_le_bytes(version), weights })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    fn model() -> SharedModel {
        SharedModel { version: 1, weights: vec![0.5, -1.25, 2.0] }
    }

    /// Rewrites the checksum after an edit, as a careless tool would.
    fn rehash(mut bytes: Vec<u8>) -> Vec<u8> {
        let body_len = bytes.len() - CHECKSUM_LEN;
        let checksum = Sha256::digest(&bytes[..body_len]);
        bytes[body_len..].copy_from_slice(checksum.as_slice());
        bytes
    }

    #[test]
    fn a_file_is_the_signed_download_without_its_signature() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let file = model().encode_file();
        assert_eq!(file.len(), 17 + 12 + 32);
        let signed = model().encode_signed(&key);
        assert_eq!(&signed[..file.len()], file.as_slice());
        assert_eq!(SharedModel::decode_file(&file, 3), Ok(model()));
    }

    #[test]
    fn each_kind_of_bad_file_has_its_code() {
        let file = model().encode_file();
        let code = |bytes: &[u8], expected: usize| SharedModel::decode_file(bytes, expected).map_err(|e| e.code());
        assert_eq!(code(&file[..20], 3), Err("model_file_truncated"));
        assert_eq!(code(&[b"XPMD".as_slice(), &file[4..]].concat(), 3), Err("model_file_bad_magic"));
        let mut version = file.clone();
        version[4] = 4;
        assert_eq!(code(&rehash(version.clone()), 3), Err("model_file_wrong_version"));
        version[4] = 0;
        assert_eq!(code(&rehash(version), 3), Err("model_file_wrong_version"));
        assert_eq!(code(&[file.as_slice(), &[0; 4]].concat(), 3), Err("model_file_length_mismatch"));
        let mut flipped = file.clone();
        flipped[20] ^= 1;
        assert_eq!(code(&flipped, 3), Err("model_file_bad_checksum"));
        assert_eq!(code(&file, 90), Err("model_file_wrong_dimension"));
        let nan = SharedModel { version: 1, weights: vec![0.0, f32::NAN, 1.0] }.encode_file();
        assert_eq!(SharedModel::decode_file(&nan, 3), Err(ModelFileError::NonFiniteWeight { index: 1 }));
        let infinite = SharedModel { version: 1, weights: vec![f32::NEG_INFINITY, 0.0, 1.0] }.encode_file();
        assert_eq!(code(&infinite, 3), Err("model_file_non_finite_weight"));
    }

    #[test]
    fn format_1_and_2_files_read_as_layout_3_with_the_blocks_they_lack_at_0() {
        use crate::rank::features::{NUM_LAYOUT_1_FEATURES, NUM_LAYOUT_2_FEATURES, RETURN_START, SEQUENCE_START};
        use crate::rank::NUM_FEATURES;
        use crate::sync::{FORMAT_1_DIMENSION, FORMAT_2_DIMENSION, FORMAT_3_DIMENSION};
        assert_eq!(
            (NUM_LAYOUT_1_FEATURES, NUM_LAYOUT_2_FEATURES, NUM_FEATURES),
            (FORMAT_1_DIMENSION, FORMAT_2_DIMENSION, FORMAT_3_DIMENSION)
        );
        assert_eq!((RETURN_START, SEQUENCE_START), (NUM_LAYOUT_1_FEATURES, NUM_LAYOUT_2_FEATURES));
        for (format, len) in [(1u8, NUM_LAYOUT_1_FEATURES), (2, NUM_LAYOUT_2_FEATURES)] {
            let old: Vec<f32> = (0..len).map(|i| i as f32 - 40.0).collect();
            let mut file = SharedModel { version: 7, weights: old.clone() }.encode_file();
            file[4] = format;
            let read = SharedModel::decode_file(&rehash(file.clone()), NUM_FEATURES).expect("an older file is read");
            assert_eq!((read.version, &read.weights[..len]), (7, old.as_slice()));
            assert!(read.weights[len..].iter().all(|w| *w == 0.0));
            // Written again it is a format-3 file of layout 3; as format 3, fewer weights are refused.
            assert_eq!(read.encode_file()[4], 3);
            assert_eq!(
                SharedModel::decode_file(&rehash(file.clone()), len).map_err(|e| e.code()),
                Err("model_file_wrong_dimension")
            );
            file[4] = 3;
            assert_eq!(
                SharedModel::decode_file(&rehash(file), NUM_FEATURES).map_err(|e| e.code()),
                Err("model_file_wrong_dimension")
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trips(version in any::<u64>(), weights in proptest::collection::vec(-1e6_f32..1e6, 1..64)) {
            let model = SharedModel { version, weights };
            let dimension = model.weights.len();
            prop_assert_eq!(SharedModel::decode_file(&model.encode_file(), dimension), Ok(model));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), expected in 0_usize..8) {
            let _ = SharedModel::decode_file(&bytes, expected);
        }

        #[test]
        fn any_single_byte_flip_is_rejected(index in 0_usize..61, flip in 1_u8..=255) {
            let mut bytes = model().encode_file();
            bytes[index] ^= flip;
            prop_assert!(SharedModel::decode_file(&bytes, 3).is_err());
        }
    }
}
