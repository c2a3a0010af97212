//! One server's share of a lift report (noise mode `sharedSums`): the body a device POSTs to
//! `/v1/lift-shares` on the leader (the aggregator) and on the helper. Fixed little-endian layout.
//!
//! ```text
//! offset size field
//!      0    4 magic "SPLS"
//!      4    1 format version (1)
//!      5    1 server: 0 = leader, 1 = helper
//!      6    1 bucket (0 = personalized, 1 = holdout)
//!      7    1 reserved, 0
//!      8    2 dimension D (u16; 1 + 10 × (placements + 1))
//!     10    2 share length L (u16) = D + D(D+1)/2
//!     12    8 configuration fingerprint (CheckedReportConfig::fingerprint)
//!     20   16 report id: random, the same in both shares (the servers agree on it; a resend
//!             carries the same one)
//!     36  8·L the share (u64): uniformly random on its own (`measure::shares`)
//! ```
//! A device's booked pair is the leader's body followed by the helper's ([`SharePair`]).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::SyncError;
use crate::adapt::LiftBucket;
use crate::measure::shares::{encode_report, shared_length, split};
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::sync::lift_wire::MAX_LIFT_DIMENSION;

pub const SHARE_MAGIC: [u8; 4] = *b"SPLS";
pub const SHARE_FORMAT_VERSION: u8 = 1;
/// Bytes before the share.
pub const SHARE_HEADER_LEN: usize = 36;
/// Largest share body (every placement broken out).
pub const MAX_SHARE_BODY_BYTES: usize =
    SHARE_HEADER_LEN + 8 * (MAX_LIFT_DIMENSION + MAX_LIFT_DIMENSION * (MAX_LIFT_DIMENSION + 1) / 2);

/// The pair a device booked for a noised `report` under `sharedSums` before that mode was
/// retired (the leader's share body, then the helper's, one random report id; the split
/// randomness from `seed`). Devices no longer make pairs; the aggregator still reads and
/// releases them, and its tests of that old state make them here.
pub fn legacy_share_pair(report: &LiftReport, config: &CheckedReportConfig, seed: [u8; 32]) -> Vec<u8> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut split_rng = ChaCha20Rng::from_seed(rng.random());
    let shares = split(&encode_report(report, config), &mut split_rng);
    let report_id: [u8; 16] = rng.random();
    let message = |server, share| {
        let message = LiftShareMessage {
            server,
            bucket: report.bucket,
            dimension: config.dimension(),
            fingerprint: config.fingerprint(),
            report_id,
            share,
        };
        message.encode()
    };
    [message(ShareServer::Leader, shares.leader), message(ShareServer::Helper, shares.helper)].concat()
}

/// Which server a share is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareServer {
    /// The aggregator: receives share A and releases the estimate.
    Leader,
    /// The second server, run by another party: receives share B, releases only share sums to the leader.
    Helper,
}

/// A decoded share body.
#[derive(Debug, Clone, PartialEq)]
pub struct LiftShareMessage {
    pub server: ShareServer,
    pub bucket: LiftBucket,
    pub dimension: usize,
    pub fingerprint: [u8; 8],
    pub report_id: [u8; 16],
    pub share: Vec<u64>,
}

impl LiftShareMessage {
    /// The body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SHARE_HEADER_LEN + 8 * self.share.len());
        out.extend_from_slice(&SHARE_MAGIC);
        out.push(SHARE_FORMAT_VERSION);
        out.push(match self.server {
            ShareServer::Leader => 0,
            ShareServer::Helper => 1,
        });
        out.push(match self.bucket {
            LiftBucket::Personalized => 0,
            LiftBucket::Holdout => 1,
        });
        out.push(0);
        out.extend_from_slice(&(self.dimension as u16).to_le_bytes());
        out.extend_from_slice(&(self.share.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&self.report_id);
        for word in &self.share {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Parses a body; any malformation is a typed error, never a panic. The share itself cannot
    /// be checked (every value is possible); the server checks dimension and fingerprint.
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncError> {
        if bytes.len() < SHARE_HEADER_LEN {
            return Err(SyncError::Truncated { need: SHARE_HEADER_LEN, got: bytes.len() });
        }
        let (header, share) = bytes.split_at(SHARE_HEADER_LEN);
        if header[0..4] != SHARE_MAGIC {
            return Err(SyncError::BadMagic);
        }
        if header[4] != SHARE_FORMAT_VERSION {
            return Err(SyncError::UnsupportedFormat { got: header[4], supported: SHARE_FORMAT_VERSION });
        }
        let server = match header[5] {
            0 => ShareServer::Leader,
            1 => ShareServer::Helper,
            other => return Err(SyncError::BadField { field: "server", value: f64::from(other) }),
        };
        let bucket = match header[6] {
            0 => LiftBucket::Personalized,
            1 => LiftBucket::Holdout,
            other => return Err(SyncError::BadField { field: "bucket", value: f64::from(other) }),
        };
        if header[7] != 0 {
            return Err(SyncError::BadField { field: "reserved byte", value: f64::from(header[7]) });
        }
        let dimension = usize::from(u16::from_le_bytes([header[8], header[9]]));
        if dimension == 0 || dimension > MAX_LIFT_DIMENSION {
            return Err(SyncError::BadDimension { dimension, max: MAX_LIFT_DIMENSION });
        }
        let length = usize::from(u16::from_le_bytes([header[10], header[11]]));
        if length != shared_length(dimension) {
            return Err(SyncError::BadField { field: "share length", value: length as f64 });
        }
        if share.len() != 8 * length {
            return Err(SyncError::LengthMismatch { declared: length, got: share.len() / 8 });
        }
        let mut fingerprint = [0_u8; 8];
        fingerprint.copy_from_slice(&header[12..20]);
        let mut report_id = [0_u8; 16];
        report_id.copy_from_slice(&header[20..36]);
        let share = share
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(Self { server, bucket, dimension, fingerprint, report_id, share })
    }

    /// Length of the share body starting at `bytes` (from its header), if it has one.
    fn body_len(bytes: &[u8]) -> Option<usize> {
        if bytes.len() < SHARE_HEADER_LEN || bytes[0..4] != SHARE_MAGIC {
            return None;
        }
        Some(SHARE_HEADER_LEN + 8 * usize::from(u16::from_le_bytes([bytes[10], bytes[11]])))
    }
}

/// The two bodies of one booked report: the leader's, then the helper's, stored and resent as one blob.
#[derive(Debug, Clone, PartialEq)]
pub struct SharePair<'a> {
    pub leader: &'a [u8],
    pub helper: &'a [u8],
}

impl<'a> SharePair<'a> {
    /// Splits a booked blob into its two bodies; `None` for anything else (a plain lift report).
    pub fn parse(blob: &'a [u8]) -> Option<Self> {
        let first = LiftShareMessage::body_len(blob)?;
        let (leader, helper) = (blob.get(..first)?, blob.get(first..)?);
        (LiftShareMessage::body_len(helper)? == helper.len()).then_some(SharePair { leader, helper })
    }
}

#[cfg(test)]
#[path = "share_wire_tests.rs"]
mod tests;
