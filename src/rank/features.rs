//! The model's input: one row of [`NUM_FEATURES`] numbers per candidate, grouped in families
//! that can be switched off together (for ablations and for shops that lack a signal).

/// Server score of the current answer, min-max scaled to 0..=1 (0 for pooled rows).
pub const SERVER_SCORE: usize = 0;
/// `ln(0.01 + SERVER_SCORE)`.
pub const SERVER_LOG_SCORE: usize = 1;
/// `1 / log2(position + 2)` in the server's order (0 for pooled rows).
pub const SERVER_RANK: usize = 2;
/// 1 when the row is in the current answer.
pub const IN_ANSWER: usize = 3;
/// Scaled score of the candidate in the answer about the last session item.
pub const LAST_NEIGHBOUR: usize = 4;
/// `ln(0.01 + LAST_NEIGHBOUR)`.
pub const LAST_NEIGHBOUR_LOG: usize = 5;
/// Σ over session items of `fast_decay^distance × scaled neighbour score`.
pub const COOC_FAST: usize = 6;
/// Harmonic-recency weighted mean of scaled neighbour scores over session items.
pub const COOC_SLOW: usize = 7;
/// `ln(0.01 + COOC_FAST)`.
pub const COOC_LOG: usize = 8;
/// Largest scaled neighbour score over session items.
pub const COOC_MAX: usize = 9;
/// Share of session items that list the candidate as a neighbour.
pub const COOC_COUNT: usize = 10;
/// Σ over session items of `fast_decay^distance / log2(neighbour rank + 2)`.
pub const COOC_RANK: usize = 11;
/// Σ over session items of `fast_decay^distance × scaled score`, read from the candidate's own
/// neighbour list (the other direction).
pub const COOC_REVERSE: usize = 12;
/// Cosine between the candidate and the recency-weighted session embedding.
pub const EMB_SESSION: usize = 13;
/// Cosine between the candidate and the last session item.
pub const EMB_LAST: usize = 14;
/// Cosine between the candidate and the long-term profile embedding.
pub const EMB_LONG_TERM: usize = 15;
/// Largest decayed affinity of the candidate's attributes, relative to the largest in the set.
pub const AFFINITY: usize = 16;
/// Affinity of the candidate's deepest category, relative to the session length.
pub const AFFINITY_CATEGORY: usize = 17;
/// 1 when the candidate is an item of the current session.
pub const IN_SESSION: usize = 18;
/// `ln(1 + times in session)`.
pub const SESSION_COUNT: usize = 19;
/// `fast_decay^distance` of the candidate's latest occurrence in the session.
pub const SESSION_RECENCY: usize = 20;
/// 1 when the candidate is the last session item (the page being viewed).
pub const IS_LAST: usize = 21;
/// `ln(1 + repeat interest across visits)`.
pub const LONG_REPEAT: usize = 22;
pub const PURCHASED: usize = 23;
pub const DISMISSED: usize = 24;
/// `ln(1 + popularity) / ln(1 + largest popularity in the set)`.
pub const POPULARITY: usize = 25;
/// `ln(1 + popularity)`.
pub const POPULARITY_LOG: usize = 26;
/// `IN_SESSION ×` the session's repeat share (the share of its views, after the first, that went
/// back to an item viewed before): sessions that keep returning keep returning.
pub const REPEAT_SHARE: usize = 27;
/// `SESSION_RECENCY ×` the session's repeat share.
pub const RECENCY_REPEAT_SHARE: usize = 28;
/// `SESSION_RECENCY ×` 1 when the last view itself went back to an earlier item.
pub const RECENCY_LAST_REPEATED: usize = 29;
/// Number of base features (the signals themselves).
pub const NUM_BASE_FEATURES: usize = 30;

/// The key signals whose pairwise products, set-relative values, square roots and
/// long-session versions form the interaction block: they let a linear model bend.
pub const INTERACTION_KEYS: [usize; 8] =
    [COOC_FAST, SERVER_RANK, EMB_SESSION, EMB_LAST, SESSION_RECENCY, POPULARITY, LAST_NEIGHBOUR, COOC_MAX];
const KEYS: usize = INTERACTION_KEYS.len();
/// Products of every unordered pair of keys (with itself included).
pub const NUM_PAIRS: usize = KEYS * (KEYS + 1) / 2;
/// Pairs, then per key: value / largest in the set, square root, value × [session ≥ 2 items].
pub const NUM_INTERACTIONS: usize = NUM_PAIRS + 3 * KEYS;
/// Features of layout 1 (model file / download format 1): the base features and the interactions.
pub const NUM_LAYOUT_1_FEATURES: usize = NUM_BASE_FEATURES + NUM_INTERACTIONS;

/// Layout 2 appends the return block: what separates going back to a session item from exploring
/// a new one. Every value is 0 for a candidate outside the session, so a session item gets its own
/// weights for the signals below (a repeat score beside the explore score) and session-level gates
/// (softmax is shift-invariant per case, so `in_session × gate` moves all returns against all
/// explorations). First `in_session ×` each of [`RETURN_CROSSES`], then [`RETURN_GATE_NAMES`].
pub const RETURN_CROSSES: [usize; 8] =
    [SERVER_RANK, COOC_FAST, COOC_MAX, LAST_NEIGHBOUR, COOC_REVERSE, EMB_SESSION, EMB_LAST, POPULARITY];
/// First feature of the return block.
pub const RETURN_START: usize = NUM_LAYOUT_1_FEATURES;
/// First return gate: `ln(1 + session length)`, then the others of [`RETURN_GATE_NAMES`].
pub const RETURN_GATES: usize = RETURN_START + RETURN_CROSSES.len();
/// The return gates, in order (each only for a session item).
pub const RETURN_GATE_NAMES: [&str; 8] = [
    "in_session*len_log",
    "in_session*distinct_log",
    "in_session*last_repeated",
    "recency_rank",
    "count_share",
    "top_count",
    "session_count*repeat_share",
    "is_last*len_log",
];
/// Size of the return block.
pub const NUM_RETURN: usize = RETURN_CROSSES.len() + RETURN_GATE_NAMES.len();
/// Features of layout 2 (model file / download format 2): layout 1 and the return block.
pub const NUM_LAYOUT_2_FEATURES: usize = NUM_LAYOUT_1_FEATURES + NUM_RETURN;

/// Layout 3 appends the sequence block (`extract/sequence.rs`): directional signals the answers
/// carry in their `next` column, where a candidate's value in the answer about item `s` is the
/// share of `s`'s views in the shop's logs that the candidate came directly after (co-visitation
/// counts both directions and several steps; this counts the one step forward). The candidate's
/// value in the answer about the last view, its value in the answer about the view before it, and
/// the fast-decayed sum of its values over the session's views. (A fourth, `ln(0.01 + next_last)`,
/// was tried and left out on both validation cuts; a fourth weight would also take the DAP report
/// over its 32 KiB.)
pub const SEQUENCE_START: usize = NUM_LAYOUT_2_FEATURES;
/// The sequence block's features, in order.
pub const SEQUENCE_NAMES: [&str; 3] = ["next_last", "next_prev", "next_session"];
/// `P(candidate directly after the last view)`, from the answer about the last view.
pub const NEXT_LAST: usize = SEQUENCE_START;
/// `P(candidate directly after the view before the last)`, from the answer about that view.
pub const NEXT_PREV: usize = SEQUENCE_START + 1;
/// Σ over the session's views of `fast_decay^distance × P(candidate directly after the view)`.
pub const NEXT_SESSION: usize = SEQUENCE_START + 2;
/// Size of the sequence block.
pub const NUM_SEQUENCE: usize = SEQUENCE_NAMES.len();
/// Length of a feature row and of the model's weight vectors (layout 3).
pub const NUM_FEATURES: usize = NUM_LAYOUT_2_FEATURES + NUM_SEQUENCE;

const INTERACTION_FEATURES: [usize; NUM_INTERACTIONS] = {
    let mut all = [0; NUM_INTERACTIONS];
    let mut i = 0;
    while i < NUM_INTERACTIONS {
        all[i] = NUM_BASE_FEATURES + i;
        i += 1;
    }
    all
};

const SEQUENCE_FEATURES: [usize; NUM_SEQUENCE] = {
    let mut all = [0; NUM_SEQUENCE];
    let mut i = 0;
    while i < NUM_SEQUENCE {
        all[i] = SEQUENCE_START + i;
        i += 1;
    }
    all
};

const REPEAT_FEATURES: [usize; 8 + NUM_RETURN] = {
    let own = [IN_SESSION, SESSION_COUNT, SESSION_RECENCY, IS_LAST, LONG_REPEAT, REPEAT_SHARE];
    let mut all = [0; 8 + NUM_RETURN];
    let mut i = 0;
    while i < 8 + NUM_RETURN {
        all[i] = match i {
            0..=5 => own[i],
            6 => RECENCY_REPEAT_SHARE,
            7 => RECENCY_LAST_REPEATED,
            _ => RETURN_START + i - 8,
        };
        i += 1;
    }
    all
};

/// The base features an interaction feature is computed from (empty for a base feature).
pub fn interaction_inputs(index: usize) -> Vec<usize> {
    if (RETURN_START..RETURN_GATES).contains(&index) {
        return vec![IN_SESSION, RETURN_CROSSES[index - RETURN_START]];
    }
    if !(NUM_BASE_FEATURES..NUM_LAYOUT_1_FEATURES).contains(&index) {
        return Vec::new();
    }
    let i = index - NUM_BASE_FEATURES;
    if i < NUM_PAIRS {
        let mut rest = i;
        for a in 0..KEYS {
            let span = KEYS - a;
            if rest < span {
                return vec![INTERACTION_KEYS[a], INTERACTION_KEYS[a + rest]];
            }
            rest -= span;
        }
    }
    vec![INTERACTION_KEYS[(i - NUM_PAIRS) % KEYS]]
}

/// The name of feature `index` ("cooc_fast", "cooc_fast*server_rank", "sqrt(emb_last)", ...).
pub fn feature_name(index: usize) -> String {
    if let Some(name) = FEATURE_NAMES.get(index) {
        return (*name).to_owned();
    }
    if index >= SEQUENCE_START {
        return SEQUENCE_NAMES.get(index - SEQUENCE_START).map_or(format!("unknown_{index}"), |n| (*n).to_owned());
    }
    if index >= RETURN_GATES {
        return RETURN_GATE_NAMES.get(index - RETURN_GATES).map_or(format!("unknown_{index}"), |n| (*n).to_owned());
    }
    if index >= RETURN_START {
        return format!("in_session*{}", FEATURE_NAMES[RETURN_CROSSES[index - RETURN_START]]);
    }
    let i = index.saturating_sub(NUM_BASE_FEATURES);
    let key = |k: usize| FEATURE_NAMES[INTERACTION_KEYS[k % KEYS]];
    if i < NUM_PAIRS {
        let mut rest = i;
        for a in 0..KEYS {
            let span = KEYS - a;
            if rest < span {
                return format!("{}*{}", key(a), key(a + rest));
            }
            rest -= span;
        }
    }
    let j = i - NUM_PAIRS;
    match j / KEYS {
        0 => format!("{}/set_max", key(j)),
        1 => format!("sqrt({})", key(j)),
        2 => format!("{}*long_session", key(j)),
        _ => format!("unknown_{index}"),
    }
}

/// Base feature names, index-aligned, for reports and the shipped weights file.
pub const FEATURE_NAMES: [&str; NUM_BASE_FEATURES] = [
    "server_score",
    "server_log_score",
    "server_rank",
    "in_answer",
    "last_neighbour",
    "last_neighbour_log",
    "cooc_fast",
    "cooc_slow",
    "cooc_log",
    "cooc_max",
    "cooc_count",
    "cooc_rank",
    "cooc_reverse",
    "emb_session",
    "emb_last",
    "emb_long_term",
    "affinity",
    "affinity_category",
    "in_session",
    "session_count",
    "session_recency",
    "is_last",
    "long_repeat",
    "purchased",
    "dismissed",
    "popularity",
    "popularity_log",
    "repeat_share",
    "recency_repeat_share",
    "recency_last_repeated",
];

/// A group of features that stands for one signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// The server's own score and order.
    Server,
    /// Co-visitation with the item being viewed.
    LastNeighbour,
    /// Co-visitation with the whole session, several decays and aggregations.
    SessionCooc,
    /// Embedding similarity to the session and the long-term profile.
    Embedding,
    /// Decayed attribute (category, brand, price band, tag) affinities.
    Affinity,
    /// The shopper coming back to items of the session or of earlier visits.
    Repeat,
    /// Purchased and dismissed items.
    Suppression,
    /// Shop-wide popularity.
    Popularity,
    /// Products and bends of the key signals (see [`INTERACTION_KEYS`]).
    Interaction,
    /// Which items the shop's shoppers view next after the session's views (layout 3's block).
    Sequence,
}

impl Family {
    pub const ALL: [Family; 10] = [
        Family::Server,
        Family::LastNeighbour,
        Family::SessionCooc,
        Family::Embedding,
        Family::Affinity,
        Family::Repeat,
        Family::Suppression,
        Family::Popularity,
        Family::Interaction,
        Family::Sequence,
    ];

    /// The features of this family.
    pub fn features(self) -> &'static [usize] {
        match self {
            Family::Server => &[SERVER_SCORE, SERVER_LOG_SCORE, SERVER_RANK, IN_ANSWER],
            Family::LastNeighbour => &[LAST_NEIGHBOUR, LAST_NEIGHBOUR_LOG],
            Family::SessionCooc => &[COOC_FAST, COOC_SLOW, COOC_LOG, COOC_MAX, COOC_COUNT, COOC_RANK, COOC_REVERSE],
            Family::Embedding => &[EMB_SESSION, EMB_LAST, EMB_LONG_TERM],
            Family::Affinity => &[AFFINITY, AFFINITY_CATEGORY],
            Family::Repeat => &REPEAT_FEATURES,
            Family::Suppression => &[PURCHASED, DISMISSED],
            Family::Popularity => &[POPULARITY, POPULARITY_LOG],
            Family::Interaction => &INTERACTION_FEATURES,
            Family::Sequence => &SEQUENCE_FEATURES,
        }
    }

    /// The family a feature belongs to.
    pub fn of(feature: usize) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.features().contains(&feature))
    }

    /// Short name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::Server => "server",
            Family::LastNeighbour => "last-neighbour",
            Family::SessionCooc => "session-cooc",
            Family::Embedding => "embedding",
            Family::Affinity => "affinity",
            Family::Repeat => "repeat",
            Family::Suppression => "suppression",
            Family::Popularity => "popularity",
            Family::Interaction => "interaction",
            Family::Sequence => "sequence",
        }
    }

    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of families switched off; the default switches none off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FamilyMask(u16);

impl FamilyMask {
    pub fn none() -> Self {
        Self(0)
    }

    pub fn without(self, family: Family) -> Self {
        Self(self.0 | family.bit())
    }

    pub fn is_off(self, family: Family) -> bool {
        self.0 & family.bit() != 0
    }

    pub fn any_off(self) -> bool {
        self.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_has_exactly_one_family() {
        for feature in 0..NUM_FEATURES {
            let owners = Family::ALL.iter().filter(|f| f.features().contains(&feature)).count();
            assert_eq!(owners, 1, "feature {feature} ({})", feature_name(feature));
        }
        assert_eq!(feature_name(COOC_FAST), "cooc_fast");
        assert_eq!(feature_name(NUM_BASE_FEATURES), "cooc_fast*cooc_fast");
        assert_eq!(feature_name(NUM_BASE_FEATURES + 1), "cooc_fast*server_rank");
        assert_eq!(feature_name(NUM_BASE_FEATURES + KEYS), "server_rank*server_rank");
        assert_eq!(feature_name(NUM_BASE_FEATURES + NUM_PAIRS - 1), "cooc_max*cooc_max");
        assert_eq!(feature_name(NUM_BASE_FEATURES + NUM_PAIRS), "cooc_fast/set_max");
        assert_eq!(feature_name(NUM_LAYOUT_1_FEATURES - 1), "cooc_max*long_session");
        assert_eq!(NUM_LAYOUT_1_FEATURES, 90, "layout 1 is a wire format: model files and downloads of format 1");
        assert_eq!(feature_name(RETURN_START), "in_session*server_rank");
        assert_eq!(feature_name(NUM_LAYOUT_2_FEATURES - 1), "is_last*len_log");
        assert_eq!(NUM_LAYOUT_2_FEATURES, 106, "layout 2 is a wire format: model files and downloads of format 2");
        assert_eq!(feature_name(SEQUENCE_START), "next_last");
        assert_eq!(feature_name(NUM_FEATURES - 1), "next_session");
        assert_eq!(NUM_FEATURES, 109, "layout 3 is a wire format: model files and downloads of format 3");
        assert_eq!(interaction_inputs(NUM_BASE_FEATURES + 1), vec![COOC_FAST, SERVER_RANK]);
        assert_eq!(interaction_inputs(NUM_LAYOUT_1_FEATURES - 1), vec![COOC_MAX]);
        assert!(interaction_inputs(COOC_FAST).is_empty());
        for family in Family::ALL {
            assert_eq!(Family::from_name(family.name()), Some(family));
        }
        let mask = FamilyMask::none().without(Family::Affinity);
        assert!(mask.is_off(Family::Affinity) && !mask.is_off(Family::Server) && mask.any_off());
    }
}
