//! The features of the candidate set alone: the server's score and order, and shop-wide
//! popularity, computed once per set and reused while the page ranks it again.

use super::super::candidates::{CandidateOrigin, CandidateSet};
use super::super::features::NUM_FEATURES;
use super::{scaled, FeatureExtractor, LOG_FLOOR, NONE, SET_FEATURES};

impl FeatureExtractor {
    /// The features that depend on the set alone: the server's score and order, and shop-wide
    /// popularity. They are kept for the set they were computed for, so ranking the same set
    /// again (the page renders it more than once) skips the sort and the logs.
    pub(super) fn server_features(&mut self, set: &CandidateSet) {
        if set.serial == 0 || set.serial != self.set_serial || self.set_columns.len() != set.len() {
            self.set_columns_of(set);
            self.set_serial = set.serial;
        }
        for (x, columns) in self.matrix.chunks_exact_mut(NUM_FEATURES).zip(&self.set_columns) {
            for (&f, &v) in SET_FEATURES.iter().zip(columns) {
                x[f] = v;
            }
        }
    }

    fn set_columns_of(&mut self, set: &CandidateSet) {
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        self.answer_rows.clear();
        for (row, &s) in set.server_scores.iter().enumerate() {
            if set.origins[row] == CandidateOrigin::CurrentAnswer {
                min = min.min(s);
                max = max.max(s);
                self.answer_rows.push(row as u32);
            }
        }
        // The server's order: a higher score first, then the earlier position. Answers usually
        // arrive sorted already; only unsorted ones pay for the sort.
        let scores = &set.server_scores;
        let positions = &set.positions;
        let before = |a: &u32, b: &u32| {
            let (a, b) = (*a as usize, *b as usize);
            scores[b].total_cmp(&scores[a]).then(positions[a].cmp(&positions[b]))
        };
        if !self.answer_rows.is_sorted_by(|a, b| before(a, b).is_le()) {
            crate::ordering::sort_rows_by(&mut self.answer_rows, &mut |a, b| before(&a, &b));
        }
        self.server_order.clear();
        self.server_order.resize(set.len(), NONE);
        for (place, &row) in self.answer_rows.iter().enumerate() {
            if let Some(order) = self.server_order.get_mut(row as usize) {
                *order = place as u32;
            }
        }
        let max_pop = set.popularity.iter().fold(0.0f32, |m, &p| m.max(p));
        let pop_scale = if max_pop > 0.0 { 1.0 / (1.0 + max_pop).ln() } else { 0.0 };
        let answered = self.answer_rows.len() as u32;
        self.set_columns.clear();
        for row in 0..set.len() {
            let mut x = [0.0f32; SET_FEATURES.len()];
            let place = self.server_order[row];
            if place != NONE {
                let s = scaled(set.server_scores[row], min, max);
                x[0] = s;
                x[1] = (LOG_FLOOR + s).ln();
                x[2] = 1.0;
                x[3] = 1.0 / (place as f32 + 2.0).log2();
            } else {
                x[1] = LOG_FLOOR.ln();
                self.server_order[row] = answered + row as u32;
            }
            let pop_log = (1.0 + set.popularity[row]).ln();
            x[4] = pop_log;
            x[5] = pop_log * pop_scale;
            self.set_columns.push(x);
        }
    }
}
