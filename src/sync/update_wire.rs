//! The update body a device POSTs: fixed little-endian layout, nothing but what aggregation needs.
//!
//! ```text
//! offset size field
//!      0    4 magic "SPUP"
//!      4    1 format version (1)
//!      5    8 model version the update was computed against (u64)
//!     13    4 dimension d (u32)
//!     17    4 clip bound C (f32)
//!     21    4 noise multiplier z (f32; noise std is z*C)
//!     25    4 quantization scale s (f32; coordinate i is values[i] * s)
//!     29   16 random nonce (replay rejection)
//!     45    d quantized values (i8, in -127..=127)
//! ```
//! No ids, no timestamps, nothing else: the server cannot link two updates of one device.

use super::SyncError;
use crate::privacy::NoisyUpdate;

pub const UPDATE_MAGIC: [u8; 4] = *b"SPUP";
pub const UPDATE_FORMAT_VERSION: u8 = 1;
/// Bytes before the quantized values.
pub const UPDATE_HEADER_LEN: usize = 45;
/// Largest dimension the format accepts.
pub const MAX_UPDATE_DIMENSION: usize = 1 << 20;

/// A decoded update body.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateMessage {
    pub model_version: u64,
    pub clip_bound: f32,
    pub noise_multiplier: f32,
    pub quantization_scale: f32,
    pub nonce: [u8; 16],
    pub values: Vec<i8>,
}

impl UpdateMessage {
    /// Wraps a built update with a fresh random nonce (from the caller's RNG).
    pub fn from_noisy(update: NoisyUpdate, nonce: [u8; 16]) -> Self {
        Self {
            model_version: update.base_version,
            clip_bound: update.clip_bound,
            noise_multiplier: update.noise_multiplier,
            quantization_scale: update.quantized.scale,
            nonce,
            values: update.quantized.values,
        }
    }

    pub fn dimension(&self) -> usize {
        self.values.len()
    }

    /// The body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(UPDATE_HEADER_LEN + self.values.len());
        out.extend_from_slice(&UPDATE_MAGIC);
        out.push(UPDATE_FORMAT_VERSION);
        out.extend_from_slice(&self.model_version.to_le_bytes());
        out.extend_from_slice(&(self.values.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.clip_bound.to_le_bytes());
        out.extend_from_slice(&self.noise_multiplier.to_le_bytes());
        out.extend_from_slice(&self.quantization_scale.to_le_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend(self.values.iter().map(|v| *v as u8));
        out
    }

    /// Parses a body; any malformation is a typed error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncError> {
        if bytes.len() < UPDATE_HEADER_LEN {
            return Err(SyncError::Truncated { need: UPDATE_HEADER_LEN, got: bytes.len() });
        }
        let (header, values) = bytes.split_at(UPDATE_HEADER_LEN);
        if header[0..4] != UPDATE_MAGIC {
            return Err(SyncError::BadMagic);
        }
        if header[4] != UPDATE_FORMAT_VERSION {
            return Err(SyncError::UnsupportedFormat { got: header[4], supported: UPDATE_FORMAT_VERSION });
        }
        let model_version = u64::from_le_bytes(fixed(&header[5..13]));
        let dimension = u32::from_le_bytes(fixed(&header[13..17])) as usize;
        let clip_bound = f32::from_le_bytes(fixed(&header[17..21]));
        let noise_multiplier = f32::from_le_bytes(fixed(&header[21..25]));
        let quantization_scale = f32::from_le_bytes(fixed(&header[25..29]));
        let nonce: [u8; 16] = fixed(&header[29..45]);
        if dimension == 0 || dimension > MAX_UPDATE_DIMENSION {
            return Err(SyncError::BadDimension { dimension, max: MAX_UPDATE_DIMENSION });
        }
        if values.len() != dimension {
            return Err(SyncError::LengthMismatch { declared: dimension, got: values.len() });
        }
        if !(clip_bound.is_finite() && clip_bound > 0.0) {
            return Err(SyncError::BadField { field: "clip bound", value: f64::from(clip_bound) });
        }
        if !(noise_multiplier.is_finite() && noise_multiplier >= 0.0) {
            return Err(SyncError::BadField { field: "noise multiplier", value: f64::from(noise_multiplier) });
        }
        if !(quantization_scale.is_finite() && quantization_scale >= 0.0) {
            return Err(SyncError::BadField { field: "quantization scale", value: f64::from(quantization_scale) });
        }
        if values.contains(&0x80) {
            return Err(SyncError::BadField { field: "quantized value", value: -128.0 });
        }
        Ok(Self {
            model_version,
            clip_bound,
            noise_multiplier,
            quantization_scale,
            nonce,
            values: values.iter().map(|v| *v as i8).collect(),
        })
    }
}

/// Copies a slice whose length the caller has fixed by range into an array.
fn fixed<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0_u8; N];
    out.copy_from_slice(&slice[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> UpdateMessage {
        UpdateMessage {
            model_version: 7,
            clip_bound: 1.0,
            noise_multiplier: 1.0,
            quantization_scale: 0.02,
            nonce: [9; 16],
            values: vec![1, -2, 127, -127],
        }
    }

    #[test]
    fn layout_matches_the_documented_offsets() {
        let bytes = sample().encode();
        assert_eq!(bytes.len(), UPDATE_HEADER_LEN + 4);
        assert_eq!(&bytes[0..4], b"SPUP");
        assert_eq!(bytes[4], 1);
        assert_eq!(bytes[5], 7);
        assert_eq!(&bytes[13..17], &[4, 0, 0, 0]);
        assert_eq!(&bytes[17..21], &1.0_f32.to_le_bytes());
        assert_eq!(&bytes[29..45], &[9; 16]);
        assert_eq!(&bytes[45..], &[1, 0xFE, 0x7F, 0x81]);
    }

    #[test]
    fn malformed_bodies_give_typed_errors() {
        let good = sample().encode();
        assert!(matches!(UpdateMessage::decode(&good[..10]), Err(SyncError::Truncated { .. })));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(UpdateMessage::decode(&magic), Err(SyncError::BadMagic));
        let mut format = good.clone();
        format[4] = 2;
        assert!(matches!(UpdateMessage::decode(&format), Err(SyncError::UnsupportedFormat { got: 2, .. })));
        let mut extra = good.clone();
        extra.push(0);
        assert!(matches!(UpdateMessage::decode(&extra), Err(SyncError::LengthMismatch { declared: 4, got: 5 })));
        let mut nan_clip = good.clone();
        nan_clip[17..21].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(UpdateMessage::decode(&nan_clip), Err(SyncError::BadField { field: "clip bound", .. })));
        let mut min_value = good.clone();
        min_value[45] = 0x80;
        assert!(matches!(UpdateMessage::decode(&min_value), Err(SyncError::BadField { .. })));
        let mut zero_dim = good[..UPDATE_HEADER_LEN].to_vec();
        zero_dim[13..17].copy_from_slice(&0_u32.to_le_bytes());
        assert!(matches!(UpdateMessage::decode(&zero_dim), Err(SyncError::BadDimension { .. })));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(
            model_version in any::<u64>(),
            clip in 1e-6_f32..1e6,
            noise in 0.0_f32..100.0,
            scale in 0.0_f32..10.0,
            nonce in any::<[u8; 16]>(),
            values in proptest::collection::vec(-127_i8..=127, 1..512),
        ) {
            let message = UpdateMessage { model_version, clip_bound: clip, noise_multiplier: noise,
                quantization_scale: scale, nonce, values };
            prop_assert_eq!(UpdateMessage::decode(&message.encode()), Ok(message));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = UpdateMessage::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_valid_bodies_never_panics(index in 0_usize..49, byte in any::<u8>()) {
            let mut bytes = sample().encode();
            bytes[index] = byte;
            let _ = UpdateMessage::decode(&bytes);
        }
    }
}
