//! Two tabs whose views of storage lag behind each other, as localStorage does between browser
//! processes: a tab can write on top of a value another tab has already replaced. No event may be
//! lost and none counted twice.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer, TrackOutcome};
use shop_personalizer::profile::stored::decode;
use shop_personalizer::storage::{KeyValueStore, LaggingView, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE_KEY: &str = "shop-personalizer:acme:profile";

fn open<S: KeyValueStore + Clone>(store: S) -> Personalizer<S> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store, config, Environment::default()).unwrap();
    p.set_consent(ConsentMode::Full, false);
    p
}

fn view(id: &str) -> TrackEvent {
    TrackEvent::View {
        item_id: id.into(),
        item: Some(ItemAttributes { brand: Some("Acme".into()), ..ItemAttributes::default() }),
    }
}

fn stored_total(store: &MemoryStore) -> u64 {
    let raw = store.get(PROFILE_KEY).unwrap().expect("a stored profile");
    decode(&raw, 1 << 22).unwrap().profile.event_counts().total()
}

/// A store that already holds one event from an earlier visit, as it does in every race but the
/// very first write of a shopper's life.
fn seeded_store() -> MemoryStore {
    let store = MemoryStore::new();
    let mut earlier = open(store.clone());
    earlier.track(view("earlier"), T0 - 1e7, 0).unwrap();
    earlier.flush(T0 - 1e7).unwrap();
    store
}

#[test]
fn a_write_built_beside_ours_does_not_drop_our_events() {
    let store = seeded_store();
    let (view_a, view_b) = (LaggingView::new(&store), LaggingView::new(&store));
    let (mut tab_a, mut tab_b) = (open(view_a.clone()), open(view_b.clone()));
    for i in 0..3 {
        tab_a.track(view(&format!("a{i}")), T0 + f64::from(i) * 5_000.0, 0).unwrap();
    }
    for i in 0..2 {
        tab_b.track(view(&format!("b{i}")), T0 + f64::from(i) * 5_000.0, 0).unwrap();
    }
    tab_a.flush(T0 + 20_000.0).unwrap();
    // Tab B has not seen A's write yet and writes on top of the same older value.
    tab_b.flush(T0 + 20_000.0).unwrap();
    assert_eq!(stored_total(&store), 3, "B's write replaced A's");

    view_a.catch_up();
    tab_a.on_storage_changed(Some(PROFILE_KEY));
    assert!(tab_a.has_unsaved_changes(), "A notices its write was dropped");
    assert_eq!(tab_a.profile().event_counts().total(), 6);
    tab_a.flush(T0 + 30_000.0).unwrap();
    assert_eq!(stored_total(&store), 6);

    view_b.catch_up();
    tab_b.on_storage_changed(Some(PROFILE_KEY));
    assert!(!tab_b.has_unsaved_changes(), "B sees its write inside A's and re-applies nothing");
    assert_eq!(tab_b.profile().event_counts().total(), 6);
    assert!(!tab_b.flush(T0 + 40_000.0).unwrap().written);
    assert_eq!(stored_total(&store), 6);
}

/// Two lagging tabs track, flush, catch up and hear storage events in a seeded random order; at
/// the end both catch up and flush until quiet. Returns (events recorded, events stored).
fn lagging_tabs(seed: u64, steps: usize) -> (u64, u64) {
    let store = seeded_store();
    let views = [LaggingView::new(&store), LaggingView::new(&store)];
    let mut tabs = [open(views[0].clone()), open(views[1].clone())];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut recorded = 1u64;
    for step in 0..steps {
        let tab = rng.random_range(0..2usize);
        let now = T0 + step as f64 * 3_000.0;
        match rng.random_range(0..10u32) {
            0..=5 => {
                if let Ok(TrackOutcome::Recorded { .. }) = tabs[tab].track(view(&format!("t{tab}-{step}")), now, 0) {
                    recorded += 1;
                }
            }
            6 | 7 => {
                tabs[tab].flush(now).unwrap();
            }
            8 => views[tab].catch_up(),
            _ => {
                views[tab].catch_up();
                tabs[tab].on_storage_changed(Some(PROFILE_KEY));
            }
        }
    }
    let end = T0 + steps as f64 * 3_000.0;
    for _ in 0..3 {
        for tab in 0..2 {
            views[tab].catch_up();
            tabs[tab].on_storage_changed(Some(PROFILE_KEY));
            tabs[tab].flush(end).unwrap();
        }
    }
    (recorded, stored_total(&store))
}

#[test]
fn lagging_tabs_lose_no_events_across_seeds() {
    for seed in 0..30 {
        let (recorded, stored) = lagging_tabs(seed, 120);
        assert_eq!(stored, recorded, "seed {seed}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lagging_tabs_neither_lose_nor_double_count(seed in any::<u64>(), steps in 1usize..150) {
        let (recorded, stored) = lagging_tabs(seed, steps);
        prop_assert_eq!(stored, recorded);
    }
}
