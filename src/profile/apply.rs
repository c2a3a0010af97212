//! How recorded events and shopper requests change the profile.
//!
//! Which attributes a signal moves, and by how much (weights from [`SignalWeights`]):
//! - view, click, add to cart, purchase (per line), wishlist add, dwell, scroll depth, rating and
//!   dismiss move every attribute key of their item (each category level, brand, price band, tags);
//! - search shares its weight among the first five results whose attributes are known;
//! - impressions only count (showing is not interest).
//!
//! Changes are applied in any order with the same result up to list bounds (see `affinity.rs`).

use crate::catalog::{AttributeKey, ItemAttributes, CATEGORY_SEPARATOR};
use crate::collect::event::{EventKind, TrackEvent};
use crate::collect::noise::starts_new_session;
use crate::config::{SignalWeights, ValidConfig};

use super::{DeviceClass, Profile};

/// Search results whose attributes share a search signal.
const SEARCH_RESULTS_LEARNED: usize = 5;

/// An event that passed validation, the sensitivity check and the noise filter, carrying all it
/// needs so any copy of the profile (another tab's) can apply it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The event with sensitive items already removed.
    pub event: TrackEvent,
    pub at_ms: u64,
    /// Local hour of the week, 0 = Monday 00:00.
    pub hour_of_week: u8,
    /// Known attributes of the items the event involves.
    pub attributes: Vec<(String, ItemAttributes)>,
    /// Set on the first recorded event of a page load: counts a visit on this device.
    pub visit_device: Option<DeviceClass>,
}

/// One change to the profile.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileChange {
    Record(RecordedEvent),
    /// The shopper removed an interest (a category also loses its subcategories).
    RemoveInterest(AttributeKey),
    /// An item turned out to be sensitive: every mention of it goes.
    ForgetItem(String),
}

impl Profile {
    /// Applies one change.
    pub fn apply(&mut self, change: &ProfileChange, config: &ValidConfig) {
        match change {
            ProfileChange::Record(recorded) => self.record(recorded, config),
            ProfileChange::RemoveInterest(key) => {
                self.remove_interest(key);
            }
            ProfileChange::ForgetItem(item_id) => self.forget_item(item_id),
        }
    }

    /// Removes `key` (and, for a category, every category below it). Returns whether anything went.
    pub fn remove_interest(&mut self, key: &AttributeKey) -> bool {
        let before = self.affinities.len();
        let below = match key {
            AttributeKey::Category(path) => Some(format!("{path}{CATEGORY_SEPARATOR}")),
            _ => None,
        };
        self.affinities.retain(|k, _| {
            let under =
                matches!((k, &below), (AttributeKey::Category(p), Some(prefix)) if p.starts_with(prefix.as_str()));
            k != key && !under
        });
        self.affinities.len() != before
    }

    /// Removes every mention of an item id.
    pub fn forget_item(&mut self, item_id: &str) {
        for list in self.history.lists_mut() {
            list.remove(item_id);
        }
        self.session.items.retain(|e| e.item_id != item_id);
        self.interest.remove(item_id);
        self.cart.remove_item(item_id);
        self.catalog.remove(item_id);
    }

    /// Removes every item, and every category affinity, in one of the `sensitive` categories.
    pub fn purge_sensitive(&mut self, sensitive: &[String]) {
        if sensitive.is_empty() {
            return;
        }
        let doomed: Vec<String> = self
            .catalog
            .iter()
            .filter(|(_, c)| c.attributes.is_in_any_category(sensitive))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &doomed {
            self.forget_item(id);
        }
        self.affinities.retain(|k, _| match k {
            AttributeKey::Category(path) => {
                !path.split(CATEGORY_SEPARATOR).any(|level| sensitive.iter().any(|s| s.eq_ignore_ascii_case(level)))
            }
            _ => true,
        });
    }

    fn record(&mut self, recorded: &RecordedEvent, config: &ValidConfig) {
        let at = recorded.at_ms;
        self.visits.seen(at);
        if let Some(device) = recorded.visit_device {
            self.visits.visits = self.visits.visits.saturating_add(1);
            self.device = device;
        }
        self.advance_session(at, config.noise().session_timeout_ms);
        self.hour_of_week.count(recorded.hour_of_week);
        self.event_counts.bump(recorded.event.kind());
        for (id, attributes) in &recorded.attributes {
            self.catalog.put(id, attributes, at);
        }
        let w: &SignalWeights = config.weights();
        let half_life = config.affinity_half_life_ms();
        let signal = |profile: &mut Profile, id: &str, kind: EventKind, weight: f64| {
            if at >= profile.session.started_ms {
                profile.session.push(id, kind, at);
            }
            profile.learn(id, weight, at, half_life);
        };
        match &recorded.event {
            TrackEvent::View { item_id, .. } => {
                signal(self, item_id, EventKind::View, w.view);
                self.history.viewed.touch(item_id, at);
                self.interest.bump(item_id, at);
            }
            TrackEvent::Click { item_id, .. } => {
                signal(self, item_id, EventKind::Click, w.click);
                self.interest.bump(item_id, at);
            }
            TrackEvent::Impression { .. } => {}
            TrackEvent::AddToCart { item_id, quantity, .. } => {
                signal(self, item_id, EventKind::AddToCart, w.add_to_cart);
                self.history.carted.touch(item_id, at);
                self.cart.add(item_id, *quantity);
                self.interest.bump(item_id, at);
            }
            TrackEvent::RemoveFromCart { item_id, quantity } => {
                signal(self, item_id, EventKind::RemoveFromCart, w.remove_from_cart);
                self.cart.remove(item_id, *quantity);
            }
            TrackEvent::Purchase { items, value } => {
                for line in items {
                    signal(self, &line.item_id, EventKind::Purchase, w.purchase);
                    self.history.purchased.touch(&line.item_id, at);
                    self.cart.remove_item(&line.item_id);
                }
                self.visits.ordered(*value, at);
            }
            TrackEvent::Search { result_ids, .. } => {
                let known: Vec<&String> = result_ids
                    .iter()
                    .filter(|id| self.catalog.get(id).is_some())
                    .take(SEARCH_RESULTS_LEARNED)
                    .collect();
                let share = w.search / known.len().max(1) as f64;
                for id in known {
                    self.learn(id, share, at, half_life);
                }
            }
            TrackEvent::Rating { item_id, rating } => {
                let stars_from_neutral = f64::from(*rating) - 3.0;
                signal(self, item_id, EventKind::Rating, w.rating_per_star * stars_from_neutral);
                if *rating >= 4 {
                    self.interest.bump(item_id, at);
                }
            }
            TrackEvent::WishlistAdd { item_id } => {
                signal(self, item_id, EventKind::WishlistAdd, w.wishlist_add);
                self.history.wishlist.touch(item_id, at);
                self.interest.bump(item_id, at);
            }
            TrackEvent::WishlistRemove { item_id } => {
                signal(self, item_id, EventKind::WishlistRemove, w.wishlist_remove);
                self.history.wishlist.remove(item_id);
            }
            TrackEvent::Dismiss { item_id } => {
                signal(self, item_id, EventKind::Dismiss, w.dismiss);
                self.history.dismissed.touch(item_id, at);
                self.interest.remove(item_id);
            }
            TrackEvent::Dwell { item_id, ms } => {
                let weight = (ms / 1000.0 * w.dwell_per_second).min(w.dwell_cap);
                signal(self, item_id, EventKind::Dwell, weight);
            }
            TrackEvent::ScrollDepth { item_id, depth } => {
                if let Some(item_id) = item_id {
                    signal(self, item_id, EventKind::ScrollDepth, w.scroll * depth);
                }
            }
        }
    }

    /// Opens a new session when `at` comes after the timeout; older events (from another tab)
    /// never reopen one.
    fn advance_session(&mut self, at: u64, timeout_ms: f64) {
        let last = (self.visits.sessions > 0).then_some(self.session.last_activity_ms as f64);
        if at < self.session.last_activity_ms {
            return;
        }
        if starts_new_session(last, at as f64, timeout_ms) {
            self.visits.sessions = self.visits.sessions.saturating_add(1);
            self.session.started_ms = at;
            self.session.items.clear();
        }
        self.session.last_activity_ms = at;
    }

    /// Moves the affinities of `item_id`'s attributes by `weight`.
    fn learn(&mut self, item_id: &str, weight: f64, at: u64, half_life: f64) {
        self.catalog.touch(item_id, at);
        if let Some(attributes) = self.catalog.get(item_id) {
            for key in attributes.keys() {
                self.affinities.add(key, weight, at, half_life);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::AttributeKey as Key;
    use crate::collect::event::PurchaseLine;
    use crate::profile::decay_factor;

    const T0: u64 = 1_700_000_000_000;

    fn shoe() -> ItemAttributes {
        ItemAttributes {
            category_path: vec!["Shoes".into(), "Running".into()],
            brand: Some("Acme".into()),
            price: Some(89.0),
            tags: vec![],
        }
    }

    fn record(event: TrackEvent, at_ms: u64, attrs: &[(&str, ItemAttributes)]) -> ProfileChange {
        ProfileChange::Record(RecordedEvent {
            event,
            at_ms,
            hour_of_week: 10,
            attributes: attrs.iter().map(|(id, a)| (id.to_string(), a.clone())).collect(),
            visit_device: None,
        })
    }

    fn value(profile: &Profile, key: &Key, at: u64, config: &ValidConfig) -> f64 {
        profile.affinities().value_at(key, at, config.affinity_half_life_ms())
    }

    #[test]
    fn a_view_then_a_cart_add_weigh_as_documented() {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        profile.apply(&record(TrackEvent::View { item_id: "s1".into(), item: None }, T0, &[("s1", shoe())]), &config);
        let cart = TrackEvent::AddToCart { item_id: "s1".into(), quantity: 2, item: None };
        profile.apply(&record(cart, T0 + 1_000, &[]), &config);
        let brand = Key::Brand("Acme".into());
        // 1 (view, decayed one second: negligible) + 4 (add to cart).
        assert!((value(&profile, &brand, T0 + 1_000, &config) - 5.0).abs() < 1e-6);
        assert!((value(&profile, &Key::Category("Shoes > Running".into()), T0 + 1_000, &config) - 5.0).abs() < 1e-6);
        assert_eq!(profile.cart().quantity("s1"), 2);
        assert_eq!(profile.interest("s1").map(|i| i.count), Some(2));
        let kinds: Vec<_> = profile.session_items().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::View, EventKind::AddToCart]);
        assert_eq!(profile.visits().sessions, 1);
        assert_eq!(profile.hour_of_week().buckets()[10], 2);
    }

    #[test]
    fn ratings_are_neutral_at_three_and_dismiss_is_strongly_negative() {
        let config = ValidConfig::default();
        let brand = Key::Brand("Acme".into());
        let rate = |stars: u8| {
            let mut profile = Profile::default();
            profile.apply(
                &record(TrackEvent::Rating { item_id: "s1".into(), rating: stars }, T0, &[("s1", shoe())]),
                &config,
            );
            value(&profile, &brand, T0, &config)
        };
        assert!((rate(1) + 4.0).abs() < 1e-9);
        assert!((rate(2) + 2.0).abs() < 1e-9);
        assert!(rate(3).abs() < 1e-9);
        assert!((rate(5) - 4.0).abs() < 1e-9);
        let mut profile = Profile::default();
        profile.apply(&record(TrackEvent::Dismiss { item_id: "s1".into() }, T0, &[("s1", shoe())]), &config);
        assert!((value(&profile, &brand, T0, &config) + 8.0).abs() < 1e-9);
        assert!(profile.dismissed().contains("s1"));
    }

    #[test]
    fn a_purchase_empties_the_cart_and_counts_an_order() {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        profile.apply(
            &record(TrackEvent::AddToCart { item_id: "s1".into(), quantity: 1, item: None }, T0, &[("s1", shoe())]),
            &config,
        );
        let order = TrackEvent::Purchase {
            items: vec![PurchaseLine { item_id: "s1".into(), quantity: 1, price: Some(89.0) }],
            value: 89.0,
        };
        profile.apply(&record(order, T0 + 60_000, &[]), &config);
        assert!(profile.cart().is_empty());
        assert!(profile.purchased().contains("s1"));
        assert_eq!(profile.visits().orders, 1);
        assert_eq!(profile.visits().last_order_ms, Some(T0 + 60_000));
        assert!((profile.visits().revenue - 89.0).abs() < 1e-9);
        // 4 + 8, the first decayed by one minute of a 14-day half-life.
        let expected = 4.0 * decay_factor(60_000.0, config.affinity_half_life_ms()) + 8.0;
        assert!((value(&profile, &Key::Brand("Acme".into()), T0 + 60_000, &config) - expected).abs() < 1e-9);
    }

    #[test]
    fn dwell_is_capped_and_search_is_shared() {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        profile
            .apply(&record(TrackEvent::Dwell { item_id: "s1".into(), ms: 600_000.0 }, T0, &[("s1", shoe())]), &config);
        assert!((value(&profile, &Key::Brand("Acme".into()), T0, &config) - 2.0).abs() < 1e-9);
        let other = ItemAttributes { brand: Some("Zed".into()), ..ItemAttributes::default() };
        profile.apply(&record(TrackEvent::View { item_id: "z".into(), item: None }, T0, &[("z", other)]), &config);
        let search =
            TrackEvent::Search { query: "q".into(), result_ids: vec!["z".into(), "unknown".into(), "s1".into()] };
        profile.apply(&record(search, T0, &[]), &config);
        // Two known results share the search weight of 1.
        assert!((value(&profile, &Key::Brand("Zed".into()), T0, &config) - 1.5).abs() < 1e-9);
        assert!((value(&profile, &Key::Brand("Acme".into()), T0, &config) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn sessions_restart_after_the_timeout_and_visits_count_page_loads() {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        let mut first = record(TrackEvent::View { item_id: "a".into(), item: None }, T0, &[]);
        if let ProfileChange::Record(r) = &mut first {
            r.visit_device = Some(DeviceClass::Mobile);
        }
        profile.apply(&first, &config);
        profile.apply(&record(TrackEvent::View { item_id: "b".into(), item: None }, T0 + 31 * 60_000, &[]), &config);
        assert_eq!(profile.visits().sessions, 2);
        assert_eq!(profile.visits().visits, 1);
        assert_eq!(profile.device(), DeviceClass::Mobile);
        assert_eq!(profile.session_items().len(), 1);
        // A late event from another tab, before this session, does not reopen anything.
        profile.apply(&record(TrackEvent::View { item_id: "c".into(), item: None }, T0 + 1, &[]), &config);
        assert_eq!(profile.visits().sessions, 2);
        assert_eq!(profile.session_items().len(), 1);
        assert!(profile.viewed().contains("c"));
    }

    #[test]
    fn removing_a_category_interest_removes_its_subcategories_only() {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        profile.apply(&record(TrackEvent::View { item_id: "s1".into(), item: None }, T0, &[("s1", shoe())]), &config);
        assert!(profile.remove_interest(&Key::Category("Shoes".into())));
        let keys: Vec<_> = profile.affinities().iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![Key::Brand("Acme".into()), Key::PriceBand(3)]);
        assert!(!profile.remove_interest(&Key::Tag("nothing".into())));
    }

    #[test]
    fn purging_sensitive_categories_removes_items_and_their_category_keys() {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        let health = ItemAttributes { category_path: vec!["Health".into(), "Tests".into()], ..shoe() };
        profile.apply(&record(TrackEvent::View { item_id: "h1".into(), item: None }, T0, &[("h1", health)]), &config);
        profile.apply(&record(TrackEvent::View { item_id: "s1".into(), item: None }, T0, &[("s1", shoe())]), &config);
        profile.purge_sensitive(&["health".into()]);
        assert!(!profile.mentions_item("h1"));
        assert!(profile.cached_attributes("h1").is_none());
        assert!(profile.mentions_item("s1"));
        assert!(profile
            .affinities()
            .iter()
            .all(|(k, _)| !k.to_string().contains("Health") && !k.to_string().contains("Tests")));
    }
}
