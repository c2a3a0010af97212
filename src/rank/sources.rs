//! What each feature needs in order to fire, and which features rise with the server's placement.
//!
//! The server's score is its relevance (search) or its business judgement, so the device keeps a
//! promise: holding every other signal equal, a candidate the server placed higher never ranks
//! lower. The features in [`RISES_WITH_SERVER`] are non-decreasing in the server's placement and
//! their weights are kept ≥ 0 ([`project_monotone`], applied by the offline fit, by on-device
//! learning and to any weights the model is given), so the server's whole contribution is a
//! monotone function of its placement. With no personal signal firing ([`Source::Personal`]), the
//! ranker scores by the server's features alone: the server's order, exactly.

use super::features::*;

const KEYS: usize = INTERACTION_KEYS.len();

/// What a feature needs in order to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Only the server's score, order and answer membership.
    Server,
    /// Shop-wide data the server sent (popularity), possibly with the server's order.
    ShopWide,
    /// The session or the profile: it reads its absent value for a shopper the device knows
    /// nothing about.
    Personal,
}

const fn pair_inputs(i: usize) -> (usize, usize) {
    let mut rest = i;
    let mut a = 0;
    while a < KEYS {
        let span = KEYS - a;
        if rest < span {
            return (INTERACTION_KEYS[a], INTERACTION_KEYS[a + rest]);
        }
        rest -= span;
        a += 1;
    }
    (INTERACTION_KEYS[0], INTERACTION_KEYS[0])
}

const fn base_source(feature: usize) -> Source {
    match feature {
        SERVER_SCORE | SERVER_LOG_SCORE | SERVER_RANK | IN_ANSWER => Source::Server,
        POPULARITY | POPULARITY_LOG => Source::ShopWide,
        _ => Source::Personal,
    }
}

const fn combined_source(a: Source, b: Source) -> Source {
    match (a, b) {
        (Source::Personal, _) | (_, Source::Personal) => Source::Personal,
        (Source::ShopWide, _) | (_, Source::ShopWide) => Source::ShopWide,
        _ => Source::Server,
    }
}

/// The [`Source`] of every feature, index-aligned. The set-relative, square-root and long-session
/// variants of a key keep the key's source (the long-session switch only gates a signal, it adds
/// nothing about the candidate).
pub const SOURCES: [Source; NUM_FEATURES] = {
    let mut all = [Source::Personal; NUM_FEATURES];
    let mut f = 0;
    while f < NUM_FEATURES {
        all[f] = if f < NUM_BASE_FEATURES {
            base_source(f)
        } else if f >= RETURN_START {
            Source::Personal
        } else if f < NUM_BASE_FEATURES + NUM_PAIRS {
            let (a, b) = pair_inputs(f - NUM_BASE_FEATURES);
            combined_source(base_source(a), base_source(b))
        } else {
            base_source(INTERACTION_KEYS[(f - NUM_BASE_FEATURES - NUM_PAIRS) % KEYS])
        };
        f += 1;
    }
    all
};

/// Features that grow with the server's placement: the score, its log, the rank and every
/// interaction built from the rank (its products with a signal that can be negative use that
/// signal clipped at 0, see the extractor). Their weights are kept ≥ 0.
pub const RISES_WITH_SERVER: [bool; NUM_FEATURES] = {
    let mut all = [false; NUM_FEATURES];
    let mut f = 0;
    while f < NUM_FEATURES {
        all[f] = if f < NUM_BASE_FEATURES {
            matches!(f, SERVER_SCORE | SERVER_LOG_SCORE | SERVER_RANK)
        } else if f >= RETURN_START {
            f < RETURN_GATES && RETURN_CROSSES[f - RETURN_START] == SERVER_RANK
        } else if f < NUM_BASE_FEATURES + NUM_PAIRS {
            let (a, b) = pair_inputs(f - NUM_BASE_FEATURES);
            a == SERVER_RANK || b == SERVER_RANK
        } else {
            INTERACTION_KEYS[(f - NUM_BASE_FEATURES - NUM_PAIRS) % KEYS] == SERVER_RANK
        };
        f += 1;
    }
    all
};

/// Clamps the weights of [`RISES_WITH_SERVER`] features at 0 from below (the projection step of
/// constrained learning; a NaN becomes 0 too).
pub fn project_monotone(weights: &mut [f32]) {
    for (w, rises) in weights.iter_mut().zip(RISES_WITH_SERVER) {
        if rises && (w.is_nan() || *w < 0.0) {
            *w = 0.0;
        }
    }
}

/// The value a feature has when its signal is absent (the baseline of a reason's contribution).
pub fn absent_value(feature: usize) -> f32 {
    match feature {
        SERVER_LOG_SCORE | LAST_NEIGHBOUR_LOG | COOC_LOG => 0.01f32.ln(),
        _ => 0.0,
    }
}

/// True when a base feature of [`Source::Personal`] fires in `row` (a feature row).
pub fn fires_personal(row: &[f32]) -> bool {
    row.iter()
        .take(NUM_BASE_FEATURES)
        .enumerate()
        .any(|(f, &x)| SOURCES[f] == Source::Personal && x != 0.0 && x != absent_value(f))
}

/// The weights a ranking scores with, into `out`: the model's, without shop-wide signals in
/// search (the server's relevance already holds them), and only the server's own features when
/// nothing personal fired (so the answer keeps the server's order).
pub fn scoring_weights(weights: &[f32], search: bool, server_only: bool, out: &mut Vec<f32>) {
    let keep = |source: Source| match source {
        Source::Server => true,
        Source::ShopWide => !search && !server_only,
        Source::Personal => !server_only,
    };
    out.clear();
    out.extend(weights.iter().zip(SOURCES).map(|(&w, source)| if keep(source) { w } else { 0.0 }));
}

/// Moves the rows that are not in the server's answer just below its lowest-scored row (their
/// order among themselves is then the tie-break's).
pub fn put_after_answer(scores: &mut [f32], in_answer: impl Fn(usize) -> bool) {
    let lowest = (0..scores.len()).filter(|&r| in_answer(r)).map(|r| scores[r]).fold(f32::INFINITY, f32::min);
    let below = if lowest.is_finite() { lowest - 1.0 } else { 0.0 };
    for (r, score) in scores.iter_mut().enumerate() {
        if !in_answer(r) {
            *score = below;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str) -> usize {
        (0..NUM_FEATURES).find(|&f| feature_name(f) == name).unwrap_or(usize::MAX)
    }

    #[test]
    fn sources_follow_the_inputs() {
        assert_eq!(SOURCES[SERVER_RANK], Source::Server);
        assert_eq!(SOURCES[IN_ANSWER], Source::Server);
        assert_eq!(SOURCES[POPULARITY], Source::ShopWide);
        assert_eq!(SOURCES[COOC_FAST], Source::Personal);
        assert_eq!(SOURCES[index("server_rank*server_rank")], Source::Server);
        assert_eq!(SOURCES[index("sqrt(server_rank)")], Source::Server);
        assert_eq!(SOURCES[index("server_rank*popularity")], Source::ShopWide);
        assert_eq!(SOURCES[index("popularity*popularity")], Source::ShopWide);
        assert_eq!(SOURCES[index("server_rank*emb_session")], Source::Personal);
        assert_eq!(SOURCES[index("sqrt(popularity)")], Source::ShopWide);
        assert_eq!(SOURCES[index("server_rank*long_session")], Source::Server);
        assert_eq!(SOURCES[index("popularity*long_session")], Source::ShopWide);
        assert_eq!(SOURCES[index("cooc_max*long_session")], Source::Personal);
        assert_eq!(SOURCES[index("cooc_fast/set_max")], Source::Personal);
    }

    #[test]
    fn the_server_rank_features_are_the_monotone_ones_and_projection_clamps_only_them() {
        let rising: Vec<String> = (0..NUM_FEATURES).filter(|&f| RISES_WITH_SERVER[f]).map(feature_name).collect();
        // score, log score, rank; the 8 pairs with the rank; its set_max, sqrt and long-session;
        // the rank of a session item (the return block).
        assert_eq!(rising.len(), 3 + KEYS + 3 + 1, "{rising:?}");
        assert!(RISES_WITH_SERVER[index("in_session*server_rank")] && !RISES_WITH_SERVER[index("top_count")]);
        assert!(rising.iter().all(|n| n.starts_with("server_") || n.contains("server_rank")), "{rising:?}");
        assert!(RISES_WITH_SERVER[index("cooc_fast*server_rank")] && !RISES_WITH_SERVER[IN_ANSWER]);
        let mut weights = vec![-1.0; NUM_FEATURES];
        weights[SERVER_RANK] = f32::NAN;
        weights[SERVER_SCORE] = 0.5;
        project_monotone(&mut weights);
        for (f, w) in weights.iter().enumerate() {
            let expected = match f {
                SERVER_SCORE => 0.5,
                _ if RISES_WITH_SERVER[f] => 0.0,
                _ => -1.0,
            };
            assert!((w - expected).abs() < 1e-9, "{}: {w}", feature_name(f));
        }
    }

    #[test]
    fn scoring_weights_drop_what_the_mode_leaves_out() {
        let weights = vec![1.0; NUM_FEATURES];
        let mut out = Vec::new();
        let count =
            |out: &[f32], source: Source| (0..NUM_FEATURES).filter(|&f| SOURCES[f] == source && out[f] != 0.0).count();
        let total = |source: Source| SOURCES.iter().filter(|s| **s == source).count();
        scoring_weights(&weights, false, false, &mut out);
        assert_eq!(out, weights);
        scoring_weights(&weights, true, false, &mut out);
        assert_eq!((count(&out, Source::ShopWide), count(&out, Source::Personal)), (0, total(Source::Personal)));
        for search in [false, true] {
            scoring_weights(&weights, search, true, &mut out);
            assert_eq!(count(&out, Source::Server), total(Source::Server));
            assert_eq!(count(&out, Source::ShopWide) + count(&out, Source::Personal), 0);
        }
        let mut scores = [3.0, 9.0, 2.0, 5.0];
        put_after_answer(&mut scores, |r| r < 2);
        assert_eq!(scores, [3.0, 9.0, 2.0, 2.0]);
    }

    #[test]
    fn personal_signals_are_told_from_absent_values() {
        let mut row = vec![0.0; NUM_FEATURES];
        row[SERVER_SCORE] = 1.0;
        row[POPULARITY] = 0.7;
        row[COOC_LOG] = absent_value(COOC_LOG);
        row[LAST_NEIGHBOUR_LOG] = absent_value(LAST_NEIGHBOUR_LOG);
        assert!(!fires_personal(&row));
        row[AFFINITY] = 0.2;
        assert!(fires_personal(&row));
    }
}
