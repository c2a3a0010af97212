//! The shopper's private profile: everything the device learns, and the only input of ranking,
//! offers and layout.
//!
//! A [`Profile`] is changed only through [`ProfileChange`]s (see `apply.rs`). A change carries
//! everything needed to apply it, so the same change applied to another tab's copy of the profile
//! gives the same result: that is how two tabs merge without losing events. Items in a sensitive
//! category never reach a change, so they never touch the profile.

mod affinity;
mod apply;
pub mod change_wire;
mod compact;
mod history;
mod maps;
mod result_text;
pub mod shopper_state;
mod shopper_view;
pub mod stored;
mod summary;
mod tree;
mod visits;

use litemap::LiteMap;

use serde::{Deserialize, Serialize};

use crate::catalog::ItemAttributes;
use crate::collect::event::EventKind;

pub use affinity::{decay_factor, Affinities, Affinity, NEGLIGIBLE_AFFINITY};
pub use apply::{ProfileChange, RecordedEvent};
pub use compact::{encoded_len, CompactionError};
pub use history::{
    Cart, History, InterestCounts, RecentItems, RepeatInterest, SessionItem, SessionState, TimedItem, MAX_CART_ITEMS,
    MAX_HISTORY_ENTRIES, MAX_INTEREST_ITEMS, MAX_SESSION_ITEMS,
};
pub(crate) use maps::{deserialize_object, map_from_entries, serialize_as_object};
pub use shopper_state::{ShopperClock, SHOPPER_TOP_INTERESTS};
pub use shopper_view::ProfileShopper;
pub use summary::{InterestSummary, KeptCounts, ProfileSummary, EXPORT_EXPLANATION};
pub use visits::{DeviceClass, HourOfWeek, Segment, VisitStats, HOURS_PER_WEEK, LOYAL_ORDERS};

/// Most items whose attributes the profile remembers.
pub const MAX_CATALOG_ITEMS: usize = 200;

/// An item's attributes as remembered by the profile, with when it was last involved in an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedItem {
    #[serde(flatten)]
    pub attributes: ItemAttributes,
    pub last_used_ms: u64,
}

/// A [`CachedItem`] as it is read: the same fields in one pass, without the `Content` buffer the
/// derive of `flatten` reads through.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlatCachedItem {
    #[serde(default)]
    category_path: Vec<String>,
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    price: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    last_used_ms: u64,
}

impl<'de> Deserialize<'de> for CachedItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let FlatCachedItem { category_path, brand, price, tags, last_used_ms } =
            FlatCachedItem::deserialize(deserializer)?;
        Ok(CachedItem { attributes: ItemAttributes { category_path, brand, price, tags }, last_used_ms })
    }
}

/// Attributes of items the shopper interacted with, so later events that carry only an id (and
/// a reload) still know what the item is. Bounded: the least recently used entries go first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CatalogCache(
    #[serde(serialize_with = "serialize_as_object", deserialize_with = "deserialize_object")]
    LiteMap<String, CachedItem>,
);

impl CatalogCache {
    /// Remembers (or refreshes) `item_id`'s attributes; items with no attributes are not kept.
    pub fn put(&mut self, item_id: &str, attributes: &ItemAttributes, at_ms: u64) {
        if attributes.is_empty() {
            return;
        }
        let last_used_ms = self.0.get(item_id).map_or(at_ms, |c| c.last_used_ms.max(at_ms));
        self.0.insert(item_id.to_string(), CachedItem { attributes: attributes.clone(), last_used_ms });
        self.enforce_bounds();
    }

    pub fn get(&self, item_id: &str) -> Option<&ItemAttributes> {
        self.0.get(item_id).map(|c| &c.attributes)
    }

    pub fn touch(&mut self, item_id: &str, at_ms: u64) {
        if let Some(entry) = self.0.get_mut(item_id) {
            entry.last_used_ms = entry.last_used_ms.max(at_ms);
        }
    }

    pub fn remove(&mut self, item_id: &str) -> bool {
        self.0.remove(item_id).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &CachedItem)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The id of the least recently used entry for which `eligible` holds.
    pub(crate) fn least_recent(&self, mut eligible: impl FnMut(&str) -> bool) -> Option<String> {
        self.0
            .iter()
            .filter(|(id, _)| eligible(id))
            .min_by(|a, b| a.1.last_used_ms.cmp(&b.1.last_used_ms).then(b.0.cmp(a.0)))
            .map(|(id, _)| id.clone())
    }

    /// Drops entries whose id or attributes would not pass validation (a hand-edited payload).
    fn retain_valid(&mut self) {
        self.0.retain(|id, c| crate::catalog::validate_item_id(id).is_ok() && c.attributes.validate().is_ok());
    }

    fn enforce_bounds(&mut self) {
        while self.0.len() > MAX_CATALOG_ITEMS {
            match self.least_recent(|_| true) {
                Some(id) => self.0.remove(&id),
                None => break,
            };
        }
    }
}

/// How many recorded events of each kind the profile has seen (never compacted away).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct EventCounts {
    pub view: u64,
    pub click: u64,
    pub impression: u64,
    pub add_to_cart: u64,
    pub remove_from_cart: u64,
    pub purchase: u64,
    pub search: u64,
    pub rating: u64,
    pub wishlist_add: u64,
    pub wishlist_remove: u64,
    pub dismiss: u64,
    pub dwell: u64,
    pub scroll_depth: u64,
}

impl EventCounts {
    fn slot(&mut self, kind: EventKind) -> &mut u64 {
        match kind {
            EventKind::View => &mut self.view,
            EventKind::Click => &mut self.click,
            EventKind::Impression => &mut self.impression,
            EventKind::AddToCart => &mut self.add_to_cart,
            EventKind::RemoveFromCart => &mut self.remove_from_cart,
            EventKind::Purchase => &mut self.purchase,
            EventKind::Search => &mut self.search,
            EventKind::Rating => &mut self.rating,
            EventKind::WishlistAdd => &mut self.wishlist_add,
            EventKind::WishlistRemove => &mut self.wishlist_remove,
            EventKind::Dismiss => &mut self.dismiss,
            EventKind::Dwell => &mut self.dwell,
            EventKind::ScrollDepth => &mut self.scroll_depth,
        }
    }

    pub fn bump(&mut self, kind: EventKind) {
        let slot = self.slot(kind);
        *slot = slot.saturating_add(1);
    }

    pub fn total(&self) -> u64 {
        [
            self.view,
            self.click,
            self.impression,
            self.add_to_cart,
            self.remove_from_cart,
            self.purchase,
            self.search,
            self.rating,
            self.wishlist_add,
            self.wishlist_remove,
            self.dismiss,
            self.dwell,
            self.scroll_depth,
        ]
        .iter()
        .fold(0u64, |sum, n| sum.saturating_add(*n))
    }
}

/// Everything the device knows about the shopper. Serialized (camelCase) as the stored payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    affinities: Affinities,
    session: SessionState,
    history: History,
    interest: InterestCounts,
    visits: VisitStats,
    device: DeviceClass,
    hour_of_week: HourOfWeek,
    cart: Cart,
    catalog: CatalogCache,
    event_counts: EventCounts,
}

/// Read access, kept cheap for ranking, offers and layout.
impl crate::collect::screen::AttributeCache for Profile {
    fn cached_attributes(&self, item_id: &str) -> Option<&ItemAttributes> {
        self.catalog.get(item_id)
    }
}

impl Profile {
    /// Time-decayed affinities by attribute key; decay them with
    /// [`Affinities::value_at`] and the configured half-life.
    pub fn affinities(&self) -> &Affinities {
        &self.affinities
    }
    /// The current session: item events oldest first, with their kind and time.
    pub fn session(&self) -> &SessionState {
        &self.session
    }
    pub fn session_items(&self) -> &[SessionItem] {
        &self.session.items
    }
    pub fn history(&self) -> &History {
        &self.history
    }
    pub fn viewed(&self) -> &RecentItems {
        &self.history.viewed
    }
    pub fn carted(&self) -> &RecentItems {
        &self.history.carted
    }
    pub fn purchased(&self) -> &RecentItems {
        &self.history.purchased
    }
    pub fn dismissed(&self) -> &RecentItems {
        &self.history.dismissed
    }
    pub fn wishlist(&self) -> &RecentItems {
        &self.history.wishlist
    }
    /// How often the shopper came back to `item_id` (views, clicks, cart, wishlist, good ratings).
    pub fn interest(&self, item_id: &str) -> Option<RepeatInterest> {
        self.interest.get(item_id)
    }
    pub fn interest_counts(&self) -> &InterestCounts {
        &self.interest
    }
    pub fn visits(&self) -> &VisitStats {
        &self.visits
    }
    pub fn segment(&self) -> Segment {
        self.visits.segment()
    }
    pub fn device(&self) -> DeviceClass {
        self.device
    }
    pub fn hour_of_week(&self) -> &HourOfWeek {
        &self.hour_of_week
    }
    /// Items currently in the cart with their quantities.
    pub fn cart(&self) -> &Cart {
        &self.cart
    }
    /// Remembered attributes of an item the shopper interacted with.
    pub fn cached_attributes(&self, item_id: &str) -> Option<&ItemAttributes> {
        self.catalog.get(item_id)
    }
    pub fn catalog(&self) -> &CatalogCache {
        &self.catalog
    }
    pub fn event_counts(&self) -> &EventCounts {
        &self.event_counts
    }
    /// True when nothing has been learned yet.
    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }

    /// True when any stored part of the profile mentions `item_id`.
    pub fn mentions_item(&self, item_id: &str) -> bool {
        self.history.lists().iter().any(|l| l.contains(item_id))
            || self.session.items.iter().any(|e| e.item_id == item_id)
            || self.interest.get(item_id).is_some()
            || self.cart.quantity(item_id) > 0
    }

    /// Clamps every list to its bound, so a hand-edited or foreign payload cannot grow the profile.
    pub(crate) fn enforce_bounds(&mut self) {
        for list in self.history.lists_mut() {
            list.enforce_bounds();
        }
        crate::ordering::sort_by_key(&mut self.session.items, |e| e.at_ms);
        if self.session.items.len() > MAX_SESSION_ITEMS {
            let excess = self.session.items.len() - MAX_SESSION_ITEMS;
            self.session.items.drain(..excess);
        }
        self.interest.enforce_bounds();
        self.cart.enforce_bounds();
        self.catalog.retain_valid();
        self.catalog.enforce_bounds();
        self.affinities.retain(|_, a| a.value.is_finite());
        if !self.visits.revenue.is_finite() || self.visits.revenue < 0.0 {
            self.visits.revenue = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_item_reads_as_the_flatten_derive_did_and_writes_the_same_bytes() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Derived {
            #[serde(flatten)]
            attributes: ItemAttributes,
            last_used_ms: u64,
        }
        let full = r#"{"categoryPath":["Shoes"],"brand":"Acme","price":3.5,"tags":["x"],"lastUsedMs":17}"#;
        let cases = [full, r#"{"lastUsedMs":1,"price":2}"#, r#"{"brand":"b"}"#, r#"{"lastUsedMs":-1}"#];
        let message = |e: serde_json::Error| e.to_string().split(" at line ").next().unwrap_or_default().to_string();
        for json in cases {
            let by_hand = serde_json::from_str::<CachedItem>(json).map(|c| (c.attributes, c.last_used_ms));
            let derived = serde_json::from_str::<Derived>(json).map(|d| (d.attributes, d.last_used_ms));
            assert_eq!(by_hand.map_err(message), derived.map_err(message), "{json}");
        }
        let item: CachedItem = serde_json::from_str(full).unwrap();
        assert_eq!(serde_json::to_string(&item).unwrap(), full);
    }
}
