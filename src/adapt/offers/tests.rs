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
    assert_eq!(decision.reason, "A welcome offer for your first visit");
    assert_eq!(decision.code, DecisionCode::Audience);
    assert!(decision.diagnostic.contains("first visit"), "{}", decision.diagnostic);
    assert_eq!(decision.skipped.len(), 3);
    assert!(decision.skipped.iter().any(|s| s.id == "free-shipping" && s.diagnostic.contains("at least 3 orders")));
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
    assert!(d.diagnostic.contains("take-up: about"), "{}", d.diagnostic);
    assert_eq!((d.code, d.reason.as_str()), (DecisionCode::Audience, "A thank-you for shopping with us again"));
}

#[test]
fn frequency_cap_and_cooldown_hold() {
    let mut a = adapter(false);
    let mut offer = OfferSpec::new("welcome-10", vec![]);
    offer.limits = OfferLimits {
        frequency_cap: Some(FrequencyCap { max_shows: 2, window_hours: 24.0 }),
        cooldown_hours: Some(1.0),
    };
    let offers = vec![offer];
    let me = first_visitor();
    assert!(a.choose_offer(&offers, &at(0.0), &me).unwrap().offer_id.is_some());
    let cooling = a.choose_offer(&offers, &at(0.5 * HOUR), &me).unwrap();
    assert_eq!(cooling.offer_id, None);
    assert!(cooling.skipped[0].diagnostic.contains("cooling down"), "{}", cooling.skipped[0].diagnostic);
    assert!(a.choose_offer(&offers, &at(2.0 * HOUR), &me).unwrap().offer_id.is_some());
    let capped = a.choose_offer(&offers, &at(4.0 * HOUR), &me).unwrap();
    assert_eq!(capped.offer_id, None);
    assert!(capped.skipped[0].diagnostic.contains("frequency cap"), "{}", capped.skipped[0].diagnostic);
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
    assert!(d.diagnostic.contains("without an offer"), "{}", d.diagnostic);
    assert_eq!((d.code, d.reason.as_str()), (DecisionCode::NoOffer, "No offer right now"));
}

#[test]
fn bad_offer_lists_are_refused_with_what_to_fix() {
    let mut a = adapter(false);
    let me = first_visitor();
    assert_eq!(a.choose_offer(&[], &at(0.0), &me), Err(OfferError::NoOffers));
    let unknown =
        vec![OfferSpec::new("x", vec![AudienceSpec { kind: "vip".into(), min_orders: None, category: None }])];
    let err = a.choose_offer(&unknown, &at(0.0), &me).unwrap_err();
    assert_eq!(err, OfferError::UnknownAudience { offer: "x".into(), kind: "vip".into() });
    assert!(err.to_string().contains("firstVisit, returning"), "{err}");
    let no_orders =
        vec![OfferSpec::new("x", vec![AudienceSpec { kind: "loyal".into(), min_orders: None, category: None }])];
    assert!(a.choose_offer(&no_orders, &at(0.0), &me).unwrap_err().to_string().contains("minOrders"));
    let no_category = vec![OfferSpec::new("x", vec![AudienceSpec::browsing(" ")])];
    assert!(a.choose_offer(&no_category, &at(0.0), &me).unwrap_err().to_string().contains("category"));
    let dup = vec![OfferSpec::new("x", vec![]), OfferSpec::new("x", vec![])];
    assert_eq!(a.choose_offer(&dup, &at(0.0), &me), Err(OfferError::DuplicateId("x".into())));
    assert_eq!(a.choose_offer(&[OfferSpec::new("", vec![])], &at(0.0), &me), Err(OfferError::BadId(0)));
    assert!(a.choose_offer(&catalogue(), &at(f64::NAN), &me).unwrap_err().to_string().contains("Date.now()"));
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

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_audience() -> impl Strategy<Value = AudienceSpec> {
        prop_oneof![
            Just(AudienceSpec::first_visit()),
            Just(AudienceSpec::returning()),
            Just(AudienceSpec::cart_abandoned()),
            (1u32..4).prop_map(AudienceSpec::loyal),
            Just(AudienceSpec::browsing("Shoes")),
        ]
    }

    fn arb_offers() -> impl Strategy<Value = Vec<OfferSpec>> {
        proptest::collection::vec(
            (
                proptest::collection::vec(arb_audience(), 0..3),
                proptest::option::of(1u32..3),
                proptest::option::of(0.0f64..5.0),
            ),
            1..6,
        )
        .prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (audience, cap, cooldown))| OfferSpec {
                    id: format!("o{i}"),
                    audience,
                    limits: OfferLimits {
                        frequency_cap: cap.map(|max_shows| FrequencyCap { max_shows, window_hours: 6.0 }),
                        cooldown_hours: cooldown,
                    },
                })
                .collect()
        })
    }

    fn arb_shopper() -> impl Strategy<Value = ShopperState> {
        (0u32..5, 0u32..5, any::<bool>(), any::<bool>()).prop_map(|(visits, orders, abandoned, browsing)| {
            ShopperState {
                segment: if orders >= 3 {
                    VisitSegment::Loyal
                } else if visits > 1 {
                    VisitSegment::Returning
                } else {
                    VisitSegment::New
                },
                visits,
                orders,
                cart_abandoned: abandoned,
                current_category: browsing.then(|| "Shoes > Trail".to_string()),
                ..ShopperState::default()
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Over a sequence of visits, every offer shown matches its audience, respects its cap and
        /// cooldown, and the same seed repeats the same choices.
        #[test]
        fn shown_offers_always_respect_audience_and_limits(
            offers in arb_offers(),
            shopper in arb_shopper(),
            seed in any::<u64>(),
            holdout in any::<bool>(),
            allow_none in any::<bool>(),
        ) {
            let run = || {
                let config = AdapterConfig { holdout_share: if holdout { 1.0 } else { 0.0 }, ..AdapterConfig::default() };
                let mut adapter = Adapter::new(config, seed).unwrap();
                (0..12).map(|k| {
                    let now = f64::from(k) * HOUR;
                    adapter.choose_offer(&offers, &OfferContext { now_ms: now, allow_none }, &shopper).unwrap()
                }).collect::<Vec<_>>()
            };
            let decisions = run();
            prop_assert_eq!(&decisions, &run());
            let mut shows: Vec<(String, f64)> = Vec::new();
            for (k, decision) in decisions.iter().enumerate() {
                let now = k as f64;
                prop_assert!(decision.propensity > 0.0 && decision.propensity <= 1.0);
                if let Some(id) = &decision.offer_id {
                    let offer = offers.iter().find(|o| &o.id == id).unwrap();
                    for spec in &offer.audience {
                        prop_assert!(Audience::parse(id, spec).unwrap().matches(&shopper));
                    }
                    let earlier: Vec<f64> = shows.iter().filter(|(o, _)| o == id).map(|(_, t)| *t).collect();
                    if let Some(cap) = offer.limits.frequency_cap {
                        let recent = earlier.iter().filter(|t| now - **t < cap.window_hours).count();
                        prop_assert!(recent < cap.max_shows as usize, "cap broken for {}", id);
                    }
                    if let (Some(cooldown), Some(last)) = (offer.limits.cooldown_hours, earlier.last()) {
                        prop_assert!(now - last >= cooldown, "cooldown broken for {}", id);
                    }
                    shows.push((id.clone(), now));
                }
            }
        }
    }
}
