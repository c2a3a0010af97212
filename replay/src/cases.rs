//! The fit's validation cases, stored without the interaction block: it is rebuilt from the other
//! features with the ranker's own code (`rank::fill_interactions`) whenever a case is read, bit for
//! bit, so a fit over compact cases learns exactly what it learned over full ones in about half the
//! memory (the block is 60 of the row's features).

use shop_personalizer::rank::features::NUM_LAYOUT_1_FEATURES;
use shop_personalizer::rank::{fill_interactions, NUM_BASE_FEATURES, NUM_FEATURES};

/// Features a compact row keeps: the base features, then everything after the interaction block.
const KEPT: usize = NUM_FEATURES - (NUM_LAYOUT_1_FEATURES - NUM_BASE_FEATURES);

/// One validation case as the ranker saw it: its feature matrix and the label's row.
#[derive(Debug, Clone)]
pub struct TrainingCase {
    /// Rows of [`KEPT`] features, or of all [`NUM_FEATURES`] when `full`.
    stored: Vec<f32>,
    full: bool,
    /// Whether the interaction block is rebuilt (false: it stays 0, the family switched off) and
    /// with the session counted as long (at least two items).
    interactions: bool,
    long: bool,
    pub label_row: usize,
    /// Length of the session prefix the case was ranked after.
    pub session_len: usize,
}

fn compact(matrix: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(matrix.len() / NUM_FEATURES * KEPT);
    for row in matrix.chunks_exact(NUM_FEATURES) {
        out.extend_from_slice(&row[..NUM_BASE_FEATURES]);
        out.extend_from_slice(&row[NUM_LAYOUT_1_FEATURES..]);
    }
    out
}

impl TrainingCase {
    /// The case of `matrix` (rows of [`NUM_FEATURES`], as the extractor wrote them). It is kept
    /// compact when rebuilding its interaction block gives back `matrix` exactly, whole otherwise.
    pub fn new(matrix: &[f32], label_row: usize, session_len: usize) -> Self {
        let mut case = Self {
            stored: compact(matrix),
            full: false,
            interactions: true,
            long: session_len >= 2,
            label_row,
            session_len,
        };
        let mut rebuilt = Vec::new();
        for long in [case.long, !case.long] {
            case.long = long;
            case.expand_into(&mut rebuilt);
            if rebuilt.iter().zip(matrix).all(|(a, b)| a.to_bits() == b.to_bits()) && rebuilt.len() == matrix.len() {
                return case;
            }
        }
        Self { stored: matrix.to_vec(), full: true, ..case }
    }

    /// Rows (candidates) of the case.
    pub fn rows(&self) -> usize {
        self.stored.len() / if self.full { NUM_FEATURES } else { KEPT }
    }

    /// Whether the case is stored without its interaction block.
    pub fn is_compact(&self) -> bool {
        !self.full
    }

    /// Writes the full matrix (rows of [`NUM_FEATURES`]) into `out`.
    pub fn expand_into(&self, out: &mut Vec<f32>) {
        out.clear();
        if self.full {
            out.extend_from_slice(&self.stored);
            return;
        }
        out.resize(self.rows() * NUM_FEATURES, 0.0);
        for (row, kept) in out.chunks_exact_mut(NUM_FEATURES).zip(self.stored.chunks_exact(KEPT)) {
            row[..NUM_BASE_FEATURES].copy_from_slice(&kept[..NUM_BASE_FEATURES]);
            row[NUM_LAYOUT_1_FEATURES..].copy_from_slice(&kept[NUM_BASE_FEATURES..]);
        }
        if self.interactions {
            fill_interactions(out, self.long);
        }
    }

    /// The full matrix, newly allocated.
    pub fn matrix(&self) -> Vec<f32> {
        let mut out = Vec::new();
        self.expand_into(&mut out);
        out
    }

    /// The case with features `zeroed` at 0 (indexes into the full row) and, when
    /// `no_interactions`, the whole interaction block at 0: the extractor's masking, since an
    /// interaction built from a zeroed feature is rebuilt as 0.
    pub fn without(&self, zeroed: &[usize], no_interactions: bool) -> Self {
        let mut case = self.clone();
        let width = if self.full { NUM_FEATURES } else { KEPT };
        let column = |f: usize| -> Option<usize> {
            if self.full || f < NUM_BASE_FEATURES {
                Some(f)
            } else if f >= NUM_LAYOUT_1_FEATURES {
                Some(f - (NUM_LAYOUT_1_FEATURES - NUM_BASE_FEATURES))
            } else {
                None
            }
        };
        let columns: Vec<usize> = zeroed.iter().filter_map(|&f| column(f)).collect();
        for row in case.stored.chunks_exact_mut(width) {
            for &c in &columns {
                row[c] = 0.0;
            }
            if self.full && no_interactions {
                row[NUM_BASE_FEATURES..NUM_LAYOUT_1_FEATURES].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        case.interactions = self.interactions && !no_interactions;
        case
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_personalizer::rank::features::{COOC_FAST, EMB_LAST, SERVER_RANK};

    /// A matrix whose interaction block the extractor's code wrote.
    fn extracted(rows: usize, long: bool) -> Vec<f32> {
        let mut matrix: Vec<f32> = (0..rows * NUM_FEATURES).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
        fill_interactions(&mut matrix, long);
        matrix
    }

    #[test]
    fn a_compact_case_expands_to_the_extracted_matrix_bit_for_bit() {
        for long in [true, false] {
            let matrix = extracted(5, long);
            let case = TrainingCase::new(&matrix, 2, 1);
            assert!(case.is_compact() && case.rows() == 5);
            assert_eq!(case.matrix().iter().map(|x| x.to_bits()).collect::<Vec<_>>(), {
                matrix.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            });
            assert!(case.stored.len() * 2 < matrix.len() + 5 * 10, "about half the floats");
        }
        // A matrix the code could not have written is kept whole, and reads back as it was.
        let mut odd = extracted(3, true);
        odd[NUM_BASE_FEATURES + 4] += 1.0;
        let case = TrainingCase::new(&odd, 0, 4);
        assert!(!case.is_compact());
        assert_eq!(case.matrix(), odd);
    }

    #[test]
    fn zeroing_a_feature_rebuilds_its_interactions_as_the_extractor_would() {
        let matrix = extracted(4, true);
        let whole = TrainingCase::new(&matrix, 1, 3);
        let mut expected = matrix.clone();
        for row in expected.chunks_exact_mut(NUM_FEATURES) {
            row[COOC_FAST] = 0.0;
            row[EMB_LAST] = 0.0;
        }
        fill_interactions(&mut expected, true);
        assert_eq!(whole.without(&[COOC_FAST, EMB_LAST], false).matrix(), expected);
        let plain = whole.without(&[SERVER_RANK], true).matrix();
        for (row, original) in plain.chunks_exact(NUM_FEATURES).zip(matrix.chunks_exact(NUM_FEATURES)) {
            assert_eq!(row[SERVER_RANK], 0.0);
            assert!(row[NUM_BASE_FEATURES..NUM_LAYOUT_1_FEATURES].iter().all(|x| *x == 0.0));
            assert_eq!(row[NUM_LAYOUT_1_FEATURES..], original[NUM_LAYOUT_1_FEATURES..]);
        }
    }
}
