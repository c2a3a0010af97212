//! The server's order is respected: holding every other signal equal, a candidate the server placed
//! higher never ranks lower, whatever the shopper did and whatever weights the model holds; a
//! shopper the device knows nothing about gets the server's order exactly.

mod shop_fixture;

use proptest::prelude::*;
use shop_fixture::{candidates, hash01, CATEGORIES};
use shop_personalizer::catalog::{AttributeKey, ItemAttributes};
use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::*;

fn ids_of(ranker: &Ranker, ranking: &Ranking) -> Vec<String> {
    ranking.items.iter().map(|i| ranker.ids().name(i.item).unwrap_or("?").to_owned()).collect()
}

fn skus(scores: Option<&[f32]>) -> Vec<CandidateInput> {
    (0..10)
        .map(|i| CandidateInput {
            id: format!("sku-{i}"),
            score: scores.map_or(0.0, |s| s[i]),
            popularity: Some(1.0 + 97.0 * hash01(3, i as u64)),
            attributes: ItemAttributes {
                category_path: vec!["Shoes".into(), CATEGORIES[i % 4].into()],
                ..ItemAttributes::default()
            },
            ..CandidateInput::default()
        })
        .collect()
}

fn in_order(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("sku-{i}")).collect()
}

#[test]
fn a_new_shopper_gets_the_servers_order_with_scores_or_positions_only() {
    let scores: Vec<f32> = (0..10).map(|i| 1.0 - 0.1 * i as f32).collect();
    for answer in [skus(Some(&scores)), skus(None)] {
        for placement in [Placement::Home, Placement::Cart, Placement::Search, Placement::Product] {
            let mut r = Ranker::new(RankParams::default().check().unwrap());
            let set = r.register(&answer).unwrap();
            let ctx = RankContext { placement, limit: 10, ..RankContext::default() };
            let ranking = r.rank(&set, &ctx, &InMemoryShopper::new(0.9)).unwrap();
            assert_eq!(ids_of(&r, &ranking), in_order(10), "{placement:?}");
            assert!(ranking
                .items
                .iter()
                .all(|i| i.primary == Some(ReasonCode::ServerPick) && i.reasons.contains(ReasonCode::ServerPick)));
            assert!(ranking.items.windows(2).all(|w| w[0].score >= w[1].score));
            if placement == Placement::Home {
                assert_eq!(r.explain(&set, &ranking.items[0], &ctx, &|_| false).text, "Picked by the shop");
            }
        }
    }
}

#[test]
fn a_new_shopper_still_gets_business_rules_and_diversity() {
    let scores: Vec<f32> = (0..10).map(|i| 1.0 - 0.1 * i as f32).collect();
    let mut r = Ranker::new(RankParams::default().check().unwrap());
    let set = r.register(&skus(Some(&scores))).unwrap();
    let rules = BusinessRules {
        pins: vec![Pin { id: "sku-9".into(), position: 0 }],
        exclude: vec!["sku-1".into()],
        boost: vec![],
        bury: vec!["sku-0".into()],
    };
    let ctx = RankContext { placement: Placement::Home, limit: 10, rules, ..RankContext::default() };
    let ids = ids_of(&r, &r.clone().rank(&set, &ctx, &InMemoryShopper::new(0.9)).unwrap());
    assert_eq!(ids, ["sku-9", "sku-2", "sku-3", "sku-4", "sku-5", "sku-6", "sku-7", "sku-8", "sku-0"]);
    // At most two per category: the server's order within what the cap allows.
    let ctx = RankContext {
        placement: Placement::Home,
        limit: 6,
        diversity: Diversity { strength: 0.0, max_per_category: Some(1) },
        ..RankContext::default()
    };
    let ids = ids_of(&r, &r.clone().rank(&set, &ctx, &InMemoryShopper::new(0.9)).unwrap());
    assert_eq!(ids, ["sku-0", "sku-1", "sku-2", "sku-3", "sku-4", "sku-5"]);
}

#[test]
fn search_with_a_profile_that_matches_nothing_keeps_the_servers_order() {
    let scores: Vec<f32> = (0..10).map(|i| 1.0 - 0.1 * i as f32).collect();
    let mut r = Ranker::new(RankParams::default().check().unwrap());
    let set = r.register(&skus(Some(&scores))).unwrap();
    let mut shopper = InMemoryShopper::new(0.9);
    for t in 0..6 {
        shopper.record(&format!("garden-{t}"), EventKind::View, t as f64, &[AttributeKey::Category("Garden".into())]);
    }
    shopper.record("garden-0", EventKind::Purchase, 7.0, &[AttributeKey::Category("Garden".into())]);
    let ctx =
        RankContext { placement: Placement::Search, query: Some("shoes".into()), limit: 3, ..RankContext::default() };
    assert_eq!(ids_of(&r, &r.clone().rank(&set, &ctx, &shopper).unwrap()), in_order(10));
}

#[test]
fn search_lifts_what_the_profile_likes_and_keeps_the_rest_in_the_servers_order() {
    let scores: Vec<f32> = (0..10).map(|i| 1.0 - 0.1 * i as f32).collect();
    let mut r = Ranker::new(RankParams::default().check().unwrap());
    let set = r.register(&skus(Some(&scores))).unwrap();
    let mut shopper = InMemoryShopper::new(0.9);
    // The shopper keeps coming back to sku-7 (viewed, carted): it may rise; the others may not swap.
    for t in 0..4 {
        shopper.record(
            "sku-7",
            EventKind::View,
            t as f64,
            &[AttributeKey::Category(format!("Shoes > {}", CATEGORIES[3]))],
        );
    }
    let ctx =
        RankContext { placement: Placement::Search, query: Some("shoes".into()), limit: 10, ..RankContext::default() };
    let ids = ids_of(&r, &r.clone().rank(&set, &ctx, &shopper).unwrap());
    assert_eq!(ids.len(), 10);
    let sku7 = ids.iter().position(|id| id == "sku-7").unwrap();
    assert!(sku7 < 7, "{ids:?}");
    // Items of categories the profile never touched (0..2 → Running, Hiking, Tennis) keep their order.
    let untouched: Vec<&String> = ids.iter().filter(|id| !["sku-3", "sku-7"].contains(&id.as_str())).collect();
    let expected: Vec<String> = (0..10).filter(|i| *i != 3 && *i != 7).map(|i| format!("sku-{i}")).collect();
    assert_eq!(untouched.into_iter().cloned().collect::<Vec<_>>(), expected, "{ids:?}");
}

#[test]
fn rows_earlier_answers_added_follow_the_servers_answer_when_nothing_personal_fires() {
    // Every personal family switched off: a pooled set then has nothing personal to go on.
    let off = [
        Family::LastNeighbour,
        Family::SessionCooc,
        Family::Embedding,
        Family::Affinity,
        Family::Repeat,
        Family::Suppression,
    ]
    .into_iter()
    .fold(FamilyMask::none(), FamilyMask::without);
    let mut r = Ranker::new(RankParams::default().check().unwrap().with_families_off(off));
    let earlier = r.register(&candidates("e", 4, 0, 1)).unwrap();
    r.remember_answer("seen", None, std::sync::Arc::new(earlier));
    let mut shopper = InMemoryShopper::new(0.9);
    shopper.record("seen", EventKind::View, 0.0, &[]);
    let scores: Vec<f32> = (0..10).map(|i| 1.0 - 0.1 * i as f32).collect();
    let current = r.register(&skus(Some(&scores))).unwrap();
    let pooled = r.pool(&current, &shopper);
    assert!(pooled.len() > 10);
    let ctx = RankContext { placement: Placement::Home, limit: pooled.len(), ..RankContext::default() };
    let ids = ids_of(&r, &r.clone().rank(&pooled, &ctx, &shopper).unwrap());
    assert_eq!(ids[..10], in_order(10)[..], "{ids:?}");
}

/// A generated shopper state: session views (by candidate index or outside the answer), category
/// interest, purchases, dismissals and maybe a long-term embedding.
#[derive(Debug, Clone)]
struct ShopperState {
    views: Vec<usize>,
    interest: Vec<usize>,
    purchases: Vec<usize>,
    dismissals: Vec<usize>,
    long_term: bool,
}

fn shopper_state() -> impl Strategy<Value = ShopperState> {
    (
        prop::collection::vec(0usize..60, 0..8),
        prop::collection::vec(0usize..4, 0..4),
        prop::collection::vec(0usize..60, 0..2),
        prop::collection::vec(0usize..60, 0..2),
        any::<bool>(),
    )
        .prop_map(|(views, interest, purchases, dismissals, long_term)| ShopperState {
            views,
            interest,
            purchases,
            dismissals,
            long_term,
        })
}

fn build_shopper(state: &ShopperState, twins: [usize; 2], dim: usize) -> InMemoryShopper {
    let mut shopper = InMemoryShopper::new(0.9);
    let name = |i: usize| {
        if twins.contains(&i) {
            format!("elsewhere-{i}")
        } else {
            format!("c{i}")
        }
    };
    let mut t = 0.0;
    for &c in &state.interest {
        shopper.record("outside", EventKind::View, t, &[AttributeKey::Category(format!("Sport > {}", CATEGORIES[c]))]);
        t += 1.0;
    }
    for &v in &state.purchases {
        shopper.record(&name(v), EventKind::Purchase, t, &[]);
        t += 1.0;
    }
    for &v in &state.dismissals {
        shopper.record(&name(v), EventKind::Dismiss, t, &[]);
        t += 1.0;
    }
    for &v in &state.views {
        shopper.record(&name(v), EventKind::View, t, &[]);
        t += 1.0;
    }
    if state.long_term && dim > 0 {
        shopper.set_long_term_embedding(Some((0..dim).map(|d| hash01(99, d as u64) - 0.5).collect()));
    }
    shopper
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two candidates identical in everything but the server's score or position: the one the
    /// server placed higher is never ranked below the other.
    #[test]
    fn the_server_placing_a_candidate_higher_never_ranks_it_lower(
        n in 2usize..50,
        dim in prop::sample::select(vec![0usize, 4]),
        seed in 0u64..1000,
        a in 0usize..50,
        b in 0usize..50,
        scores_absent in any::<bool>(),
        equal_scores in any::<bool>(),
        state in shopper_state(),
        placement in prop::sample::select(vec![Placement::Home, Placement::Product, Placement::Cart, Placement::Search]),
        random_weights in prop::option::of(prop::collection::vec(-4.0f32..4.0, NUM_FEATURES)),
        remember in any::<bool>(),
    ) {
        let (a, b) = (a % n, b % n);
        prop_assume!(a != b);
        let mut ranker = Ranker::new(RankParams::default().check().unwrap());
        if let Some(w) = &random_weights {
            ranker.model_mut().set_shared_weights(w).unwrap();
        }
        let mut answer = candidates("c", n, dim, seed);
        for (i, c) in answer.iter_mut().enumerate() {
            c.score = if scores_absent { 0.0 } else { hash01(seed ^ 0xABCD, i as u64) * 10.0 - 3.0 };
            // Nobody names the twins as a neighbour: their co-visitation must be equal.
            c.neighbours.retain(|nb| nb.id != format!("c{a}") && nb.id != format!("c{b}"));
        }
        // b becomes a's twin: same attributes, popularity, embedding and neighbours.
        let twin = answer[a].clone();
        answer[b] = CandidateInput { id: format!("c{b}"), score: answer[b].score, title: twin.title.clone(), ..twin };
        if equal_scores {
            answer[b].score = answer[a].score;
        }
        if remember {
            // An earlier answer about a session item, naming neither twin.
            let earlier: Vec<CandidateInput> = answer.iter().filter(|c| c.id != format!("c{a}") && c.id != format!("c{b}")).cloned().collect();
            let earlier = ranker.register(&earlier).unwrap();
            let about = state.views.last().map(|v| format!("c{}", v % n)).unwrap_or_else(|| "c0".into());
            ranker.remember_answer(&about, None, std::sync::Arc::new(earlier));
        }
        let set = ranker.register(&answer).unwrap();
        let shopper = build_shopper(&state, [a, b], dim);
        let set = if remember && placement != Placement::Search { ranker.pool(&set, &shopper) } else { set };
        let current = (placement == Placement::Product).then(|| (0..n).find(|i| *i != a && *i != b).map(|i| format!("c{i}"))).flatten();
        let ctx = RankContext { placement, current_item: current, limit: set.len(), ..RankContext::default() };
        let ranking = ranker.rank(&set, &ctx, &shopper).unwrap();
        let ids = ids_of(&ranker, &ranking);
        let (sa, sb) = (answer[a].score, answer[b].score);
        let (higher, lower) = if sa > sb || (sa == sb && a < b) { (a, b) } else { (b, a) };
        let at = |i: usize| ids.iter().position(|id| *id == format!("c{i}"));
        let (h, l) = (at(higher), at(lower));
        prop_assert!(h.is_some() && l.is_some(), "{ids:?}");
        prop_assert!(h < l, "c{higher} (score {}) ranked below c{lower} (score {}): {ids:?}", answer[higher].score, answer[lower].score);
    }

    /// With nothing personal known, any answer comes back in the server's order (score, then
    /// position), whatever weights the model holds.
    #[test]
    fn a_new_shopper_gets_the_servers_order_for_any_answer_and_weights(
        n in 1usize..60,
        seed in 0u64..1000,
        dim in prop::sample::select(vec![0usize, 4]),
        placement in prop::sample::select(vec![Placement::Home, Placement::Cart, Placement::Search]),
        random_weights in prop::option::of(prop::collection::vec(-4.0f32..4.0, NUM_FEATURES)),
    ) {
        let mut ranker = Ranker::new(RankParams::default().check().unwrap());
        if let Some(w) = &random_weights {
            ranker.model_mut().set_shared_weights(w).unwrap();
        }
        let mut answer = candidates("c", n, dim, seed);
        for (i, c) in answer.iter_mut().enumerate() {
            c.score = (hash01(seed, i as u64 + 7) * 5.0).round();
        }
        let set = ranker.register(&answer).unwrap();
        let ctx = RankContext { placement, limit: n, ..RankContext::default() };
        let ids = ids_of(&ranker, &ranker.clone().rank(&set, &ctx, &InMemoryShopper::new(0.9)).unwrap());
        let mut expected: Vec<usize> = (0..n).collect();
        expected.sort_by(|&x, &y| answer[y].score.total_cmp(&answer[x].score).then(x.cmp(&y)));
        prop_assert_eq!(ids, expected.iter().map(|i| format!("c{i}")).collect::<Vec<_>>());
    }
}
