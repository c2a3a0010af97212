//! The engine's ranking calls natively, shaped like bench-page/ (what the browser times minus the
//! JS boundary): `register_candidates` and `rank` by handle at 50, 200 and 1000 candidates with
//! 32-d embeddings, 5 neighbours per candidate, titles and attributes; ranked with and without a
//! session of five product pages whose answers are remembered. Prints numbers, asserts nothing.
//! Run: `cargo bench --bench engine_rank` (`-- --profile rank 200` loops on one call, for perf).

use std::hint::black_box;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{AnswerColumns, Environment, NeighbourColumns, Personalizer};
use shop_personalizer::rank::{Diversity, Placement, RankContext};
use shop_personalizer::storage::MemoryStore;

const T0: f64 = 1_700_000_000_000.0;
const DIM: usize = 32;
const NEIGHBOURS: usize = 5;
const CATALOG: usize = 3000;
const CATEGORIES: [&[&str]; 8] = [
    &["Shoes", "Running", "Trail"],
    &["Shoes", "Running", "Road"],
    &["Shoes", "Hiking"],
    &["Apparel", "Jackets"],
    &["Apparel", "Base layers"],
    &["Camping", "Tents"],
    &["Camping", "Stoves"],
    &["Coffee", "Beans"],
];

/// A server answer in columns, as bench-page/storefront-data.js builds it.
struct Answer {
    ids: Vec<String>,
    scores: Vec<f32>,
    titles: Vec<String>,
    popularity: Vec<f32>,
    attributes: Vec<ItemAttributes>,
    embeddings: Vec<f32>,
    offsets: Vec<u32>,
    nb_ids: Vec<String>,
    nb_scores: Vec<f32>,
    about_embedding: Vec<f32>,
    /// The `next` column: the first candidates took most of the about item's direct steps.
    next: Vec<f32>,
}

impl Answer {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut taken = std::collections::HashSet::new();
        let mut answer = Answer {
            ids: Vec::new(),
            scores: Vec::new(),
            titles: Vec::new(),
            popularity: Vec::new(),
            attributes: Vec::new(),
            embeddings: Vec::new(),
            offsets: vec![0],
            nb_ids: Vec::new(),
            nb_scores: Vec::new(),
            about_embedding: (0..DIM).map(|_| rng.random::<f32>() - 0.5).collect(),
            next: Vec::new(),
        };
        for i in 0..n {
            let id = loop {
                let id = rng.random_range(0..CATALOG);
                if taken.insert(id) {
                    break format!("sku-{id}");
                }
            };
            answer.ids.push(id);
            answer.titles.push(format!("Product {i}"));
            let path = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
            answer.attributes.push(ItemAttributes {
                category_path: path.iter().map(|s| s.to_string()).collect(),
                brand: Some(format!("Brand {}", rng.random_range(0..6))),
                price: Some(10.0 + rng.random_range(0..200) as f64),
                tags: vec![],
            });
            answer.scores.push(1.0 - i as f32 / n as f32 + rng.random::<f32>() * 0.01);
            answer.next.push(if i < 10 { 0.05 } else { 0.0 });
            answer.popularity.push(rng.random_range(0..1000) as f32);
            answer.embeddings.extend((0..DIM).map(|_| rng.random::<f32>() - 0.5));
            for k in 0..NEIGHBOURS {
                answer.nb_ids.push(format!("sku-{}", rng.random_range(0..CATALOG)));
                answer.nb_scores.push(1.0 / (k + 1) as f32);
            }
            answer.offsets.push(answer.nb_ids.len() as u32);
        }
        answer
    }

    fn columns<'a>(&'a self, about: Option<&'a str>) -> AnswerColumns<'a> {
        AnswerColumns {
            about,
            about_embedding: about.map(|_| self.about_embedding.as_slice()),
            ids: &self.ids,
            scores: Some(&self.scores),
            titles: Some(&self.titles),
            popularity: Some(&self.popularity),
            attributes: Some(&self.attributes),
            embeddings: Some(&self.embeddings),
            neighbours: Some(NeighbourColumns { offsets: &self.offsets, ids: &self.nb_ids, scores: &self.nb_scores }),
            next: about.map(|_| self.next.as_slice()),
        }
    }
}

fn engine(shop: &str, session_pages: usize) -> Personalizer<MemoryStore> {
    let mut config = PersonalizerConfig { shop: shop.into(), ..PersonalizerConfig::default() };
    config.noise.bot_heuristic = false;
    let mut p = Personalizer::open(MemoryStore::new(), config, Environment::default()).expect("valid config");
    p.set_consent(ConsentMode::Session, false);
    for k in 0..session_pages {
        let item_id = format!("sku-{}", k * 97);
        let answer = Answer::new(50, 100 + k as u64);
        let event = TrackEvent::View { item_id: item_id.clone(), item: Some(answer.attributes[0].clone()) };
        p.track(event, T0 + k as f64 * 10_000.0, 10).expect("valid view");
        p.register_candidates(&answer.columns(Some(&item_id))).expect("valid answer");
    }
    p
}

/// Median and p95 of `samples` timings of `runs` calls each, in µs per call.
fn time(label: &str, samples: usize, runs: usize, mut call: impl FnMut()) {
    let mut per_call: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..runs {
                call();
            }
            start.elapsed().as_secs_f64() * 1e6 / runs as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    let median = per_call[samples / 2];
    let p95 = per_call[samples * 95 / 100];
    println!("{label:<44} {median:>9.1} µs median {p95:>9.1} µs p95");
}

fn main() {
    let context = RankContext {
        placement: Placement::Home,
        limit: 20,
        diversity: Diversity { strength: 0.3, max_per_category: None },
        ..RankContext::default()
    };
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--profile") {
        // `--profile rank|register|pageview 200`: one call in a loop for 10 s, for perf.
        let what = args.get(at + 1).map(String::as_str).unwrap_or("rank");
        let n: usize = args.get(at + 2).and_then(|v| v.parse().ok()).unwrap_or(200);
        let mut p = engine("profile", 5);
        let answer = Answer::new(n, n as u64);
        let handle = p.register_candidates(&answer.columns(None)).expect("valid answer");
        let start = Instant::now();
        while start.elapsed().as_secs() < 10 {
            if what == "pageview" {
                let h = p.register_candidates(&answer.columns(Some("sku-0"))).expect("valid");
                black_box(p.rank(h, &context, T0 + 1e6).expect("ranks"));
                p.release_candidates(h);
            } else if what == "register" {
                let h = p.register_candidates(&answer.columns(None)).expect("valid");
                p.release_candidates(h);
            } else {
                black_box(p.rank(handle, &context, T0 + 1e6).expect("ranks"));
            }
        }
        return;
    }
    for n in [50usize, 200, 1000] {
        let answer = Answer::new(n, n as u64);
        let mut with_session = engine("bench", 5);
        let mut without = engine("bench-anonymous", 0);
        let handle = with_session.register_candidates(&answer.columns(None)).expect("valid answer");
        let anonymous = without.register_candidates(&answer.columns(None)).expect("valid answer");
        let now = T0 + 1e6;
        let runs = if n >= 1000 { 2 } else { 10 };
        time(&format!("register_candidates, {n}"), 200, runs, || {
            let h = with_session.register_candidates(&answer.columns(None)).expect("valid");
            with_session.release_candidates(h);
        });
        time(&format!("rank, session of 5 answers, {n}"), 200, runs, || {
            black_box(with_session.rank(handle, &context, now).expect("ranks"));
        });
        // A page view: the answer about the page's item arrives, is registered and ranked once,
        // so earlier answers are pooled afresh (the memory changed).
        let about = Answer::new(n, n as u64 + 1);
        time(&format!("page view: register + first rank, {n}"), 200, runs, || {
            let h = with_session.register_candidates(&about.columns(Some("sku-0"))).expect("valid");
            black_box(with_session.rank(h, &context, now).expect("ranks"));
            with_session.release_candidates(h);
        });
        time(&format!("rank, no session, {n}"), 200, runs, || {
            black_box(without.rank(anonymous, &context, now).expect("ranks"));
        });
    }
}
