//! The engine's core without its on-demand parts ([`CoreOnly`]), as the light browser module runs:
//! it collects, keeps the profile, ranks and forgets exactly as the full engine does, writes no
//! adaptation or sync state, and leaves the state the full engine stored for it untouched.

use shop_personalizer::adapt::AdapterConfig;
use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{AnswerColumns, CoreOnly, Environment, Personalizer, TrackOutcome};
use shop_personalizer::rank::{Placement, RankContext};
use shop_personalizer::storage::{KeyValueStore, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;

fn config() -> PersonalizerConfig {
    PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() }
}

fn view(id: &str) -> TrackEvent {
    TrackEvent::View {
        item_id: id.into(),
        item: Some(ItemAttributes {
            category_path: vec!["Shoes".into(), "Trail".into()],
            brand: Some("Summit".into()),
            price: Some(120.0),
            tags: vec![],
        }),
    }
}

fn keys(store: &MemoryStore) -> Vec<String> {
    store.entries().into_iter().map(|(key, _)| key).collect()
}

/// Drives an engine through the same page: views, a ranking, a click, a flush.
fn browse<X: shop_personalizer::personalizer::Extension>(p: &mut Personalizer<MemoryStore, X>) -> Vec<String> {
    p.set_consent(ConsentMode::Full, true);
    for (n, id) in ["a", "b", "c"].into_iter().enumerate() {
        assert!(matches!(p.track(view(id), T0 + n as f64 * 20_000.0, 10), Ok(TrackOutcome::Recorded { .. })));
    }
    let ids: Vec<String> = (0..10).map(|i| format!("sku-{i}")).collect();
    let handle = p.register_candidates(&AnswerColumns { ids: &ids, ..AnswerColumns::default() }).expect("valid answer");
    let context = RankContext { placement: Placement::Home, limit: 5, ..RankContext::default() };
    let ranked = p.rank(handle, &context, T0 + 70_000.0).expect("ranked");
    let click = TrackEvent::Click {
        item_id: ranked.items[0].id.clone(),
        placement: Some("home".into()),
        position: None,
        item: None,
    };
    assert!(matches!(p.track(click, T0 + 75_000.0, 10), Ok(TrackOutcome::Recorded { .. })));
    p.flush(T0 + 80_000.0).expect("flushed");
    ranked.items.into_iter().map(|item| item.id).collect()
}

#[test]
fn the_core_alone_ranks_and_stores_the_profile_like_the_full_engine() {
    let (core_store, full_store) = (MemoryStore::new(), MemoryStore::new());
    let mut core = Personalizer::open_with(core_store.clone(), config(), Environment::default(), CoreOnly).unwrap();
    let mut full = Personalizer::open(full_store.clone(), config(), Environment::default()).unwrap();
    assert_eq!(browse(&mut core), browse(&mut full), "same ranking without adaptation configured");
    assert_eq!(core.profile(), full.profile());
    assert_eq!(core.rank_learning_steps(), 1);
    assert_eq!(keys(&core_store), keys(&full_store), "profile and model, nothing else");
    assert!(core.profile_summary(T0).privacy_ledger.is_none(), "no syncing part: no ledger");
}

#[test]
fn the_core_alone_keeps_the_adaptation_state_the_full_engine_stored() {
    let store = MemoryStore::new();
    let mut full = Personalizer::open(store.clone(), config(), Environment::default()).unwrap();
    full.configure_adaptation(AdapterConfig::default(), 7).expect("valid");
    browse(&mut full);
    let adapt_key = "shop-personalizer:acme:adapt";
    let stored = store.get(adapt_key).unwrap().expect("the full engine stored its adaptation state");

    let mut core = Personalizer::open_with(store.clone(), config(), Environment::default(), CoreOnly).unwrap();
    browse(&mut core);
    assert_eq!(store.get(adapt_key).unwrap(), Some(stored), "the core never rewrites another part's state");
    assert!(core.forget().expect("forgotten") >= 2);
    assert!(store.entries().is_empty(), "forget() still removes every key of the shop");
}
