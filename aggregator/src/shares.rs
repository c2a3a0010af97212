//! Shared lift sums (`--lift-role leader|helper`): what each server accepts, when the helper
//! hands its share sums to the leader, and how the leader releases the estimate.
//!
//! Protocol (leader L, helper H; both store shares of report ids they accepted as *pending*):
//! 1. Fold: L sends H its pending ids (`POST /v1/lift-shares/fold`). H counts those it holds
//!    into its sums and answers which of them it has counted (now or before); L counts exactly
//!    those. An id only one server holds stays pending on both: it corrupts nothing.
//! 2. Release (`GET /v1/lift` on L): once every bucket holds at least `m` counted reports more
//!    than at the previous release (`m` = `--lift-min-reports-per-bucket` ≥ K), L sends H its
//!    per-bucket counts and id digests (`POST /v1/lift-shares/sums`). H answers its share sums
//!    only if both equal its own (the same reports) and the growth rule holds for it too, and
//!    records the release. L adds the two sums mod 2^64, decodes, refuses impossible sums
//!    (`measure::shares::combine`), stores the released sums and runs the estimator. Between
//!    releases L serves the last released estimate: consecutive releases differ by at least `m`
//!    reports per bucket, so no difference of two releases isolates fewer than K reports.

use std::sync::Arc;

use serde_json::{json, Value};
use shop_personalizer::measure::shares::{combine, shared_length};
use shop_personalizer::measure::{CheckedReportConfig, LiftSums, ShareError};
use shop_personalizer::sync::share_wire::{LiftShareMessage, ShareServer};
use thiserror::Error;

use crate::config::{CheckedConfig, LiftRole};
use crate::helper_client::HelperClient;
use crate::lift::LiftError;
use crate::store::shares::{BucketShares, Released, ReportRef, ShareEntry};
use crate::store::sqlite::SqliteStore;
use crate::store::{unix_now, StoreError};

/// Most ids in one fold request.
pub const FOLD_BATCH: usize = 10_000;

/// Why a share is refused or the shared sums cannot be released. Nothing of a refused share is stored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SharedSumsError {
    /// The share's dimension or settings fingerprint differ from the server's lift settings.
    #[error(transparent)]
    Lift(#[from] LiftError),
    #[error("this share is for the {expected} server's counterpart: send the leader's share to the aggregator and the helper's to the helper")]
    WrongServer { expected: &'static str },
    #[error("this nonce was already received: each update or lift report is accepted once")]
    Replayed,
    #[error("the update could not be stored: retry later")]
    Storage,
    #[error("the leader and the helper have not counted the same reports yet: retry after the next fold")]
    ReportSetsDiffer,
    #[error("fewer new reports per bucket than --lift-min-reports-per-bucket since the last release: nothing new is released")]
    ReleaseTooSoon,
    #[error("the helper is unavailable, and nothing was released before: {0}")]
    HelperUnavailable(String),
    /// The two shares add up to sums no honest reports give (`measure::shares::combine`).
    #[error("{0}")]
    ImpossibleSums(ShareError),
}

/// What the shared-sums endpoints need.
#[derive(Clone)]
pub struct SharesState {
    pub role: LiftRole,
    pub store: SqliteStore,
    /// The leader's way to the helper.
    pub helper: Option<HelperClient>,
    /// One release at a time on the leader.
    pub release_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Runs a store call on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    store: &SqliteStore,
    work: impl FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SharedSumsError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(&store)).await.map_err(|_| SharedSumsError::Storage)?.map_err(|error| {
        eprintln!("aggregator: shared lift sums storage failed: {error}");
        SharedSumsError::Storage
    })
}

/// Checks a decoded share against this server's role and lift settings (server, dimension,
/// settings fingerprint): the entry to store as pending.
pub fn admit_share(
    message: LiftShareMessage,
    role: LiftRole,
    lift: &CheckedReportConfig,
) -> Result<ShareEntry, SharedSumsError> {
    let expected = match role {
        LiftRole::Leader => ShareServer::Leader,
        LiftRole::Helper => ShareServer::Helper,
    };
    if message.server != expected {
        return Err(SharedSumsError::WrongServer {
            expected: if expected == ShareServer::Leader { "leader" } else { "helper" },
        });
    }
    if message.dimension != lift.dimension() {
        return Err(LiftError::WrongDimension { got: message.dimension, expected: lift.dimension() }.into());
    }
    if message.fingerprint != lift.fingerprint() {
        return Err(LiftError::ConfigMismatch.into());
    }
    Ok(ShareEntry {
        fingerprint: message.fingerprint,
        bucket: message.bucket,
        report_id: message.report_id,
        share: message.share,
    })
}

/// Stores an admitted share as pending; `Err(Replayed)` when its report id was already seen.
pub async fn add_share(shares: &SharesState, entry: ShareEntry) -> Result<(), SharedSumsError> {
    if blocking(&shares.store, move |s| s.add_lift_share(&entry, unix_now())).await? {
        Ok(())
    } else {
        Err(SharedSumsError::Replayed)
    }
}

/// Whether `text` is the hex of this server's lift settings fingerprint (a peer request's).
pub fn check_fingerprint(lift: &CheckedReportConfig, text: &str) -> Result<(), LiftError> {
    if hex::decode(text).ok().as_deref() == Some(&lift.fingerprint()[..]) {
        Ok(())
    } else {
        Err(LiftError::ConfigMismatch)
    }
}

/// Whether the counted reports grew enough since the last release to release again.
pub fn release_due(counts: [u64; 2], released: Option<&Released>, min: u64) -> bool {
    let before = released.map_or([0, 0], |r| r.reports);
    let first = released.is_none();
    counts.iter().zip(before).all(|(now, then)| if first { *now >= min } else { *now >= then + min })
}

fn digest_hex(bucket: &BucketShares) -> String {
    hex::encode(bucket.digest)
}

fn words_hex(words: &[u64]) -> String {
    hex::encode(words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>())
}

/// Reads hex of little-endian u64 words of `length`.
pub fn words_from_hex(text: &str, length: usize) -> Option<Vec<u64>> {
    let bytes = hex::decode(text).ok()?;
    (bytes.len() == 8 * length).then(|| {
        bytes.chunks_exact(8).map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
    })
}

/// Reads a 16-byte report id in hex.
pub fn id_from_hex(text: &str) -> Option<[u8; 16]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The helper's answer to a sums request: its share sums when `counts` and `digests` describe
/// exactly the reports it counted and the release rule holds; records the release.
pub async fn helper_sums(
    shares: &SharesState,
    config: &CheckedConfig,
    counts: [u64; 2],
    digests: [String; 2],
) -> Result<Value, SharedSumsError> {
    let lift = &config.lift;
    let (fingerprint, length, dimension) = (lift.fingerprint(), shared_length(lift.dimension()), lift.dimension());
    let (buckets, released) = blocking(&shares.store, move |s| s.share_state(fingerprint, length, dimension)).await?;
    let same = buckets.iter().zip(&counts).zip(&digests).all(|((b, n), d)| b.reports == *n && digest_hex(b) == *d);
    if !same {
        return Err(SharedSumsError::ReportSetsDiffer);
    }
    if !release_due(counts, released.as_ref(), config.lift_min_reports_per_bucket) {
        return Err(SharedSumsError::ReleaseTooSoon);
    }
    let release = Released { reports: counts, sums: None };
    blocking(&shares.store, move |s| s.record_release(fingerprint, &release)).await?;
    Ok(json!({ "sums": [words_hex(&buckets[0].sum), words_hex(&buckets[1].sum)] }))
}

/// The leader's fold round: drops expired pending shares, offers the helper those due, counts
/// every one the helper also counted and postpones the others (`store::share_pending`).
async fn fold_with_helper(
    shares: &SharesState,
    helper: &HelperClient,
    config: &CheckedConfig,
    now: u64,
) -> Result<(), SharedSumsError> {
    let (fingerprint, length) = (config.lift.fingerprint(), shared_length(config.lift.dimension()));
    let ttl = config.lift_share_ttl_seconds;
    blocking(&shares.store, move |s| s.expire_pending_shares(now, ttl)).await?;
    let pending = blocking(&shares.store, move |s| s.due_share_ids(fingerprint, now)).await?;
    for batch in pending.chunks(FOLD_BATCH) {
        let ids: Vec<String> = batch.iter().map(|(id, _)| hex::encode(id)).collect();
        let buckets: Vec<i64> = batch.iter().map(|(_, bucket)| *bucket).collect();
        let request = json!({ "fingerprint": hex::encode(fingerprint), "ids": ids, "buckets": buckets });
        let answer = helper
            .post_json("/v1/lift-shares/fold", &request)
            .await
            .map_err(|error| SharedSumsError::HelperUnavailable(error.to_string()))?;
        let counted: std::collections::HashSet<[u8; 16]> = answer["counted"]
            .as_array()
            .map(|ids| ids.iter().filter_map(|id| id.as_str().and_then(id_from_hex)).collect())
            .unwrap_or_default();
        let (confirmed, unknown): (Vec<ReportRef>, Vec<ReportRef>) =
            batch.iter().partition(|(id, _)| counted.contains(id));
        blocking(&shares.store, move |s| s.fold_shares(fingerprint, &confirmed, length).map(|_| ())).await?;
        blocking(&shares.store, move |s| s.postpone_shares(&unknown, now)).await?;
    }
    Ok(())
}

/// The leader's `(personalized, holdout)` sums to answer `GET /v1/lift` from: a fresh release
/// when due, else the last one; `Err(counts)` when nothing was ever released.
pub async fn leader_sums(
    shares: &SharesState,
    helper: &HelperClient,
    config: &CheckedConfig,
) -> Result<Result<(LiftSums, LiftSums), [u64; 2]>, SharedSumsError> {
    let _one_release = shares.release_lock.lock().await;
    let lift = &config.lift;
    let (fingerprint, dimension) = (lift.fingerprint(), lift.dimension());
    let length = shared_length(dimension);
    let folded = fold_with_helper(shares, helper, config, unix_now()).await;
    let (buckets, released) = blocking(&shares.store, move |s| s.share_state(fingerprint, length, dimension)).await?;
    let counts = [buckets[0].reports, buckets[1].reports];
    let previous = released.as_ref().and_then(|r| r.sums.clone());
    if folded.is_err() || !release_due(counts, released.as_ref(), config.lift_min_reports_per_bucket) {
        return match (previous, folded) {
            (Some(sums), _) => Ok(Ok(sums)),
            (None, Err(error)) => Err(error),
            (None, Ok(())) => Ok(Err(counts)),
        };
    }
    let request = json!({
        "fingerprint": hex::encode(fingerprint),
        "reports": counts,
        "digests": [digest_hex(&buckets[0]), digest_hex(&buckets[1])],
    });
    let answer = match helper.post_json("/v1/lift-shares/sums", &request).await {
        Ok(answer) => answer,
        Err(error) => return previous.map(Ok).ok_or_else(|| SharedSumsError::HelperUnavailable(error.to_string())),
    };
    let helper_sum = |b: usize| answer["sums"][b].as_str().and_then(|text| words_from_hex(text, length));
    let (Some(helper_p), Some(helper_h)) = (helper_sum(0), helper_sum(1)) else {
        return Err(SharedSumsError::HelperUnavailable(
            "the helper's sums are not hex words of the settings' length".to_owned(),
        ));
    };
    let personalized = combine(lift, counts[0], &buckets[0].sum, &helper_p).map_err(SharedSumsError::ImpossibleSums)?;
    let holdout = combine(lift, counts[1], &buckets[1].sum, &helper_h).map_err(SharedSumsError::ImpossibleSums)?;
    let release = Released { reports: counts, sums: Some((personalized.clone(), holdout.clone())) };
    blocking(&shares.store, move |s| s.record_release(fingerprint, &release)).await?;
    Ok(Ok((personalized, holdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_need_the_minimum_in_each_bucket_and_then_that_much_growth() {
        assert!(!release_due([99, 500], None, 100));
        assert!(release_due([100, 100], None, 100));
        let last = Released { reports: [100, 100], sums: None };
        assert!(!release_due([500, 199], Some(&last), 100), "the holdout grew by 99 only");
        assert!(release_due([200, 200], Some(&last), 100));
    }

    #[test]
    fn hex_words_and_ids_round_trip_and_refuse_wrong_lengths() {
        let words = [1_u64, u64::MAX, 7];
        assert_eq!(words_from_hex(&words_hex(&words), 3), Some(words.to_vec()));
        assert_eq!(words_from_hex(&words_hex(&words), 2), None);
        assert_eq!(id_from_hex(&hex::encode([5_u8; 16])), Some([5; 16]));
        assert_eq!(id_from_hex("abcd"), None);
    }
}
