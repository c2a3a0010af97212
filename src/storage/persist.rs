//! The profile's loading (through [`load_stored`], with backups) and writing with compaction, and
//! the backup slots every stored state shares.
//!
//! Writing compacts the profile to the budget, and on a full store compacts harder and retries.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::profile::{encoded_len, CompactionError, Profile};

use super::envelope::Opened;
use super::loading::{load_stored, Loaded};
use super::profile_format::{cleaned, encode_with_lineage, profile_envelope_overhead, ProfileFormat};
use super::{KeyValueStore, StorageKeys, StoreError};

/// Backup slots per shop. When all are taken, unreadable data is left in place instead.
pub const MAX_BACKUPS: usize = 5;
/// How many times a write is retried, each after halving the profile, when the store is full.
const QUOTA_RETRIES: usize = 3;

/// What a warning reports. The codes are a public contract: add codes, never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum WarningCode {
    /// The stored profile could not be read; it was moved to `backupKey` and a fresh profile started.
    Unreadable,
    /// The stored profile could not be read nor backed up; it is left untouched and nothing is
    /// saved until `forget()` is called.
    NotBackedUp,
    /// The stored profile was in an older layout and was migrated.
    Migrated,
    /// Storage could not be used at all; the profile lives in memory only.
    StorageUnavailable,
    /// The store stayed full even after compaction; recent changes are kept in memory only.
    QuotaExceeded,
    /// Another tab stored something this tab cannot read; this tab keeps its own copy.
    OtherTabUnreadable,
    /// The shared model could not be downloaded; the previous one stays in use and the download
    /// is retried at the next check.
    ModelDownloadFailed,
    /// A downloaded shared model did not verify (checksum, signature, shape, version); the
    /// previous one stays in use.
    ModelRejected,
    /// The aggregator refused an update or lift report, which was dropped (its privacy spend
    /// stays booked).
    SendRefused,
}

/// Where the problem a warning reports lies: local storage, or the exchange with the aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum WarningKind {
    /// localStorage: unreadable, migrated, full or unavailable data.
    Storage,
    /// The network: a download or send that failed, or an answer of the aggregator that was unusable.
    Network,
}

impl WarningCode {
    /// The kind every warning of this code has.
    pub fn kind(self) -> WarningKind {
        match self {
            WarningCode::Unreadable
            | WarningCode::NotBackedUp
            | WarningCode::Migrated
            | WarningCode::StorageUnavailable
            | WarningCode::QuotaExceeded
            | WarningCode::OtherTabUnreadable => WarningKind::Storage,
            WarningCode::ModelDownloadFailed | WarningCode::ModelRejected | WarningCode::SendRefused => {
                WarningKind::Network
            }
        }
    }
}

/// A problem that did not stop the personalizer but that the shop may want to log. (Named for
/// its first use; network problems come as warnings of kind `"network"`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct StorageWarning {
    pub code: WarningCode,
    /// `code.kind()`: storage or network.
    pub kind: WarningKind,
    pub message: String,
    /// Where the unreadable value was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub backup_key: Option<String>,
}

impl StorageWarning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        StorageWarning { code, kind: code.kind(), message: message.into(), backup_key: None }
    }

    /// A warning about an unreadable value kept under `backup_key`.
    pub fn backed_up(message: impl Into<String>, backup_key: String) -> Self {
        StorageWarning { backup_key: Some(backup_key), ..StorageWarning::new(WarningCode::Unreadable, message) }
    }
}

/// What loading the profile found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadOutcome {
    /// The stored profile, when there was a readable one.
    pub profile: Option<Profile>,
    /// The raw value left under the profile key, to notice later writes by other tabs.
    pub raw: Option<String>,
    /// The lineage of the loaded value (see the envelope).
    pub lineage: Vec<u32>,
    pub warnings: Vec<StorageWarning>,
    /// An unreadable value could not be backed up: the profile key must not be overwritten.
    pub blocked: bool,
}

/// Loads the shop's profile; anything unreadable is backed up and reported, never lost.
pub fn load_or_back_up<S: KeyValueStore>(store: &mut S, keys: &StorageKeys, max_load_bytes: usize) -> LoadOutcome {
    let finish = |opened: Opened<Profile>| Ok(cleaned(opened));
    match load_stored::<ProfileFormat, _, _>(store, keys, &keys.profile(), max_load_bytes, finish) {
        Loaded::Absent => LoadOutcome::default(),
        Loaded::Unavailable(warning) => LoadOutcome { warnings: vec![warning], ..LoadOutcome::default() },
        Loaded::Found { value, raw, lineage, migrated } => LoadOutcome {
            profile: Some(value),
            raw: Some(raw),
            lineage,
            warnings: migrated.into_iter().collect(),
            blocked: false,
        },
        Loaded::SetAside { warning, blocked, raw_left, .. } => {
            LoadOutcome { profile: None, raw: raw_left, lineage: Vec::new(), warnings: vec![warning], blocked }
        }
    }
}

/// Copies `raw` to the first free backup slot (or finds it already backed up); returns the key.
/// Every stored state of the library (profile, rank model, adaptation, sync ledger) backs up here.
pub fn back_up<S: KeyValueStore>(store: &mut S, keys: &StorageKeys, raw: &str) -> Result<String, String> {
    let mut free = None;
    for n in 0..MAX_BACKUPS {
        let key = keys.backup(n);
        match store.get(&key).map_err(|e| e.to_string())? {
            Some(existing) if existing == raw => return Ok(key),
            Some(_) => {}
            None => {
                free.get_or_insert(key);
            }
        }
    }
    let key = free.ok_or_else(|| format!("all {MAX_BACKUPS} backup slots are taken"))?;
    store.set(&key, raw).map_err(|e| e.to_string())?;
    Ok(key)
}

/// Why the profile could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteError {
    #[error("{0}")]
    Store(StoreError),
    #[error("{0}")]
    CannotFit(#[from] CompactionError),
    #[error("the profile could not be encoded: {0}")]
    Encode(String),
    #[error("storage stayed full after compacting the profile to {bytes} bytes: free space used by other scripts of this site, or lower storageBudgetBytes")]
    QuotaStillExceeded { bytes: usize },
}

impl Coded for WriteError {
    fn code(&self) -> ErrorCode {
        match self {
            WriteError::Store(error) => error.code(),
            WriteError::CannotFit(error) => error.code(),
            WriteError::Encode(_) => ErrorCode::Internal,
            WriteError::QuotaStillExceeded { .. } => ErrorCode::QuotaExceeded,
        }
    }
}

/// A successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The value stored under the profile key.
    pub raw: String,
    /// True when data was dropped to fit the budget or the store.
    pub compacted: bool,
}

/// Compacts `profile` to the budget and stores it with `lineage` (see the envelope); on a full
/// store compacts to half and retries.
pub fn write_compacted<S: KeyValueStore>(
    store: &mut S,
    keys: &StorageKeys,
    profile: &mut Profile,
    lineage: &[u32],
    budget_bytes: usize,
    now_ms: u64,
    half_life_ms: f64,
) -> Result<Written, WriteError> {
    let before = encoded_len(profile);
    let mut limit = budget_bytes.saturating_sub(profile_envelope_overhead());
    let mut len = profile.compact_to(limit, now_ms, half_life_ms)?;
    for _ in 0..=QUOTA_RETRIES {
        let raw = encode_with_lineage(profile, lineage).map_err(|e| WriteError::Encode(e.to_string()))?;
        match store.set(&keys.profile(), &raw) {
            Ok(()) => return Ok(Written { raw, compacted: len < before }),
            Err(StoreError::QuotaExceeded) => {
                limit = len / 2;
                match profile.compact_to(limit, now_ms, half_life_ms) {
                    Ok(shorter) => len = shorter,
                    Err(_) => break,
                }
            }
            Err(other) => return Err(WriteError::Store(other)),
        }
    }
    Err(WriteError::QuotaStillExceeded { bytes: len + profile_envelope_overhead() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    const LIMIT: usize = 1 << 20;

    #[test]
    fn nothing_stored_loads_nothing() {
        let mut store = MemoryStore::new();
        let outcome = load_or_back_up(&mut store, &StorageKeys::for_shop("s"), LIMIT);
        assert_eq!(outcome, LoadOutcome::default());
    }

    #[test]
    fn unreadable_values_are_backed_up_once_then_cleared() {
        let mut store = MemoryStore::new();
        let keys = StorageKeys::for_shop("s");
        store.set(&keys.profile(), "{not json").unwrap();
        let outcome = load_or_back_up(&mut store, &keys, LIMIT);
        assert!(outcome.profile.is_none() && !outcome.blocked);
        assert_eq!(outcome.warnings[0].code, WarningCode::Unreadable);
        assert_eq!(outcome.warnings[0].backup_key.as_deref(), Some("shop-personalizer:s:backup:0"));
        assert_eq!(store.get(&keys.backup(0)).unwrap().as_deref(), Some("{not json"));
        assert_eq!(store.get(&keys.profile()).unwrap(), None);
        // The same blob written again (say by an old tab) reuses its backup slot.
        store.set(&keys.profile(), "{not json").unwrap();
        let again = load_or_back_up(&mut store, &keys, LIMIT);
        assert_eq!(again.warnings[0].backup_key.as_deref(), Some("shop-personalizer:s:backup:0"));
        assert_eq!(store.get(&keys.backup(1)).unwrap(), None);
    }

    #[test]
    fn without_a_backup_slot_the_value_stays_and_writing_is_blocked() {
        let mut store = MemoryStore::new();
        let keys = StorageKeys::for_shop("s");
        for n in 0..MAX_BACKUPS {
            store.set(&keys.backup(n), &format!("old {n}")).unwrap();
        }
        store.set(&keys.profile(), "garbage").unwrap();
        let outcome = load_or_back_up(&mut store, &keys, LIMIT);
        assert!(outcome.blocked);
        assert_eq!(outcome.warnings[0].code, WarningCode::NotBackedUp);
        assert!(outcome.warnings[0].message.contains("forget()"));
        assert_eq!(store.get(&keys.profile()).unwrap().as_deref(), Some("garbage"));
    }

    #[test]
    fn a_full_store_blocks_the_backup_too() {
        let keys = StorageKeys::for_shop("s");
        let mut store = MemoryStore::new();
        store.set(&keys.profile(), "garbage").unwrap();
        store.set_quota(Some(store.used_bytes()));
        let outcome = load_or_back_up(&mut store, &keys, LIMIT);
        assert!(outcome.blocked);
        assert_eq!(store.get(&keys.profile()).unwrap().as_deref(), Some("garbage"));
    }

    #[test]
    fn oversized_values_are_backed_up() {
        let keys = StorageKeys::for_shop("s");
        let mut store = MemoryStore::new();
        let big = format!("\"{}\"", "x".repeat(500));
        store.set(&keys.profile(), &big).unwrap();
        let outcome = load_or_back_up(&mut store, &keys, 100);
        assert!(outcome.warnings[0].message.contains("over the 100-byte limit"));
        assert_eq!(store.get(&keys.backup(0)).unwrap(), Some(big));
    }
}
