//! The return block of feature layout 2 (see `features::RETURN_START`): a session item's own
//! weights for the explore signals, and the session-level gates between returning and exploring.

use super::{FeatureExtractor, NONE};
use crate::rank::candidates::CandidateSet;
use crate::rank::features::*;

impl FeatureExtractor {
    /// The gates, for the rows that are session items (before the families are masked: they
    /// belong to the repeat family and are zeroed with it).
    pub(super) fn return_gates(&mut self, set: &CandidateSet) {
        let len = self.walk.len() as f32;
        let len_log = (1.0 + len).ln();
        let distinct_log = (1.0 + self.entries.len() as f32).ln();
        let top = self.entries.iter().map(|e| e.count).max().unwrap_or(0);
        for (row, &id) in set.ids.iter().enumerate() {
            let entry = self.entry_of.get(id as usize).copied().unwrap_or(NONE);
            let Some(e) = self.entries.get(entry as usize).copied() else { continue };
            // Distinct session items seen more recently than this one.
            let newer = self.entries.iter().filter(|o| o.last_distance < e.last_distance).count();
            let x = &mut self.matrix[row * NUM_FEATURES + RETURN_GATES..row * NUM_FEATURES + SEQUENCE_START];
            let is_last = if e.last_distance == 0 { 1.0 } else { 0.0 };
            x.copy_from_slice(&[
                len_log,
                distinct_log,
                if self.last_repeated { 1.0 } else { 0.0 },
                1.0 / (1.0 + newer as f32),
                e.count as f32 / len.max(1.0),
                if e.count == top { 1.0 } else { 0.0 },
                (1.0 + e.count as f32).ln() * self.repeat_share,
                is_last * len_log,
            ]);
        }
    }

    /// `in_session ×` each of [`RETURN_CROSSES`], from the (already masked) base features.
    pub(super) fn return_crosses(&mut self) {
        for row in self.matrix.chunks_exact_mut(NUM_FEATURES) {
            let in_session = row[IN_SESSION];
            if in_session == 0.0 {
                continue;
            }
            for (k, &f) in RETURN_CROSSES.iter().enumerate() {
                row[RETURN_START + k] = in_session * row[f];
            }
        }
    }
}
