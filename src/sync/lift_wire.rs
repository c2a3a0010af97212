//! The lift report body a device POSTs to `/v1/lift-reports`: fixed little-endian layout,
//! nothing but what the lift estimate needs.
//!
//! ```text
//! offset size field
//!      0    4 magic "SPLR"
//!      4    1 format version (1)
//!      5    1 bucket (0 = personalized, 1 = holdout)
//!      6    2 dimension D (u16; 1 + 10 × (placements + 1))
//!      8    8 configuration fingerprint (CheckedReportConfig::fingerprint)
//!     16    4 noise multiplier z (f32; coordinate j carries noise of sd z × cap_j)
//!     20   16 random nonce (replay rejection; a resend carries the same one)
//!     36  4·D clipped, noised counts (f32), in the order of `measure::report`
//! ```
//! No ids, categories, brands, queries, placement names, timestamps or device identifier: the
//! server cannot link two reports of one device, nor a report to an update.

use super::SyncError;
use crate::adapt::LiftBucket;
use crate::measure::report::{CheckedReportConfig, LiftReport, LIFT_REPORT_VERSION, MAX_REPORTED_PLACEMENTS};

pub const LIFT_MAGIC: [u8; 4] = *b"SPLR";
pub const LIFT_FORMAT_VERSION: u8 = 1;
/// Bytes before the values.
pub const LIFT_HEADER_LEN: usize = 36;
/// Largest dimension a lift report can have (every placement broken out).
pub const MAX_LIFT_DIMENSION: usize = 1 + 10 * (MAX_REPORTED_PLACEMENTS + 1);
/// Largest lift report body.
pub const MAX_LIFT_BODY_BYTES: usize = LIFT_HEADER_LEN + 4 * MAX_LIFT_DIMENSION;

/// A decoded lift report body.
#[derive(Debug, Clone, PartialEq)]
pub struct LiftReportMessage {
    pub bucket: LiftBucket,
    pub fingerprint: [u8; 8],
    pub noise_multiplier: f32,
    pub nonce: [u8; 16],
    pub values: Vec<f32>,
}

impl LiftReportMessage {
    /// Wraps a noised report made under `config` with a fresh random nonce.
    pub fn from_report(report: &LiftReport, config: &CheckedReportConfig, nonce: [u8; 16]) -> Self {
        Self {
            bucket: report.bucket,
            fingerprint: config.fingerprint(),
            noise_multiplier: report.noise_multiplier as f32,
            nonce,
            values: report.values.iter().map(|v| *v as f32).collect(),
        }
    }

    /// The report for [`crate::measure::LiftEstimator::add`].
    pub fn to_report(&self) -> LiftReport {
        LiftReport {
            version: LIFT_REPORT_VERSION,
            bucket: self.bucket,
            values: self.values.iter().map(|v| f64::from(*v)).collect(),
            noise_multiplier: f64::from(self.noise_multiplier),
        }
    }

    /// The body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LIFT_HEADER_LEN + 4 * self.values.len());
        out.extend_from_slice(&LIFT_MAGIC);
        out.push(LIFT_FORMAT_VERSION);
        out.push(match self.bucket {
            LiftBucket::Personalized => 0,
            LiftBucket::Holdout => 1,
        });
        out.extend_from_slice(&(self.values.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&self.noise_multiplier.to_le_bytes());
        out.extend_from_slice(&self.nonce);
        for value in &self.values {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// Parses a body; any malformation is a typed error, never a panic. Values are only checked
    /// to be finite here: bounds depend on the configuration (the aggregator checks them).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncError> {
        if bytes.len() < LIFT_HEADER_LEN {
            return Err(SyncError::Truncated { need: LIFT_HEADER_LEN, got: bytes.len() });
        }
        let (header, values) = bytes.split_at(LIFT_HEADER_LEN);
        if header[0..4] != LIFT_MAGIC {
            return Err(SyncError::BadMagic);
        }
        if header[4] != LIFT_FORMAT_VERSION {
            return Err(SyncError::UnsupportedFormat { got: header[4], supported: LIFT_FORMAT_VERSION });
        }
        let bucket = match header[5] {
            0 => LiftBucket::Personalized,
            1 => LiftBucket::Holdout,
            other => return Err(SyncError::BadField { field: "bucket", value: f64::from(other) }),
        };
        let dimension = usize::from(u16::from_le_bytes([header[6], header[7]]));
        if dimension == 0 || dimension > MAX_LIFT_DIMENSION {
            return Err(SyncError::BadDimension { dimension, max: MAX_LIFT_DIMENSION });
        }
        if values.len() != 4 * dimension {
            return Err(SyncError::LengthMismatch { declared: dimension, got: values.len() / 4 });
        }
        let mut fingerprint = [0_u8; 8];
        fingerprint.copy_from_slice(&header[8..16]);
        let noise_multiplier = f32::from_le_bytes([header[16], header[17], header[18], header[19]]);
        if !(noise_multiplier.is_finite() && noise_multiplier > 0.0) {
            return Err(SyncError::BadField { field: "noise multiplier", value: f64::from(noise_multiplier) });
        }
        let mut nonce = [0_u8; 16];
        nonce.copy_from_slice(&header[20..36]);
        let values: Vec<f32> = values.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(SyncError::BadField { field: "lift value", value: f64::from(*bad) });
        }
        Ok(Self { bucket, fingerprint, noise_multiplier, nonce, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::LiftReportConfig;
    use proptest::prelude::*;

    fn sample() -> LiftReportMessage {
        LiftReportMessage {
            bucket: LiftBucket::Holdout,
            fingerprint: [1, 2, 3, 4, 5, 6, 7, 8],
            noise_multiplier: 6.5,
            nonce: [9; 16],
            values: vec![1.5, -2.0, 300.25],
        }
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = sample().encode();
        assert_eq!(bytes.len(), 36 + 12);
        assert_eq!(&bytes[0..4], b"SPLR");
        assert_eq!(bytes[4], 1);
        assert_eq!(bytes[5], 1, "holdout");
        assert_eq!(&bytes[6..8], &[3, 0]);
        assert_eq!(&bytes[8..16], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[16..20], &6.5_f32.to_le_bytes());
        assert_eq!(&bytes[20..36], &[9; 16]);
        assert_eq!(&bytes[36..40], &1.5_f32.to_le_bytes());
        assert_eq!(&bytes[44..48], &300.25_f32.to_le_bytes());
        assert_eq!(LiftReportMessage::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn the_default_report_is_80_bytes_and_round_trips_through_the_report() {
        let config = LiftReportConfig::default().check().unwrap();
        let report = LiftReport {
            version: LIFT_REPORT_VERSION,
            bucket: LiftBucket::Personalized,
            values: (0..config.dimension()).map(|i| i as f64 * 0.5).collect(),
            noise_multiplier: config.noise_multiplier(),
        };
        let message = LiftReportMessage::from_report(&report, &config, [0; 16]);
        assert_eq!(message.encode().len(), 80);
        assert_eq!(message.fingerprint, config.fingerprint());
        let back = LiftReportMessage::decode(&message.encode()).unwrap().to_report();
        assert_eq!(back.values, report.values, "halves are exact in f32");
        assert!((back.noise_multiplier - report.noise_multiplier).abs() < 1e-6 * report.noise_multiplier);
    }

    #[test]
    fn each_malformation_has_its_error() {
        let good = sample().encode();
        assert!(matches!(LiftReportMessage::decode(&good[..20]), Err(SyncError::Truncated { .. })));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(LiftReportMessage::decode(&magic), Err(SyncError::BadMagic));
        let mut version = good.clone();
        version[4] = 2;
        assert!(matches!(LiftReportMessage::decode(&version), Err(SyncError::UnsupportedFormat { got: 2, .. })));
        let mut bucket = good.clone();
        bucket[5] = 7;
        assert!(matches!(LiftReportMessage::decode(&bucket), Err(SyncError::BadField { field: "bucket", .. })));
        let mut long = good.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(matches!(LiftReportMessage::decode(&long), Err(SyncError::LengthMismatch { .. })));
        let mut nan = good.clone();
        nan[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(LiftReportMessage::decode(&nan), Err(SyncError::BadField { field: "lift value", .. })));
        let mut zero_noise = good;
        zero_noise[16..20].copy_from_slice(&0.0_f32.to_le_bytes());
        assert!(matches!(LiftReportMessage::decode(&zero_noise), Err(SyncError::BadField { .. })));
    }

    proptest! {
        #[test]
        fn any_message_round_trips(
            holdout in any::<bool>(),
            z in 0.01_f32..1000.0,
            nonce in any::<[u8; 16]>(),
            values in proptest::collection::vec(-1e6_f32..1e6, 1..MAX_LIFT_DIMENSION),
        ) {
            let message = LiftReportMessage {
                bucket: if holdout { LiftBucket::Holdout } else { LiftBucket::Personalized },
                fingerprint: [7; 8],
                noise_multiplier: z,
                nonce,
                values,
            };
            prop_assert_eq!(LiftReportMessage::decode(&message.encode()), Ok(message));
        }

        #[test]
        fn any_bytes_decode_or_error_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..500)) {
            let _ = LiftReportMessage::decode(&bytes);
        }
    }
}
