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
