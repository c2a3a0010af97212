//! The shared model a device downloads: versioned, checksummed, and signed by the aggregator.
//!
//! ```text
//! offset    size field
//!      0       4 magic "SPMD"
//!      4       1 format version (3; 1 and 2 are read too, see MODEL_FORMAT_VERSION)
//!      5       8 model version (u64)
//!     13       4 dimension d (u32)
//!     17     4*d weights (f32)
//!  17+4d      32 SHA-256 of every byte before it
//!  49+4d      64 Ed25519 signature of every byte before it, by the aggregator's key
//! ```
//! All integers and floats little-endian. A device verifies checksum and signature against the
//! public key in its config before using a model; anything wrong keeps the previous model.
//! Without its signature this is the model file `replay fit` writes (`model_file.rs`).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::SyncError;

pub const MODEL_MAGIC: [u8; 4] = *b"SPMD";
/// The format version this library writes: 3, the weights in feature layout 3. Formats 1 and 2
/// are still read (see [`in_current_layout`]); a later one is refused with its own code.
pub const MODEL_FORMAT_VERSION: u8 = 3;
/// Weights of feature layout 1, which format 1 carried: the first weights of layout 2.
pub const FORMAT_1_DIMENSION: usize = 90;
/// Weights of feature layout 2: layout 1 plus the return block appended after it.
pub const FORMAT_2_DIMENSION: usize = 106;
/// Weights of feature layout 3: layout 2 plus the sequence block appended after it.
pub const FORMAT_3_DIMENSION: usize = 109;
const HEADER_LEN: usize = 17;
const CHECKSUM_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// Largest dimension a model may have.
pub const MAX_MODEL_DIMENSION: usize = 1 << 20;

/// Shared model weights at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedModel {
    pub version: u64,
    pub weights: Vec<f32>,
}

impl SharedModel {
    /// The signed download body.
    pub fn encode_signed(&self, key: &SigningKey) -> Vec<u8> {
        let mut out = self.encode_file();
        let signature = key.sign(&out);
        out.extend_from_slice(&signature.to_bytes());
        out
    }

    /// Parses and verifies a download body: format, length, checksum, signature, finite weights.
    pub fn decode_verified(bytes: &[u8], key: &VerifyingKey) -> Result<Self, SyncError> {
        let minimum = HEADER_LEN + CHECKSUM_LEN + SIGNATURE_LEN;
        if bytes.len() < minimum {
            return Err(SyncError::Truncated { need: minimum, got: bytes.len() });
        }
        if bytes[0..4] != MODEL_MAGIC {
            return Err(SyncError::BadMagic);
        }
        let format = bytes[4];
        if !(1..=MODEL_FORMAT_VERSION).contains(&format) {
            return Err(SyncError::UnsupportedFormat { got: format, supported: MODEL_FORMAT_VERSION });
        }
        let mut version_bytes = [0_u8; 8];
        version_bytes.copy_from_slice(&bytes[5..13]);
        let mut dimension_bytes = [0_u8; 4];
        dimension_bytes.copy_from_slice(&bytes[13..17]);
        let dimension = u32::from_le_bytes(dimension_bytes) as usize;
        if dimension == 0 || dimension > MAX_MODEL_DIMENSION {
            return Err(SyncError::BadDimension { dimension, max: MAX_MODEL_DIMENSION });
        }
        let body_len = HEADER_LEN + 4 * dimension;
        if bytes.len() != body_len + CHECKSUM_LEN + SIGNATURE_LEN {
            return Err(SyncError::LengthMismatch { declared: dimension, got: bytes.len() });
        }
        let (signed, signature) = bytes.split_at(body_len + CHECKSUM_LEN);
        let (body, checksum) = signed.split_at(body_len);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(SyncError::ChecksumMismatch);
        }
        let mut signature_bytes = [0_u8; SIGNATURE_LEN];
        signature_bytes.copy_from_slice(signature);
        key.verify_strict(signed, &Signature::from_bytes(&signature_bytes)).map_err(|_| SyncError::BadSignature)?;
        let weights: Vec<f32> = body[HEADER_LEN..]
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(SyncError::NonFiniteModelWeight { index });
        }
        Ok(Self { version: u64::from_le_bytes(version_bytes), weights: in_current_layout(format, weights) })
    }
}

/// The weights of a body of `format` in the layout this library writes: a format-1 body of
/// [`FORMAT_1_DIMENSION`] weights gets layout 2's return block and layout 3's sequence block
/// appended as zeros, a format-2 body of [`FORMAT_2_DIMENSION`] weights the sequence block, which
/// scores every candidate exactly as the older layout did. Any other body is returned as it is.
pub fn in_current_layout(format: u8, mut weights: Vec<f32>) -> Vec<f32> {
    if (format == 1 && weights.len() == FORMAT_1_DIMENSION) || (format == 2 && weights.len() == FORMAT_2_DIMENSION) {
        weights.resize(FORMAT_3_DIMENSION, 0.0);
    }
    weights
}

/// Parses a hex-encoded 32-byte Ed25519 public key (as the aggregator prints it).
pub fn verifying_key_from_hex(hex: &str) -> Result<VerifyingKey, SyncError> {
    let hex = hex.trim();
    let bad = || SyncError::BadPublicKey;
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0_u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).map_err(|_| bad())?;
    }
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn model() -> SharedModel {
        SharedModel { version: 3, weights: vec![0.5, -1.25, 2.0] }
    }

    #[test]
    fn a_signed_model_verifies_with_the_matching_key() {
        let bytes = model().encode_signed(&key(1));
        assert_eq!(bytes.len(), 17 + 12 + 32 + 64);
        assert_eq!(SharedModel::decode_verified(&bytes, &key(1).verifying_key()), Ok(model()));
    }

    /// A download of `weights` in `format`, signed by `key(1)`.
    fn signed_as(format: u8, weights: Vec<f32>) -> Vec<u8> {
        let mut body = SharedModel { version: 4, weights }.encode_file();
        body[4] = format;
        let len = body.len() - CHECKSUM_LEN;
        let checksum = Sha256::digest(&body[..len]);
        body[len..].copy_from_slice(checksum.as_slice());
        let signature = key(1).sign(&body);
        body.extend_from_slice(&signature.to_bytes());
        body
    }

    #[test]
    fn older_downloads_install_in_layout_3_with_the_new_blocks_at_0_and_a_later_format_is_refused() {
        let old: Vec<f32> = (0..FORMAT_1_DIMENSION).map(|i| i as f32 / 8.0).collect();
        let read = SharedModel::decode_verified(&signed_as(1, old.clone()), &key(1).verifying_key()).expect("format 1");
        assert_eq!(read.weights.len(), FORMAT_3_DIMENSION);
        assert_eq!(&read.weights[..FORMAT_1_DIMENSION], old.as_slice());
        assert!(read.weights[FORMAT_1_DIMENSION..].iter().all(|w| *w == 0.0));
        let two: Vec<f32> = (0..FORMAT_2_DIMENSION).map(|i| 1.0 - i as f32 / 16.0).collect();
        let read = SharedModel::decode_verified(&signed_as(2, two.clone()), &key(1).verifying_key()).expect("format 2");
        assert_eq!(read.weights.len(), FORMAT_3_DIMENSION);
        assert_eq!(&read.weights[..FORMAT_2_DIMENSION], two.as_slice());
        assert!(read.weights[FORMAT_2_DIMENSION..].iter().all(|w| *w == 0.0));
        assert_eq!(model().encode_signed(&key(1))[4], 3);
        for format in [0, 4] {
            assert_eq!(
                SharedModel::decode_verified(&signed_as(format, old.clone()), &key(1).verifying_key()),
                Err(SyncError::UnsupportedFormat { got: format, supported: 3 })
            );
        }
    }

    #[test]
    fn another_key_tampered_weights_or_checksum_are_rejected() {
        let bytes = model().encode_signed(&key(1));
        assert_eq!(SharedModel::decode_verified(&bytes, &key(2).verifying_key()), Err(SyncError::BadSignature));
        let mut weights = bytes.clone();
        weights[20] ^= 1;
        assert_eq!(SharedModel::decode_verified(&weights, &key(1).verifying_key()), Err(SyncError::ChecksumMismatch));
        // Re-hashing the tampered weights does not help without the private key.
        let mut rehashed = weights.clone();
        let body_len = 17 + 12;
        let checksum = Sha256::digest(&rehashed[..body_len]);
        rehashed[body_len..body_len + 32].copy_from_slice(checksum.as_slice());
        assert_eq!(SharedModel::decode_verified(&rehashed, &key(1).verifying_key()), Err(SyncError::BadSignature));
        assert!(matches!(
            SharedModel::decode_verified(&bytes[..bytes.len() - 1], &key(1).verifying_key()),
            Err(SyncError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn signed_non_finite_weights_are_still_refused() {
        let nan = SharedModel { version: 1, weights: vec![0.0, f32::INFINITY] };
        let bytes = nan.encode_signed(&key(4));
        assert_eq!(
            SharedModel::decode_verified(&bytes, &key(4).verifying_key()),
            Err(SyncError::NonFiniteModelWeight { index: 1 })
        );
    }

    #[test]
    fn public_keys_parse_from_hex() {
        let verifying = key(5).verifying_key();
        let hex: String = verifying.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(verifying_key_from_hex(&hex), Ok(verifying));
        assert_eq!(verifying_key_from_hex("abc"), Err(SyncError::BadPublicKey));
        assert_eq!(verifying_key_from_hex(&"zz".repeat(32)), Err(SyncError::BadPublicKey));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trips(version in any::<u64>(), weights in proptest::collection::vec(-1e6_f32..1e6, 1..64)) {
            let model = SharedModel { version, weights };
            let bytes = model.encode_signed(&key(7));
            prop_assert_eq!(SharedModel::decode_verified(&bytes, &key(7).verifying_key()), Ok(model));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SharedModel::decode_verified(&bytes, &key(7).verifying_key());
        }

        #[test]
        fn any_single_byte_flip_is_rejected(index in 0_usize..125, flip in 1_u8..=255) {
            let mut bytes = model().encode_signed(&key(7));
            bytes[index] ^= flip;
            prop_assert!(SharedModel::decode_verified(&bytes, &key(7).verifying_key()).is_err());
        }
    }
}
