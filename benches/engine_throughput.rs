//! Native timings of the engine's hot paths; prints numbers, asserts nothing.
//! Run: `cargo bench --bench engine_throughput`.

use std::hint::black_box;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shop_personalizer::catalog::{Item, ItemAttributes};
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer};
use shop_personalizer::profile::stored::decode;
use shop_personalizer::storage::{KeyValueStore, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;

fn item(n: usize) -> Item {
    Item {
        id: format!("sku-{n}"),
        attributes: ItemAttributes {
            category_path: vec![format!("Dept {}", n % 6), format!("Aisle {}", (n / 6) % 5)],
            brand: Some(format!("Brand {}", n % 25)),
            price: Some(5.0 + ((n * 37) % 800) as f64),
            tags: vec![format!("style{}", n % 15)],
        },
    }
}

fn engine(store: &MemoryStore, consent: ConsentMode) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "bench".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).expect("valid config");
    p.set_consent(consent, false);
    let items: Vec<Item> = (0..600).map(item).collect();
    for chunk in items.chunks(300) {
        p.upsert_items(chunk).expect("valid items");
    }
    p
}

fn events(count: usize, seed: u64) -> Vec<(TrackEvent, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut now = T0;
    (0..count)
        .map(|_| {
            now += rng.random_range(4_000.0..30_000.0);
            let id = format!("sku-{}", rng.random_range(0..600));
            let event = match rng.random_range(0..4u32) {
                0 => TrackEvent::AddToCart { item_id: id, quantity: 1, item: None },
                1 => TrackEvent::Dwell { item_id: id, ms: 9_000.0 },
                _ => TrackEvent::View { item_id: id, item: None },
            };
            (event, now)
        })
        .collect()
}

fn time<T>(label: &str, runs: usize, mut f: impl FnMut() -> T) {
    let start = Instant::now();
    for _ in 0..runs {
        black_box(f());
    }
    let per = start.elapsed().as_secs_f64() / runs as f64;
    println!("{label:<52} {:>10.2} µs", per * 1e6);
}

fn main() {
    let stream = events(1_000, 7);
    for (consent, label) in
        [(ConsentMode::Session, "session (memory only)"), (ConsentMode::Full, "full (flush every 20)")]
    {
        let start = Instant::now();
        let mut p = engine(&MemoryStore::new(), consent);
        for (event, now) in &stream {
            black_box(p.track(event.clone(), *now, 10).expect("valid event"));
        }
        let per = start.elapsed().as_secs_f64() / stream.len() as f64;
        println!("{:<52} {:>10.2} µs", format!("track, {label}, mean of 1000"), per * 1e6);
    }

    let store = MemoryStore::new();
    let mut p = engine(&store, ConsentMode::Full);
    for (event, now) in &stream {
        p.track(event.clone(), *now, 10).expect("valid event");
    }
    p.flush(T0 + 1e8).expect("flush");
    let raw = store.get("shop-personalizer:bench:profile").expect("store").expect("stored");
    println!("stored profile after 1000 events: {} bytes", raw.len());
    time("decode the stored profile", 200, || decode(&raw, 1 << 20).map(|d| d.profile.event_counts().total()));
    let profile = decode(&raw, 1 << 20).expect("decodes").profile;
    time("compact it to 16 KiB", 50, || {
        let mut copy = profile.clone();
        copy.compact_to(16_384, (T0 + 1e8) as u64, 14.0 * 86_400_000.0)
    });
    time("summary", 500, || p.profile_summary(T0 + 1e8).top_interests.len());
    let mut step = 0.0;
    time("track a fresh event + flush (the pagehide path)", 200, || {
        step += 1.0;
        let event = TrackEvent::AddToCart { item_id: format!("sku-{}", step as usize % 600), quantity: 1, item: None };
        let now = T0 + 1e8 + step * 10_000.0;
        let _ = p.track(event, now, 10);
        p.flush(now).map(|r| r.stored_bytes)
    });
}
