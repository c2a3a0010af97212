//! Item ids interned to dense `u32`s, so the hot path compares and indexes numbers, not strings.
//!
//! Ids are hashed with foldhash's fixed-seed fast hasher, not std's SipHash: registering an answer
//! interns every candidate and neighbour id (about 1,200 at 200 candidates), and SipHash was a
//! fifth of that. Flooding attacks on the hash (HashDoS) need an attacker who picks the keys and
//! gains from slowing the table down; here the keys come from the shop's own server answers and
//! the shopper's own device, both already able to slow their own page down in simpler ways, and
//! the table lives only in that page. A fixed seed also keeps every run repeatable.

use std::sync::Arc;

/// The interner shared by every candidate set, the session memory and the model of one
/// [`crate::rank::Ranker`]. Ids are never removed; a page that lives for days can start a fresh
/// ranker per visit.
#[derive(Debug, Default, Clone)]
pub struct ItemIds {
    /// Shares each name with `names`: one allocation per new id.
    index: FastMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

/// A hash map with the fast, fixed-seed hasher (see the module docs for why that is safe here).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

impl ItemIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// The dense id of `id`, adding it when new.
    pub fn intern(&mut self, id: &str) -> u32 {
        if let Some(&dense) = self.index.get(id) {
            return dense;
        }
        let dense = self.names.len() as u32;
        let name: Arc<str> = Arc::from(id);
        self.names.push(name.clone());
        self.index.insert(name, dense);
        dense
    }

    /// The dense id of `id` when it was interned before; never allocates.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The shop's id behind a dense id.
    pub fn name(&self, dense: u32) -> Option<&str> {
        self.names.get(dense as usize).map(|name| &**name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_dense() {
        let mut ids = ItemIds::new();
        assert_eq!(ids.intern("b"), 0);
        assert_eq!(ids.intern("a"), 1);
        assert_eq!(ids.intern("b"), 0);
        assert_eq!(ids.get("a"), Some(1));
        assert_eq!(ids.get("zz"), None);
        assert_eq!(ids.name(1), Some("a"));
        assert_eq!(ids.name(7), None);
        assert_eq!(ids.len(), 2);
    }
}
