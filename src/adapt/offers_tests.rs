use super::*;
use crate::adapt::adapter::{Adapter, AdapterConfig};
use crate::adapt::bandit::BanditParams;

const HOUR: f64 = 3_600_000.0;

fn adapter(holdout: bool) -> Adapter {
    let config = AdapterConfig {
        holdout_share: if holdout { 1.0 } else { 0.0 },
        bandit: BanditParams { exploration: 0.0, ..BanditParams::default() },
        ..AdapterConfig::default()
    };
    Adapter::new(config, 11).unwrap()
}

fn at(now_ms: f64) -> OfferContext {
    OfferContext { now_ms, allow_none: false }
}

fn first_visitor() -> ShopperState {
    ShopperState { visits: 1, ..ShopperState::default() }
}

fn loyal_with_cart_left() -> ShopperState {
    ShopperState { segment: VisitSegment::Loyal, visits: 9, orders: 4, cart_abandoned: true, ..ShopperState::default() }
}

fn catalogue() -> Vec<OfferSpec> {
    vec![
        OfferSpec::new("welcome-10", vec![AudienceSpec::first_visit()]),
        OfferSpec::new("free-shipping", vec![AudienceSpec::loyal(3)]),
        OfferSpec::new("cart-reminder", vec![AudienceSpec::cart_abandoned(), AudienceSpec::returning()]),
        OfferSpec::new("trail-week", vec![AudienceSpec::browsing("Shoes > Trail")]),
    ]
}

#[test]
fn a_first_visitor_gets_the_welcome_offer() {
    let decision = adapter(false).choose_offer(&catalogue(), &at(0.0), &first_visitor()).unwrap();
    assert_eq!(decision.offer_id.as_deref(), Some("welcome-10"));
    assert!(decision.reason.contains("first visit"), "{}", decision.reason);
    assert_eq!(decision.skipped.len(), 3);
    assert!(decision.skipped.iter().any(|s| s.id == "free-shipping" && s.reason.contains("at least 3 orders")));
    assert!(decision.propensity > 0.99, "the only eligible offer: {}", decision.propensity);
}

#[test]
fn audiences_match_by_visit_stats_cart_and_category() {
    let loyal = loyal_with_cart_left();
    let parse = |spec: AudienceSpec| Audience::parse("o", &spec).unwrap();
    assert!(parse(AudienceSpec::loyal(4)).matches(&loyal));
    assert!(!parse(AudienceSpec::loyal(5)).matches(&loyal));
    assert!(parse(AudienceSpec::returning()).matches(&loyal));
    assert!(!parse(AudienceSpec::first_visit()).matches(&loyal));
    assert!(parse(AudienceSpec::cart_abandoned()).matches(&loyal));
    let browsing = ShopperState { current_category: Some("Shoes > Trail > Women".into()), ..first_visitor() };
    assert!(parse(AudienceSpec::browsing("shoes > trail")).matches(&browsing));
    assert!(parse(AudienceSpec::browsing("Shoes")).matches(&browsing));
    assert!(!parse(AudienceSpec::browsing("Shoes > Road")).matches(&browsing));
    assert!(!parse(AudienceSpec::browsing("Shoes > Trail > Women > Wide")).matches(&browsing));
}

#[test]
fn the_more_specific_offer_wins_before_anything_is_learned() {
    // Loyal shopper with an abandoned cart: free shipping (specificity 2) vs cart reminder (4 + 1):
    // a prior logit gap of 1.5 against a prior sd of √3 per arm → P(cart reminder) = Φ(0.61) ≈ 0.73.
    let mut wins = 0;
    for seed in 0..40 {
        let config = AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() };
        let mut a = Adapter::new(config, seed).unwrap();
        let d = a.choose_offer(&catalogue(), &at(0.0), &loyal_with_cart_left()).unwrap();
        wins += usize::from(d.offer_id.as_deref() == Some("cart-reminder"));
    }
    assert!(wins >= 23, "cart reminder chosen {wins}/40");
}

#[test]
fn learning_moves_the_choice_to_what_this_shopper_takes_up() {
    let mut a = adapter(false);
    let me = loyal_with_cart_left();
    for _ in 0..60 {
        a.learn_offer(Some("free-shipping"), true, &me).unwrap();
        a.learn_offer(Some("cart-reminder"), false, &me).unwrap();
    }
    let offers = &catalogue()[1..3];
    let d = a.choose_offer(offers, &at(0.0), &me).unwrap();
    assert_eq!(d.offer_id.as_deref(), Some("free-shipping"));
    assert!(d.reason.contains("takes it up"), "{}", d.reason);
}

#[test]
fn frequency_cap_and_cooldown_hold() {
    let mut a = adapter(false);
    let mut offer = OfferSpec::new("welcome-10", vec![]);
    offer.limits = OfferLimits { frequency_cap: Some(FrequencyCap { max_shows: 2, window_hours: 24.0 }), cooldown_hours: Some(1.0) };
    let offers = vec![offer];
    let me = first_visitor();
    assert!(a.choose_offer(&offers, &at(0.0), &me).unwrap().offer_id.is_some());
    let cooling = a.choose_offer(&offers, &at(0.5 * HOUR), &me).unwrap();
    assert_eq!(cooling.offer_id, None);
    assert!(cooling.skipped[0].reason.contains("cooling down"), "{}", cooling.skipped[0].reason);
    assert!(a.choose_offer(&offers, &at(2.0 * HOUR), &me).unwrap().offer_id.is_some());
    let capped = a.choose_offer(&offers, &at(4.0 * HOUR), &me).unwrap();
    assert_eq!(capped.offer_id, None);
    assert!(capped.skipped[0].reason.contains("frequency cap"), "{}", capped.skipped[0].reason);
    // 24 hours after the first show, one show has left the window.
    assert!(a.choose_offer(&offers, &at(24.5 * HOUR), &me).unwrap().offer_id.is_some());
}

#[test]
fn holdout_takes_the_shop_order() {
    let mut a = adapter(true);
    let d = a.choose_offer(&catalogue(), &at(0.0), &loyal_with_cart_left()).unwrap();
    assert_eq!(d.offer_id.as_deref(), Some("free-shipping"));
    assert!(!d.personalized);
    assert_eq!(d.propensity, 1.0);
}

#[test]
fn allow_none_can_learn_to_show_nothing() {
    let mut a = adapter(false);
    let me = first_visitor();
    for _ in 0..80 {
        a.learn_offer(None, true, &me).unwrap();
        a.learn_offer(Some("welcome-10"), false, &me).unwrap();
    }
    let d = a.choose_offer(&catalogue(), &OfferContext { now_ms: 0.0, allow_none: true }, &me).unwrap();
    assert_eq!(d.offer_id, None);
    assert!(d.reason.contains("without an offer"), "{}", d.reason);
}

#[test]
fn bad_offer_lists_are_refused_with_what_to_fix() {
    let mut a = adapter(false);
    let me = first_visitor();
    assert_eq!(a.choose_offer(&[], &at(0.0), &me), Err(OfferError::NoOffers));
    let unknown = vec![OfferSpec::new("x", vec![AudienceSpec { kind: "vip".into(), min_orders: None, category: None }])];
    let err = a.choose_offer(&unknown, &at(0.0), &me).unwrap_err();
    assert_eq!(err, OfferError::UnknownAudience { offer: "x".into(), kind: "vip".into() });
    assert!(err.to_string().contains("firstVisit, returning"), "{err}");
    let no_orders = vec![OfferSpec::new("x", vec![AudienceSpec { kind: "loyal".into(), min_orders: None, category: None }])];
    assert!(a.choose_offer(&no_orders, &at(0.0), &me).unwrap_err().to_string().contains("minOrders"));
    let no_category = vec![OfferSpec::new("x", vec![AudienceSpec::browsing(" ")])];
    assert!(a.choose_offer(&no_category, &at(0.0), &me).unwrap_err().to_string().contains("category"));
    let dup = vec![OfferSpec::new("x", vec![]), OfferSpec::new("x", vec![])];
    assert_eq!(a.choose_offer(&dup, &at(0.0), &me), Err(OfferError::DuplicateId("x".into())));
    assert_eq!(a.choose_offer(&[OfferSpec::new("", vec![])], &at(0.0), &me), Err(OfferError::BadId(0)));
    assert_eq!(a.choose_offer(&catalogue(), &at(f64::NAN), &me).unwrap_err().to_string().contains("Date.now()"), true);
    let mut capped = OfferSpec::new("x", vec![]);
    capped.limits.frequency_cap = Some(FrequencyCap { max_shows: 0, window_hours: 1.0 });
    assert!(matches!(a.choose_offer(&[capped], &at(0.0), &me), Err(OfferError::BadLimit { .. })));
    let mut cooldown = OfferSpec::new("x", vec![]);
    cooldown.limits.cooldown_hours = Some(-1.0);
    assert!(matches!(a.choose_offer(&[cooldown], &at(0.0), &me), Err(OfferError::BadLimit { .. })));
}

#[test]
fn reads_the_shop_json() {
    let json = r#"[{"id":"loyal-ship","audience":[{"kind":"loyal","minOrders":3}],
        "limits":{"frequencyCap":{"maxShows":2,"windowHours":24},"cooldownHours":6}}]"#;
    let offers: Vec<OfferSpec> = serde_json::from_str(json).unwrap();
    assert_eq!(offers[0].audience[0], AudienceSpec::loyal(3));
    assert_eq!(offers[0].limits.cooldown_hours, Some(6.0));
}
