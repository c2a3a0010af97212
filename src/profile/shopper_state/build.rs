//! The adaptation decisions' view of the shopper ([`ShopperState`]), built from the profile.
//!
//! Only what the profile already keeps goes in, so sensitive categories (never stored) cannot
//! reach a layout, offer or copy decision. The page load matters: a shopper who comes back
//! after the session timeout has not tracked anything yet in the new visit, so the state counts
//! that visit already (segment, visits) and treats the earlier session's cart as left behind.

use crate::catalog::CATEGORY_SEPARATOR;
use crate::collect::event::EventKind;
use crate::profile::shopper_state::{DeviceClass as AdaptDevice, Interest, ShopperState, VisitSegment};

use crate::profile::{DeviceClass, Profile, Segment, NEGLIGIBLE_AFFINITY};

/// Most interests handed to the decisions.
pub const SHOPPER_TOP_INTERESTS: usize = 8;
const MS_PER_HOUR: f64 = 3_600_000.0;

/// The moment a [`ShopperState`] is built for, and the settings that read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShopperClock {
    pub now_ms: u64,
    /// Affinity half-life (see the config).
    pub half_life_ms: f64,
    /// Inactivity after which the next event opens a new session.
    pub session_timeout_ms: f64,
    /// True when this page load has already been counted as a visit.
    pub visit_counted: bool,
}

impl Profile {
    /// True when the last session ended (no activity within the timeout) or none happened yet.
    fn session_over(&self, clock: &ShopperClock) -> bool {
        let last = self.session().last_activity_ms;
        self.visits().sessions == 0 || clock.now_ms.saturating_sub(last) as f64 > clock.session_timeout_ms
    }

    /// The shopper as layout, offers and copy see them, at `clock.now_ms`.
    pub fn shopper_state(&self, clock: &ShopperClock) -> ShopperState {
        let over = self.session_over(clock);
        let mut visits = self.visits().clone();
        if over {
            visits.sessions = visits.sessions.saturating_add(1);
        }
        let segment = match visits.segment() {
            Segment::New => VisitSegment::New,
            Segment::Returning => VisitSegment::Returning,
            Segment::Loyal => VisitSegment::Loyal,
        };
        let visits_so_far = if clock.visit_counted && !over { visits.visits } else { visits.visits.saturating_add(1) };
        let hours_since_last_order =
            visits.last_order_ms.map(|at| clock.now_ms.saturating_sub(at) as f64 / MS_PER_HOUR);
        let cart_items = self.cart().items().fold(0u32, |sum, (_, quantity)| sum.saturating_add(*quantity));
        ShopperState {
            segment,
            visits: visits_so_far,
            orders: visits.orders,
            hours_since_last_order,
            cart_items,
            cart_abandoned: self.cart_left_earlier(over),
            current_category: if over { None } else { self.browsing_category() },
            top_interests: self.top_interests(clock),
            hour_of_week_activity: self.hour_of_week().buckets().iter().map(|&n| n as f32).collect(),
            device: match self.device() {
                DeviceClass::Mobile => AdaptDevice::Mobile,
                DeviceClass::Tablet => AdaptDevice::Tablet,
                DeviceClass::Desktop | DeviceClass::Unknown => AdaptDevice::Desktop,
            },
        }
    }

    /// A cart item was put in during an earlier session and is still there (purchases empty
    /// the cart). When the last session is over, everything in the cart was left in it.
    fn cart_left_earlier(&self, session_over: bool) -> bool {
        if self.cart().is_empty() {
            return false;
        }
        if session_over {
            return true;
        }
        let started = self.session().started_ms;
        self.cart()
            .items()
            .any(|(id, _)| self.carted().entries().iter().find(|e| &e.item_id == id).is_some_and(|e| e.at_ms < started))
    }

    /// The category of the item the shopper looked at last in this session.
    fn browsing_category(&self) -> Option<String> {
        self.session_items()
            .iter()
            .rev()
            .filter(|e| matches!(e.kind, EventKind::View | EventKind::Click | EventKind::AddToCart))
            .find_map(|e| {
                let path = &self.cached_attributes(&e.item_id)?.category_path;
                (!path.is_empty()).then(|| path.join(CATEGORY_SEPARATOR))
            })
    }

    /// The strongest positive interests now, strongest first (ties by key, for repeatability).
    fn top_interests(&self, clock: &ShopperClock) -> Vec<Interest> {
        let mut interests: Vec<Interest> = self
            .affinities()
            .iter()
            .map(|(key, affinity)| (key, affinity.value_at(clock.now_ms, clock.half_life_ms)))
            .filter(|(_, value)| value.is_finite() && *value > NEGLIGIBLE_AFFINITY)
            .map(|(key, value)| Interest { key: key.clone(), weight: value as f32 })
            .collect();
        crate::ordering::sort_by(&mut interests, |a, b| b.weight.total_cmp(&a.weight).then_with(|| a.key.cmp(&b.key)));
        interests.truncate(SHOPPER_TOP_INTERESTS);
        interests
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::VisitSegment;
    use crate::catalog::{AttributeKey, ItemAttributes};
    use crate::collect::event::{PurchaseLine, TrackEvent};
    use crate::config::ValidConfig;
    use crate::profile::{ProfileChange, RecordedEvent};
    use proptest::prelude::*;

    const T0: u64 = 1_700_000_000_000;
    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 60 * MINUTE;

    fn jacket() -> ItemAttributes {
        ItemAttributes {
            category_path: vec!["Outdoor".into(), "Jackets".into()],
            brand: Some("Peak".into()),
            price: Some(120.0),
            tags: vec!["trail".into()],
        }
    }

    fn apply(profile: &mut Profile, event: TrackEvent, at_ms: u64, first_of_page: bool) {
        let attributes = match &event {
            TrackEvent::View { item_id, .. } | TrackEvent::AddToCart { item_id, .. } => {
                vec![(item_id.clone(), jacket())]
            }
            _ => Vec::new(),
        };
        let visit_device = first_of_page.then_some(DeviceClass::Mobile);
        let change = ProfileChange::Record(RecordedEvent { event, at_ms, hour_of_week: 30, attributes, visit_device });
        profile.apply(&change, &ValidConfig::default());
    }

    fn view(id: &str) -> TrackEvent {
        TrackEvent::View { item_id: id.into(), item: None }
    }

    fn cart(id: &str) -> TrackEvent {
        TrackEvent::AddToCart { item_id: id.into(), quantity: 2, item: None }
    }

    fn clock(now_ms: u64, visit_counted: bool) -> ShopperClock {
        let config = ValidConfig::default();
        ShopperClock {
            now_ms,
            half_life_ms: config.affinity_half_life_ms(),
            session_timeout_ms: config.noise().session_timeout_ms,
            visit_counted,
        }
    }

    #[test]
    fn an_empty_profile_is_a_first_visit() {
        let state = Profile::default().shopper_state(&clock(T0, false));
        assert_eq!(state.segment, VisitSegment::New);
        assert_eq!(state.visits, 1);
        assert_eq!((state.orders, state.cart_items, state.cart_abandoned), (0, 0, false));
        assert_eq!(state.current_category, None);
        assert!(state.top_interests.is_empty());
        assert_eq!(state.hour_of_week_activity.len(), 168);
    }

    #[test]
    fn the_current_session_shows_category_cart_and_interests() {
        let mut profile = Profile::default();
        apply(&mut profile, view("j1"), T0, true);
        apply(&mut profile, cart("j1"), T0 + MINUTE, false);
        let state = profile.shopper_state(&clock(T0 + 2 * MINUTE, true));
        assert_eq!(state.segment, VisitSegment::New);
        assert_eq!(state.visits, 1);
        assert_eq!(state.cart_items, 2);
        assert!(!state.cart_abandoned, "the cart was filled in this session");
        assert_eq!(state.current_category.as_deref(), Some("Outdoor > Jackets"));
        assert_eq!(state.device, crate::adapt::DeviceClass::Mobile);
        assert_eq!(state.hour_of_week_activity[30], 2.0);
        let keys: Vec<&AttributeKey> = state.top_interests.iter().map(|i| &i.key).collect();
        assert!(keys.contains(&&AttributeKey::Tag("trail".into())));
        assert!(state.top_interests.windows(2).all(|w| w[0].weight >= w[1].weight));
    }

    #[test]
    fn coming_back_after_the_timeout_is_a_returning_visit_with_an_abandoned_cart() {
        let mut profile = Profile::default();
        apply(&mut profile, view("j1"), T0, true);
        apply(&mut profile, cart("j1"), T0 + MINUTE, false);
        // Next day, before anything is tracked on the new page.
        let state = profile.shopper_state(&clock(T0 + 24 * HOUR, false));
        assert_eq!(state.segment, VisitSegment::Returning);
        assert_eq!(state.visits, 2);
        assert!(state.cart_abandoned);
        assert_eq!(state.current_category, None, "yesterday's browsing is not the current category");
        // Once the new page has tracked a view, the cart still dates from the earlier session.
        apply(&mut profile, view("j2"), T0 + 24 * HOUR, true);
        let state = profile.shopper_state(&clock(T0 + 24 * HOUR + MINUTE, true));
        assert_eq!((state.segment, state.visits, state.cart_abandoned), (VisitSegment::Returning, 2, true));
    }

    #[test]
    fn orders_empty_the_cart_and_age_in_hours() {
        let mut profile = Profile::default();
        apply(&mut profile, cart("j1"), T0, true);
        let lines = vec![PurchaseLine { item_id: "j1".into(), quantity: 2, price: Some(120.0) }];
        apply(&mut profile, TrackEvent::Purchase { items: lines.clone(), value: 240.0 }, T0 + MINUTE, false);
        apply(&mut profile, TrackEvent::Purchase { items: lines, value: 240.0 }, T0 + 2 * MINUTE, false);
        let state = profile.shopper_state(&clock(T0 + 2 * MINUTE + 5 * HOUR, false));
        assert_eq!(state.orders, 2);
        assert_eq!(state.segment, VisitSegment::Loyal);
        assert_eq!((state.cart_items, state.cart_abandoned), (0, false));
        let hours = state.hours_since_last_order.unwrap();
        assert!((hours - 5.0).abs() < 1e-9, "{hours}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn interests_are_bounded_positive_and_sorted(n in 0usize..40, gap_minutes in 0u64..120) {
            let mut profile = Profile::default();
            for i in 0..n {
                let attrs = ItemAttributes { brand: Some(format!("B{i}")), ..jacket() };
                let change = ProfileChange::Record(RecordedEvent {
                    event: view(&format!("i{i}")),
                    at_ms: T0 + i as u64 * gap_minutes * MINUTE,
                    hour_of_week: 1,
                    attributes: vec![(format!("i{i}"), attrs)],
                    visit_device: (i == 0).then_some(DeviceClass::Desktop),
                });
                profile.apply(&change, &ValidConfig::default());
            }
            let state = profile.shopper_state(&clock(T0 + 40 * 120 * MINUTE, false));
            prop_assert!(state.top_interests.len() <= SHOPPER_TOP_INTERESTS);
            prop_assert!(state.top_interests.iter().all(|i| i.weight.is_finite() && i.weight > 0.0));
            prop_assert!(state.top_interests.windows(2).all(|w| w[0].weight >= w[1].weight));
            prop_assert!(state.visits >= 1);
        }
    }
}
