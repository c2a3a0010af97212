use super::*;
use crate::adapt::{AdapterConfig, LayoutOptions, SectionSpec};
use crate::collect::event::PurchaseLine;
use crate::measure::PlacementCounts;

fn adapter() -> Adapter {
    Adapter::new(AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }, 11).unwrap()
}

fn page(adapter: &mut Adapter, feedback: &mut Feedback) {
    let sections = vec![
        SectionSpec::new("for-you", SectionKind::RecommendedForYou).required(),
        SectionSpec::new("new", SectionKind::NewArrivals).required(),
    ];
    let shopper = ShopperState::default();
    let decision = adapter.choose_layout(&sections, &LayoutOptions::default(), &shopper).unwrap();
    feedback.replace_layout(adapter, &decision, DecisionContext::of(&shopper)).unwrap();
}

fn counts<'a>(counters: &'a LiftCounters, placement: &str) -> &'a PlacementCounts {
    counters.placement(placement).unwrap()
}

#[test]
fn the_context_replays_the_same_features_without_the_category() {
    let shopper = ShopperState {
        segment: VisitSegment::Loyal,
        cart_items: 3,
        cart_abandoned: true,
        current_category: Some("Outdoor > Jackets".into()),
        device: DeviceClass::Mobile,
        ..ShopperState::default()
    };
    let context = DecisionContext::of(&shopper);
    assert_eq!(context.shopper().features(), shopper.features());
    assert!(!serde_json::to_string(&context).unwrap().contains("Jackets"));
}

#[test]
fn impressions_clicks_carts_and_orders_are_counted_by_placement_and_class() {
    let (mut adapter, mut feedback) = (adapter(), Feedback::default());
    page(&mut adapter, &mut feedback);
    assert_eq!(feedback.recommended_placements, ["for-you"]);
    let mut c = LiftCounters::default();
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let impression = |placement: &str, list: &[&str]| TrackEvent::Impression {
        placement: placement.into(),
        item_ids: ids(list),
        positions: None,
    };
    feedback.observe(&impression("for-you", &["a", "b", "c"]), true, &mut c);
    feedback.observe(&impression("new", &["d", "e"]), false, &mut c);
    let click = |id: &str, placement: &str| TrackEvent::Click {
        item_id: id.into(),
        placement: Some(placement.into()),
        position: None,
        item: None,
    };
    feedback.observe(&click("a", "for-you"), false, &mut c);
    feedback.observe(&click("d", "new"), false, &mut c);
    let cart = |id: &str| TrackEvent::AddToCart { item_id: id.into(), quantity: 1, item: None };
    feedback.observe(&cart("a"), false, &mut c);
    feedback.observe(&cart("d"), false, &mut c);
    feedback.observe(&cart("z"), false, &mut c);
    let line = |id: &str, price: Option<f64>| PurchaseLine { item_id: id.into(), quantity: 2, price };
    let order =
        TrackEvent::Purchase { items: vec![line("a", Some(10.0)), line("d", None), line("z", None)], value: 80.0 };
    feedback.observe(&order, false, &mut c);

    assert_eq!(c.sessions(), 1.0);
    // [impressions, clicks, add-to-carts, orders, revenue]: "a" paid 2 × 10; "d" and "z" an even
    // third of the order value each, 80 / 3.
    assert_eq!(counts(&c, "for-you").recommended, [3.0, 1.0, 1.0, 1.0, 20.0]);
    assert_eq!(counts(&c, "for-you").not_recommended, [0.0; 5]);
    let new = counts(&c, "new").not_recommended;
    assert_eq!(new[..4], [2.0, 1.0, 1.0, 1.0]);
    assert!((new[4] - 80.0 / 3.0).abs() < 1e-9);
    let other = counts(&c, OTHER_PLACEMENT).not_recommended;
    assert_eq!(other[..4], [0.0, 0.0, 1.0, 1.0]);
}

#[test]
fn a_click_marks_its_section_engaged_and_the_next_page_learns_once() {
    let (mut adapter, mut feedback) = (adapter(), Feedback::default());
    page(&mut adapter, &mut feedback);
    let click = TrackEvent::Click { item_id: "a".into(), placement: Some("new".into()), position: None, item: None };
    feedback.observe(&click, false, &mut LiftCounters::default());
    let shown = feedback.layout.as_ref().unwrap();
    assert!(shown.engaged);
    assert_eq!(shown.sections.iter().filter(|s| s.engaged).count(), 1);
    let new_arm = crate::adapt::layout::section_arm(SectionKind::NewArrivals);
    assert_eq!(adapter.state().bandit.observations(&new_arm), 0);
    page(&mut adapter, &mut feedback);
    assert_eq!(adapter.state().bandit.observations(&new_arm), 1);
    feedback.settle_layout(&mut adapter).unwrap();
    assert_eq!(adapter.state().bandit.observations(&new_arm), 2, "the second page is learned on its own");
    feedback.settle_layout(&mut adapter).unwrap();
    assert_eq!(adapter.state().bandit.observations(&new_arm), 2, "nothing is learned twice");
}

#[test]
fn pending_lists_stay_bounded() {
    let (mut adapter, mut feedback) = (adapter(), Feedback::default());
    let context = DecisionContext::of(&ShopperState::default());
    for i in 0..(MAX_PENDING_VARIANTS + 5) {
        let shown = VariantExposure {
            item_id: format!("item-{i}"),
            variant_id: "v".into(),
            tags: vec!["gift".into()],
            engaged: i % 2 == 0,
            context,
        };
        feedback.push_variant(&mut adapter, shown).unwrap();
    }
    assert_eq!(feedback.variants.len(), MAX_PENDING_VARIANTS);
    assert_eq!(feedback.variants[0].item_id, "item-5", "the oldest were learned from and dropped");
    assert_eq!(adapter.state().bandit.observations("copy:gift"), 5);
    let mut c = LiftCounters::default();
    for i in 0..(MAX_ATTRIBUTIONS + 10) {
        let click = TrackEvent::Click { item_id: format!("i{i}"), placement: None, position: None, item: None };
        feedback.observe(&click, false, &mut c);
    }
    assert_eq!(feedback.attributions.len(), MAX_ATTRIBUTIONS);
    let mut oversized = feedback.clone();
    oversized.recommended_placements = (0..100).map(|i| format!("p{i}")).collect();
    oversized.enforce_bounds();
    assert_eq!(oversized.recommended_placements.len(), MAX_RECOMMENDED_PLACEMENTS);
}
