//! The candidate set: what is computed once per set, titles, reserving.

use super::*;
use crate::rank::{InMemoryShopper, RankConfig, Ranker};

fn answer(prefix: &str, scores: &[f32]) -> Vec<CandidateInput> {
    let row = |(i, &score): (usize, &f32)| CandidateInput {
        id: format!("{prefix}{i}"),
        score,
        popularity: Some(i as f32 * 7.0),
        ..Default::default()
    };
    scores.iter().enumerate().map(row).collect()
}

#[test]
fn what_depends_on_a_set_alone_is_reused_only_for_that_set() {
    let mut ranker = Ranker::new(RankConfig::default());
    let first = ranker.register(&answer("a", &[0.2, 0.9, 0.5, 0.1])).expect("valid");
    let second = ranker.register(&answer("b", &[3.0, 1.0, 2.0])).expect("valid");
    assert!(first.serial != 0 && second.serial != 0 && first.serial != second.serial);
    assert_eq!(first.clone().serial, first.serial, "a copy has the same rows");
    let shopper = InMemoryShopper::new(1.0);
    let before = ranker.extract_features(&first, &shopper).to_vec();
    let other = ranker.extract_features(&second, &shopper).to_vec();
    assert_eq!(ranker.extract_features(&first, &shopper), before.as_slice());
    let fresh = Ranker::new(RankConfig::default()).extract_features(&second, &shopper).to_vec();
    assert_eq!(other, fresh);
    // Row 1 has the best server score: place 0, rank feature 1 / log2(2) = 1.
    let rank_of = |m: &[f32], row: usize| m[row * crate::rank::NUM_FEATURES + crate::rank::features::SERVER_RANK];
    assert!((rank_of(&before, 1) - 1.0).abs() < 1e-6);
    assert!((rank_of(&other, 0) - 1.0).abs() < 1e-6);
}

#[test]
fn titles_are_kept_per_row_and_empty_means_none() {
    let mut ids = ItemIds::new();
    let mut builder = CandidateSetBuilder::new(&mut ids);
    builder.reserve(3, 0, 0);
    for (id, title) in [("a", Some("Trail shoe")), ("b", None), ("c", Some("Caf\u{e9} \u{2615}"))] {
        builder.push(CandidateRow { id, title, ..CandidateRow::default() }).expect("valid row");
    }
    let set = builder.finish();
    assert_eq!(
        (set.title(0), set.title(1), set.title(2), set.title(3)),
        (Some("Trail shoe"), None, Some("Caf\u{e9} \u{2615}"), None)
    );
    let mut ids = ItemIds::new();
    let mut copy = CandidateSetBuilder::new(&mut ids);
    for row in [2, 1, 0] {
        copy.push_copy(&set, row, row as u32, CandidateOrigin::EarlierAnswer);
    }
    let copy = copy.finish();
    assert_eq!((copy.title(0), copy.title(1), copy.title(2)), (Some("Caf\u{e9} \u{2615}"), None, Some("Trail shoe")));
}

#[test]
fn extending_a_set_is_copying_each_of_its_rows() {
    let mut ids = ItemIds::new();
    let inputs: Vec<CandidateInput> = (0..6)
        .map(|i| CandidateInput {
            id: format!("x{i}"),
            score: 1.0 / (i as f32 + 1.0),
            title: (i % 2 == 0).then(|| format!("Item {i}")),
            popularity: Some(i as f32),
            attributes: crate::catalog::ItemAttributes {
                category_path: vec!["A".into(), format!("B{}", i % 2)],
                brand: Some("Z".into()),
                ..Default::default()
            },
            embedding: (i != 3).then(|| vec![i as f32, 1.0, -0.5]),
            neighbours: vec![NeighbourInput { id: format!("x{}", (i + 1) % 6), score: 0.5 }],
        })
        .collect();
    let set = CandidateSet::from_inputs(&inputs, &mut ids).expect("valid");
    let whole = CandidateSetBuilder::extending(&set, &mut ids).finish();
    let mut by_row = CandidateSetBuilder::new(&mut ids);
    for row in 0..set.len() {
        assert!(by_row.push_copy(&set, row, row as u32, CandidateOrigin::CurrentAnswer));
    }
    let by_row = by_row.finish();
    let keys = |s: &CandidateSet, r: usize| {
        s.attribute_refs(r).iter().map(|&k| s.attr_keys[k as usize].clone()).collect::<Vec<_>>()
    };
    assert_eq!(whole.ids, by_row.ids);
    assert_eq!(whole.positions, by_row.positions);
    assert_eq!(whole.origins, by_row.origins);
    assert_eq!(whole.embeddings, by_row.embeddings);
    assert_eq!(whole.inv_norms, by_row.inv_norms);
    assert_eq!(
        (whole.nb_ids.clone(), whole.nb_scores.clone(), whole.nb_offsets.clone()),
        (by_row.nb_ids.clone(), by_row.nb_scores.clone(), by_row.nb_offsets.clone())
    );
    for r in 0..set.len() {
        assert_eq!(
            (whole.title(r), whole.category(r), keys(&whole, r)),
            (by_row.title(r), by_row.category(r), keys(&by_row, r))
        );
    }
    assert_ne!(whole.serial, set.serial, "a new set");
}
