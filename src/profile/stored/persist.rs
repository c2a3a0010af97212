//! Loading the profile (anything unreadable is backed up, never lost) and writing it within its
//! budget, compacting when the store is full.

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::profile::{CompactionError, Profile};
use crate::storage::{
    load_stored, seal_encoded, KeyValueStore, Loaded, Opened, StorageKeys, StorageWarning, StoreError,
};

use super::format::{cleaned, profile_envelope_overhead, ProfileFormat};
use super::payload_text::payload_text;

/// How many times a write is retried, each after halving the profile, when the store is full.
/// Retries of a write the store refused as full, each an eighth shorter (0.875^20 < 7%): a
/// profile is cut only about as far as the free space needs, never to a handful of items.
const QUOTA_RETRIES: usize = 20;

/// What loading the profile found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadOutcome {
    /// The stored profile, when there was a readable one.
    pub profile: Option<Profile>,
    /// The raw value left under the profile key, to notice later writes by other tabs.
    pub raw: Option<String>,
    /// The lineage of the loaded value (see the envelope).
    pub lineage: Vec<u32>,
    /// The text of the loaded value's `recent` member (see the envelope).
    pub recent: Option<String>,
    pub warnings: Vec<StorageWarning>,
    /// An unreadable value could not be backed up: the profile key must not be overwritten.
    pub blocked: bool,
}

/// Loads the shop's profile; anything unreadable is backed up and reported, never lost.
pub fn load_or_back_up<S: KeyValueStore>(store: &mut S, keys: &StorageKeys, max_load_bytes: usize) -> LoadOutcome {
    let finish = |mut opened: Opened<Profile>| {
        let recent = opened.recent.take();
        Ok((cleaned(opened), recent))
    };
    match load_stored::<ProfileFormat, _, _>(store, keys, &keys.profile(), max_load_bytes, finish) {
        Loaded::Absent => LoadOutcome::default(),
        Loaded::Unavailable(warning) => LoadOutcome { warnings: vec![warning], ..LoadOutcome::default() },
        Loaded::Found { value: (profile, recent), raw, lineage, migrated } => LoadOutcome {
            profile: Some(profile),
            raw: Some(raw),
            lineage,
            recent,
            warnings: migrated.into_iter().collect(),
            blocked: false,
        },
        Loaded::SetAside { warning, blocked, raw_left, .. } => {
            LoadOutcome { raw: raw_left, warnings: vec![warning], blocked, ..LoadOutcome::default() }
        }
    }
}

/// Why the profile could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteError {
    #[error("{0}")]
    Store(StoreError),
    #[error("{0}")]
    CannotFit(#[from] CompactionError),
    #[error("storage stayed full after compacting the profile to {bytes} bytes: free space used by other scripts of this site, or lower storageBudgetBytes")]
    QuotaStillExceeded { bytes: usize },
}

impl Coded for WriteError {
    fn code(&self) -> ErrorCode {
        match self {
            WriteError::Store(error) => error.code(),
            WriteError::CannotFit(error) => error.code(),
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
    /// When the store was too full for the budget: the profile's encoded bytes before and after
    /// it was cut further to fit.
    pub cut_to_fit: Option<(usize, usize)>,
}

/// Compacts `profile` to the budget (less `recent_json`) and stores it with `lineage` and
/// `recent_json` (see the envelope); on a full store drops `recent_json` first, then compacts an
/// eighth further and retries (least valuable data first, see `compact_to`).
#[allow(clippy::too_many_arguments)]
pub fn write_compacted<S: KeyValueStore>(
    store: &mut S,
    keys: &StorageKeys,
    profile: &mut Profile,
    lineage: &[u32],
    recent_json: &str,
    budget_bytes: usize,
    now_ms: u64,
    half_life_ms: f64,
) -> Result<Written, WriteError> {
    // The profile is encoded once and that text stored; it is encoded again only after a cut.
    let mut payload = payload_text(profile);
    let before = payload.len();
    let mut limit = budget_bytes.saturating_sub(profile_envelope_overhead() + recent_json.len());
    let mut len = before;
    if len > limit {
        len = profile.compact_to(limit, now_ms, half_life_ms)?;
        payload = payload_text(profile);
    }
    let within_budget = len;
    let mut recent_json = recent_json;
    for _ in 0..=QUOTA_RETRIES {
        let raw = seal_encoded::<ProfileFormat>(&payload, lineage, recent_json);
        match store.set(&keys.profile(), &raw) {
            Ok(()) => {
                let cut_to_fit = (len < within_budget).then_some((before, len));
                return Ok(Written { raw, compacted: len < before, cut_to_fit });
            }
            Err(StoreError::QuotaExceeded) if !recent_json.is_empty() => recent_json = "",
            Err(StoreError::QuotaExceeded) => {
                limit = len - len / 8;
                match profile.compact_to(limit, now_ms, half_life_ms) {
                    Ok(shorter) => {
                        len = shorter;
                        payload = payload_text(profile);
                    }
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
    use crate::storage::{WarningCode, MAX_BACKUPS};

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
