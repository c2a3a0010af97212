//! Invariants of ranking over generated inputs: the output is a permutation of the non-excluded
//! input, pins hold, and the same seed gives the same output.

mod shop_fixture;

use proptest::prelude::*;
use shop_fixture::candidates;
use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::*;

fn shopper_from(views: &[usize], prefix: &str) -> InMemoryShopper {
    let mut shopper = InMemoryShopper::new(0.9);
    for (t, v) in views.iter().enumerate() {
        shopper.record(&format!("{prefix}{v}"), EventKind::View, t as f64, &[]);
    }
    shopper
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ranking_is_a_permutation_that_keeps_pins(
        n in 1usize..60,
        dim in prop::sample::select(vec![0usize, 4]),
        seed in 0u64..1000,
        excluded in prop::collection::vec(0usize..60, 0..5),
        pin_item in 0usize..60,
        pin_position in 0u32..70,
        views in prop::collection::vec(0usize..60, 0..6),
        strength in 0.0f32..1.0,
        explore in any::<bool>(),
    ) {
        let params = RankParams { exploration_epsilon: 0.3, seed: seed as u32, ..RankParams::default() };
        let mut ranker = Ranker::new(params.check().unwrap());
        let set = ranker.register(&candidates("c", n, dim, seed)).unwrap();
        let shopper = shopper_from(&views, "c");
        let exclude: Vec<String> = excluded.iter().map(|i| format!("c{i}")).collect();
        let pin_id = format!("c{pin_item}");
        let rules = BusinessRules { pins: vec![Pin { id: pin_id.clone(), position: pin_position }], exclude: exclude.clone(), ..Default::default() };
        let ctx = RankContext { limit: n, rules, diversity: Diversity { strength, max_per_category: None }, explore, ..RankContext::default() };
        let ranking = ranker.rank(&set, &ctx, &shopper).unwrap();
        let mut got: Vec<String> = ranking.items.iter().map(|i| ranker.ids().name(i.item).unwrap().to_owned()).collect();
        let mut expected: Vec<String> = (0..n).map(|i| format!("c{i}")).filter(|id| !exclude.contains(id)).collect();
        let shown = got.len();
        if pin_item < n && !exclude.contains(&pin_id) {
            let at = got.iter().position(|id| *id == pin_id).unwrap();
            prop_assert_eq!(at, (pin_position as usize).min(shown - 1));
        }
        got.sort();
        expected.sort();
        prop_assert_eq!(got, expected);
        prop_assert!(ranking.propensity > 0.0 && ranking.propensity <= 1.0 + 1e-9);
    }

    #[test]
    fn the_same_seed_gives_the_same_output(n in 1usize..80, seed in 0u32..1000, views in prop::collection::vec(0usize..80, 0..8)) {
        let params = RankParams { exploration_epsilon: 0.5, seed, ..RankParams::default() };
        let ctx = RankContext { limit: 10, explore: true, diversity: Diversity { strength: 0.3, max_per_category: Some(4) }, ..RankContext::default() };
        let shopper = shopper_from(&views, "c");
        let run = || {
            let mut ranker = Ranker::new(params.clone().check().unwrap());
            let set = ranker.register(&candidates("c", n, 4, u64::from(seed))).unwrap();
            (0..3).map(|_| ranker.rank(&set, &ctx, &shopper).unwrap()).collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }

    #[test]
    fn search_never_drops_a_result(n in 1usize..50, seed in 0u64..100, views in prop::collection::vec(0usize..50, 0..6)) {
        let mut ranker = Ranker::new(RankParams::default().check().unwrap());
        let set = ranker.register(&candidates("q", n, 0, seed)).unwrap();
        let ctx = RankContext { placement: Placement::Search, limit: 1, ..RankContext::default() };
        let ranking = ranker.rank(&set, &ctx, &shopper_from(&views, "q")).unwrap();
        prop_assert_eq!(ranking.items.len(), n);
    }
}
