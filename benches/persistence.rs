//! The profile's persistence natively: loading a stored profile of about 50 K characters (what
//! `setConsent("full")` does on a page with history), and `track` with its flushes amortized over
//! 1,000 events. The browser figures are `scripts/bench-browser`'s; these show the Rust share.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::{NoiseConfig, PersonalizerConfig};
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer};
use shop_personalizer::storage::{KeyValueStore, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE_KEY: &str = "shop-personalizer:acme:profile";

/// The noise filter's rate limits raised, so that a burst measures persisting, not filtering.
fn config() -> PersonalizerConfig {
    let noise = NoiseConfig { max_events_per_minute: 1_000_000, burst_max_events: 1_000_000, ..NoiseConfig::default() };
    PersonalizerConfig { shop: "acme".into(), noise, ..PersonalizerConfig::default() }
}

fn view(n: usize) -> TrackEvent {
    TrackEvent::View {
        item_id: format!("sku-{n}"),
        item: Some(ItemAttributes {
            category_path: vec![format!("Dept {}", n % 7), format!("Aisle {}", n % 31)],
            brand: Some(format!("Brand {}", n % 23)),
            price: Some((n % 300) as f64 + 0.99),
            tags: vec![format!("tag{}", n % 17)],
        }),
    }
}

fn open_full(store: &MemoryStore) -> Personalizer<MemoryStore> {
    let mut p = Personalizer::open(store.clone(), config(), Environment::default()).expect("valid config");
    p.set_consent(ConsentMode::Full, false);
    p
}

/// A store holding a profile grown by `events` views over many visits.
fn grown_store(events: usize) -> MemoryStore {
    let store = MemoryStore::new();
    let mut p = open_full(&store);
    for n in 0..events {
        p.track(view(n), T0 + n as f64 * 90_000.0, 0).expect("tracks");
    }
    p.flush(T0 + events as f64 * 90_000.0).expect("flushes");
    store
}

fn bench_persistence(c: &mut Criterion) {
    let store = grown_store(400);
    let stored = store.get(PROFILE_KEY).expect("readable").expect("stored").len();
    let mut group = c.benchmark_group("persistence");
    group.bench_function(format!("load_{stored}_chars"), |b| b.iter(|| black_box(open_full(black_box(&store)))));
    // A shopper's pace (one event a second: a write every FLUSH_AFTER_CHANGES events) and a
    // burst (impressions while scrolling, 5 ms apart: writes held back by MIN_AUTOSAVE_INTERVAL_MS).
    for (name, spacing_ms) in [("track_1000_persisted", 1_000.0), ("track_1000_persisted_burst", 5.0)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || open_full(&grown_store(0)),
                |mut p| {
                    for n in 0..1000 {
                        p.track(view(n), T0 + 1e9 + n as f64 * spacing_ms, 0).expect("tracks");
                    }
                    p.flush(T0 + 2e9).expect("flushes")
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_persistence);
criterion_main!(benches);
