//! Loading any stored state with backups: the one routine the profile, the rank model, the
//! adaptation state and the sync ledger all load through.
//!
//! Loading never destroys anything: a stored value that cannot be read is copied to
//! `shop-personalizer:<shop>:backup:<n>` before its key is cleared, and if no backup can be made
//! the value is left untouched and the caller must not overwrite it ([`Loaded::SetAside`] with
//! `blocked`).

use super::envelope::{open, LoadError, Opened, StoredKind};
use super::persist::back_up;
use super::{KeyValueStore, StorageKeys, StorageWarning, WarningCode};

/// What loading one stored state found.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded<T> {
    /// Nothing is stored under the key.
    Absent,
    /// The store could not be read at all.
    Unavailable(StorageWarning),
    /// A readable value.
    Found {
        value: T,
        /// The raw stored text, to notice later writes by other tabs.
        raw: String,
        /// Ids of the values it was merged onto, newest first.
        lineage: Vec<u32>,
        /// Set when it was migrated from an older layout.
        migrated: Option<StorageWarning>,
    },
    /// An unreadable value: backed up and cleared, or (`blocked`) left in place because no backup
    /// could be made, in which case nothing may be written over it.
    SetAside {
        problem: LoadError,
        warning: StorageWarning,
        blocked: bool,
        /// The raw value still under the key (blocked, or its removal failed).
        raw_left: Option<String>,
    },
}

/// Reads the value of kind `K` under `key`, and turns its payload into `T` with `finish` (checks
/// beyond the layout; an error there counts as unreadable). Anything unreadable is backed up.
pub fn load_stored<K, T, S>(
    store: &mut S,
    keys: &StorageKeys,
    key: &str,
    max_bytes: usize,
    finish: impl FnOnce(Opened<K::Payload>) -> Result<T, LoadError>,
) -> Loaded<T>
where
    K: StoredKind,
    S: KeyValueStore,
{
    let raw = match store.get(key) {
        Ok(Some(raw)) => raw,
        Ok(None) => return Loaded::Absent,
        Err(e) => return Loaded::Unavailable(StorageWarning::new(WarningCode::StorageUnavailable, e.to_string())),
    };
    let opened = match open::<K>(&raw, max_bytes) {
        Ok(opened) => opened,
        Err(problem) => return set_aside::<K, T, S>(store, keys, key, raw, problem),
    };
    let migrated = opened.migrated_from.map(|v| {
        StorageWarning::new(WarningCode::Migrated, format!("the stored {} was migrated from version {v}", K::NOUN))
    });
    let lineage = opened.lineage.clone();
    match finish(opened) {
        Ok(value) => Loaded::Found { value, raw, lineage, migrated },
        Err(problem) => set_aside::<K, T, S>(store, keys, key, raw, problem),
    }
}

/// Backs up an unreadable `raw` and clears `key`, or leaves it in place when no backup is possible.
fn set_aside<K: StoredKind, T, S: KeyValueStore>(
    store: &mut S,
    keys: &StorageKeys,
    key: &str,
    raw: String,
    problem: LoadError,
) -> Loaded<T> {
    match back_up(store, keys, &raw) {
        Ok(backup_key) => {
            let message = format!("{problem}; it was kept under {backup_key} and {}", K::AFTER_BACKUP);
            let warning = StorageWarning::backed_up(message, backup_key);
            // The backup holds the value now; clearing the key stops other tabs backing it up again.
            let raw_left = store.remove(key).err().map(|_| raw);
            Loaded::SetAside { problem, warning, blocked: false, raw_left }
        }
        Err(why) => {
            let message = format!(
                "{problem}; it could not be backed up ({why}), so it is left untouched and {}: call forget() to \
                 discard it",
                K::WHILE_BLOCKED
            );
            let warning = StorageWarning::new(WarningCode::NotBackedUp, message);
            Loaded::SetAside { problem, warning, blocked: true, raw_left: Some(raw) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryStore, MAX_BACKUPS};

    /// Version 2 stores `[a, b]` with `a ≤ b`; version 1 stored `a` alone.
    struct Pair;

    impl StoredKind for Pair {
        const FORMAT: &'static str = "shop-personalizer/test-pair";
        const VERSION: u64 = 2;
        const NOUN: &'static str = "test pair";
        const AFTER_BACKUP: &'static str = "the pair starts at zero";
        type Payload = (u32, u32);

        fn migrate(_version: u64, payload: &str) -> Result<(u32, u32), String> {
            serde_json::from_str::<u32>(payload).map(|a| (a, a)).map_err(|e| e.to_string())
        }
    }

    fn ordered(opened: Opened<(u32, u32)>) -> Result<(u32, u32), LoadError> {
        let (a, b) = opened.payload;
        if a <= b {
            Ok((a, b))
        } else {
            Err(LoadError::invalid::<Pair>(2, format!("{a} > {b}")))
        }
    }

    const KEY: &str = "shop-personalizer:s:pair";

    fn load(store: &mut MemoryStore) -> Loaded<(u32, u32)> {
        load_stored::<Pair, _, _>(store, &StorageKeys::for_shop("s"), KEY, 1 << 10, ordered)
    }

    fn stored(version: u64, payload: &str) -> MemoryStore {
        let mut store = MemoryStore::new();
        let checksum = crc32fast::hash(payload.as_bytes());
        let raw =
            format!(r#"{{"format":"{}","version":{version},"checksum":{checksum},"payload":{payload}}}"#, Pair::FORMAT);
        store.set(KEY, &raw).unwrap();
        store
    }

    #[test]
    fn a_readable_value_is_found_and_an_older_one_says_it_was_migrated() {
        assert_eq!(load(&mut MemoryStore::new()), Loaded::Absent);
        let Loaded::Found { value: (1, 4), migrated: None, .. } = load(&mut stored(2, "[1,4]")) else {
            panic!("the current layout loads")
        };
        let Loaded::Found { value: (3, 3), migrated: Some(warning), .. } = load(&mut stored(1, "3")) else {
            panic!("version 1 migrates")
        };
        assert_eq!(warning.code, WarningCode::Migrated);
        assert_eq!(warning.message, "the stored test pair was migrated from version 1");
    }

    #[test]
    fn a_value_the_kind_refuses_is_backed_up_once_and_cleared() {
        let mut store = stored(2, "[5,1]");
        let raw = store.get(KEY).unwrap().unwrap();
        let Loaded::SetAside { problem, warning, blocked: false, raw_left: None } = load(&mut store) else {
            panic!("set aside")
        };
        assert!(matches!(problem, LoadError::InvalidPayload { what: "test pair", .. }));
        assert_eq!(warning.code, WarningCode::Unreadable);
        assert!(warning.message.ends_with("kept under shop-personalizer:s:backup:0 and the pair starts at zero"));
        assert_eq!(store.get("shop-personalizer:s:backup:0").unwrap(), Some(raw.clone()));
        assert_eq!(store.get(KEY).unwrap(), None);
        // The same blob stored again (say by an old tab) reuses its slot.
        store.set(KEY, &raw).unwrap();
        assert!(matches!(load(&mut store), Loaded::SetAside { blocked: false, .. }));
        assert_eq!(store.get("shop-personalizer:s:backup:1").unwrap(), None);
    }

    #[test]
    fn without_a_free_backup_slot_the_value_stays_and_blocks_writing() {
        let mut store = stored(2, "[5,1]");
        let raw = store.get(KEY).unwrap();
        for n in 0..MAX_BACKUPS {
            store.set(&format!("shop-personalizer:s:backup:{n}"), &format!("old {n}")).unwrap();
        }
        let Loaded::SetAside { warning, blocked: true, raw_left, .. } = load(&mut store) else { panic!("blocked") };
        assert_eq!(warning.code, WarningCode::NotBackedUp);
        assert!(warning.message.contains("nothing is saved: call forget()"), "{}", warning.message);
        assert_eq!(raw_left, raw);
        assert_eq!(store.get(KEY).unwrap(), raw);
    }
}
