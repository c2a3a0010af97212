//! Storage: the key-value store every stored state lives in (localStorage in the browser), the one
//! versioned, checksummed envelope around each kind of state ([`StoredKind`]: profile, rank model,
//! adaptation, sync ledger), migrations of older layouts, and loading with backups.
//!
//! The core does no I/O itself: it talks to a [`KeyValueStore`]. The wasm facade implements it over
//! `window.localStorage`; [`MemoryStore`] is the in-memory twin used by native tests.

pub mod checksum;
pub mod derive_reading;
mod envelope;
mod float_reading;
pub mod json_layout;
pub mod json_reading;
pub mod json_text;
mod lineage;
mod loading;
mod memory;
mod persist;
mod raw_json;
pub mod tree_reading;

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

pub use envelope::{envelope_overhead, open, seal, seal_encoded, value_id, LoadError, Opened, StoredKind, MAX_LINEAGE};
pub use lineage::{bounded_lineage, descendant_lineage, lineage_root};
pub use loading::{load_stored, Loaded};
pub use memory::{LaggingView, MemoryStore, StorageChange};
pub use persist::{back_up, StorageWarning, WarningCode, WarningKind, MAX_BACKUPS};
pub use raw_json::raw_json;

/// What a [`KeyValueStore`] call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("storage quota exceeded: free space used by other scripts of this site, or lower storageBudgetBytes")]
    QuotaExceeded,
    #[error("storage is unavailable ({0}); the profile lives in memory only until the page closes")]
    Unavailable(String),
}

impl Coded for StoreError {
    fn code(&self) -> ErrorCode {
        match self {
            StoreError::QuotaExceeded => ErrorCode::QuotaExceeded,
            StoreError::Unavailable(_) => ErrorCode::StorageUnavailable,
        }
    }
}

/// A string key-value store with the semantics of `localStorage`.
pub trait KeyValueStore {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key`; fails with [`StoreError::QuotaExceeded`] when it does not fit.
    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    fn remove(&mut self, key: &str) -> Result<(), StoreError>;
    /// Every key currently stored (this library's and others').
    fn keys(&self) -> Result<Vec<String>, StoreError>;
    /// Why nothing outlives the page, when this store stands in for one that could not be opened
    /// (a browser that blocks localStorage). The engine reports it as a warning.
    fn unavailable_reason(&self) -> Option<&str> {
        None
    }
}

/// The storage keys this library uses for one shop; all start with `shop-personalizer:<shop>:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKeys {
    prefix: String,
}

impl StorageKeys {
    /// `shop` must already be validated (see `config::validate_shop`).
    pub fn for_shop(shop: &str) -> Self {
        StorageKeys { prefix: format!("shop-personalizer:{shop}:") }
    }

    /// `shop-personalizer:<shop>:profile`
    pub fn profile(&self) -> String {
        format!("{}profile", self.prefix)
    }

    /// `shop-personalizer:<shop>:backup:<n>`
    pub fn backup(&self, n: usize) -> String {
        format!("{}backup:{n}", self.prefix)
    }

    /// What follows `shop-personalizer:<shop>:` in `key` (`"profile"`, `"backup:0"`); all of
    /// `key` when it is not the shop's.
    pub fn name_of<'k>(&self, key: &'k str) -> &'k str {
        key.strip_prefix(self.prefix.as_str()).unwrap_or(key)
    }

    /// True for every key this library writes for the shop.
    pub fn owns(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }

    /// Removes every key this library wrote for the shop; returns how many were removed.
    pub fn remove_all<S: KeyValueStore>(&self, store: &mut S) -> Result<usize, StoreError> {
        let mine: Vec<String> = store.keys()?.into_iter().filter(|k| self.owns(k)).collect();
        for key in &mine {
            store.remove(key)?;
        }
        Ok(mine.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_per_shop() {
        let keys = StorageKeys::for_shop("acme");
        assert_eq!(keys.profile(), "shop-personalizer:acme:profile");
        assert_eq!(keys.backup(2), "shop-personalizer:acme:backup:2");
        assert!(keys.owns("shop-personalizer:acme:backup:2"));
        assert!(!keys.owns("shop-personalizer:acme.eu:profile"));
        assert!(!keys.owns("cart"));
    }

    #[test]
    fn remove_all_leaves_other_keys_alone() {
        let mut store = MemoryStore::new();
        let keys = StorageKeys::for_shop("acme");
        store.set(&keys.profile(), "{}").unwrap();
        store.set(&keys.backup(0), "junk").unwrap();
        store.set("shop-personalizer:other:profile", "{}").unwrap();
        store.set("theme", "dark").unwrap();
        assert_eq!(keys.remove_all(&mut store), Ok(2));
        let mut left = store.keys().unwrap();
        left.sort();
        assert_eq!(left, vec!["shop-personalizer:other:profile".to_string(), "theme".to_string()]);
    }
}
