//! Hit rate and mean reciprocal rank at every cut-off 1..=MAX_K.

use serde::Serialize;

/// Deepest cut-off reported (the chart's x axis).
pub const MAX_K: usize = 50;

/// Sums for HR@K and MRR@K, K = 1..=MAX_K.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    cases: usize,
    hits: [u64; MAX_K + 1],
    reciprocal: [f64; MAX_K + 1],
}

impl Default for Accuracy {
    fn default() -> Self {
        Self { cases: 0, hits: [0; MAX_K + 1], reciprocal: [0.0; MAX_K + 1] }
    }
}

/// HR and MRR at one cut-off, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AtK {
    pub hr: f64,
    pub mrr: f64,
}

impl Accuracy {
    /// Adds one case whose label sits at 0-based `position` in the order (None = absent).
    pub fn add(&mut self, position: Option<usize>) {
        self.cases += 1;
        if let Some(p) = position.filter(|p| *p < MAX_K) {
            let rr = 1.0 / (p + 1) as f64;
            for k in p + 1..=MAX_K {
                self.hits[k] += 1;
                self.reciprocal[k] += rr;
            }
        }
    }

    pub fn add_order(&mut self, order: &[u32], label: u32) {
        self.add(order.iter().position(|&i| i == label));
    }

    pub fn merge(&mut self, other: &Accuracy) {
        self.cases += other.cases;
        for k in 0..=MAX_K {
            self.hits[k] += other.hits[k];
            self.reciprocal[k] += other.reciprocal[k];
        }
    }

    pub fn cases(&self) -> usize {
        self.cases
    }

    /// HR@k and MRR@k in percent (k clamped to 1..=MAX_K).
    pub fn at(&self, k: usize) -> AtK {
        let k = k.clamp(1, MAX_K);
        let n = self.cases.max(1) as f64;
        AtK { hr: 100.0 * self.hits[k] as f64 / n, mrr: 100.0 * self.reciprocal[k] / n }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_hit_rate_and_mrr() {
        let mut acc = Accuracy::default();
        acc.add_order(&[5, 7, 9], 7); // rank 2
        acc.add_order(&[1, 2], 3); // miss
        acc.add(Some(0)); // rank 1
        acc.add(Some(60)); // beyond MAX_K
        assert_eq!(acc.cases(), 4);
        let at1 = acc.at(1);
        assert!((at1.hr - 25.0).abs() < 1e-9 && (at1.mrr - 25.0).abs() < 1e-9);
        let at2 = acc.at(2);
        assert!((at2.hr - 50.0).abs() < 1e-9);
        assert!((at2.mrr - 100.0 * 1.5 / 4.0).abs() < 1e-9);
    }
}
