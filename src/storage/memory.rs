//! An in-memory twin of `localStorage` for native tests, with an optional quota.
//! Clones share the same data, like two tabs of one site sharing localStorage; a [`LaggingView`]
//! is one tab's view of it that sees other tabs' writes only when it catches up, as browsers
//! propagate localStorage writes between processes asynchronously.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::{KeyValueStore, StoreError};

#[derive(Debug, Default)]
struct Shared {
    entries: BTreeMap<String, String>,
    quota_bytes: Option<usize>,
}

impl Shared {
    fn used_bytes(&self) -> usize {
        self.entries.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

/// A shared in-memory key-value store. `clone()` gives another handle on the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Rc<RefCell<Shared>>);

impl MemoryStore {
    /// A store without a quota.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// A store that refuses writes once keys and values together would exceed `quota_bytes`.
    pub fn with_quota(quota_bytes: usize) -> Self {
        let store = MemoryStore::default();
        store.set_quota(Some(quota_bytes));
        store
    }

    pub fn set_quota(&self, quota_bytes: Option<usize>) {
        self.0.borrow_mut().quota_bytes = quota_bytes;
    }

    /// Bytes taken by all keys and values.
    pub fn used_bytes(&self) -> usize {
        self.0.borrow().used_bytes()
    }

    /// Every stored key and value, sorted by key.
    pub fn entries(&self) -> Vec<(String, String)> {
        self.0.borrow().entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl KeyValueStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.borrow().entries.get(key).cloned())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut shared = self.0.borrow_mut();
        if let Some(quota) = shared.quota_bytes {
            let replaced = shared.entries.get(key).map_or(0, |old| key.len() + old.len());
            if shared.used_bytes() - replaced + key.len() + value.len() > quota {
                return Err(StoreError::QuotaExceeded);
            }
        }
        shared.entries.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.0.borrow_mut().entries.remove(key);
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.0.borrow().entries.keys().cloned().collect())
    }
}

/// One tab's view of a shared [`MemoryStore`]: its own writes show at once, other tabs' only after
/// [`LaggingView::catch_up`]. Clones share the view (one tab).
#[derive(Debug, Clone)]
pub struct LaggingView {
    shared: MemoryStore,
    cache: Rc<RefCell<BTreeMap<String, String>>>,
}

impl LaggingView {
    /// A view that has caught up with `shared`.
    pub fn new(shared: &MemoryStore) -> Self {
        let view = LaggingView { shared: shared.clone(), cache: Rc::default() };
        view.catch_up();
        view
    }

    /// Sees everything written to the shared store so far.
    pub fn catch_up(&self) {
        *self.cache.borrow_mut() = self.shared.0.borrow().entries.clone();
    }
}

impl KeyValueStore for LaggingView {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.cache.borrow().get(key).cloned())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.shared.set(key, value)?;
        self.cache.borrow_mut().insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.shared.remove(key)?;
        self.cache.borrow_mut().remove(key);
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.cache.borrow().keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_data() {
        let mut tab_a = MemoryStore::new();
        let tab_b = tab_a.clone();
        tab_a.set("k", "v").unwrap();
        assert_eq!(tab_b.get("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn a_lagging_view_sees_other_writes_only_after_catching_up() {
        let mut shared = MemoryStore::new();
        let mut tab = LaggingView::new(&shared);
        shared.set("k", "other").unwrap();
        assert_eq!(tab.get("k").unwrap(), None);
        tab.catch_up();
        assert_eq!(tab.get("k").unwrap().as_deref(), Some("other"));
        tab.set("k", "mine").unwrap();
        assert_eq!(shared.get("k").unwrap().as_deref(), Some("mine"));
    }

    #[test]
    fn quota_counts_keys_and_values_and_allows_replacing() {
        let mut store = MemoryStore::with_quota(10);
        store.set("ab", "12345678").unwrap();
        assert_eq!(store.set("c", "1"), Err(StoreError::QuotaExceeded));
        store.set("ab", "1234").unwrap();
        store.set("c", "1").unwrap();
        assert_eq!(store.used_bytes(), 8);
        store.remove("ab").unwrap();
        assert_eq!(store.keys().unwrap(), vec!["c".to_string()]);
    }
}
