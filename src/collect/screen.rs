//! Screening: finds the attributes of the items an event is about and removes every item in a
//! sensitive category before anything reaches the noise filter or the profile.
//!
//! Items are known from `upsertItems`, from attributes sent inline with events, or from the
//! profile's own cache. An item once seen in a sensitive category is remembered as sensitive (in
//! memory only), so a later event carrying only its id is dropped too.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::catalog::{Item, ItemAttributes};
use crate::collect::event::{PurchaseLine, TrackEvent};

/// Where the attributes of items seen earlier are cached (the profile keeps them for the items
/// it mentions): screening falls back to them when the shop did not send an item's attributes.
pub trait AttributeCache {
    fn cached_attributes(&self, item_id: &str) -> Option<&ItemAttributes>;
}

/// Most item descriptions kept in memory from `upsertItems` and inline attributes.
pub const MAX_KNOWN_ITEMS: usize = 5_000;
/// Most sensitive ids remembered.
pub const MAX_SENSITIVE_IDS: usize = 5_000;
/// Search results whose attributes travel with a search event.
const SEARCH_RESULTS_DESCRIBED: usize = 5;

/// The shop's item descriptions and the ids known to be sensitive. Memory only, never stored.
#[derive(Debug, Clone, Default)]
pub struct ItemDirectory {
    known: HashMap<String, ItemAttributes>,
    known_order: VecDeque<String>,
    sensitive: HashSet<String>,
    sensitive_order: VecDeque<String>,
    /// Ids found sensitive since the last [`ItemDirectory::take_newly_sensitive`].
    newly_sensitive: Vec<String>,
}

/// What screening left of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Screened {
    /// The event without its sensitive items, and the known attributes of the items it involves.
    Keep { event: TrackEvent, attributes: Vec<(String, ItemAttributes)> },
    /// Everything the event is about is sensitive: drop it whole.
    Sensitive,
}

impl ItemDirectory {
    /// Remembers an item's description, or its id as sensitive. Returns true when it is sensitive.
    pub fn learn(&mut self, item: &Item, sensitive_categories: &[String]) -> bool {
        if item.attributes.is_in_any_category(sensitive_categories) {
            self.mark_sensitive(&item.id);
            return true;
        }
        if item.attributes.is_empty() {
            return false;
        }
        if self.known.insert(item.id.clone(), item.attributes.clone()).is_none() {
            self.known_order.push_back(item.id.clone());
            while self.known_order.len() > MAX_KNOWN_ITEMS {
                if let Some(oldest) = self.known_order.pop_front() {
                    self.known.remove(&oldest);
                }
            }
        }
        false
    }

    /// Ids found sensitive since the last call, so the caller can erase earlier mentions of them
    /// (from events that carried only the id, before the item was known).
    pub fn take_newly_sensitive(&mut self) -> Vec<String> {
        std::mem::take(&mut self.newly_sensitive)
    }

    pub fn is_sensitive(&self, item_id: &str) -> bool {
        self.sensitive.contains(item_id)
    }

    fn mark_sensitive(&mut self, item_id: &str) {
        self.known.remove(item_id);
        if self.sensitive.insert(item_id.to_string()) {
            self.newly_sensitive.push(item_id.to_string());
            self.sensitive_order.push_back(item_id.to_string());
            while self.sensitive_order.len() > MAX_SENSITIVE_IDS {
                if let Some(oldest) = self.sensitive_order.pop_front() {
                    self.sensitive.remove(&oldest);
                }
            }
        }
    }

    /// The best known attributes of an item: the shop's latest, else the profile's cached ones.
    pub fn attributes<'a>(&'a self, item_id: &str, profile: &'a dyn AttributeCache) -> Option<&'a ItemAttributes> {
        self.known.get(item_id).or_else(|| profile.cached_attributes(item_id))
    }

    /// Checks one item id; returns its attributes when it is not sensitive.
    fn check(
        &mut self,
        item_id: &str,
        profile: &dyn AttributeCache,
        sensitive: &[String],
    ) -> Result<Option<ItemAttributes>, ()> {
        if self.is_sensitive(item_id) {
            return Err(());
        }
        match self.attributes(item_id, profile) {
            Some(attrs) if attrs.is_in_any_category(sensitive) => {
                self.mark_sensitive(item_id);
                Err(())
            }
            attrs => Ok(attrs.cloned()),
        }
    }

    /// Removes sensitive items from `event` and gathers the attributes of the rest.
    pub fn screen(&mut self, event: TrackEvent, profile: &dyn AttributeCache, sensitive: &[String]) -> Screened {
        if let (Some(id), Some(attrs)) = (event.item_id(), event.inline_attributes()) {
            let item = Item { id: id.to_string(), attributes: attrs.clone() };
            self.learn(&item, sensitive);
        }
        match event {
            TrackEvent::Impression { placement, item_ids, positions } => {
                let positions = positions.unwrap_or_else(|| (0..item_ids.len() as u32).collect());
                let kept: Vec<(String, u32)> = item_ids
                    .into_iter()
                    .zip(positions)
                    .filter(|(id, _)| self.check(id, profile, sensitive).is_ok())
                    .collect();
                if kept.is_empty() {
                    return Screened::Sensitive;
                }
                let (item_ids, positions) = kept.into_iter().unzip();
                let event = TrackEvent::Impression { placement, item_ids, positions: Some(positions) };
                Screened::Keep { event, attributes: Vec::new() }
            }
            TrackEvent::Search { query, result_ids } => {
                let had_results = !result_ids.is_empty();
                let mut attributes = Vec::new();
                let mut kept = Vec::with_capacity(result_ids.len());
                for id in result_ids {
                    if let Ok(attrs) = self.check(&id, profile, sensitive) {
                        if let Some(attrs) = attrs.filter(|_| attributes.len() < SEARCH_RESULTS_DESCRIBED) {
                            attributes.push((id.clone(), attrs));
                        }
                        kept.push(id);
                    }
                }
                if had_results && kept.is_empty() {
                    return Screened::Sensitive;
                }
                Screened::Keep { event: TrackEvent::Search { query, result_ids: kept }, attributes }
            }
            TrackEvent::Purchase { items, value } => self.screen_purchase(items, value, profile, sensitive),
            event => {
                let Some(id) = event.item_id().map(str::to_string) else {
                    return Screened::Keep { event, attributes: Vec::new() };
                };
                match self.check(&id, profile, sensitive) {
                    Err(()) => Screened::Sensitive,
                    Ok(attrs) => Screened::Keep { event, attributes: attrs.map(|a| (id, a)).into_iter().collect() },
                }
            }
        }
    }

    /// Drops sensitive lines and takes their share out of the order value.
    fn screen_purchase(
        &mut self,
        items: Vec<PurchaseLine>,
        value: f64,
        profile: &dyn AttributeCache,
        sensitive: &[String],
    ) -> Screened {
        let total_quantity: f64 = items.iter().map(|l| f64::from(l.quantity)).sum();
        let (mut kept, mut attributes) = (Vec::new(), Vec::new());
        let (mut removed_value, mut removed_unpriced_quantity) = (0.0, 0.0);
        for line in items {
            match self.check(&line.item_id, profile, sensitive) {
                Ok(attrs) => {
                    attributes.extend(attrs.map(|a| (line.item_id.clone(), a)));
                    kept.push(line);
                }
                Err(()) => match line.price {
                    Some(price) => removed_value += price * f64::from(line.quantity),
                    None => removed_unpriced_quantity += f64::from(line.quantity),
                },
            }
        }
        if kept.is_empty() {
            return Screened::Sensitive;
        }
        let mut value = (value - removed_value).max(0.0);
        if removed_unpriced_quantity > 0.0 && total_quantity > 0.0 {
            value *= 1.0 - removed_unpriced_quantity / total_quantity;
        }
        Screened::Keep { event: TrackEvent::Purchase { items: kept, value }, attributes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn attrs(path: &[&str]) -> ItemAttributes {
        ItemAttributes { category_path: path.iter().map(|s| s.to_string()).collect(), ..ItemAttributes::default() }
    }

    fn sensitive() -> Vec<String> {
        vec!["health".into()]
    }

    #[test]
    fn an_inline_sensitive_item_is_dropped_and_remembered() {
        let mut dir = ItemDirectory::default();
        let profile = Profile::default();
        let view = TrackEvent::View { item_id: "h".into(), item: Some(attrs(&["Health", "Tests"])) };
        assert_eq!(dir.screen(view, &profile, &sensitive()), Screened::Sensitive);
        let cart = TrackEvent::AddToCart { item_id: "h".into(), quantity: 1, item: None };
        assert_eq!(dir.screen(cart, &profile, &sensitive()), Screened::Sensitive);
        assert!(dir.attributes("h", &profile).is_none());
        assert_eq!(dir.take_newly_sensitive(), ["h"]);
        assert!(dir.take_newly_sensitive().is_empty());
    }

    #[test]
    fn upserted_attributes_travel_with_id_only_events() {
        let mut dir = ItemDirectory::default();
        let profile = Profile::default();
        let shoe = Item { id: "s".into(), attributes: attrs(&["Shoes"]) };
        assert!(!dir.learn(&shoe, &sensitive()));
        let cart = TrackEvent::AddToCart { item_id: "s".into(), quantity: 1, item: None };
        match dir.screen(cart, &profile, &sensitive()) {
            Screened::Keep { attributes, .. } => assert_eq!(attributes, vec![("s".to_string(), attrs(&["Shoes"]))]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_lose_their_sensitive_entries() {
        let mut dir = ItemDirectory::default();
        let profile = Profile::default();
        dir.learn(&Item { id: "h".into(), attributes: attrs(&["Health"]) }, &sensitive());
        dir.learn(&Item { id: "s".into(), attributes: attrs(&["Shoes"]) }, &sensitive());
        let shown = TrackEvent::Impression {
            placement: "p".into(),
            item_ids: vec!["s".into(), "h".into(), "x".into()],
            positions: None,
        };
        match dir.screen(shown, &profile, &sensitive()) {
            Screened::Keep { event: TrackEvent::Impression { item_ids, positions, .. }, .. } => {
                assert_eq!(item_ids, ["s", "x"]);
                assert_eq!(positions, Some(vec![0, 2]));
            }
            other => panic!("{other:?}"),
        }
        let only_health = TrackEvent::Search { query: "q".into(), result_ids: vec!["h".into()] };
        assert_eq!(dir.screen(only_health, &profile, &sensitive()), Screened::Sensitive);
        let no_results = TrackEvent::Search { query: "q".into(), result_ids: vec![] };
        assert!(matches!(dir.screen(no_results, &profile, &sensitive()), Screened::Keep { .. }));
    }

    #[test]
    fn a_mixed_order_keeps_the_rest_and_its_share_of_the_value() {
        let mut dir = ItemDirectory::default();
        let profile = Profile::default();
        dir.learn(&Item { id: "h".into(), attributes: attrs(&["Health"]) }, &sensitive());
        let line = |id: &str, price: Option<f64>| PurchaseLine { item_id: id.into(), quantity: 1, price };
        let order = TrackEvent::Purchase { items: vec![line("s", Some(30.0)), line("h", Some(20.0))], value: 50.0 };
        match dir.screen(order, &profile, &sensitive()) {
            Screened::Keep { event: TrackEvent::Purchase { items, value }, .. } => {
                assert_eq!(items.len(), 1);
                assert!((value - 30.0).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        let unpriced = TrackEvent::Purchase { items: vec![line("s", None), line("h", None)], value: 50.0 };
        match dir.screen(unpriced, &profile, &sensitive()) {
            Screened::Keep { event: TrackEvent::Purchase { value, .. }, .. } => assert!((value - 25.0).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        let all_sensitive = TrackEvent::Purchase { items: vec![line("h", None)], value: 5.0 };
        assert_eq!(dir.screen(all_sensitive, &profile, &sensitive()), Screened::Sensitive);
    }

    #[test]
    fn the_directory_stays_bounded() {
        let mut dir = ItemDirectory::default();
        for i in 0..MAX_KNOWN_ITEMS + 10 {
            dir.learn(&Item { id: format!("i{i}"), attributes: attrs(&["Shoes"]) }, &[]);
        }
        assert_eq!(dir.known.len(), MAX_KNOWN_ITEMS);
        assert!(!dir.known.contains_key("i0"));
    }
}
