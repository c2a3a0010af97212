use super::*;

fn cos(e: &[f32], dim: usize, a: usize, b: &[f32], c: usize) -> f32 {
    (0..dim).map(|d| e[a * dim + d] * b[c * dim + d]).sum()
}

/// Two disjoint "shops": 0 → 1 → 2 and 3 → 4 → 5, each path many times, plus noise items 6..20
/// that only occur alone. After the fit, the about vector of 0 points at the candidate vector of
/// 1, not at 4; and of 3 at 4, not at 1.
fn paths() -> Vec<Vec<u32>> {
    let mut sessions = Vec::new();
    for i in 0..200u32 {
        sessions.push(vec![0, 1, 2]);
        sessions.push(vec![3, 4, 5]);
        sessions.push(vec![6 + i % 14]);
    }
    sessions
}

#[test]
fn the_next_view_scores_above_other_items() {
    let dim = 16;
    for tied in [false, true] {
        let config = NextItemConfig { tied, epochs: 5, ..NextItemConfig::default() };
        let e = next_item_embeddings(&paths(), 20, dim, 3, &config, None);
        let about = if tied { &e.candidate } else { &e.about };
        let c = &e.candidate;
        assert!(cos(about, dim, 0, c, 1) > cos(about, dim, 0, c, 4) + 0.5, "tied {tied}");
        assert!(cos(about, dim, 3, c, 4) > cos(about, dim, 3, c, 1) + 0.5, "tied {tied}");
        assert!(cos(about, dim, 1, c, 2) > cos(about, dim, 1, c, 5) + 0.5, "tied {tied}");
        assert_eq!(e.about.is_empty(), tied);
    }
}

#[test]
fn direction_is_learned_when_untied() {
    // 0 is always followed by 1, never the other way round: the about vector of 0 points at the
    // candidate vector of 1 more than the about vector of 1 points at the candidate vector of 0.
    let dim = 16;
    let e =
        next_item_embeddings(&paths(), 20, dim, 5, &NextItemConfig { epochs: 5, ..NextItemConfig::default() }, None);
    assert!(cos(&e.about, dim, 0, &e.candidate, 1) > cos(&e.about, dim, 1, &e.candidate, 0) + 0.3);
}

#[test]
fn vectors_are_unit_length_zero_for_unseen_items_and_repeat_exactly() {
    let dim = 8;
    let config = NextItemConfig { epochs: 1, ..NextItemConfig::default() };
    let e = next_item_embeddings(&paths(), 25, dim, 9, &config, None);
    for table in [&e.about, &e.candidate] {
        assert_eq!(table.len(), 25 * dim);
        for (row, v) in table.chunks_exact(dim).enumerate() {
            let n: f32 = v.iter().map(|x| x * x).sum();
            if row < 20 {
                assert!((n - 1.0).abs() < 1e-4, "row {row}: {n}");
            } else {
                assert_eq!(n, 0.0, "row {row} never occurs");
            }
        }
    }
    assert_eq!(e, next_item_embeddings(&paths(), 25, dim, 9, &config, None));
    assert_ne!(e, next_item_embeddings(&paths(), 25, dim, 10, &config, None));
}

#[test]
fn no_dimensions_give_no_vectors() {
    let e = next_item_embeddings(&paths(), 20, 0, 1, &NextItemConfig::default(), None);
    assert!(e.about.is_empty() && e.candidate.is_empty());
}

#[test]
fn gradient_through_normalization_is_orthogonal_and_scaled() {
    // unit = (0.6, 0.8), length 2: the gradient (1, 0) loses its component along the unit
    // vector (0.6 × (0.6, 0.8)) and is divided by the length: (0.64, −0.48) / 2.
    let mut g = [1.0f32, 0.0];
    through_normalization(&mut g, &[0.6, 0.8], 2.0);
    assert!((g[0] - 0.32).abs() < 1e-6 && (g[1] + 0.24).abs() < 1e-6, "{g:?}");
}
