//! Turns a candidate set, the session memory and the shopper into the feature matrix.
//! Every buffer lives in [`FeatureExtractor`] and is reused: nothing is allocated per candidate.

use super::candidates::CandidateSet;
use super::features::*;
use super::ids::ItemIds;
use super::params::RankConfig;
use super::session::SessionMemory;
use super::shopper::ShopperSignals;
use super::sources::fires_personal;

mod embedding;
mod returns;
mod server;

pub(crate) use embedding::dot;

const NONE: u32 = u32::MAX;
const LOG_FLOOR: f32 = 0.01;
const KEYS: usize = INTERACTION_KEYS.len();
/// The features that depend on the candidate set alone, in the order the extractor keeps them.
const SET_FEATURES: [usize; 6] = [SERVER_SCORE, SERVER_LOG_SCORE, IN_ANSWER, SERVER_RANK, POPULARITY_LOG, POPULARITY];

/// The interaction pairs that involve the server's rank: `(pair index, key a, key b)`. Their
/// products use both values clipped at 0.
const RANK_PAIRS: [(usize, usize, usize); KEYS] = {
    let mut pairs = [(0, 0, 0); KEYS];
    let (mut a, mut at, mut found) = (0, 0, 0);
    while a < KEYS {
        let mut b = a;
        while b < KEYS {
            if INTERACTION_KEYS[a] == SERVER_RANK || INTERACTION_KEYS[b] == SERVER_RANK {
                pairs[found] = (at, a, b);
                found += 1;
            }
            at += 1;
            b += 1;
        }
        a += 1;
    }
    pairs
};

/// One distinct item of the session, with what ranking wants to know about it.
#[derive(Debug, Clone, Copy)]
struct SessionEntry {
    id: u32,
    count: u32,
    /// Steps back from the last item to its latest occurrence (0 = last item).
    last_distance: u32,
}

/// Reusable buffers plus the matrix of the last extraction.
#[derive(Debug, Default, Clone)]
pub struct FeatureExtractor {
    matrix: Vec<f32>,
    /// Per row: the session entry that contributed most co-visitation, or `NONE`.
    best_source: Vec<u32>,
    best_contribution: Vec<f32>,
    row_of: Vec<u32>,
    entry_of: Vec<u32>,
    /// Dense session ids, oldest first (with repeats), and each one's distance from the end.
    walk: Vec<(u32, u32)>,
    entries: Vec<SessionEntry>,
    key_affinity: Vec<f32>,
    session_embedding: Vec<f32>,
    last_embedding: Vec<f32>,
    /// Rows of the current answer, sorted into the server's order.
    answer_rows: Vec<u32>,
    /// Per row: its place in the server's order (score descending, then position); rows of
    /// earlier answers follow in row order. Ties of the model's score are broken by it.
    server_order: Vec<u32>,
    /// Whether a personal signal (session or profile) fired for any row.
    personal: bool,
    /// Per row of the set with serial `set_serial`: the values of [`SET_FEATURES`].
    set_columns: Vec<[f32; SET_FEATURES.len()]>,
    set_serial: u64,
    /// Share of the session's views after the first that went back to an earlier item.
    repeat_share: f32,
    /// Whether the last view went back to an earlier item.
    last_repeated: bool,
}

fn scaled(score: f32, min: f32, max: f32) -> f32 {
    if min >= 0.0 {
        if max > 0.0 {
            score / max
        } else {
            0.0
        }
    } else if max > min {
        (score - min) / (max - min)
    } else {
        1.0
    }
}

impl FeatureExtractor {
    /// The matrix of the last [`extract`](Self::extract): `len × NUM_FEATURES`, row-major.
    pub fn matrix(&self) -> &[f32] {
        &self.matrix
    }

    pub fn row(&self, row: usize) -> &[f32] {
        &self.matrix[row * NUM_FEATURES..(row + 1) * NUM_FEATURES]
    }

    /// Per row, its place in the server's order (see the field); the tie-breaker of selection.
    pub fn server_order(&self) -> &[u32] {
        &self.server_order
    }

    /// Whether the session or the profile said anything about any row of the last extraction.
    /// When nothing personal fired the ranker keeps the server's order.
    pub fn any_personal(&self) -> bool {
        self.personal
    }

    /// The shopper's affinity (≥ 0) for attribute key `k` of the last extracted set; 0 past its end.
    pub fn key_affinity(&self, k: usize) -> f32 {
        self.key_affinity.get(k).copied().unwrap_or(0.0)
    }

    /// The session item (dense id) that made row `row` a co-visitation match, if any.
    pub fn best_source(&self, row: usize) -> Option<u32> {
        let entry = *self.best_source.get(row)?;
        self.entries.get(entry as usize).map(|e| e.id)
    }

    /// Fills the matrix for `set`.
    pub fn extract(
        &mut self,
        set: &CandidateSet,
        shopper: &dyn ShopperSignals,
        memory: &SessionMemory,
        ids: &ItemIds,
        config: &RankConfig,
    ) {
        let n = set.len();
        self.matrix.clear();
        self.matrix.resize(n * NUM_FEATURES, 0.0);
        self.best_source.clear();
        self.best_source.resize(n, NONE);
        self.best_contribution.clear();
        self.best_contribution.resize(n, 0.0);
        if self.row_of.len() < ids.len() {
            self.row_of.resize(ids.len(), NONE);
            self.entry_of.resize(ids.len(), NONE);
        }
        for (row, &id) in set.ids.iter().enumerate() {
            if let Some(slot) = self.row_of.get_mut(id as usize) {
                *slot = row as u32;
            }
        }
        let decay = config.params().fast_decay;
        self.read_session(shopper, ids, config.params().max_session_items);
        self.server_features(set);
        self.cooc_features(set, memory, decay);
        self.session_features(set, decay);
        self.return_gates(set);
        self.embedding_features(set, shopper, memory, decay);
        self.profile_features(set, shopper, ids);
        // Reset the dense indexes for the next call.
        for &id in &set.ids {
            if let Some(slot) = self.row_of.get_mut(id as usize) {
                *slot = NONE;
            }
        }
        for e in &self.entries {
            self.entry_of[e.id as usize] = NONE;
        }
        let off = config.families_off();
        if off.any_off() {
            for family in Family::ALL.into_iter().filter(|f| off.is_off(*f) && *f != Family::Interaction) {
                for row in self.matrix.chunks_exact_mut(NUM_FEATURES) {
                    for &f in family.features() {
                        row[f] = 0.0;
                    }
                }
            }
        }
        self.return_crosses();
        self.personal = self.matrix.chunks_exact(NUM_FEATURES).any(fires_personal);
        if !off.is_off(Family::Interaction) {
            fill_interactions(&mut self.matrix, self.walk.len() >= 2);
        }
    }

    fn read_session(&mut self, shopper: &dyn ShopperSignals, ids: &ItemIds, max_items: usize) {
        self.walk.clear();
        self.entries.clear();
        self.last_repeated = false;
        let len = shopper.session_len();
        for index in len.saturating_sub(max_items)..len {
            let Some(item) = shopper.session_item(index) else { continue };
            let Some(id) = ids.get(item.id) else { continue };
            let distance = (len - 1 - index) as u32;
            self.walk.push((id, distance));
            let slot = self.entry_of[id as usize];
            self.last_repeated = slot != NONE;
            if slot == NONE {
                self.entry_of[id as usize] = self.entries.len() as u32;
                self.entries.push(SessionEntry { id, count: 1, last_distance: distance });
            } else {
                let e = &mut self.entries[slot as usize];
                e.count += 1;
                e.last_distance = distance;
            }
        }
        let repeats = self.walk.len() - self.entries.len();
        self.repeat_share = if self.walk.len() > 1 { repeats as f32 / (self.walk.len() - 1) as f32 } else { 0.0 };
    }

    fn cooc_features(&mut self, set: &CandidateSet, memory: &SessionMemory, decay: f32) {
        let mut answered = 0u32;
        let mut harmonic_total = 0.0f32;
        let last = self.walk.last().map(|w| w.0);
        for &(source, distance) in &self.walk {
            let Some(answer) = memory.answer_about(source) else { continue };
            let (nb_ids, nb_scores, max) = (answer.ids, answer.scores, answer.max_score);
            let min = nb_scores.iter().fold(f32::INFINITY, |m, &s| m.min(s));
            answered += 1;
            let fast = decay.powi(distance as i32);
            let harmonic = 1.0 / (1.0 + distance as f32);
            harmonic_total += harmonic;
            let entry = self.entry_of[source as usize];
            for (rank, (&nb, &score)) in nb_ids.iter().zip(nb_scores).enumerate() {
                let row = self.row_of.get(nb as usize).copied().unwrap_or(NONE);
                if row == NONE {
                    continue;
                }
                let row = row as usize;
                let s = scaled(score, min, max);
                let x = &mut self.matrix[row * NUM_FEATURES..(row + 1) * NUM_FEATURES];
                x[COOC_FAST] += fast * s;
                x[COOC_SLOW] += harmonic * s;
                x[COOC_MAX] = x[COOC_MAX].max(s);
                x[COOC_COUNT] += 1.0;
                x[COOC_RANK] += fast / (rank as f32 + 2.0).log2();
                if distance == 0 && Some(source) == last {
                    x[LAST_NEIGHBOUR] = s;
                }
                if let Some(&p) = answer.next.get(rank) {
                    // The sequence block: `next` is 0..=1, checked when the answer arrived.
                    x[NEXT_SESSION] += fast * p;
                    match distance {
                        0 => x[NEXT_LAST] = p,
                        1 => x[NEXT_PREV] = p,
                        _ => {}
                    }
                }
                if fast * s > self.best_contribution[row] {
                    self.best_contribution[row] = fast * s;
                    self.best_source[row] = entry;
                }
            }
        }
        // Most rows have no co-visitation: their logs are the floor's, without a call to ln.
        let floor_ln = LOG_FLOOR.ln();
        let log = |x: f32| if x == 0.0 { floor_ln } else { (LOG_FLOOR + x).ln() };
        for row in self.matrix.chunks_exact_mut(NUM_FEATURES) {
            if harmonic_total > 0.0 {
                row[COOC_SLOW] /= harmonic_total;
            }
            if answered > 0 {
                row[COOC_COUNT] /= answered as f32;
            }
            row[COOC_LOG] = log(row[COOC_FAST]);
            row[LAST_NEIGHBOUR_LOG] = log(row[LAST_NEIGHBOUR]);
        }
        // The other direction: the candidate's own neighbour list naming session items.
        for row in 0..set.len() {
            let (nb_ids, nb_scores) = set.neighbours(row);
            let max = nb_scores.iter().fold(0.0f32, |m, &s| m.max(s.abs()));
            if max <= 0.0 {
                continue;
            }
            let mut total = 0.0;
            for (&nb, &score) in nb_ids.iter().zip(nb_scores) {
                let entry = self.entry_of.get(nb as usize).copied().unwrap_or(NONE);
                if entry != NONE {
                    let e = self.entries[entry as usize];
                    total += decay.powi(e.last_distance as i32) * score.max(0.0) / max;
                }
            }
            self.matrix[row * NUM_FEATURES + COOC_REVERSE] = total;
        }
    }

    fn session_features(&mut self, set: &CandidateSet, decay: f32) {
        for (row, &id) in set.ids.iter().enumerate() {
            let entry = self.entry_of.get(id as usize).copied().unwrap_or(NONE);
            if entry == NONE {
                continue;
            }
            let e = self.entries[entry as usize];
            let x = &mut self.matrix[row * NUM_FEATURES..(row + 1) * NUM_FEATURES];
            x[IN_SESSION] = 1.0;
            x[SESSION_COUNT] = (1.0 + e.count as f32).ln();
            let recency = decay.powi(e.last_distance as i32);
            x[SESSION_RECENCY] = recency;
            x[IS_LAST] = if e.last_distance == 0 { 1.0 } else { 0.0 };
            x[REPEAT_SHARE] = self.repeat_share;
            x[RECENCY_REPEAT_SHARE] = recency * self.repeat_share;
            x[RECENCY_LAST_REPEATED] = if self.last_repeated { recency } else { 0.0 };
        }
    }

    fn profile_features(&mut self, set: &CandidateSet, shopper: &dyn ShopperSignals, ids: &ItemIds) {
        self.key_affinity.clear();
        self.key_affinity.extend(set.attr_keys.iter().map(|k| {
            let a = shopper.affinity(k);
            if a.is_finite() {
                a.max(0.0)
            } else {
                0.0
            }
        }));
        let max_affinity = self.key_affinity.iter().fold(0.0f32, |m, &a| m.max(a));
        let session_scale = 1.0 / (1.0 + self.walk.len() as f32);
        for row in 0..set.len() {
            let x = &mut self.matrix[row * NUM_FEATURES..(row + 1) * NUM_FEATURES];
            if max_affinity > 0.0 {
                let refs = set.attribute_refs(row);
                // Affinities are finite and ≥ 0: a plain comparison (wasm calls out for f32::max).
                let best = refs.iter().fold(0.0f32, |m, &k| {
                    let a = self.key_affinity[k as usize];
                    if a > m {
                        a
                    } else {
                        m
                    }
                });
                x[AFFINITY] = best / max_affinity;
            }
            if let Some(&k) = set.primary_category.get(row).filter(|&&k| k != super::candidates::NO_CATEGORY) {
                x[AFFINITY_CATEGORY] = (self.key_affinity[k as usize] * session_scale).min(1.0);
            }
            if let Some(name) = ids.name(set.ids[row]) {
                x[PURCHASED] = if shopper.has_purchased(name) { 1.0 } else { 0.0 };
                x[DISMISSED] = if shopper.has_dismissed(name) { 1.0 } else { 0.0 };
                let repeats = shopper.repeat_interest(name);
                x[LONG_REPEAT] = if repeats == 0 { 0.0 } else { (1.0 + repeats as f32).ln() };
            }
        }
    }
}

/// Fills the interaction block of every row of `matrix` (rows of [`NUM_FEATURES`]) from its
/// (already masked) base features; `long` when the session has at least two items. The extractor
/// calls it, and so does the offline fit, which stores cases without the block and rebuilds it
/// bit for bit. The key values of a row are gathered once into fixed arrays and the pairs read
/// from a table: the nested loop over feature indexes it replaces was a sixth of ranking time in
/// the browser.
pub fn fill_interactions(matrix: &mut [f32], long: bool) {
    let mut set_max = [0.0f32; KEYS];
    for row in matrix.chunks_exact(NUM_FEATURES) {
        for (m, &f) in set_max.iter_mut().zip(&INTERACTION_KEYS) {
            // Not f32::max, which wasm calls out for; the same for NaN (the maximum stays).
            if row[f] > *m {
                *m = row[f];
            }
        }
    }
    let long = if long { 1.0 } else { 0.0 };
    for row in matrix.chunks_exact_mut(NUM_FEATURES) {
        let (base, derived) = row.split_at_mut(NUM_BASE_FEATURES);
        let Ok(derived) = <&mut [f32; NUM_INTERACTIONS]>::try_from(&mut derived[..NUM_INTERACTIONS]) else {
            continue;
        };
        let value: [f32; KEYS] = std::array::from_fn(|k| base[INTERACTION_KEYS[k]]);
        // Clipped at 0 (a NaN reads as 0, as with f32::max).
        let clipped: [f32; KEYS] = value.map(|x| if x > 0.0 { x } else { 0.0 });
        // Every pair as a run of contiguous products (vectorizes), then the server-rank
        // pairs again from the clipped values, so that they never fall as the server places
        // the candidate higher.
        let mut at = 0;
        for a in 0..KEYS {
            let span = KEYS - a;
            for (out, &vb) in derived[at..at + span].iter_mut().zip(&value[a..]) {
                *out = value[a] * vb;
            }
            at += span;
        }
        for &(at, a, b) in &RANK_PAIRS {
            derived[at] = clipped[a] * clipped[b];
        }
        for k in 0..KEYS {
            derived[NUM_PAIRS + k] = if set_max[k] > 0.0 { value[k] / set_max[k] } else { 0.0 };
            derived[NUM_PAIRS + KEYS + k] = clipped[k].sqrt();
            derived[NUM_PAIRS + 2 * KEYS + k] = value[k] * long;
        }
    }
}
