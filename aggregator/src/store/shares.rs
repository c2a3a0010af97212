//! Durable state of one server (leader or helper) for `sharedSums` lift reports, in SQLite:
//!
//! * `lift_share_pending`: shares accepted but not yet counted, because the other server has not
//!   confirmed the same report id yet. A share alone is uniformly random: it reveals nothing.
//! * `lift_share_ids`: every counted report id (replay rejection) with its bucket.
//! * `lift_share_sums`: per settings fingerprint and bucket, the count, an order-independent
//!   digest of the counted ids (XOR of their SHA-256) and the running share sum (mod 2^64).
//! * `lift_share_released`: the report counts of the last release (and on the leader the
//!   released, combined sums), so a release only happens once every bucket grew by the minimum.
//!
//! Moving a share from pending into the sums ("folding") happens only for ids both servers hold,
//! so both sums always cover the same reports once the digests agree.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};
use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::LiftSums;

use super::sqlite::SqliteStore;
use super::{stored_sums, stored_u64, StoreError};

pub const SHARE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lift_share_pending (
    report_id BLOB PRIMARY KEY, fingerprint BLOB NOT NULL, bucket INTEGER NOT NULL, share BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lift_share_ids (report_id BLOB PRIMARY KEY, fingerprint BLOB NOT NULL, bucket INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lift_share_sums (
    fingerprint BLOB NOT NULL, bucket INTEGER NOT NULL, reports INTEGER NOT NULL, digest BLOB NOT NULL, sums BLOB NOT NULL,
    PRIMARY KEY (fingerprint, bucket)
);
CREATE TABLE IF NOT EXISTS lift_share_released (
    fingerprint BLOB PRIMARY KEY, personalized_reports INTEGER NOT NULL, holdout_reports INTEGER NOT NULL,
    personalized BLOB, holdout BLOB
);
";

/// A report id and its bucket code (0 personalized, 1 holdout).
pub type ReportRef = ([u8; 16], i64);

/// One accepted share.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareEntry {
    pub fingerprint: [u8; 8],
    pub bucket: LiftBucket,
    pub report_id: [u8; 16],
    pub share: Vec<u64>,
}

/// One bucket's counted shares: count, id digest and share sum.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketShares {
    pub reports: u64,
    pub digest: [u8; 32],
    pub sum: Vec<u64>,
}

impl BucketShares {
    fn empty(length: usize) -> Self {
        BucketShares { reports: 0, digest: [0; 32], sum: vec![0; length] }
    }
}

/// The last release: report counts per bucket and, on the leader, the released sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub reports: [u64; 2],
    pub sums: Option<(LiftSums, LiftSums)>,
}

/// A `lift_share_released` row: counts, then the leader's released sums.
type ReleasedRow = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

pub(super) fn words_to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn words_from_bytes(bytes: &[u8], length: usize) -> Result<Vec<u64>, StoreError> {
    if bytes.len() != 8 * length {
        return Err(StoreError::Corrupt(format!("share sum of {} bytes, expected {}", bytes.len(), 8 * length)));
    }
    Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect())
}

fn read_bucket(
    connection: &Connection,
    fingerprint: &[u8],
    bucket: i64,
    length: usize,
) -> Result<BucketShares, StoreError> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> = connection
        .query_row(
            "SELECT reports, digest, sums FROM lift_share_sums WHERE fingerprint = ?1 AND bucket = ?2",
            params![fingerprint, bucket],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((reports, digest, sums)) = row else { return Ok(BucketShares::empty(length)) };
    let digest: [u8; 32] =
        digest.try_into().map_err(|_| StoreError::Corrupt("id digest is not 32 bytes".to_owned()))?;
    Ok(BucketShares { reports: stored_u64(reports, "share reports")?, digest, sum: words_from_bytes(&sums, length)? })
}

impl SqliteStore {
    /// Counts the pending shares among `ids` into their bucket's sums (one transaction) and
    /// returns which of `ids` are counted now (just folded or before). A share is counted only in
    /// the bucket the other server names: a device that sent the two servers different buckets
    /// for one id gets counted by neither, so it cannot make their sums disagree.
    pub fn fold_shares(
        &self,
        fingerprint: [u8; 8],
        ids: &[ReportRef],
        length: usize,
    ) -> Result<Vec<ReportRef>, StoreError> {
        self.blocking(|connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut buckets = [read_bucket(&tx, &fingerprint, 0, length)?, read_bucket(&tx, &fingerprint, 1, length)?];
            let mut counted = Vec::new();
            for &(id, bucket) in ids {
                let pending: Option<Vec<u8>> = tx
                    .query_row(
                        "SELECT share FROM lift_share_pending WHERE report_id = ?1 AND fingerprint = ?2 AND bucket = ?3",
                        params![&id[..], &fingerprint[..], bucket],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(share) = pending {
                    let target = buckets
                        .get_mut(usize::try_from(bucket).unwrap_or(2))
                        .ok_or_else(|| StoreError::Corrupt(format!("share bucket {bucket}")))?;
                    shop_personalizer::measure::shares::add_share(&mut target.sum, &words_from_bytes(&share, length)?);
                    target.reports += 1;
                    for (d, h) in target.digest.iter_mut().zip(Sha256::digest(id)) {
                        *d ^= h;
                    }
                    tx.execute("DELETE FROM lift_share_pending WHERE report_id = ?1", params![&id[..]])?;
                    tx.execute(
                        "INSERT INTO lift_share_ids (report_id, fingerprint, bucket) VALUES (?1, ?2, ?3)",
                        params![&id[..], &fingerprint[..], bucket],
                    )?;
                    counted.push((id, bucket));
                } else if tx
                    .query_row(
                        "SELECT 1 FROM lift_share_ids WHERE report_id = ?1 AND fingerprint = ?2 AND bucket = ?3",
                        params![&id[..], &fingerprint[..], bucket],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some()
                {
                    counted.push((id, bucket));
                }
            }
            for (code, bucket) in buckets.iter().enumerate() {
                tx.execute(
                    "INSERT INTO lift_share_sums (fingerprint, bucket, reports, digest, sums) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (fingerprint, bucket) DO UPDATE SET reports = excluded.reports, digest = excluded.digest, \
                     sums = excluded.sums",
                    params![&fingerprint[..], code as i64, bucket.reports as i64, &bucket.digest[..], words_to_bytes(&bucket.sum)],
                )?;
            }
            tx.commit()?;
            Ok(counted)
        })
    }

    /// The counted shares of both buckets (personalized, holdout) and the last release.
    pub fn share_state(
        &self,
        fingerprint: [u8; 8],
        length: usize,
        dimension: usize,
    ) -> Result<([BucketShares; 2], Option<Released>), StoreError> {
        self.blocking(|connection| {
            let buckets = [read_bucket(connection, &fingerprint, 0, length)?, read_bucket(connection, &fingerprint, 1, length)?];
            let row: Option<ReleasedRow> = connection
                .query_row(
                    "SELECT personalized_reports, holdout_reports, personalized, holdout FROM lift_share_released WHERE fingerprint = ?1",
                    params![&fingerprint[..]],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()?;
            let released = match row {
                None => None,
                Some((p, h, personalized, holdout)) => {
                    let sums = match (personalized, holdout) {
                        (Some(a), Some(b)) => Some((stored_sums(&a, dimension)?, stored_sums(&b, dimension)?)),
                        _ => None,
                    };
                    Some(Released { reports: [stored_u64(p, "released reports")?, stored_u64(h, "released reports")?], sums })
                }
            };
            Ok((buckets, released))
        })
    }

    /// Records a release (the helper passes no sums).
    pub fn record_release(&self, fingerprint: [u8; 8], released: &Released) -> Result<(), StoreError> {
        let blobs = released.sums.as_ref().map(|(p, h)| (p.to_bytes(), h.to_bytes()));
        self.blocking(|connection| {
            connection.execute(
                "INSERT INTO lift_share_released (fingerprint, personalized_reports, holdout_reports, personalized, holdout) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (fingerprint) DO UPDATE SET \
                 personalized_reports = excluded.personalized_reports, holdout_reports = excluded.holdout_reports, \
                 personalized = excluded.personalized, holdout = excluded.holdout",
                params![
                    &fingerprint[..],
                    released.reports[0] as i64,
                    released.reports[1] as i64,
                    blobs.as_ref().map(|b| b.0.clone()),
                    blobs.as_ref().map(|b| b.1.clone())
                ],
            )?;
            Ok(())
        })
    }
}
