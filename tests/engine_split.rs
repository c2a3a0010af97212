//! The engine split as the browser package splits it: the core with a [`Remote`] extension and
//! the on-demand parts ([`Detached`] over [`OnDevice`]) in memory of their own, reached only
//! through values. Whether the parts are attached from the start or late in the page, the split
//! engine ranks, decides and stores exactly what the one engine does; before they are attached
//! it still keeps the lift holdout, and it forgets what the parts would have forgotten.

use ed25519_dalek::SigningKey;
use shop_personalizer::adapt::{AdapterConfig, SectionSpec};
use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::measure::holdout::{HoldoutDraw, LiftBucket, DEFAULT_HOLDOUT_SHARE};
use shop_personalizer::personalizer::{
    AnswerColumns, Detached, Environment, LayoutContext, OnDevice, Personalizer, Remote, SyncEngine, SyncSetup,
    TrackOutcome,
};
use shop_personalizer::privacy::PrivacyConfig;
use shop_personalizer::rank::{Placement, RankContext, DEFAULT_WEIGHTS};
use shop_personalizer::storage::MemoryStore;
use shop_personalizer::sync::SharedModel;

const T0: f64 = 1_700_000_000_000.0;

type Split = Personalizer<MemoryStore, Remote<MemoryStore, Detached<MemoryStore>>>;

fn config() -> PersonalizerConfig {
    PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() }
}

fn one_engine(store: &MemoryStore) -> Personalizer<MemoryStore> {
    Personalizer::open(store.clone(), config(), Environment::default()).unwrap()
}

fn split_engine(store: &MemoryStore) -> Split {
    Personalizer::open_with(store.clone(), config(), Environment::default(), Remote::new(store.clone(), "acme"))
        .unwrap()
}

/// The on-demand parts as the on-demand module makes them: their own context over the store.
fn parts(store: &MemoryStore) -> Detached<MemoryStore> {
    let config = config().validate().unwrap();
    Detached(OnDevice::new(store.clone(), config, Environment::default()))
}

fn view(id: &str) -> TrackEvent {
    let item = ItemAttributes {
        category_path: vec!["Shoes".into(), "Trail".into()],
        brand: Some("Summit".into()),
        price: Some(120.0),
        tags: vec![],
    };
    TrackEvent::View { item_id: id.into(), item: Some(item) }
}

fn sections() -> Vec<SectionSpec> {
    serde_json::from_str(
        r#"[{"id":"hero","kind":"deals","required":true},{"id":"for-you","kind":"recommendedForYou"},
            {"id":"new","kind":"newArrivals"}]"#,
    )
    .unwrap()
}

fn ids() -> Vec<String> {
    (0..10).map(|i| format!("sku-{i}")).collect()
}

/// One page: views, a ranking at "home", a click on the first ranked item, impressions.
fn browse<X: shop_personalizer::personalizer::Extension>(p: &mut Personalizer<MemoryStore, X>, at: f64) -> Vec<String> {
    for (n, id) in ["sku-9", "sku-8", "sku-7"].into_iter().enumerate() {
        assert!(matches!(p.track(view(id), at + n as f64 * 20_000.0, 10), Ok(TrackOutcome::Recorded { .. })));
    }
    let ids = ids();
    let handle = p.register_candidates(&AnswerColumns { ids: &ids, ..AnswerColumns::default() }).unwrap();
    let context = RankContext { placement: Placement::Home, limit: 5, ..RankContext::default() };
    let ranked = p.rank(handle, &context, at + 70_000.0).unwrap();
    let shown: Vec<String> = ranked.items.iter().map(|item| item.id.clone()).collect();
    let impression = TrackEvent::Impression { placement: "home".into(), item_ids: shown.clone(), positions: None };
    p.track(impression, at + 71_000.0, 10).unwrap();
    let click =
        TrackEvent::Click { item_id: shown[0].clone(), placement: Some("home".into()), position: None, item: None };
    assert!(matches!(p.track(click, at + 75_000.0, 10), Ok(TrackOutcome::Recorded { .. })));
    shown
}

fn adapt_config() -> AdapterConfig {
    AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }
}

#[test]
fn parts_attached_from_the_start_store_and_decide_what_the_one_engine_does() {
    let (one_store, split_store) = (MemoryStore::new(), MemoryStore::new());
    let mut one = one_engine(&one_store);
    let mut split = split_engine(&split_store);
    split.attach_parts(parts(&split_store));
    one.set_consent(ConsentMode::Full, true);
    split.set_consent(ConsentMode::Full, true);
    one.configure_adaptation(adapt_config(), 7).unwrap();
    split.parts().unwrap().0.configure_adaptation(adapt_config(), 7).unwrap();

    assert_eq!(browse(&mut one, T0), browse(&mut split, T0));
    let at = T0 + 90_000.0;
    let layout = one.choose_layout(&sections(), &LayoutContext::default(), at, 3).unwrap();
    let shopper = split.shopper_for_decisions(at).unwrap();
    let split_layout = split.parts().unwrap().0.choose_layout(shopper, &sections(), &LayoutContext::default(), 3);
    assert_eq!(split_layout.unwrap(), layout);
    one.flush(at).unwrap();
    split.flush(at).unwrap();
    assert_eq!(split_store.entries(), one_store.entries(), "every stored key and value");
    assert_eq!(split.parts().unwrap().0.labelled_since_sync(), one.labelled_since_sync());
}

#[test]
fn parts_attached_late_hear_the_consent_and_every_event_in_order() {
    let (one_store, split_store) = (MemoryStore::new(), MemoryStore::new());
    let mut one = one_engine(&one_store);
    let mut split = split_engine(&split_store);
    // Adaptation state stored by an earlier page of each.
    for (store, entropy) in [(&one_store, 11), (&split_store, 11)] {
        let mut earlier = one_engine(store);
        earlier.set_consent(ConsentMode::Full, true);
        earlier.configure_adaptation(adapt_config(), entropy).unwrap();
        browse(&mut earlier, T0);
        earlier.flush(T0 + 80_000.0).unwrap();
    }
    let later = T0 + 3_600_000.0;
    one.set_consent(ConsentMode::Full, true);
    split.set_consent(ConsentMode::Full, true);
    assert_eq!(browse(&mut one, later), browse(&mut split, later), "before the parts load");
    split.attach_parts(parts(&split_store));
    let at = later + 90_000.0;
    one.flush(at).unwrap();
    split.flush(at).unwrap();
    assert_eq!(split_store.entries(), one_store.entries(), "the lift counts and outcomes of the queued events");
    assert_eq!(split.parts().unwrap().0.labelled_since_sync(), one.labelled_since_sync());
}

/// An entropy whose holdout draw puts the device in the holdout at the default share.
fn held_out_seed() -> u64 {
    (0..).find(|&s| HoldoutDraw::from_seed(s).bucket(DEFAULT_HOLDOUT_SHARE) == LiftBucket::Holdout).unwrap()
}

#[test]
fn before_the_parts_load_a_held_out_device_keeps_the_servers_order() {
    let store = MemoryStore::new();
    let mut earlier = one_engine(&store);
    earlier.set_consent(ConsentMode::Full, true);
    earlier.configure_adaptation(AdapterConfig::default(), held_out_seed()).unwrap();
    browse(&mut earlier, T0);
    earlier.flush(T0 + 80_000.0).unwrap();

    let later = T0 + 3_600_000.0;
    let (one_store, split_store) = (copy(&store), copy(&store));
    let mut one = one_engine(&one_store);
    let mut split = split_engine(&split_store);
    one.set_consent(ConsentMode::Full, true);
    split.set_consent(ConsentMode::Full, true);
    let ranked = browse(&mut split, later);
    assert_eq!(ranked, browse(&mut one, later));
    assert_eq!(ranked, ids()[..5], "the holdout keeps the server's order");
    let mut personalized = one_engine(&MemoryStore::new());
    personalized.set_consent(ConsentMode::Full, true);
    assert_ne!(browse(&mut personalized, later), ids()[..5], "outside the holdout the page is personalized");
    assert!(one.lift_bucket() == Some(LiftBucket::Holdout));
}

#[test]
fn queued_events_go_with_a_consent_withdrawal_and_with_forget() {
    let (one_store, split_store) = (MemoryStore::new(), MemoryStore::new());
    let mut one = one_engine(&one_store);
    let mut split = split_engine(&split_store);
    for p in [&mut one as &mut dyn FnMutTrack, &mut split] {
        p.page(ConsentMode::Full);
    }
    one.set_consent(ConsentMode::None, false);
    split.set_consent(ConsentMode::None, false);
    one.set_consent(ConsentMode::Full, true);
    split.set_consent(ConsentMode::Full, true);
    one.configure_adaptation(adapt_config(), 5).unwrap();
    split.attach_parts(parts(&split_store));
    split.parts().unwrap().0.configure_adaptation(adapt_config(), 5).unwrap();
    one.flush(T0 + 200_000.0).unwrap();
    split.flush(T0 + 200_000.0).unwrap();
    assert_eq!(split_store.entries(), one_store.entries());
    assert_eq!(split.parts().unwrap().0.labelled_since_sync(), 0, "what was learned went with the withdrawal");
}

/// Drives either engine through one page (object-safe, for the loops above).
trait FnMutTrack {
    fn page(&mut self, consent: ConsentMode);
}

impl<X: shop_personalizer::personalizer::Extension> FnMutTrack for Personalizer<MemoryStore, X> {
    fn page(&mut self, consent: ConsentMode) {
        self.set_consent(consent, true);
        browse(self, T0);
    }
}

#[test]
fn a_shared_model_installed_by_the_parts_reaches_the_cores_ranker() {
    let key = SigningKey::from_bytes(&[42; 32]);
    let model_public_key: String = key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let setup = SyncSetup {
        aggregator_url: "http://127.0.0.1:8787".into(),
        model_public_key,
        max_jitter_ms: 1_000,
        privacy: PrivacyConfig::default(),
        auto_sync: false,
        check_interval_ms: 60_000,
        model_refresh_ms: 600_000,
        secure_aggregation: None,
        lift_report: Default::default(),
    };
    let weights: Vec<f32> = DEFAULT_WEIGHTS.iter().map(|w| w * 0.5 + 0.01).collect();
    let model = SharedModel { version: 3, weights }.encode_signed(&key);

    let (one_store, split_store) = (MemoryStore::new(), MemoryStore::new());
    let mut one = one_engine(&one_store);
    let mut split = split_engine(&split_store);
    split.attach_parts(parts(&split_store));
    for p in [&mut one as &mut dyn FnMutTrack, &mut split] {
        p.page(ConsentMode::Full);
    }
    one.configure_sync(setup.clone()).unwrap();
    one.install_shared_model(&model).unwrap();
    let weights = split.shared_weights();
    let port = split.parts().unwrap();
    port.0.configure_sync(setup).unwrap();
    let (installed, change) =
        port.with_weights(weights, |parts, ranker| parts.attached(ranker).install_shared_model(&model));
    installed.unwrap();
    assert!(change.is_some(), "the parts moved the shared weights");
    split.apply_weights_change(change);
    assert_eq!(split.shared_weights(), one.shared_weights());

    let weights = split.shared_weights();
    let (plan, change) = split
        .parts()
        .unwrap()
        .with_weights(weights, |parts, ranker| parts.attached(ranker).prepare_sync(T0 + 200_000.0, [9; 32]));
    split.apply_weights_change(change);
    assert_eq!(plan, one.sync_engine().prepare_sync(T0 + 200_000.0, [9; 32]), "the same update, byte for byte");
    one.flush(T0 + 300_000.0).unwrap();
    split.flush(T0 + 300_000.0).unwrap();
    assert_eq!(split_store.entries(), one_store.entries());
}

fn copy(store: &MemoryStore) -> MemoryStore {
    let mut copy = MemoryStore::new();
    for (key, value) in store.entries() {
        shop_personalizer::storage::KeyValueStore::set(&mut copy, &key, &value).unwrap();
    }
    copy
}
