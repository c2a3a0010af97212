//! Layout 3's sequence block, hand-computed on a three-view session whose answers carry `next`
//! values, and the older layouts untouched by it: their columns and their rankings stay what
//! they were, and an answer without the column leaves the block at 0.

use std::sync::Arc;

use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::features::*;
use shop_personalizer::rank::*;
use shop_personalizer::sync::in_current_layout;

fn item(id: &str, score: f32, next: Option<f32>) -> CandidateInput {
    CandidateInput {
        id: id.into(),
        score,
        popularity: Some(10.0 + score),
        embedding: Some(vec![1.0, score]),
        next,
        ..CandidateInput::default()
    }
}

/// The answers about c0, c1 and c2: (candidate, score, next).
const ANSWERS: [&[(&str, f32, f32)]; 3] = [
    &[("c3", 1.0, 0.5), ("c1", 0.5, 0.25)],
    &[("c0", 1.0, 0.1), ("c3", 0.5, 0.4)],
    &[("c0", 1.0, 0.0), ("c3", 0.8, 0.2), ("c1", 0.2, 0.6)],
];

/// A ranker that saw c0, c1, c2 (each with its answer remembered, with or without the `next`
/// column), and the current answer c0..c3.
fn session(config: RankConfig, with_next: bool) -> (Ranker, CandidateSet, InMemoryShopper) {
    let mut ranker = Ranker::new(config);
    let mut shopper = InMemoryShopper::new(1.0);
    for (t, rows) in ANSWERS.iter().enumerate() {
        let id = format!("c{t}");
        let answer: Vec<CandidateInput> = rows.iter().map(|&(nb, s, p)| item(nb, s, with_next.then_some(p))).collect();
        let answer = ranker.register(&answer).expect("valid answer");
        ranker.remember_answer(&id, None, Arc::new(answer));
        shopper.record(&id, EventKind::View, t as f64, &[]);
    }
    let current: Vec<CandidateInput> = (0..4).map(|i| item(&format!("c{i}"), 1.0 - i as f32 / 4.0, None)).collect();
    let set = ranker.register(&current).expect("valid answer");
    (ranker, set, shopper)
}

#[test]
fn the_sequence_block_is_hand_computed() {
    let params = RankParams { fast_decay: 0.5, ..RankParams::default() }.check().expect("valid");
    let (mut ranker, set, shopper) = session(params, true);
    let matrix = ranker.extract_features(&set, &shopper).to_vec();
    let row = |r: usize| &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
    // The last view is c2 (distance 0), then c1 (1), then c0 (2); fast decay 0.5.
    // next_last from the answer about c2, next_prev from the answer about c1.
    let expected: [[f32; NUM_SEQUENCE]; 4] = [
        // c0: about c2 0.0, about c1 0.1; 1 × 0 + 0.5 × 0.1.
        [0.0, 0.1, 0.05],
        // c1: about c2 0.6, about c0 0.25 (distance 2): 0.6 + 0.25 × 0.25.
        [0.6, 0.0, 0.6625],
        // c2 is in no answer.
        [0.0, 0.0, 0.0],
        // c3: 0.2 + 0.5 × 0.4 + 0.25 × 0.5.
        [0.2, 0.4, 0.525],
    ];
    for (r, want) in expected.iter().enumerate() {
        let got = &row(r)[SEQUENCE_START..];
        assert_eq!(got.len(), NUM_SEQUENCE);
        for (k, (g, x)) in got.iter().zip(want).enumerate() {
            assert!((g - x).abs() < 1e-6, "row c{r}, {}: got {g}, expected {x}", SEQUENCE_NAMES[k]);
        }
    }
}

#[test]
fn answers_without_the_next_column_leave_the_block_at_0() {
    let (mut ranker, set, shopper) = session(RankParams::default().check().expect("valid"), false);
    let matrix = ranker.extract_features(&set, &shopper).to_vec();
    for row in matrix.chunks_exact(NUM_FEATURES) {
        assert_eq!(&row[SEQUENCE_START..], &[0.0, 0.0, 0.0]);
    }
}

#[test]
fn a_next_value_outside_0_to_1_is_refused() {
    let mut ranker = Ranker::new(RankParams::default().check().expect("valid"));
    for bad in [1.5, -0.1, f32::NAN] {
        let err = ranker.register(&[item("a", 1.0, Some(bad))]).expect_err("refused");
        assert!(matches!(err, RankError::BadNumber { field: "next", .. }), "{err:?}");
    }
    assert!(ranker.register(&[item("a", 1.0, Some(1.0)), item("b", 0.5, Some(0.0))]).is_ok());
}

#[test]
fn the_sequence_block_changes_no_column_of_layout_2_and_no_layout_2_ranking() {
    let on = RankParams::default().check().expect("valid");
    let off = on.clone().with_families_off(FamilyMask::none().without(Family::Sequence));
    let (mut with, set, shopper) = session(on, true);
    let (mut without, set_without, _) = session(off, true);
    let full = with.extract_features(&set, &shopper).to_vec();
    let masked = without.extract_features(&set_without, &shopper).to_vec();
    assert!(full.chunks_exact(NUM_FEATURES).any(|r| r[NEXT_LAST] != 0.0));
    for (a, b) in full.chunks_exact(NUM_FEATURES).zip(masked.chunks_exact(NUM_FEATURES)) {
        assert_eq!(&a[..NUM_LAYOUT_2_FEATURES], &b[..NUM_LAYOUT_2_FEATURES], "a column of layout 2 moved");
        assert!(b[SEQUENCE_START..].iter().all(|x| *x == 0.0));
    }
    // A model of layout 2 (or layout 1) read into layout 3 scores every row exactly as it did.
    for (format, len) in [(2u8, NUM_LAYOUT_2_FEATURES), (1, NUM_LAYOUT_1_FEATURES)] {
        let old: Vec<f32> = (0..len).map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0).collect();
        let weights = in_current_layout(format, old);
        for ranker in [&mut with, &mut without] {
            ranker.model_mut().set_shared_weights(&weights).expect("valid weights");
        }
        let context = RankContext { limit: 4, ..RankContext::default() };
        let a = with.rank(&set, &context, &shopper).expect("ranks");
        let b = without.rank(&set_without, &context, &shopper).expect("ranks");
        let order = |r: &Ranking| r.items.iter().map(|i| (i.item, i.score.to_bits())).collect::<Vec<_>>();
        assert_eq!(order(&a), order(&b), "format {format}");
        assert_eq!(a.items.len(), 4);
    }
}
