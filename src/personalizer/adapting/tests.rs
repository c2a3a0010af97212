use super::*;
use crate::adapt::{AudienceSpec, DecisionCode, Density, SectionKind};
use crate::catalog::ItemAttributes;
use crate::config::PersonalizerConfig;
use crate::consent::ConsentMode;
use crate::measure::{ItemClass, LiftMetric, LiftReportConfig};
use crate::personalizer::Environment;
use crate::personalizer::Personalizer;
use crate::storage::{MemoryStore, WarningCode};

const T0: f64 = 1_700_000_000_000.0;
const DAY: f64 = 86_400_000.0;
const ADAPT_KEY: &str = "shop-personalizer:acme:adapt";

fn open(store: &MemoryStore, consent: ConsentMode) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig {
        shop: "acme".into(),
        sensitive_categories: vec!["Pharmacy".into()],
        ..PersonalizerConfig::default()
    };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).unwrap();
    p.set_consent(consent, false);
    p
}

fn personalized(store: &MemoryStore, consent: ConsentMode) -> Personalizer<MemoryStore> {
    let mut p = open(store, consent);
    p.configure_adaptation(AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }, 42).unwrap();
    p
}

fn sections() -> Vec<SectionSpec> {
    vec![
        SectionSpec::new("hero", SectionKind::Deals).required().at_positions(0, 0),
        SectionSpec::new("for-you", SectionKind::RecommendedForYou).required(),
        SectionSpec::new("new", SectionKind::NewArrivals),
        SectionSpec::new("top", SectionKind::TopInCategory),
    ]
}

fn offers() -> Vec<OfferSpec> {
    vec![
        OfferSpec::new("welcome-10", vec![AudienceSpec::first_visit()]),
        OfferSpec::new("come-back", vec![AudienceSpec::cart_abandoned()]),
    ]
}

fn jacket(id: &str) -> Item {
    let attributes = ItemAttributes {
        category_path: vec!["Outdoor".into(), "Jackets".into()],
        brand: Some("Peak".into()),
        price: Some(120.0),
        tags: vec!["trail".into()],
    };
    Item { id: id.into(), attributes }
}

fn variants() -> Vec<CopyVariant> {
    vec![
        CopyVariant::new("city", "Stays dry on the way to work", &["commute"]),
        CopyVariant::new("hills", "Built for muddy trails", &["trail"]),
    ]
}

fn view(p: &mut Personalizer<MemoryStore>, id: &str, at: f64) {
    let item = jacket(id);
    let event = TrackEvent::View { item_id: item.id, item: Some(item.attributes) };
    p.track(event, at, 40).unwrap();
}

fn stored_keys(store: &MemoryStore) -> Vec<String> {
    store.entries().into_iter().map(|(k, _)| k).collect()
}

#[test]
fn without_consent_every_decision_is_the_shops_default_and_nothing_is_kept() {
    let store = MemoryStore::new();
    let mut p = open(&store, ConsentMode::None);
    let layout = p.choose_layout(&sections(), &LayoutContext::default(), T0, 1).unwrap();
    let ids: Vec<&str> = layout.sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["hero", "for-you", "new", "top"]);
    assert!(!layout.personalized && layout.sections.iter().all(|s| s.diagnostic == NO_CONSENT_REASON));
    assert!(layout.sections.iter().all(|s| s.reason == "Arranged by the shop" && s.code == DecisionCode::ShopDefault));
    let offer = p.choose_offer(&offers(), &OfferRequest::default(), T0, 1).unwrap();
    assert_eq!(offer.offer_id.as_deref(), Some("welcome-10"));
    assert!(offer.diagnostic.starts_with(NO_CONSENT_REASON));
    assert_eq!((offer.code, offer.reason.as_str()), (DecisionCode::ShopDefault, "The shop's current offer"));
    let variant = p.choose_variant(&jacket("j"), &variants(), T0, 1).unwrap();
    assert_eq!((variant.variant_id.as_str(), variant.diagnostic.as_str()), ("city", NO_CONSENT_REASON));
    assert_eq!(variant.reason, "The shop's description");
    for shopper_text in [&layout.density_reason, &offer.reason, &variant.reason] {
        assert!(!shopper_text.contains("consent") && !shopper_text.contains("setConsent"), "{shopper_text}");
    }
    let outcome = DecisionOutcome::Offer { offer_id: "welcome-10".into(), taken_up: true };
    assert_eq!(p.record_decision_outcome(&outcome), Ok(false));
    assert_eq!(p.lift_bucket(), None);
    assert!(store.entries().is_empty());
    assert!(p.extension.adaptation.adapter.is_none());
}

#[test]
fn bad_input_is_refused_and_stores_nothing() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Full);
    let no_sections = p.choose_layout(&[], &LayoutContext::default(), T0, 1).unwrap_err();
    assert!(no_sections.to_string().contains("no sections given"), "{no_sections}");
    let mut contradictory = sections();
    contradictory[1] = SectionSpec::new("for-you", SectionKind::RecommendedForYou).required().at_positions(0, 0);
    let clash = p.choose_layout(&contradictory, &LayoutContext::default(), T0, 1).unwrap_err();
    assert!(matches!(clash, AdaptationError::Layout(_)), "{clash}");
    let mut unknown = offers();
    unknown[0].audience = vec![AudienceSpec { kind: "vip".into(), min_orders: None, category: None }];
    let refused = p.choose_offer(&unknown, &OfferRequest::default(), T0, 1).unwrap_err();
    assert!(refused.to_string().contains("unknown audience \"vip\""), "{refused}");
    assert!(p.choose_offer(&[], &OfferRequest::default(), T0, 1).is_err());
    assert!(p.choose_variant(&jacket("j"), &[], T0, 1).is_err());
    let bad_category = LayoutContext { category: Some(vec![]), ..LayoutContext::default() };
    assert_eq!(p.choose_layout(&sections(), &bad_category, T0, 1), Err(AdaptationError::BadCategory));
    assert!(p.choose_layout(&sections(), &LayoutContext::default(), f64::NAN, 1).is_err());
    let outcome = DecisionOutcome::Section { section_id: "hero".into(), engaged: true };
    assert_eq!(p.record_decision_outcome(&outcome), Err(AdaptationError::UnknownSection("hero".into())));
    assert!(!stored_keys(&store).contains(&ADAPT_KEY.to_string()), "{:?}", stored_keys(&store));
}

#[test]
fn full_consent_keeps_the_state_across_instances() {
    let store = MemoryStore::new();
    let mut first = personalized(&store, ConsentMode::Full);
    let layout = first.choose_layout(&sections(), &LayoutContext::default(), T0, 7).unwrap();
    assert!(layout.personalized);
    let raw = store.get(ADAPT_KEY).unwrap().expect("saved after the decision");
    assert!(raw.starts_with(r#"{"format":"shop-personalizer/adapt","version":1,"#));
    let state = first.extension.adaptation.adapter.as_ref().unwrap().state().clone();

    let mut second = personalized(&store, ConsentMode::Full);
    assert_eq!(second.lift_bucket(), Some(LiftBucket::Personalized));
    assert_eq!(second.extension.adaptation.adapter.as_ref().unwrap().state(), &state);
    let outcome = DecisionOutcome::Section { section_id: "for-you".into(), engaged: true };
    assert_eq!(second.record_decision_outcome(&outcome), Ok(true), "the page shown by the first instance waits");
    let arm = crate::adapt::layout::section_arm(SectionKind::RecommendedForYou);
    assert_eq!(second.extension.adaptation.adapter.as_ref().unwrap().state().bandit.observations(&arm), 1);
    assert_eq!(second.record_decision_outcome(&outcome), Err(AdaptationError::UnknownSection("for-you".into())));
}

#[test]
fn session_consent_keeps_nothing_in_storage_and_dropping_consent_forgets() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Session);
    p.choose_layout(&sections(), &LayoutContext::default(), T0, 7).unwrap();
    assert!(p.extension.adaptation.adapter.is_some());
    assert!(store.entries().is_empty());

    let mut full = personalized(&store, ConsentMode::Full);
    full.choose_offer(&offers(), &OfferRequest::default(), T0, 3).unwrap();
    assert!(store.get(ADAPT_KEY).unwrap().is_some());
    full.set_consent(ConsentMode::None, false);
    assert_eq!(store.get(ADAPT_KEY).unwrap(), None);
    assert!(full.extension.adaptation.adapter.is_none());

    let mut again = personalized(&store, ConsentMode::Full);
    again.choose_offer(&offers(), &OfferRequest::default(), T0, 3).unwrap();
    assert!(again.forget().unwrap() >= 1);
    assert_eq!(store.get(ADAPT_KEY).unwrap(), None);
    assert!(again.extension.adaptation.adapter.is_none());
}

#[test]
fn the_holdout_gets_the_shops_defaults() {
    let store = MemoryStore::new();
    let mut p = open(&store, ConsentMode::Full);
    p.configure_adaptation(AdapterConfig { holdout_share: 1.0, ..AdapterConfig::default() }, 5).unwrap();
    let context =
        LayoutContext { max_sections: Some(3), default_density: Some(Density::List), ..LayoutContext::default() };
    let layout = p.choose_layout(&sections(), &context, T0, 5).unwrap();
    let ids: Vec<&str> = layout.sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["hero", "for-you", "new"]);
    assert_eq!((layout.density, layout.personalized), (Density::List, false));
    let variant = p.choose_variant(&jacket("j"), &variants(), T0, 5).unwrap();
    assert_eq!((variant.variant_id.as_str(), variant.personalized), ("city", false));
    assert_eq!(p.lift_bucket(), Some(LiftBucket::Holdout));
}

#[test]
fn a_first_visit_gets_the_welcome_and_a_return_with_a_cart_the_cart_offer() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Full);
    let first = p.choose_offer(&offers(), &OfferRequest::default(), T0, 9).unwrap();
    assert_eq!(first.offer_id.as_deref(), Some("welcome-10"), "{first:?}");
    view(&mut p, "j1", T0 + 1_000.0);
    p.track(TrackEvent::AddToCart { item_id: "j1".into(), quantity: 1, item: None }, T0 + 2_000.0, 40).unwrap();
    p.flush(T0 + 3_000.0).unwrap();

    let mut later = personalized(&store, ConsentMode::Full);
    let back = later.choose_offer(&offers(), &OfferRequest::default(), T0 + DAY, 9).unwrap();
    assert_eq!(back.offer_id.as_deref(), Some("come-back"), "{back:?}");
    assert!(back.skipped.iter().any(|s| s.id == "welcome-10"));
    assert!(back.reason.contains("cart"), "{}", back.reason);
}

#[test]
fn copy_speaks_to_the_profiles_interests() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Full);
    for i in 0..4 {
        view(&mut p, &format!("j{i}"), T0 + f64::from(i) * 5_000.0);
    }
    let choice = p.choose_variant(&jacket("j9"), &variants(), T0 + 30_000.0, 2).unwrap();
    assert_eq!(choice.variant_id, "hills", "{choice:?}");
    assert!(choice.personalized);
    p.track(TrackEvent::Click { item_id: "j9".into(), placement: None, position: None, item: None }, T0 + 40_000.0, 40)
        .unwrap();
    assert!(p.extension.adaptation.feedback.variants[0].engaged);
    let sensitive = Item {
        id: "pill".into(),
        attributes: ItemAttributes { category_path: vec!["Pharmacy".into()], ..ItemAttributes::default() },
    };
    let plain = p.choose_variant(&sensitive, &variants(), T0 + 50_000.0, 2).unwrap();
    assert!(!plain.personalized && plain.diagnostic.contains("sensitive"));
    assert_eq!(plain.reason, "The shop's description");
    assert!(store.entries().iter().all(|(_, v)| !v.contains("pill")));
}

#[test]
fn tracked_events_fill_the_lift_counters_and_the_report_resets_them() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Full);
    p.choose_layout(&sections(), &LayoutContext::default(), T0, 4).unwrap();
    let shown = TrackEvent::Impression {
        placement: "for-you".into(),
        item_ids: vec!["j1".into(), "j2".into()],
        positions: None,
    };
    p.track(shown, T0 + 1_000.0, 40).unwrap();
    let click =
        TrackEvent::Click { item_id: "j1".into(), placement: Some("for-you".into()), position: Some(0), item: None };
    p.track(click, T0 + 2_000.0, 40).unwrap();
    p.track(TrackEvent::AddToCart { item_id: "j1".into(), quantity: 1, item: None }, T0 + 3_000.0, 40).unwrap();
    let counters = p.extension.adaptation.adapter.as_ref().unwrap().state().lift.clone();
    let for_you = counters.placement("for-you").unwrap();
    assert_eq!(for_you.get(ItemClass::Recommended, LiftMetric::Impressions), 2.0);
    assert_eq!(for_you.get(ItemClass::Recommended, LiftMetric::Clicks), 1.0);
    assert_eq!(for_you.get(ItemClass::Recommended, LiftMetric::AddToCarts), 1.0);
    assert_eq!(counters.sessions(), 1.0);
    p.flush(T0 + 4_000.0).unwrap();
    let raw = store.get(ADAPT_KEY).unwrap().unwrap();
    assert!(raw.contains("\"for-you\""), "counters are saved on flush");

    let config =
        LiftReportConfig { placements: vec!["for-you".into()], ..LiftReportConfig::default() }.check().unwrap();
    let report = p.take_lift_report(&config, 99).unwrap();
    assert_eq!((report.bucket, report.values.len()), (LiftBucket::Personalized, config.dimension()));
    assert_eq!(p.extension.adaptation.adapter.as_ref().unwrap().state().lift.sessions(), 0.0);
    let mut none = open(&MemoryStore::new(), ConsentMode::None);
    assert!(none.take_lift_report(&config, 99).is_none());
}

#[test]
fn an_unreadable_stored_state_is_backed_up_with_a_warning() {
    let store = MemoryStore::new();
    let mut raw_store = store.clone();
    raw_store.set(ADAPT_KEY, "{\"format\":\"shop-personalizer/adapt\",\"version\":1,").unwrap();
    let mut p = personalized(&store, ConsentMode::Full);
    let layout = p.choose_layout(&sections(), &LayoutContext::default(), T0, 8).unwrap();
    assert!(layout.personalized);
    let warnings = p.warnings();
    let warning = warnings.iter().find(|w| w.code == WarningCode::Unreadable).expect("a warning");
    let backup = warning.backup_key.clone().unwrap();
    assert!(store.get(&backup).unwrap().unwrap().starts_with("{\"format\":\"shop-personalizer/adapt\""));
    assert!(store.get(ADAPT_KEY).unwrap().unwrap().contains("\"checksum\""), "a fresh state was written");
}

#[test]
fn a_page_category_steers_the_offer_unless_it_is_sensitive() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Session);
    let offers = vec![OfferSpec::new("jackets", vec![AudienceSpec::browsing("Outdoor")])];
    let browsing = OfferRequest { category: Some(vec!["Outdoor".into(), "Jackets".into()]), ..OfferRequest::default() };
    let picked = p.choose_offer(&offers, &browsing, T0, 1).unwrap();
    assert_eq!(picked.offer_id.as_deref(), Some("jackets"));
    let sensitive = vec![OfferSpec::new("meds", vec![AudienceSpec::browsing("Pharmacy")])];
    let request = OfferRequest { category: Some(vec!["Pharmacy".into()]), ..OfferRequest::default() };
    assert_eq!(p.choose_offer(&sensitive, &request, T0, 1).unwrap().offer_id, None);
}

#[test]
fn an_item_found_sensitive_later_leaves_no_trace_in_the_adaptation_state() {
    let store = MemoryStore::new();
    let mut p = personalized(&store, ConsentMode::Full);
    p.choose_variant(&jacket("j1"), &variants(), T0, 2).unwrap();
    let click = TrackEvent::Click { item_id: "j1".into(), placement: Some("home".into()), position: None, item: None };
    p.track(click, T0 + 1_000.0, 40).unwrap();
    p.flush(T0 + 2_000.0).unwrap();
    assert!(store.get(ADAPT_KEY).unwrap().unwrap().contains("\"j1\""));
    let pill = Item {
        id: "j1".into(),
        attributes: ItemAttributes { category_path: vec!["Pharmacy".into()], ..ItemAttributes::default() },
    };
    p.upsert_items(&[pill]).unwrap();
    p.flush(T0 + 3_000.0).unwrap();
    assert!(store.entries().iter().all(|(_, value)| !value.contains("\"j1\"")), "{:?}", store.entries());
}

mod properties {
    use super::*;
    use crate::personalizer::adapting::store::decode_adaptation;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Layout(u8),
        Offer,
        Variant(u8),
        Impression(u8),
        Click(u8, u8),
        Cart(u8),
        Purchase(u8),
        Outcome(u8, bool),
        Flush,
        Consent(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..4).prop_map(Step::Layout),
            Just(Step::Offer),
            (0u8..6).prop_map(Step::Variant),
            (0u8..4).prop_map(Step::Impression),
            (0u8..6, 0u8..4).prop_map(|(i, s)| Step::Click(i, s)),
            (0u8..6).prop_map(Step::Cart),
            (0u8..6).prop_map(Step::Purchase),
            (0u8..3, any::<bool>()).prop_map(|(k, e)| Step::Outcome(k, e)),
            Just(Step::Flush),
            (0u8..3).prop_map(Step::Consent),
        ]
    }

    const PLACEMENTS: [&str; 4] = ["hero", "for-you", "new", "top"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// Whatever the page does, the stored adaptation state always decodes, its counters stay
        /// valid, and it exists only under `full` consent.
        #[test]
        fn any_sequence_keeps_a_readable_bounded_state(steps in proptest::collection::vec(step(), 1..40)) {
            let store = MemoryStore::new();
            let mut p = personalized(&store, ConsentMode::Full);
            for (i, step) in steps.iter().enumerate() {
                let now = T0 + i as f64 * 4_000.0;
                let item = |n: u8| format!("j{n}");
                let _ = match step {
                    Step::Layout(max) => p.choose_layout(&sections(), &LayoutContext { max_sections: Some(u32::from(*max) + 1), ..LayoutContext::default() }, now, i as u64).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Offer => p.choose_offer(&offers(), &OfferRequest::default(), now, 1).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Variant(n) => p.choose_variant(&jacket(&item(*n)), &variants(), now, 1).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Impression(s) => p.track(TrackEvent::Impression { placement: PLACEMENTS[*s as usize].into(), item_ids: vec![item(1), item(2)], positions: None }, now, 3).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Click(n, s) => p.track(TrackEvent::Click { item_id: item(*n), placement: Some(PLACEMENTS[*s as usize].into()), position: None, item: None }, now, 3).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Cart(n) => p.track(TrackEvent::AddToCart { item_id: item(*n), quantity: 1, item: None }, now, 3).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Purchase(n) => p.track(TrackEvent::Purchase { items: vec![crate::collect::event::PurchaseLine { item_id: item(*n), quantity: 1, price: Some(20.0) }], value: 20.0 }, now, 3).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Outcome(kind, engaged) => {
                        let outcome = match kind {
                            0 => DecisionOutcome::Section { section_id: "new".into(), engaged: *engaged },
                            1 => DecisionOutcome::Offer { offer_id: "welcome-10".into(), taken_up: *engaged },
                            _ => DecisionOutcome::Variant { item_id: item(1), variant_id: "hills".into(), engaged: *engaged },
                        };
                        p.record_decision_outcome(&outcome).map(|_| ()).map_err(|e| e.to_string())
                    }
                    Step::Flush => p.flush(now).map(|_| ()).map_err(|e| e.to_string()),
                    Step::Consent(mode) => {
                        p.set_consent([ConsentMode::None, ConsentMode::Session, ConsentMode::Full][*mode as usize], false);
                        Ok(())
                    }
                };
                if let Some(adapter) = &p.extension.adaptation.adapter {
                    prop_assert!(adapter.state().lift.validate().is_ok());
                }
                let stored = store.get(ADAPT_KEY).unwrap();
                if p.consent() != ConsentMode::Full {
                    prop_assert!(stored.is_none(), "kept only under full consent");
                }
                if let Some(raw) = stored {
                    prop_assert!(decode_adaptation(&raw, AdapterConfig::default()).is_ok());
                }
            }
        }
    }
}
