//! `rank` speed natively: 50, 200 and 1000 candidates with 32-d embeddings, a session of six
//! items with remembered answers, diversity on. Target: ≤ 50 µs at 200.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::*;

const CATEGORIES: [&str; 6] = ["Running", "Hiking", "Tennis", "Yoga", "Swim", "Bike"];

fn unit(a: usize, b: usize) -> f32 {
    let x = (a.wrapping_mul(2_654_435_761) ^ b.wrapping_mul(40_503)) % 10_007;
    x as f32 / 10_007.0 - 0.5
}

fn answer(prefix: &str, n: usize, dim: usize) -> Vec<CandidateInput> {
    (0..n)
        .map(|i| CandidateInput {
            id: format!("{prefix}{i}"),
            score: 1.0 - i as f32 / n as f32,
            popularity: Some((i % 97) as f32 * 3.0),
            attributes: ItemAttributes {
                category_path: vec!["Sport".into(), CATEGORIES[i % 6].into()],
                ..Default::default()
            },
            embedding: Some((0..dim).map(|d| unit(i, d)).collect()),
            ..Default::default()
        })
        .collect()
}

fn bench_rank(c: &mut Criterion) {
    let mut group = c.benchmark_group("rank");
    for n in [50usize, 200, 1000] {
        let mut ranker = Ranker::new(RankParams::default().check().expect("default params are valid"));
        let set = ranker.register(&answer("c", n, 32)).expect("generated answer is valid");
        let mut shopper = InMemoryShopper::new(0.9);
        for (t, s) in [3usize, 11, 27, 3, 40, 8].iter().enumerate() {
            let id = format!("c{s}");
            let earlier = ranker.register(&answer("c", 100.min(n), 32)).expect("valid");
            ranker.remember_answer(&id, None, Arc::new(earlier));
            shopper.record(&id, EventKind::View, t as f64, &[]);
        }
        let diverse = RankContext {
            limit: 20,
            diversity: Diversity { strength: 0.3, max_per_category: Some(6) },
            ..RankContext::default()
        };
        let plain = RankContext { limit: 20, ..RankContext::default() };
        let mut out = Ranking::default();
        for (name, context) in [("diversity_on_32d", &diverse), ("diversity_off_32d", &plain)] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    ranker.rank_into(black_box(&set), context, &shopper, &mut out).expect("ranks");
                    black_box(out.items.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_rank);
criterion_main!(benches);
