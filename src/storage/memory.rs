//! An in-memory twin of `localStorage` for native tests, with an optional quota.
//! Clones share the same data, like two tabs of one site sharing localStorage; a [`LaggingView`]
//! is one tab's view of it that sees other tabs' writes only when it catches up, as browsers
//! propagate localStorage writes between processes asynchronously, or one `storage` event at a
//! time, in the order the writes happened, as browsers deliver them.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};

use super::{KeyValueStore, StoreError};

/// What a `storage` event says: the key, its value before and after one write (or removal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageChange {
    pub key: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A change and its place in the order of all writes to the shared store.
type ChangeQueue = RefCell<VecDeque<(u64, StorageChange)>>;

#[derive(Debug, Default)]
struct Shared {
    entries: BTreeMap<String, String>,
    quota_bytes: Option<usize>,
    /// The undelivered events of each lagging view.
    views: Vec<Weak<ChangeQueue>>,
    /// Writes so far.
    writes: u64,
}

impl Shared {
    fn used_bytes(&self) -> usize {
        self.entries.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Tells every lagging view but the writer's of a change.
    fn announce(&mut self, writer: Option<&Rc<ChangeQueue>>, change: StorageChange) {
        self.writes += 1;
        self.views.retain(|view| view.strong_count() > 0);
        for view in self.views.iter().filter_map(Weak::upgrade) {
            if writer.is_none_or(|writer| !Rc::ptr_eq(writer, &view)) {
                view.borrow_mut().push_back((self.writes, change.clone()));
            }
        }
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

impl MemoryStore {
    fn write(&self, writer: Option<&Rc<ChangeQueue>>, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let mut shared = self.0.borrow_mut();
        if let (Some(quota), Some(value)) = (shared.quota_bytes, value) {
            let replaced = shared.entries.get(key).map_or(0, |old| key.len() + old.len());
            if shared.used_bytes() - replaced + key.len() + value.len() > quota {
                return Err(StoreError::QuotaExceeded);
            }
        }
        let old_value = match value {
            Some(value) => shared.entries.insert(key.to_string(), value.to_string()),
            None => shared.entries.remove(key),
        };
        if old_value.is_some() || value.is_some() {
            let change = StorageChange { key: key.to_string(), old_value, new_value: value.map(str::to_string) };
            shared.announce(writer, change);
        }
        Ok(())
    }
}

impl KeyValueStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.borrow().entries.get(key).cloned())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(None, key, Some(value))
    }

    fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.write(None, key, None)
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.0.borrow().entries.keys().cloned().collect())
    }
}

/// One tab's view of a shared [`MemoryStore`]: its own writes show at once, other tabs' only after
/// [`LaggingView::catch_up`] (their messages arrived) or as [`LaggingView::next_change`] hands out
/// their `storage` events, one at a time in the order of the writes, which may be after the view
/// caught up past them, as in browsers. Clones share the view (one tab).
#[derive(Debug, Clone)]
pub struct LaggingView {
    shared: MemoryStore,
    cache: Rc<RefCell<BTreeMap<String, String>>>,
    /// The last write the cache shows.
    seen: Rc<RefCell<u64>>,
    changes: Rc<ChangeQueue>,
}

impl LaggingView {
    /// A view that has caught up with `shared`.
    pub fn new(shared: &MemoryStore) -> Self {
        let view =
            LaggingView { shared: shared.clone(), cache: Rc::default(), seen: Rc::default(), changes: Rc::default() };
        shared.0.borrow_mut().views.push(Rc::downgrade(&view.changes));
        view.catch_up();
        view.changes.borrow_mut().clear();
        view
    }

    /// Sees everything written to the shared store so far; the events stay to be handed out.
    pub fn catch_up(&self) {
        let shared = self.shared.0.borrow();
        *self.cache.borrow_mut() = shared.entries.clone();
        *self.seen.borrow_mut() = shared.writes;
    }

    /// The oldest `storage` event of another tab's write not handed out yet (the view sees that
    /// write from now on, if it had not caught up past it).
    pub fn next_change(&self) -> Option<StorageChange> {
        let (number, change) = self.changes.borrow_mut().pop_front()?;
        let mut seen = self.seen.borrow_mut();
        if number > *seen {
            *seen = number;
            let mut cache = self.cache.borrow_mut();
            match &change.new_value {
                Some(value) => cache.insert(change.key.clone(), value.clone()),
                None => cache.remove(&change.key),
            };
        }
        Some(change)
    }
}

impl KeyValueStore for LaggingView {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.cache.borrow().get(key).cloned())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.shared.write(Some(&self.changes), key, Some(value))?;
        self.cache.borrow_mut().insert(key.to_string(), value.to_string());
        // Older writes of other tabs no longer show here: this one replaced them.
        *self.seen.borrow_mut() = self.shared.0.borrow().writes;
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.shared.write(Some(&self.changes), key, None)?;
        self.cache.borrow_mut().remove(key);
        *self.seen.borrow_mut() = self.shared.0.borrow().writes;
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
    fn a_lagging_view_hears_each_other_write_once_in_order() {
        let shared = MemoryStore::new();
        let (mut tab_a, tab_b) = (LaggingView::new(&shared), LaggingView::new(&shared));
        tab_a.set("k", "1").unwrap();
        tab_a.set("k", "2").unwrap();
        tab_a.remove("k").unwrap();
        assert_eq!(tab_a.next_change(), None, "a tab hears nothing of its own writes");
        let first = tab_b.next_change().unwrap();
        assert_eq!((first.old_value, first.new_value.as_deref()), (None, Some("1")));
        assert_eq!(tab_b.get("k").unwrap().as_deref(), Some("1"), "the view moves with the events");
        let second = tab_b.next_change().unwrap();
        assert_eq!((second.old_value.as_deref(), second.new_value.as_deref()), (Some("1"), Some("2")));
        assert_eq!(tab_b.next_change().unwrap().new_value, None);
        assert_eq!(tab_b.get("k").unwrap(), None);
        assert_eq!(tab_b.next_change(), None);
    }

    #[test]
    fn events_handed_out_after_catching_up_leave_the_view_as_it_is() {
        let shared = MemoryStore::new();
        let (mut tab_a, mut tab_b) = (LaggingView::new(&shared), LaggingView::new(&shared));
        tab_a.set("k", "1").unwrap();
        tab_a.set("k", "2").unwrap();
        tab_b.catch_up();
        assert_eq!(tab_b.next_change().unwrap().new_value.as_deref(), Some("1"));
        assert_eq!(tab_b.get("k").unwrap().as_deref(), Some("2"), "the view is past that write");
        // A write of the view itself is newer than the other tab's writes still to be heard of.
        tab_a.set("k", "3").unwrap();
        tab_b.set("k", "mine").unwrap();
        assert_eq!(tab_b.next_change().unwrap().new_value.as_deref(), Some("2"));
        assert_eq!(tab_b.next_change().unwrap().new_value.as_deref(), Some("3"));
        assert_eq!(tab_b.get("k").unwrap().as_deref(), Some("mine"));
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
