//! Item ids interned to dense `u32`s, so the hot path compares and indexes numbers, not strings.

use std::collections::HashMap;

/// The interner shared by every candidate set, the session memory and the model of one
/// [`crate::rank::Ranker`]. Ids are never removed; a page that lives for days can start a fresh
/// ranker per visit.
#[derive(Debug, Default, Clone)]
pub struct ItemIds {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

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
        self.names.push(id.to_owned());
        self.index.insert(id.to_owned(), dense);
        dense
    }

    /// The dense id of `id` when it was interned before; never allocates.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The shop's id behind a dense id.
    pub fn name(&self, dense: u32) -> Option<&str> {
        self.names.get(dense as usize).map(String::as_str)
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
