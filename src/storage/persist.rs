//! Warnings about stored data, and the backup slots every stored state shares.

use serde::{Deserialize, Serialize};

use super::{KeyValueStore, StorageKeys};

/// Backup slots per shop. When all are taken, unreadable data is left in place instead.
pub const MAX_BACKUPS: usize = 5;

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
    /// The store was too full for the profile's budget (other data of this site fills it), so the
    /// profile was cut below its budget to fit, dropping its oldest and weakest history.
    CompactedToFit,
    /// The shared model could not be downloaded; the previous one stays in use and the download
    /// is retried at the next check.
    ModelDownloadFailed,
    /// A downloaded shared model did not verify (checksum, signature, shape, version) or moved
    /// further from the installed one than an aggregation round can; the previous one stays in use.
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
            | WarningCode::OtherTabUnreadable
            | WarningCode::CompactedToFit => WarningKind::Storage,
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
    /// Whether the problem is with storage or with the network (follows from `code`).
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
