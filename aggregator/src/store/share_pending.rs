//! The life of a pending lift share (`lift_share_pending`): accepted with its arrival time,
//! offered to the other server at the next fold, and when that server does not hold the same
//! report id, offered again only after a doubling wait ([`FIRST_RETRY`] up to [`LAST_RETRY`]);
//! dropped once older than the `--lift-share-ttl-seconds`. So junk shares (a report only one
//! server ever received) cost one offer, not one per `GET /v1/lift`, and never pile up.
//!
//! Columns added to databases of older versions on open: `received` (unix seconds; rows from
//! before get the time of the upgrade), `offers` and `next_offer`.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::shares::{words_to_bytes, ReportRef, ShareEntry};
use super::sqlite::SqliteStore;
use super::{bucket_code, StoreError};

/// The wait before a share the other server did not confirm is offered again.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
/// The longest wait between two offers of one share.
pub const LAST_RETRY: Duration = Duration::from_secs(6 * 3_600);

/// Adds the lifecycle columns and their indexes where missing; `now` dates older rows.
pub fn migrate(connection: &Connection, now: u64) -> Result<(), StoreError> {
    let has_received = connection
        .query_row("SELECT 1 FROM pragma_table_info('lift_share_pending') WHERE name = 'received'", [], |_| Ok(()))
        .optional()?
        .is_some();
    if !has_received {
        connection.execute_batch(
            "ALTER TABLE lift_share_pending ADD COLUMN received INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE lift_share_pending ADD COLUMN offers INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE lift_share_pending ADD COLUMN next_offer INTEGER NOT NULL DEFAULT 0;",
        )?;
        connection.execute("UPDATE lift_share_pending SET received = ?1", params![now as i64])?;
    }
    connection.execute_batch(
        "CREATE INDEX IF NOT EXISTS lift_share_pending_due ON lift_share_pending (fingerprint, next_offer);
         CREATE INDEX IF NOT EXISTS lift_share_pending_age ON lift_share_pending (received);",
    )?;
    Ok(())
}

/// When a share offered `offers` (≥ 1) times is offered next, from `now`.
pub fn next_offer(now: u64, offers: u32) -> u64 {
    let doublings = offers.saturating_sub(1).min(20);
    let wait = FIRST_RETRY.as_secs().saturating_mul(1_u64 << doublings).min(LAST_RETRY.as_secs());
    now.saturating_add(wait)
}

impl SqliteStore {
    /// Stores an accepted share as pending, received at `now`; false (nothing stored) if its id
    /// was seen before.
    pub fn add_lift_share(&self, entry: &ShareEntry, now: u64) -> Result<bool, StoreError> {
        self.blocking(|connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let counted: bool = tx
                .query_row("SELECT 1 FROM lift_share_ids WHERE report_id = ?1", params![&entry.report_id[..]], |_| {
                    Ok(())
                })
                .optional()?
                .is_some();
            let fresh = !counted
                && tx.execute(
                    "INSERT OR IGNORE INTO lift_share_pending (report_id, fingerprint, bucket, share, received) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        &entry.report_id[..],
                        &entry.fingerprint[..],
                        bucket_code(entry.bucket),
                        words_to_bytes(&entry.share),
                        now as i64
                    ],
                )? == 1;
            tx.commit()?;
            Ok(fresh)
        })
    }

    /// Ids and buckets of the pending shares of `fingerprint` due to be offered at `now`.
    pub fn due_share_ids(&self, fingerprint: [u8; 8], now: u64) -> Result<Vec<ReportRef>, StoreError> {
        self.blocking(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT report_id, bucket FROM lift_share_pending WHERE fingerprint = ?1 AND next_offer <= ?2",
            )?;
            let rows = statement
                .query_map(params![&fingerprint[..], now as i64], |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get(1)?)))?;
            rows.map(|row| {
                let (id, bucket) = row?;
                let id = id.try_into().map_err(|_| StoreError::Corrupt("report id is not 16 bytes".to_owned()))?;
                Ok((id, bucket))
            })
            .collect()
        })
    }

    /// Records that `ids` were offered at `now` and the other server did not hold them.
    pub fn postpone_shares(&self, ids: &[ReportRef], now: u64) -> Result<(), StoreError> {
        self.blocking(|connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                // The wait doubles with the offers made before this one (see `next_offer`).
                let mut write = tx.prepare_cached(
                    "UPDATE lift_share_pending SET offers = offers + 1, \
                     next_offer = ?2 + min(?3 << min(offers, 20), ?4) WHERE report_id = ?1",
                )?;
                let (first, last) = (FIRST_RETRY.as_secs() as i64, LAST_RETRY.as_secs() as i64);
                for (id, _) in ids {
                    write.execute(params![&id[..], now as i64, first, last])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Drops pending shares received more than `ttl_seconds` before `now`; how many.
    pub fn expire_pending_shares(&self, now: u64, ttl_seconds: u64) -> Result<usize, StoreError> {
        let cutoff = now.saturating_sub(ttl_seconds) as i64;
        self.blocking(|connection| {
            Ok(connection.execute("DELETE FROM lift_share_pending WHERE received < ?1", params![cutoff])?)
        })
    }

    /// Pending shares of `fingerprint`, due or not (for tests and metrics).
    pub fn pending_share_count(&self, fingerprint: [u8; 8]) -> Result<u64, StoreError> {
        self.blocking(|connection| {
            let count: i64 = connection.query_row(
                "SELECT COUNT(*) FROM lift_share_pending WHERE fingerprint = ?1",
                params![&fingerprint[..]],
                |row| row.get(0),
            )?;
            Ok(count.unsigned_abs())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_personalizer::adapt::LiftBucket;

    fn entry(id: u8) -> ShareEntry {
        ShareEntry { fingerprint: [1; 8], bucket: LiftBucket::Holdout, report_id: [id; 16], share: vec![7, 8] }
    }

    #[test]
    fn unconfirmed_shares_wait_longer_each_offer_and_expire() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("s.sqlite3")).expect("opens");
        let t0 = 1_000_000;
        assert!(store.add_lift_share(&entry(1), t0).expect("stores"));
        assert!(store.add_lift_share(&entry(2), t0 + 100).expect("stores"));
        assert!(!store.add_lift_share(&entry(1), t0 + 5).expect("stores"), "a replay");
        assert_eq!(store.due_share_ids([1; 8], t0 + 100).expect("reads").len(), 2);
        store.postpone_shares(&[([1; 16], 1)], t0 + 100).expect("writes");
        // First retry after 60 s, then 120 s.
        assert_eq!(store.due_share_ids([1; 8], t0 + 159).expect("reads"), vec![([2; 16], 1)]);
        assert_eq!(store.due_share_ids([1; 8], t0 + 160).expect("reads").len(), 2);
        store.postpone_shares(&[([1; 16], 1)], t0 + 160).expect("writes");
        assert_eq!(store.due_share_ids([1; 8], t0 + 279).expect("reads").len(), 1);
        assert_eq!(store.due_share_ids([1; 8], t0 + 280).expect("reads").len(), 2);
        // The TTL counts from arrival: share 1 goes first.
        assert_eq!(store.expire_pending_shares(t0 + 1_000, 1_000).expect("deletes"), 0);
        assert_eq!(store.expire_pending_shares(t0 + 1_001, 1_000).expect("deletes"), 1);
        assert_eq!(store.pending_share_count([1; 8]).expect("counts"), 1);
        assert_eq!(next_offer(0, 30), LAST_RETRY.as_secs(), "the wait is capped");
    }

    #[test]
    fn an_older_database_gains_the_columns_and_keeps_its_pending_shares() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.sqlite3");
        {
            let old = Connection::open(&path).expect("opens");
            old.execute_batch(super::super::shares::SHARE_SCHEMA).expect("old schema");
            old.execute(
                "INSERT INTO lift_share_pending (report_id, fingerprint, bucket, share) VALUES (?1, ?2, 1, ?3)",
                params![&[9_u8; 16][..], &[1_u8; 8][..], words_to_bytes(&[1, 2])],
            )
            .expect("an old row");
        }
        let store = SqliteStore::open(&path).expect("migrates");
        assert_eq!(store.due_share_ids([1; 8], 0).expect("reads"), vec![([9; 16], 1)]);
        let now = super::super::unix_now();
        assert_eq!(store.expire_pending_shares(now, 3_600).expect("deletes"), 0, "dated at the upgrade, not 1970");
        SqliteStore::open(&path).expect("opens again: the migration is idempotent");
    }
}
