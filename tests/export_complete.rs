//! `exportProfile()` hands over everything stored: after every feature has written its state
//! (profile, a backup, the learned ranking model, adaptation with offer history and lift counts,
//! sync), the keys in the store are exactly the keys the export's sections list, each section
//! explains itself, and no key falls into `unexplained`. A new stored key without an export
//! section fails here.

use std::collections::BTreeSet;

use shop_personalizer::adapt::{AdapterConfig, CopyVariant, OfferSpec, SectionKind, SectionSpec};
use shop_personalizer::catalog::{Item, ItemAttributes};
use shop_personalizer::collect::event::{PurchaseLine, TrackEvent};
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{
    AnswerColumns, DecisionOutcome, Environment, LayoutContext, OfferRequest, Personalizer, SyncSetup,
};
use shop_personalizer::privacy::PrivacyConfig;
use shop_personalizer::rank::{Placement, RankContext};
use shop_personalizer::storage::{KeyValueStore, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;

fn shoe() -> ItemAttributes {
    ItemAttributes {
        category_path: vec!["Shoes".into(), "Trail".into()],
        brand: Some("Summit".into()),
        price: Some(120.0),
        tags: vec!["trail".into()],
    }
}

fn sync_setup() -> SyncSetup {
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]).verifying_key().to_bytes();
    SyncSetup {
        aggregator_url: "http://127.0.0.1:8787".into(),
        model_public_key: key.iter().map(|b| format!("{b:02x}")).collect(),
        max_jitter_ms: 1_000,
        privacy: PrivacyConfig::default(),
        auto_sync: false,
        check_interval_ms: 60_000,
        model_refresh_ms: 600_000,
        secure_aggregation: None,
        lift_report: Default::default(),
    }
}

/// Uses every feature that stores something, with consent `full`; returns the export.
fn everything(store: &MemoryStore) -> serde_json::Value {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).expect("opens");
    p.configure_sync(sync_setup()).expect("valid sync setup");
    p.configure_adaptation(AdapterConfig::default(), 7).expect("valid adaptation");
    p.set_consent(ConsentMode::Full, true);
    let mut at = T0;
    let mut next = || {
        at += 30_000.0;
        at
    };
    for id in ["a", "b", "c"] {
        p.track(TrackEvent::View { item_id: id.into(), item: Some(shoe()) }, next(), 10).expect("tracked");
    }
    let ids: Vec<String> = (0..8).map(|i| format!("sku-{i}")).collect();
    let handle = p.register_candidates(&AnswerColumns { ids: &ids, ..AnswerColumns::default() }).expect("answer");
    let ranked =
        p.rank(handle, &RankContext { placement: Placement::Home, limit: 5, ..RankContext::default() }, next());
    let first = ranked.expect("ranked").items[0].id.clone();
    let click = TrackEvent::Click { item_id: first, placement: Some("home".into()), position: None, item: None };
    p.track(click, next(), 10).expect("tracked");
    let sections =
        [SectionSpec::new("for-you", SectionKind::RecommendedForYou), SectionSpec::new("deals", SectionKind::Deals)];
    p.choose_layout(&sections, &LayoutContext::default(), next(), 1).expect("layout");
    let offer = p.choose_offer(&[OfferSpec::new("welcome-10", vec![])], &OfferRequest::default(), next(), 1);
    assert_eq!(offer.expect("offer").offer_id.as_deref(), Some("welcome-10"));
    p.record_decision_outcome(&DecisionOutcome::Offer { offer_id: "welcome-10".into(), taken_up: true }).expect("ok");
    let item = Item { id: "a".into(), attributes: shoe() };
    let variants = [CopyVariant::new("plain", "A shoe", &[]), CopyVariant::new("trail", "For trails", &["trail"])];
    p.choose_variant(&item, &variants, next(), 1).expect("variant");
    let order = TrackEvent::Purchase {
        items: vec![PurchaseLine { item_id: "a".into(), quantity: 1, price: Some(120.0) }],
        value: 120.0,
    };
    p.track(order, next(), 10).expect("tracked");
    p.flush(next()).expect("flushed");
    serde_json::from_str(&p.export_profile(next())).expect("the export is JSON")
}

fn section_keys(export: &serde_json::Value) -> BTreeSet<String> {
    let sections = export["sections"].as_array().expect("sections");
    sections
        .iter()
        .flat_map(|s| s["keys"].as_array().expect("keys").iter().map(|k| k.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn the_export_has_a_section_for_every_key_the_library_stored() {
    let mut store = MemoryStore::new();
    store.set("shop-personalizer:acme:profile", "{ damaged").expect("no quota");
    store.set("theme", "dark").expect("another script's key");
    let export = everything(&store);

    let stored: BTreeSet<String> =
        store.keys().unwrap().into_iter().filter(|k| k.starts_with("shop-personalizer:acme:")).collect();
    let names: BTreeSet<&str> = ["profile", "adapt", "model", "sync", "backup:0"].into_iter().collect();
    let expected: BTreeSet<String> = names.iter().map(|n| format!("shop-personalizer:acme:{n}")).collect();
    assert_eq!(stored, expected, "every feature wrote its state");
    assert_eq!(section_keys(&export), stored, "the export lists exactly the stored keys");

    let sections = export["sections"].as_array().unwrap();
    let named: Vec<&str> = sections.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(named, ["profile", "adaptation", "rankingModel", "sync", "backups"], "no unexplained section");
    for section in sections {
        assert!(section["explanation"].as_str().is_some_and(|e| e.len() > 40), "{section}");
        let keys = section["keys"].as_array().unwrap().len();
        let stored = section.get("stored").and_then(|s| s.as_array()).map_or(0, Vec::len);
        if section["name"] == "profile" {
            // The profile is given above; only the recent changes kept beside it, when there are.
            assert!(stored <= 1, "{section}");
            let recent = section.get("stored").map(|s| s[0].clone()).unwrap_or_default();
            assert!(recent.is_null() || recent[0]["changes"].is_array(), "{recent}");
        } else {
            assert_eq!(stored, keys, "every stored value: {section}");
        }
    }
    let part = |name: &str| sections.iter().find(|s| s["name"] == name).unwrap()["stored"][0]["payload"].clone();
    let adaptation = part("adaptation");
    assert!(adaptation["state"]["offerHistory"].to_string().contains("welcome-10"), "offer history: {adaptation}");
    assert!(adaptation["state"]["lift"].is_object(), "lift counters");
    assert!(part("rankingModel")["personal"].as_array().is_some_and(|w| !w.is_empty()), "personal weights");
    assert!(part("sync")["ledger"].is_object(), "the sync ledger");
    let backup = &sections.iter().find(|s| s["name"] == "backups").unwrap()["stored"][0];
    assert_eq!(backup.as_str(), Some("{ damaged"), "a value that is not JSON is given as text");
    assert!(export["profile"]["history"]["purchased"].to_string().contains("\"a\""));
    assert!(!export.to_string().contains("dark"), "other scripts' keys are not the library's");
}

#[test]
fn a_key_no_section_describes_is_exported_as_unexplained() {
    let mut store = MemoryStore::new();
    store.set("shop-personalizer:acme:future-feature", "{\"x\":1}").expect("no quota");
    let export = everything(&store);
    let sections = export["sections"].as_array().unwrap();
    let last = sections.last().unwrap();
    assert_eq!(last["name"], "unexplained");
    assert_eq!(last["keys"][0], "shop-personalizer:acme:future-feature");
    assert_eq!(last["stored"][0]["x"], 1);
}
