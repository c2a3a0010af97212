//! Hand-checked behaviour of the ranker: business rules, search, bad input, session memory,
//! exploration and learning.

mod shop_fixture;

use std::sync::Arc;

use shop_fixture::candidates;
use shop_personalizer::catalog::AttributeKey;
use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::*;

fn ranker() -> Ranker {
    Ranker::new(RankParams::default().check().unwrap())
}

fn ids_of(ranker: &Ranker, ranking: &Ranking) -> Vec<String> {
    ranking.items.iter().map(|i| ranker.ids().name(i.item).unwrap().to_owned()).collect()
}

#[test]
fn a_plain_ranking_returns_the_limit_without_exploring() {
    let mut r = ranker();
    let set = r.register(&candidates("c", 10, 0, 1)).unwrap();
    let shopper = InMemoryShopper::new(1.0);
    let ctx = RankContext { limit: 7, ..RankContext::default() };
    let ranking = r.rank(&set, &ctx, &shopper).unwrap();
    assert_eq!(ranking.items.len(), 7);
    assert!(ranking.items.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(ranking.propensity, 1.0);
    assert!(!ranking.explored);
}

#[test]
fn business_rules_always_hold() {
    let mut r = ranker();
    let set = r.register(&candidates("c", 30, 8, 2)).unwrap();
    let shopper = InMemoryShopper::new(1.0);
    let rules = BusinessRules {
        pins: vec![Pin { id: "c29".into(), position: 0 }, Pin { id: "c28".into(), position: 3 }],
        exclude: vec!["c0".into(), "c1".into(), "not-there".into()],
        boost: vec!["c27".into()],
        bury: vec!["c2".into(), "c3".into()],
    };
    let ctx = RankContext {
        limit: 30,
        rules,
        diversity: Diversity { strength: 0.5, max_per_category: Some(3) },
        ..RankContext::default()
    };
    let ranking = r.rank(&set, &ctx, &shopper).unwrap();
    let ids = ids_of(&r, &ranking);
    assert_eq!(ids.len(), 28, "all but the two excluded");
    assert_eq!(ids[0], "c29");
    assert_eq!(ids[3], "c28");
    assert!(!ids.contains(&"c0".to_owned()) && !ids.contains(&"c1".to_owned()));
    // The boosted item is the first unpinned one; the buried ones are last.
    assert_eq!(ids[1], "c27");
    let tail: Vec<&str> = ids[26..].iter().map(String::as_str).collect();
    assert!(tail.contains(&"c2") && tail.contains(&"c3"), "{tail:?}");
    assert!(ranking.items[0].reasons.contains(ReasonCode::Pinned));
    assert!(ranking.items[1].reasons.contains(ReasonCode::Boosted));
}

#[test]
fn conflicting_pins_and_bad_diversity_are_typed_errors() {
    let mut r = ranker();
    let set = r.register(&candidates("c", 5, 0, 3)).unwrap();
    let shopper = InMemoryShopper::new(1.0);
    let rules = BusinessRules {
        pins: vec![Pin { id: "c1".into(), position: 2 }, Pin { id: "c2".into(), position: 2 }],
        ..Default::default()
    };
    let ctx = RankContext { rules, ..RankContext::default() };
    assert_eq!(r.rank(&set, &ctx, &shopper), Err(RankError::ConflictingPins { position: 2 }));
    let ctx =
        RankContext { diversity: Diversity { strength: f32::NAN, max_per_category: None }, ..RankContext::default() };
    assert!(matches!(r.rank(&set, &ctx, &shopper), Err(RankError::BadParam { .. })));
    let pins = vec![Pin { id: "c1".into(), position: 0 }, Pin { id: "c1".into(), position: 1 }];
    let ctx = RankContext { rules: BusinessRules { pins, ..Default::default() }, ..RankContext::default() };
    assert!(matches!(r.rank(&set, &ctx, &shopper), Err(RankError::DuplicatePin { .. })));
}

#[test]
fn bad_answers_are_typed_errors_and_empty_is_fine() {
    let mut r = ranker();
    let mut dup = candidates("c", 3, 0, 4);
    dup[2].id = "c0".into();
    assert_eq!(r.register(&dup).err(), Some(RankError::DuplicateId { id: "c0".into() }));
    let mut nan = candidates("c", 3, 0, 4);
    nan[1].score = f32::NAN;
    assert!(matches!(r.register(&nan), Err(RankError::BadNumber { field: "score", .. })));
    let mut mixed = candidates("c", 3, 4, 4);
    mixed[2].embedding = Some(vec![0.1; 5]);
    assert!(matches!(r.register(&mixed), Err(RankError::EmbeddingLength { expected: 4, got: 5, .. })));
    let mut empty_id = candidates("c", 2, 0, 4);
    empty_id[0].id.clear();
    assert!(matches!(r.register(&empty_id), Err(RankError::Item(_))));
    let huge = candidates("h", MAX_CANDIDATES * 10, 0, 4);
    assert!(matches!(r.register(&huge), Err(RankError::TooManyCandidates { len: 100_000, .. })));
    let empty = r.register(&[]).unwrap();
    let ranking = r.rank(&empty, &RankContext::default(), &InMemoryShopper::new(1.0)).unwrap();
    assert!(ranking.items.is_empty());
    let msg = RankError::DuplicateId { id: "x".into() }.to_string();
    assert!(msg.contains("send each item once"), "{msg}");
}

#[test]
fn search_reorders_but_never_drops_and_keeps_relevance_dominant() {
    let mut r = ranker();
    let set = r.register(&candidates("s", 40, 0, 5)).unwrap();
    let mut shopper = InMemoryShopper::new(1.0);
    for _ in 0..5 {
        shopper.record("elsewhere", EventKind::View, 0.0, &[AttributeKey::Category("Sport > Yoga".into())]);
    }
    let ctx =
        RankContext { placement: Placement::Search, limit: 5, query: Some("shoe".into()), ..RankContext::default() };
    let ranking = r.rank(&set, &ctx, &shopper).unwrap();
    let mut ids = ids_of(&r, &ranking);
    assert_eq!(ids.len(), 40, "search returns every result");
    // The most relevant result stays in the top three.
    assert!(ids[..3].contains(&"s0".to_owned()), "{ids:?}");
    ids.sort();
    let mut all: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    all.sort();
    assert_eq!(ids, all);
}

#[test]
fn product_page_never_recommends_the_item_itself() {
    let mut r = ranker();
    let set = r.register(&candidates("p", 10, 0, 6)).unwrap();
    let ctx = RankContext {
        placement: Placement::Product,
        current_item: Some("p0".into()),
        limit: 10,
        ..RankContext::default()
    };
    let ids = ids_of(&r, &r.clone().rank(&set, &ctx, &InMemoryShopper::new(1.0)).unwrap());
    assert_eq!(ids.len(), 9);
    assert!(!ids.contains(&"p0".to_owned()));
}

#[test]
fn session_memory_lifts_items_viewed_together_and_explains_why() {
    let mut r = ranker();
    // The shopper viewed "trail" earlier; the answer about it named "x9" as a strong neighbour.
    let earlier = r
        .register(&[
            CandidateInput { id: "x9".into(), score: 5.0, ..Default::default() },
            CandidateInput { id: "x1".into(), score: 0.1, ..Default::default() },
        ])
        .unwrap();
    let mut trail = CandidateInput { id: "trail".into(), title: Some("Trail shoes".into()), ..Default::default() };
    trail.score = 1.0;
    let about = r.register(&[trail]).unwrap();
    r.remember_answer("zz", None, Arc::new(about));
    r.remember_answer("trail", None, Arc::new(earlier));
    let mut shopper = InMemoryShopper::new(1.0);
    shopper.record("trail", EventKind::View, 1.0, &[]);
    shopper.record("socks", EventKind::View, 2.0, &[]);
    let current = r.register(&candidates("x", 10, 0, 7)).unwrap();
    let ctx = RankContext { limit: 10, ..RankContext::default() };
    let ranking = r.rank(&current, &ctx, &shopper).unwrap();
    let first = ranking.items[0];
    assert_eq!(r.ids().name(first.item), Some("x9"));
    assert_eq!(first.primary, Some(ReasonCode::ViewedTogether));
    assert_eq!(r.ids().name(first.because_of.unwrap()), Some("trail"));
    let explanation = r.explain(&current, &first, &ctx, &|_| false);
    assert_eq!(explanation.text, "Because you viewed Trail shoes");
    assert_eq!(explanation.code, shop_personalizer::rank::ExplanationCode::ViewedTogether);
    assert_eq!(explanation.item.as_deref(), Some("trail"));
}

#[test]
fn pooling_adds_earlier_answers_and_session_items() {
    let mut r = ranker();
    let earlier = r.register(&candidates("e", 5, 0, 8)).unwrap();
    r.remember_answer("seen", None, Arc::new(earlier));
    let mut shopper = InMemoryShopper::new(1.0);
    shopper.record("seen", EventKind::View, 1.0, &[]);
    let current = r.register(&candidates("c", 4, 0, 8)).unwrap();
    let pooled = r.pool(&current, &shopper);
    // 4 current + the session item itself + 5 neighbours of it.
    assert_eq!(pooled.len(), 10);
    assert_eq!(pooled.id(0), current.id(0));
}

#[test]
fn exploration_is_seeded_and_logs_an_exact_propensity() {
    let params = RankParams { exploration_epsilon: 1.0, exploration_temperature: 1.0, ..RankParams::default() };
    let mut a = Ranker::new(params.clone().check().unwrap());
    let mut b = Ranker::new(params.check().unwrap());
    let set_a = a.register(&candidates("c", 3, 0, 9)).unwrap();
    let set_b = b.register(&candidates("c", 3, 0, 9)).unwrap();
    let shopper = InMemoryShopper::new(1.0);
    let ctx = RankContext { limit: 3, explore: true, ..RankContext::default() };
    let mut seen = std::collections::HashMap::new();
    for _ in 0..300 {
        let ra = a.rank(&set_a, &ctx, &shopper).unwrap();
        let rb = b.rank(&set_b, &ctx, &shopper).unwrap();
        assert_eq!(ra, rb, "same seed, same inputs, same output");
        assert!(ra.explored);
        let order: Vec<u32> = ra.items.iter().map(|i| i.row).collect();
        let entry = seen.entry(order).or_insert((0usize, ra.propensity));
        entry.0 += 1;
        assert!((entry.1 - ra.propensity).abs() < 1e-9);
    }
    // With ε = 1 the propensities of the six orders add up to one and match the frequencies.
    let total: f64 = seen.values().map(|(_, p)| p).sum();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!((total - 1.0).abs() < 1e-6, "{total}");
    for (count, p) in seen.values() {
        assert!((*count as f64 / 300.0 - p).abs() < 0.1, "{count} vs {p}");
    }
}

#[test]
fn feedback_moves_the_clicked_item_up_and_produces_a_delta() {
    let mut r = ranker();
    let set = r.register(&candidates("c", 12, 4, 10)).unwrap();
    // A shopper the device knows (a view in this session); a stranger gets the server's order.
    let mut shopper = InMemoryShopper::new(1.0);
    shopper.record("c5", EventKind::View, 0.0, &[]);
    let ctx = RankContext { limit: 12, ..RankContext::default() };
    let before = r.rank(&set, &ctx, &shopper).unwrap();
    let last = before.items.last().copied().unwrap();
    let last_id = r.ids().name(last.item).unwrap().to_owned();
    let mut impression = before.impression;
    for _ in 0..200 {
        r.feedback(impression, &last_id, Outcome::Purchase).unwrap();
        impression = r.rank(&set, &ctx, &shopper).unwrap().impression;
    }
    let after = r.rank(&set, &ctx, &shopper).unwrap();
    let position = after.items.iter().position(|i| i.item == last.item).unwrap();
    assert!(position < 11, "moved up from the bottom, now {position}");
    assert!(r.model().shared_delta().iter().any(|d| d.abs() > 1e-4));
    assert!(matches!(r.feedback(9999, &last_id, Outcome::Click), Err(RankError::UnknownImpression(9999))));
    assert!(matches!(r.feedback(after.impression, "nope", Outcome::Click), Err(RankError::NotShown { .. })));
}
