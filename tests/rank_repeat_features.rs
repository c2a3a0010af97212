//! The session's repeat pattern, hand-computed: the share of views that went back to an earlier
//! item, and whether the last view did.

mod shop_fixture;

use shop_fixture::candidates;
use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::features::{RECENCY_LAST_REPEATED, RECENCY_REPEAT_SHARE, REPEAT_SHARE, SESSION_RECENCY};
use shop_personalizer::rank::*;

/// The repeat features of rows c0..c3 after viewing `views` (fast decay 0.5).
fn repeat_features(views: &[&str]) -> Vec<[f32; 4]> {
    let mut ranker = Ranker::new(RankParams { fast_decay: 0.5, ..RankParams::default() }.check().expect("valid"));
    let set = ranker.register(&candidates("c", 4, 0, 1)).expect("valid answer");
    let mut shopper = InMemoryShopper::new(1.0);
    for (t, id) in views.iter().enumerate() {
        shopper.record(id, EventKind::View, t as f64, &[]);
    }
    let matrix = ranker.extract_features(&set, &shopper);
    (0..4)
        .map(|r| {
            let x = &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
            [x[SESSION_RECENCY], x[REPEAT_SHARE], x[RECENCY_REPEAT_SHARE], x[RECENCY_LAST_REPEATED]]
        })
        .collect()
}

fn close(got: &[[f32; 4]], expected: &[[f32; 4]]) {
    for (g, e) in got.iter().zip(expected) {
        assert!(g.iter().zip(e).all(|(a, b)| (a - b).abs() < 1e-6), "got {got:?}, expected {expected:?}");
    }
}

#[test]
fn a_session_that_went_back_once_in_three_steps_has_a_repeat_share_of_a_third() {
    // c0 c1 c0 c2: one of the three views after the first went back. The last view (c2) is new.
    let third = 1.0 / 3.0;
    close(
        &repeat_features(&["c0", "c1", "c0", "c2"]),
        &[[0.5, third, 0.5 * third, 0.0], [0.25, third, 0.25 * third, 0.0], [1.0, third, third, 0.0], [0.0; 4]],
    );
}

#[test]
fn a_last_view_that_went_back_marks_the_session_items_by_recency() {
    // c0 c1 c0: one of two views went back, and it was the last one.
    close(&repeat_features(&["c0", "c1", "c0"]), &[[1.0, 0.5, 0.5, 1.0], [0.5, 0.5, 0.25, 0.5], [0.0; 4], [0.0; 4]]);
    // A single view repeats nothing.
    close(&repeat_features(&["c3"]), &[[0.0; 4], [0.0; 4], [0.0; 4], [1.0, 0.0, 0.0, 0.0]]);
}

#[test]
fn the_return_block_of_layout_2_is_hand_computed_and_zero_outside_the_session() {
    use shop_personalizer::rank::features::{
        IN_SESSION, NUM_RETURN, RETURN_CROSSES, RETURN_GATES, RETURN_START, SEQUENCE_START,
    };
    // c0 c1 c0 c2: 4 views, 3 distinct items, the last view new, repeat share 1/3.
    let mut ranker = Ranker::new(RankParams { fast_decay: 0.5, ..RankParams::default() }.check().expect("valid"));
    let set = ranker.register(&candidates("c", 4, 0, 1)).expect("valid answer");
    let mut shopper = InMemoryShopper::new(1.0);
    for (t, id) in ["c0", "c1", "c0", "c2"].iter().enumerate() {
        shopper.record(id, EventKind::View, t as f64, &[]);
    }
    let matrix = ranker.extract_features(&set, &shopper);
    let row = |r: usize| &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
    let (len_log, distinct_log, third) = (5.0f32.ln(), 4.0f32.ln(), 1.0 / 3.0);
    // Gates per row: len, distinct, last repeated, recency rank, count share, top count,
    // ln(1 + count) × repeat share, is_last × len.
    let expected = [
        [len_log, distinct_log, 0.0, 0.5, 0.5, 1.0, 3.0f32.ln() * third, 0.0],
        [len_log, distinct_log, 0.0, 1.0 / 3.0, 0.25, 0.0, 2.0f32.ln() * third, 0.0],
        [len_log, distinct_log, 0.0, 1.0, 0.25, 0.0, 2.0f32.ln() * third, len_log],
    ];
    for (r, gates) in expected.iter().enumerate() {
        let got = &row(r)[RETURN_GATES..];
        assert!(got.iter().zip(gates).all(|(a, b)| (a - b).abs() < 1e-6), "row {r}: {got:?} vs {gates:?}");
        for (k, &f) in RETURN_CROSSES.iter().enumerate() {
            assert!((row(r)[RETURN_START + k] - row(r)[IN_SESSION] * row(r)[f]).abs() < 1e-6);
        }
    }
    // c3 was not viewed: its whole return block is 0.
    assert_eq!(&row(3)[RETURN_START..SEQUENCE_START], &[0.0; NUM_RETURN]);
}
