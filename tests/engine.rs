//! The engine through its public API: consent, tracking outcomes, batching, shopper controls.

use shop_personalizer::catalog::{AttributeKey, Item, ItemAttributes};
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::collect::noise::FilterReason;
use shop_personalizer::config::{NoiseConfig, PersonalizerConfig};
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{
    Environment, Personalizer, PersonalizerError, TrackOutcome, AUTOSAVE_ANYWAY_AFTER_CHANGES, FLUSH_AFTER_CHANGES,
    MIN_AUTOSAVE_INTERVAL_MS,
};
use shop_personalizer::profile::stored::decode;
use shop_personalizer::profile::{DeviceClass, Segment};
use shop_personalizer::storage::{KeyValueStore, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE_KEY: &str = "shop-personalizer:acme:profile";

fn config() -> PersonalizerConfig {
    PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() }
}

fn shoe(id: &str) -> TrackEvent {
    TrackEvent::View {
        item_id: id.into(),
        item: Some(ItemAttributes {
            category_path: vec!["Shoes".into(), "Running".into()],
            brand: Some("Acme".into()),
            price: Some(89.0),
            tags: vec!["trail".into()],
        }),
    }
}

fn open(store: &MemoryStore) -> Personalizer<MemoryStore> {
    Personalizer::open(store.clone(), config(), Environment::default()).unwrap()
}

#[test]
fn without_consent_nothing_is_collected_or_stored() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    assert_eq!(p.consent(), ConsentMode::None);
    assert_eq!(p.track(shoe("a"), T0, 0), Ok(TrackOutcome::NoConsent));
    assert!(!p.flush(T0).unwrap().written);
    assert!(p.profile().is_empty());
    assert!(store.entries().is_empty());
}

#[test]
fn session_consent_learns_in_memory_only() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Session, false);
    assert_eq!(p.track(shoe("a"), T0, 0), Ok(TrackOutcome::Recorded { new_session: true }));
    assert!(!p.flush(T0).unwrap().written);
    assert_eq!(p.profile_summary(T0).top_interests.len(), 5);
    assert!(store.entries().is_empty());
}

#[test]
fn full_consent_persists_on_flush_and_reloads() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, false);
    p.track(shoe("a"), T0, 3).unwrap();
    assert!(store.entries().is_empty(), "writes are batched, not one per event");
    assert!(p.has_unsaved_changes());
    let report = p.flush(T0).unwrap();
    assert!(report.written && report.stored_bytes > 0);
    assert!(!p.has_unsaved_changes());
    assert!(!p.flush(T0).unwrap().written, "nothing new to write");

    let mut reloaded = open(&store);
    assert!(reloaded.profile().is_empty(), "nothing is read before consent");
    reloaded.set_consent(ConsentMode::Full, false);
    assert_eq!(reloaded.profile().viewed().entries()[0].item_id, "a");
    assert_eq!(reloaded.profile().hour_of_week().buckets()[3], 1);
    // The reload counts as a refresh of "a", and a new item as part of the same session.
    assert_eq!(
        reloaded.track(shoe("a"), T0 + 3_000.0, 3),
        Ok(TrackOutcome::Filtered { reason: FilterReason::DuplicateView })
    );
    assert_eq!(reloaded.track(shoe("b"), T0 + 4_000.0, 3), Ok(TrackOutcome::Recorded { new_session: false }));
    assert_eq!(reloaded.profile().visits().visits, 2);
    assert_eq!(reloaded.profile().visits().sessions, 1);
}

#[test]
fn tracking_flushes_by_itself_every_few_changes() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, false);
    for i in 0..FLUSH_AFTER_CHANGES - 1 {
        p.track(shoe(&format!("i{i}")), T0 + i as f64 * 5_000.0, 0).unwrap();
    }
    assert!(store.get(PROFILE_KEY).unwrap().is_none());
    p.track(shoe("last"), T0 + 200_000.0, 0).unwrap();
    let stored = decode(&store.get(PROFILE_KEY).unwrap().unwrap(), 1 << 20).unwrap().profile;
    assert_eq!(stored.event_counts().view, FLUSH_AFTER_CHANGES as u64);
}

fn stored_views(store: &MemoryStore) -> u64 {
    store.get(PROFILE_KEY).unwrap().map_or(0, |raw| decode(&raw, 1 << 20).unwrap().profile.event_counts().view)
}

#[test]
fn a_burst_of_events_rewrites_the_profile_once_every_interval() {
    let noise = NoiseConfig { max_events_per_minute: 1_000_000, burst_max_events: 1_000_000, ..NoiseConfig::default() };
    let store = MemoryStore::new();
    let mut p =
        Personalizer::open(store.clone(), PersonalizerConfig { noise, ..config() }, Environment::default()).unwrap();
    p.set_consent(ConsentMode::Full, false);
    let mut now = T0;
    let mut tracked = 0;
    let mut track = |p: &mut Personalizer<MemoryStore>, now: f64| {
        tracked += 1;
        assert!(matches!(p.track(shoe(&format!("i{tracked}")), now, 0), Ok(TrackOutcome::Recorded { .. })));
        tracked
    };
    // The first autosave of a page is not held back.
    for _ in 0..FLUSH_AFTER_CHANGES {
        now += 10.0;
        track(&mut p, now);
    }
    let first_write = now;
    assert_eq!(stored_views(&store), FLUSH_AFTER_CHANGES as u64);
    // Within the interval, more changes wait in memory...
    for _ in 0..3 * FLUSH_AFTER_CHANGES {
        now += 10.0;
        track(&mut p, now);
    }
    assert_eq!(stored_views(&store), FLUSH_AFTER_CHANGES as u64);
    // ...until the interval has passed,
    now = first_write + MIN_AUTOSAVE_INTERVAL_MS as f64;
    let all = track(&mut p, now);
    assert_eq!(stored_views(&store), all as u64);
    // or until so many wait that merging them with another tab's write would get costly.
    for _ in 0..AUTOSAVE_ANYWAY_AFTER_CHANGES {
        now += 1.0;
        track(&mut p, now);
    }
    assert_eq!(stored_views(&store), (all + AUTOSAVE_ANYWAY_AFTER_CHANGES) as u64);
    // A page hide writes whatever waits.
    now += 1.0;
    let last = track(&mut p, now);
    p.flush(now).unwrap();
    assert_eq!(stored_views(&store), last as u64);
}

#[test]
fn global_privacy_control_caps_consent_unless_the_shopper_opted_in() {
    let env = Environment { global_privacy_control: true, ..Environment::default() };
    let store = MemoryStore::new();
    let mut p = Personalizer::open(store.clone(), config(), env).unwrap();
    let decision = p.set_consent(ConsentMode::Full, false);
    assert_eq!(decision.effective, ConsentMode::Session);
    assert!(decision.capped_by_global_privacy_control);
    p.track(shoe("a"), T0, 0).unwrap();
    p.flush(T0).unwrap();
    assert!(store.entries().is_empty());
    assert_eq!(p.set_consent(ConsentMode::Full, true).effective, ConsentMode::Full);
    assert!(p.flush(T0).unwrap().written, "session data is kept when consent rises");
    assert!(store.get(PROFILE_KEY).unwrap().is_some());
}

#[test]
fn lowering_consent_deletes_what_the_new_mode_may_not_keep() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, false);
    p.track(shoe("a"), T0, 0).unwrap();
    p.flush(T0).unwrap();
    p.set_consent(ConsentMode::Session, false);
    assert!(store.entries().is_empty(), "full → session removes stored keys");
    assert!(!p.profile().is_empty(), "but keeps memory");
    p.set_consent(ConsentMode::None, false);
    assert!(p.profile().is_empty(), "→ none wipes memory too");
}

#[test]
fn bots_are_dropped_unless_the_heuristic_is_off() {
    let env = Environment { webdriver: true, device: DeviceClass::Desktop, ..Environment::default() };
    let mut p = Personalizer::open(MemoryStore::new(), config(), env).unwrap();
    p.set_consent(ConsentMode::Session, false);
    assert_eq!(p.track(shoe("a"), T0, 0), Ok(TrackOutcome::Filtered { reason: FilterReason::Bot }));
    let test_config =
        PersonalizerConfig { noise: NoiseConfig { bot_heuristic: false, ..NoiseConfig::default() }, ..config() };
    let mut p = Personalizer::open(MemoryStore::new(), test_config, env).unwrap();
    p.set_consent(ConsentMode::Session, false);
    assert_eq!(p.track(shoe("a"), T0, 0), Ok(TrackOutcome::Recorded { new_session: true }));
    assert_eq!(p.profile().device(), DeviceClass::Desktop);
}

#[test]
fn rejected_input_stores_nothing_and_says_why() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, false);
    let bad_price = TrackEvent::View {
        item_id: "a".into(),
        item: Some(ItemAttributes { price: Some(f64::NAN), ..ItemAttributes::default() }),
    };
    let err = p.track(bad_price, T0, 0).unwrap_err();
    assert!(matches!(err, PersonalizerError::Event(_)));
    assert!(err.to_string().contains("nothing of it was stored"));
    assert!(matches!(p.track(shoe("a"), f64::NAN, 0), Err(PersonalizerError::BadTime(_))));
    assert!(matches!(p.track(shoe("a"), -1.0, 0), Err(PersonalizerError::BadTime(_))));
    assert_eq!(p.track(shoe("a"), T0, 168), Err(PersonalizerError::BadHour(168)));
    let items = vec![
        Item { id: "ok".into(), attributes: ItemAttributes::default() },
        Item { id: "".into(), attributes: ItemAttributes::default() },
    ];
    assert!(matches!(p.upsert_items(&items), Err(PersonalizerError::Item { index: 1, .. })));
    assert!(p.profile().is_empty());
    assert!(!p.flush(T0).unwrap().written);
    assert!(store.entries().is_empty());
    let config = PersonalizerConfig { shop: "has space".into(), ..PersonalizerConfig::default() };
    assert!(matches!(
        Personalizer::open(MemoryStore::new(), config, Environment::default()),
        Err(PersonalizerError::Config(_))
    ));
}

#[test]
fn upserted_items_give_id_only_events_their_attributes() {
    let mut p = open(&MemoryStore::new());
    p.set_consent(ConsentMode::Session, false);
    let item =
        Item { id: "b1".into(), attributes: ItemAttributes { brand: Some("Zed".into()), ..ItemAttributes::default() } };
    assert_eq!(p.upsert_items(&[item]), Ok(1));
    p.track(TrackEvent::AddToCart { item_id: "b1".into(), quantity: 1, item: None }, T0, 0).unwrap();
    let summary = p.profile_summary(T0);
    assert_eq!(summary.top_interests[0].label, "Zed");
    assert!((summary.top_interests[0].weight - 1.0).abs() < 1e-9);
    assert_eq!(p.profile().cart().quantity("b1"), 1);
}

#[test]
fn remove_interest_deletes_it_and_saves_at_once() {
    let store = MemoryStore::new();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, false);
    p.track(shoe("a"), T0, 0).unwrap();
    let brand = AttributeKey::Brand("Acme".into());
    assert!(p.remove_interest(&brand, T0));
    assert!(!p.remove_interest(&brand, T0));
    assert!(p.profile_summary(T0).top_interests.iter().all(|i| i.key != brand));
    let stored = store.get(PROFILE_KEY).unwrap().unwrap();
    assert!(!stored.contains("\"brand\",\"value\":\"Acme\"}"), "the stored profile lost the interest: {stored}");
    assert!(stored.contains("trail"));
}

#[test]
fn forget_removes_every_key_of_the_shop_and_nothing_else() {
    let mut store = MemoryStore::new();
    store.set("shop-personalizer:acme:backup:0", "old").unwrap();
    store.set("shop-personalizer:other:profile", "theirs").unwrap();
    store.set("cart-token", "x").unwrap();
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, false);
    p.track(shoe("a"), T0, 0).unwrap();
    p.flush(T0).unwrap();
    assert_eq!(p.forget(), Ok(2));
    assert!(p.profile().is_empty());
    let keys: Vec<_> = store.entries().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["cart-token", "shop-personalizer:other:profile"]);
    assert!(!p.flush(T0).unwrap().written, "nothing to write after forgetting");
}

#[test]
fn export_is_readable_and_segment_follows_orders() {
    let mut p = open(&MemoryStore::new());
    p.set_consent(ConsentMode::Session, false);
    p.track(shoe("a"), T0, 0).unwrap();
    let order = |id: &str| TrackEvent::Purchase {
        items: vec![shop_personalizer::collect::event::PurchaseLine {
            item_id: id.into(),
            quantity: 1,
            price: Some(89.0),
        }],
        value: 89.0,
    };
    p.track(order("a"), T0 + 60_000.0, 0).unwrap();
    assert_eq!(p.profile_summary(T0).segment, Segment::Returning);
    p.track(order("a"), T0 + 120_000.0, 0).unwrap();
    let summary = p.profile_summary(T0 + 120_000.0);
    assert_eq!(summary.segment, Segment::Loyal);
    assert_eq!(summary.visits.orders, 2);
    let export: serde_json::Value = serde_json::from_str(&p.export_profile(T0)).unwrap();
    assert_eq!(export["profile"]["history"]["purchased"][0]["itemId"], "a");
    assert_eq!(export["profile"]["visits"]["orders"], 2);
}
