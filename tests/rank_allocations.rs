//! Ranking allocates nothing per candidate: after warming up, ranking 1000 candidates costs as
//! many allocations as ranking 50 (none, in fact, with a reused `Ranking`).

mod shop_fixture;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use shop_fixture::candidates;
use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::feedback::IMPRESSIONS_KEPT;
use shop_personalizer::rank::*;

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn ranking_1000_candidates_allocates_as_often_as_ranking_50() {
    let mut ranker = Ranker::new(RankParams { exploration_epsilon: 0.2, ..RankParams::default() }.check().unwrap());
    let small = ranker.register(&candidates("c", 50, 32, 1)).unwrap();
    let large = ranker.register(&candidates("c", 1000, 32, 1)).unwrap();
    let earlier = ranker.register(&candidates("c", 100, 32, 2)).unwrap();
    ranker.remember_answer("c3", None, Arc::new(earlier));
    let mut shopper = InMemoryShopper::new(0.9);
    for i in [3, 17, 3, 40] {
        shopper.record(&format!("c{i}"), EventKind::View, i as f64, &[]);
    }
    let ctx = RankContext {
        limit: 20,
        explore: true,
        diversity: Diversity { strength: 0.3, max_per_category: Some(8) },
        rules: BusinessRules {
            pins: vec![Pin { id: "c5".into(), position: 2 }],
            exclude: vec!["c6".into()],
            ..Default::default()
        },
        ..RankContext::default()
    };
    let mut out = Ranking::default();
    // Warm up every scratch buffer and every slot of the impression ring.
    for _ in 0..IMPRESSIONS_KEPT {
        ranker.rank_into(&large, &ctx, &shopper, &mut out).unwrap();
        ranker.rank_into(&small, &ctx, &shopper, &mut out).unwrap();
    }
    let for_small = allocations_during(|| {
        for _ in 0..20 {
            ranker.rank_into(&small, &ctx, &shopper, &mut out).unwrap();
        }
    });
    let for_large = allocations_during(|| {
        for _ in 0..20 {
            ranker.rank_into(&large, &ctx, &shopper, &mut out).unwrap();
        }
    });
    assert_eq!(out.items.len(), 20);
    assert_eq!(for_small, for_large, "allocations must not grow with the candidate count");
}
