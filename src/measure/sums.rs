//! One bucket's sufficient statistics: the number of reports, their sum and the sum of their
//! outer products (upper triangle). O(D²) memory however many devices report; the aggregator
//! stores them instead of individual reports.

use serde::{Deserialize, Serialize};

/// Count, sum and sum of outer products of one bucket's report vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiftSums {
    n: u64,
    sum: Vec<f64>,
    cross: Vec<f64>,
}

impl LiftSums {
    pub fn new(dimension: usize) -> Self {
        LiftSums { n: 0, sum: vec![0.0; dimension], cross: vec![0.0; dimension * dimension] }
    }

    /// Sums of `n` reports computed elsewhere (from secret shares): the D sums and the upper
    /// triangle of the cross sums, row by row (`D(D+1)/2` numbers, checked by the caller).
    pub fn from_parts(n: u64, sum: Vec<f64>, upper: &[f64]) -> Self {
        let d = sum.len();
        let mut cross = vec![0.0; d * d];
        let mut values = upper.iter();
        for i in 0..d {
            for cell in &mut cross[i * d + i..(i + 1) * d] {
                *cell = values.next().copied().unwrap_or(0.0);
            }
        }
        LiftSums { n, sum, cross }
    }

    /// Number of reports added.
    pub fn reports(&self) -> u64 {
        self.n
    }

    pub fn dimension(&self) -> usize {
        self.sum.len()
    }

    /// Adds one vector of this dimension (checked by the caller); only the upper triangle of
    /// the outer product is accumulated (the matrix is symmetric), [`LiftSums::cross_at`] reads it.
    pub fn add(&mut self, values: &[f64]) {
        let d = values.len();
        self.n += 1;
        for (i, vi) in values.iter().enumerate() {
            self.sum[i] += vi;
            let row = &mut self.cross[i * d + i..(i + 1) * d];
            for (cell, vj) in row.iter_mut().zip(&values[i..]) {
                *cell += vi * vj;
            }
        }
    }

    pub(super) fn cross_at(&self, i: usize, j: usize) -> f64 {
        let d = self.sum.len();
        if i <= j {
            self.cross[i * d + j]
        } else {
            self.cross[j * d + i]
        }
    }

    pub(super) fn mean(&self, f: &[f64]) -> f64 {
        f.iter().zip(&self.sum).map(|(w, s)| w * s).sum::<f64>() / self.n as f64
    }

    /// Sample covariance of the functionals f and g.
    pub(super) fn cov(&self, f: &[f64], g: &[f64]) -> f64 {
        let n = self.n as f64;
        let mut cross = 0.0;
        for (i, fi) in f.iter().enumerate().filter(|(_, w)| **w != 0.0) {
            for (j, gj) in g.iter().enumerate().filter(|(_, w)| **w != 0.0) {
                cross += fi * gj * self.cross_at(i, j);
            }
        }
        (cross - n * self.mean(f) * self.mean(g)) / (n - 1.0)
    }

    /// Storage bytes: count (u64), then the D sums and D² cross sums (f64), little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * (1 + self.sum.len() + self.cross.len()));
        out.extend_from_slice(&self.n.to_le_bytes());
        for value in self.sum.iter().chain(&self.cross) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// Reads [`Self::to_bytes`] of dimension `dimension`; `None` if the length or a value is wrong.
    pub fn from_bytes(bytes: &[u8], dimension: usize) -> Option<Self> {
        if bytes.len() != 8 * (1 + dimension + dimension * dimension) {
            return None;
        }
        let mut words = bytes.chunks_exact(8).map(|c| {
            let mut word = [0_u8; 8];
            word.copy_from_slice(c);
            word
        });
        let n = u64::from_le_bytes(words.next()?);
        let floats: Vec<f64> = words.map(f64::from_le_bytes).collect();
        if floats.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let (sum, cross) = floats.split_at(dimension);
        Some(LiftSums { n, sum: sum.to_vec(), cross: cross.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sums_match_a_hand_computation() {
        let mut sums = LiftSums::new(2);
        sums.add(&[1.0, 2.0]);
        sums.add(&[3.0, 6.0]);
        assert_eq!(sums.reports(), 2);
        // Means (2, 4); cov = ((1·2 + 3·6) − 2·2·4) / 1 = 4; var of the first = (1 + 9 − 8) / 1 = 2.
        assert!((sums.mean(&[1.0, 0.0]) - 2.0).abs() < 1e-12);
        assert!((sums.cov(&[1.0, 0.0], &[0.0, 1.0]) - 4.0).abs() < 1e-12);
        assert!((sums.cov(&[1.0, 0.0], &[1.0, 0.0]) - 2.0).abs() < 1e-12);
        assert_eq!(sums.cross_at(1, 0), sums.cross_at(0, 1));
    }

    #[test]
    fn damaged_bytes_are_refused() {
        let mut sums = LiftSums::new(2);
        sums.add(&[1.0, 2.0]);
        let bytes = sums.to_bytes();
        assert_eq!(bytes.len(), 8 * 7);
        assert_eq!(LiftSums::from_bytes(&bytes[1..], 2), None);
        assert_eq!(LiftSums::from_bytes(&bytes, 3), None);
        let mut nan = bytes.clone();
        nan[8..16].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(LiftSums::from_bytes(&nan, 2), None);
    }

    proptest! {
        #[test]
        fn bytes_round_trip(rows in proptest::collection::vec(proptest::collection::vec(-1e6_f64..1e6, 3), 0..20)) {
            let mut sums = LiftSums::new(3);
            for row in &rows {
                sums.add(row);
            }
            prop_assert_eq!(LiftSums::from_bytes(&sums.to_bytes(), 3), Some(sums));
        }
    }
}
