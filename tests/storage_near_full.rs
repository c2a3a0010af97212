//! Issue 14, finding 7 (device part): localStorage nearly full with other data of the site. The
//! profile was cut to a handful of history items with no warning, and the `flush()` report said
//! `compacted: false` when an automatic flush (every 20 changes) had done the cutting. Now a cut
//! to fit warns (`compactedToFit`), the next report says `compacted: true`, and only about as
//! much is cut as the free space needs, least valuable data first.

use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer};
use shop_personalizer::profile::stored::decode;
use shop_personalizer::storage::{KeyValueStore, MemoryStore, WarningCode};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE_KEY: &str = "shop-personalizer:acme:profile";

fn view(n: usize) -> TrackEvent {
    TrackEvent::View {
        item_id: format!("item-{n}"),
        item: Some(ItemAttributes {
            category_path: vec![format!("Dept {}", n % 5), format!("Aisle {}", n % 13)],
            brand: Some(format!("Brand {}", n % 9)),
            price: Some((n % 300) as f64 + 0.5),
            tags: vec![format!("tag{}", n % 11)],
        }),
    }
}

fn open(store: &MemoryStore) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).unwrap();
    p.set_consent(ConsentMode::Full, false);
    p
}

fn stored_history(store: &MemoryStore) -> usize {
    let raw = store.get(PROFILE_KEY).unwrap().expect("a stored profile");
    decode(&raw, 1 << 22).unwrap().profile.history().viewed.len()
}

#[test]
fn a_profile_cut_to_fit_a_nearly_full_store_warns_reports_and_keeps_what_fits() {
    // The profile's size with room to spare.
    let roomy = MemoryStore::new();
    let mut p = open(&roomy);
    for i in 0..150 {
        p.track(view(i), T0 + i as f64 * 10_000.0, 0).unwrap();
    }
    p.flush(T0 + 2e6).unwrap();
    let (full_bytes, full_history) = (roomy.used_bytes(), stored_history(&roomy));
    assert!(full_history >= 100, "the fixture keeps a long history ({full_history})");

    // The same shopper on a site whose other scripts left room for 70% of it.
    let store = MemoryStore::new();
    store.clone().set("other-script:cache", &"x".repeat(50_000)).unwrap();
    store.set_quota(Some(store.used_bytes() + full_bytes * 7 / 10));
    let mut p = open(&store);
    p.take_warnings();
    for i in 0..150 {
        // Every 20 changes track() flushes by itself: those writes cut the profile.
        p.track(view(i), T0 + i as f64 * 10_000.0, 0).unwrap();
    }
    let report = p.flush(T0 + 2e6).unwrap();
    assert!(report.compacted, "the report says the profile was cut: {report:?}");
    let warnings = p.take_warnings();
    let cut: Vec<_> = warnings.iter().filter(|w| w.code == WarningCode::CompactedToFit).collect();
    assert_eq!(cut.len(), 1, "one warning of its own kind: {warnings:?}");
    assert!(cut[0].message.contains("free space"), "it says what to do: {}", cut[0].message);
    // Cut about as far as the room needs: halving on every refusal kept 52 of 100, now 80.
    let kept = stored_history(&store);
    assert!(kept * 10 >= full_history * 7, "kept {kept} of {full_history} history items in 70% of the room");
    assert_eq!(decode(&store.get(PROFILE_KEY).unwrap().unwrap(), 1 << 22).unwrap().profile.event_counts().total(), 150);
}
