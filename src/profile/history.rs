//! What the shopper did with which item: the current session in order, bounded recent lists,
//! per-item repeat-interest counts and the cart.

use litemap::LiteMap;

use serde::{Deserialize, Serialize};

use crate::collect::event::EventKind;

/// Most items kept in the current session.
pub const MAX_SESSION_ITEMS: usize = 50;
/// Most entries kept per recent-history list.
pub const MAX_HISTORY_ENTRIES: usize = 100;
/// Most items with a repeat-interest count.
pub const MAX_INTEREST_ITEMS: usize = 200;
/// Most distinct items in the cart.
pub const MAX_CART_ITEMS: usize = 100;

/// An item and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimedItem {
    pub item_id: String,
    pub at_ms: u64,
}

/// Items newest first, each at most once, at most `MAX_HISTORY_ENTRIES`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecentItems(pub(super) Vec<TimedItem>);

impl RecentItems {
    /// Records `item_id` at `at_ms`, keeping the newer time if it is already listed.
    pub fn touch(&mut self, item_id: &str, at_ms: u64) {
        let at_ms = match self.0.iter().position(|e| e.item_id == item_id) {
            Some(i) => self.0.remove(i).at_ms.max(at_ms),
            None => at_ms,
        };
        let slot = self.0.iter().position(|e| e.at_ms < at_ms).unwrap_or(self.0.len());
        self.0.insert(slot, TimedItem { item_id: item_id.to_string(), at_ms });
        self.0.truncate(MAX_HISTORY_ENTRIES);
    }

    pub fn remove(&mut self, item_id: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|e| e.item_id != item_id);
        self.0.len() != before
    }

    pub fn contains(&self, item_id: &str) -> bool {
        self.0.iter().any(|e| e.item_id == item_id)
    }

    /// Newest first.
    pub fn entries(&self) -> &[TimedItem] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Drops the oldest entry; returns whether there was one.
    pub fn drop_oldest(&mut self) -> bool {
        self.0.pop().is_some()
    }

    /// The time of the oldest entry.
    pub fn oldest_ms(&self) -> Option<u64> {
        self.0.last().map(|e| e.at_ms)
    }

    pub(crate) fn enforce_bounds(&mut self) {
        crate::ordering::sort_by_key(&mut self.0, |e| std::cmp::Reverse(e.at_ms));
        let mut seen = std::collections::HashSet::new();
        self.0.retain(|e| seen.insert(e.item_id.clone()));
        self.0.truncate(MAX_HISTORY_ENTRIES);
    }
}

/// The bounded recent-history lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct History {
    pub viewed: RecentItems,
    pub carted: RecentItems,
    pub purchased: RecentItems,
    pub dismissed: RecentItems,
    pub wishlist: RecentItems,
}

impl History {
    pub fn lists_mut(&mut self) -> [&mut RecentItems; 5] {
        [&mut self.viewed, &mut self.carted, &mut self.purchased, &mut self.dismissed, &mut self.wishlist]
    }

    pub fn lists(&self) -> [&RecentItems; 5] {
        [&self.viewed, &self.carted, &self.purchased, &self.dismissed, &self.wishlist]
    }
}

/// One thing the shopper did in the current session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionItem {
    pub item_id: String,
    pub kind: EventKind,
    pub at_ms: u64,
}

/// The current session: what happened, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionState {
    pub started_ms: u64,
    pub last_activity_ms: u64,
    pub items: Vec<SessionItem>,
}

impl SessionState {
    /// Adds an item event in time order, keeping the newest `MAX_SESSION_ITEMS`.
    pub fn push(&mut self, item_id: &str, kind: EventKind, at_ms: u64) {
        let slot = self.items.iter().rposition(|e| e.at_ms <= at_ms).map_or(0, |i| i + 1);
        self.items.insert(slot, SessionItem { item_id: item_id.to_string(), kind, at_ms });
        if self.items.len() > MAX_SESSION_ITEMS {
            let excess = self.items.len() - MAX_SESSION_ITEMS;
            self.items.drain(..excess);
        }
    }
}

/// How often and how lately the shopper came back to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepeatInterest {
    pub count: u32,
    pub last_ms: u64,
}

/// Repeat-interest counts per item id, bounded: the least interesting entries go first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InterestCounts(
    #[serde(
        serialize_with = "crate::profile::serialize_as_object",
        deserialize_with = "crate::profile::deserialize_object"
    )]
    pub(super) LiteMap<String, RepeatInterest>,
);

impl InterestCounts {
    pub fn bump(&mut self, item_id: &str, at_ms: u64) {
        let entry = self.0.entry(item_id.to_string()).or_insert(RepeatInterest { count: 0, last_ms: at_ms });
        entry.count = entry.count.saturating_add(1);
        entry.last_ms = entry.last_ms.max(at_ms);
        self.enforce_bounds();
    }

    pub fn get(&self, item_id: &str) -> Option<RepeatInterest> {
        self.0.get(item_id).copied()
    }

    pub fn remove(&mut self, item_id: &str) -> bool {
        self.0.remove(item_id).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &RepeatInterest)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Drops the least informative entry (fewest visits, then oldest); returns whether there was one.
    pub fn drop_weakest(&mut self) -> bool {
        let weakest = self
            .0
            .iter()
            .min_by(|a, b| a.1.count.cmp(&b.1.count).then(a.1.last_ms.cmp(&b.1.last_ms)).then(b.0.cmp(a.0)))
            .map(|(id, _)| id.clone());
        weakest.is_some_and(|id| self.0.remove(&id).is_some())
    }

    pub(crate) fn enforce_bounds(&mut self) {
        while self.0.len() > MAX_INTEREST_ITEMS && self.drop_weakest() {}
    }
}

/// Items currently in the cart, with their quantities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cart(
    #[serde(
        serialize_with = "crate::profile::serialize_as_object",
        deserialize_with = "crate::profile::deserialize_object"
    )]
    pub(super) LiteMap<String, u32>,
);

impl Cart {
    pub fn add(&mut self, item_id: &str, quantity: u32) {
        if !self.0.contains_key(item_id) && self.0.len() >= MAX_CART_ITEMS {
            return;
        }
        let entry = self.0.entry(item_id.to_string()).or_insert(0);
        *entry = entry.saturating_add(quantity);
    }

    /// Takes `quantity` out; the item leaves the cart when none is left.
    pub fn remove(&mut self, item_id: &str, quantity: u32) {
        if let Some(entry) = self.0.get_mut(item_id) {
            *entry = entry.saturating_sub(quantity);
            if *entry == 0 {
                self.0.remove(item_id);
            }
        }
    }

    pub fn remove_item(&mut self, item_id: &str) -> bool {
        self.0.remove(item_id).is_some()
    }

    pub fn quantity(&self, item_id: &str) -> u32 {
        self.0.get(item_id).copied().unwrap_or(0)
    }

    pub fn items(&self) -> impl DoubleEndedIterator<Item = (&String, &u32)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn enforce_bounds(&mut self) {
        self.0.retain(|_, q| *q > 0);
        while self.0.len() > MAX_CART_ITEMS {
            let last = self.0.last().map(|(id, _)| id.clone());
            if let Some(id) = last {
                self.0.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_items_are_newest_first_and_unique() {
        let mut recent = RecentItems::default();
        recent.touch("a", 1);
        recent.touch("b", 2);
        recent.touch("a", 3);
        // An older signal from another tab slots in by time.
        recent.touch("c", 0);
        let ids: Vec<_> = recent.entries().iter().map(|e| (e.item_id.as_str(), e.at_ms)).collect();
        assert_eq!(ids, vec![("a", 3), ("b", 2), ("c", 0)]);
        for i in 0..150 {
            recent.touch(&format!("x{i}"), 10 + i);
        }
        assert_eq!(recent.len(), MAX_HISTORY_ENTRIES);
        assert_eq!(recent.entries()[0].item_id, "x149");
        assert_eq!(recent.oldest_ms(), Some(10 + 50));
    }

    #[test]
    fn session_items_stay_in_time_order_and_bounded() {
        let mut session = SessionState::default();
        session.push("a", EventKind::View, 10);
        session.push("b", EventKind::AddToCart, 30);
        session.push("c", EventKind::Click, 20);
        let order: Vec<_> = session.items.iter().map(|e| e.item_id.as_str()).collect();
        assert_eq!(order, ["a", "c", "b"]);
        for i in 0..60 {
            session.push("x", EventKind::View, 100 + i);
        }
        assert_eq!(session.items.len(), MAX_SESSION_ITEMS);
        assert_eq!(session.items.last().map(|e| e.at_ms), Some(159));
    }

    #[test]
    fn interest_evicts_the_least_interesting() {
        let mut interest = InterestCounts::default();
        interest.bump("loved", 1);
        interest.bump("loved", 2);
        for i in 0..MAX_INTEREST_ITEMS as u64 {
            interest.bump(&format!("once{i}"), 10 + i);
        }
        assert_eq!(interest.len(), MAX_INTEREST_ITEMS);
        assert_eq!(interest.get("loved"), Some(RepeatInterest { count: 2, last_ms: 2 }));
        assert!(interest.get("once0").is_none(), "the oldest single visit goes first");
    }

    #[test]
    fn cart_quantities_add_and_subtract() {
        let mut cart = Cart::default();
        cart.add("a", 2);
        cart.add("a", 1);
        cart.remove("a", 2);
        assert_eq!(cart.quantity("a"), 1);
        cart.remove("a", 5);
        assert!(cart.is_empty());
        cart.remove("never-added", 1);
        assert!(cart.is_empty());
    }
}
