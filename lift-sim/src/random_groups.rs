//! An interval for "orders per session" from the DAP batches themselves (random groups): each
//! batch of K reports the lift leader collects is summed and decoded on its own, and the
//! variance of the lift comes from the spread of the delete-one-batch (jackknife) estimates. No
//! second moment is needed, so none would have to be released: the noise every batch carries is
//! in the spread already. Fieller's interval over the jackknife's variances, with Student's t at
//! B − 1 degrees of freedom for B batches. An experiment beside the library's estimator (which
//! reads products): RESULTS.md compares the two on the same reports.

use shop_personalizer::measure::{fieller_interval, normal_quantile};
use shop_personalizer::sync::dap::BucketSums;

/// One collected batch's decoded totals per bucket (`[personalized, holdout]`): reports,
/// orders and sessions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchTotals {
    pub reports: [f64; 2],
    pub orders: [f64; 2],
    pub sessions: [f64; 2],
}

impl BatchTotals {
    /// The totals of one group of decoded batches: `holdout` batches of the holdout task and
    /// `personalized` ones of the personalized task (one DAP task per bucket). The report
    /// vector is sessions, then per placement block (`(D − 1) / 10` of them) per item class the
    /// five metrics impressions, clicks, add-to-carts, orders, revenue (`measure::LiftReportConfig`).
    pub fn of(holdout: &[&BucketSums], personalized: &[&BucketSums]) -> Self {
        let orders = |sums: &[f64]| -> f64 {
            let blocks = (sums.len() - 1) / 10;
            (0..blocks).flat_map(|block| (0..2).map(move |class| 1 + block * 10 + class * 5 + 3)).map(|i| sums[i]).sum()
        };
        let total = |batches: &[&BucketSums], of: &dyn Fn(&BucketSums) -> f64| batches.iter().map(|b| of(b)).sum();
        let both = |of: &dyn Fn(&BucketSums) -> f64| [total(personalized, of), total(holdout, of)];
        BatchTotals {
            reports: both(&|b| b.reports as f64),
            orders: both(&|b| orders(&b.sums)),
            sessions: both(&|b| b.sums[0]),
        }
    }

    /// `self + sign · other`, entry by entry.
    fn plus(&self, sign: f64, other: &BatchTotals) -> BatchTotals {
        let add = |a: [f64; 2], b: [f64; 2]| [a[0] + sign * b[0], a[1] + sign * b[1]];
        BatchTotals {
            reports: add(self.reports, other.reports),
            orders: add(self.orders, other.orders),
            sessions: add(self.sessions, other.sessions),
        }
    }

    /// Fieller's numerator and denominator: T = A / B with A = p̄_orders · h̄_sessions and
    /// B = p̄_sessions · h̄_orders (means per report).
    fn pivot(&self) -> (f64, f64) {
        let mean = |total: [f64; 2], bucket: usize| total[bucket] / self.reports[bucket];
        (mean(self.orders, 0) * mean(self.sessions, 1), mean(self.sessions, 0) * mean(self.orders, 1))
    }
}

/// The lift of orders per session and its interval at `confidence`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupsInterval {
    pub lift: f64,
    pub low: f64,
    pub high: f64,
}

/// Student's t quantile at `p` with `df` degrees of freedom (Cornish–Fisher expansion in the
/// normal quantile; at 97.5% within 3e-3 of the exact value at 5 degrees of freedom, 2e-4 at
/// 10 and 2e-6 from 30, always slightly below it).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
}

/// The random-groups interval over `batches` (at least 5, each with reports in both buckets);
/// `None` when there are fewer or when Fieller's set is unbounded.
pub fn orders_per_session(batches: &[BatchTotals], confidence: f64) -> Option<GroupsInterval> {
    let groups = batches.len();
    if groups < 5 || batches.iter().any(|b| b.reports.iter().any(|&n| n < 1.0)) {
        return None;
    }
    let zero = BatchTotals { reports: [0.0; 2], orders: [0.0; 2], sessions: [0.0; 2] };
    let total = batches.iter().fold(zero, |sum, batch| sum.plus(1.0, batch));
    let (a, b) = total.pivot();
    let replicates: Vec<(f64, f64)> = batches.iter().map(|batch| total.plus(-1.0, batch).pivot()).collect();
    let g = groups as f64;
    let (mean_a, mean_b) =
        (replicates.iter().map(|r| r.0).sum::<f64>() / g, replicates.iter().map(|r| r.1).sum::<f64>() / g);
    let scale = (g - 1.0) / g;
    let var_a = scale * replicates.iter().map(|r| (r.0 - mean_a).powi(2)).sum::<f64>();
    let var_b = scale * replicates.iter().map(|r| (r.1 - mean_b).powi(2)).sum::<f64>();
    let cov = scale * replicates.iter().map(|r| (r.0 - mean_a) * (r.1 - mean_b)).sum::<f64>();
    // Var(â − T b̂) = var_a − 2 T cov + T² var_b
    let t = t_quantile(0.5 + confidence / 2.0, g - 1.0);
    let (low, high) = fieller_interval(a, b, [var_a, -2.0 * cov, var_b], t)?;
    Some(GroupsInterval { lift: a / b - 1.0, low: low - 1.0, high: high - 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_table() {
        // Student's t at 97.5%: 2.571 (5), 2.228 (10), 2.042 (30), 1.984 (100).
        for (df, expected, within) in
            [(5.0, 2.570_58, 3e-3), (10.0, 2.228_14, 2e-4), (30.0, 2.042_27, 1e-5), (100.0, 1.983_97, 1e-5)]
        {
            assert!((t_quantile(0.975, df) - expected).abs() < within, "{df}: {}", t_quantile(0.975, df));
        }
    }

    #[test]
    fn equal_batches_give_a_point_and_a_known_ratio() {
        // Personalized 0.2 orders a session, holdout 0.1: T = 2, and identical batches have no spread.
        let batch = BatchTotals { reports: [90.0, 10.0], orders: [36.0, 2.0], sessions: [180.0, 20.0] };
        let interval = orders_per_session(&[batch; 6], 0.95).unwrap();
        assert!((interval.lift - 1.0).abs() < 1e-12);
        assert!((interval.low - 1.0).abs() < 1e-9 && (interval.high - 1.0).abs() < 1e-9, "{interval:?}");
        assert_eq!(orders_per_session(&[batch; 4], 0.95), None, "fewer than 5 batches");
    }

    #[test]
    fn spread_batches_give_an_interval_around_the_estimate() {
        let batches: Vec<BatchTotals> = (0..10)
            .map(|i| {
                let wobble = (i as f64 - 4.5) * 0.4;
                BatchTotals {
                    reports: [90.0, 10.0],
                    orders: [36.0 + wobble, 2.0 - 0.1 * wobble],
                    sessions: [180.0, 20.0],
                }
            })
            .collect();
        let interval = orders_per_session(&batches, 0.95).unwrap();
        assert!(interval.low < interval.lift && interval.lift < interval.high, "{interval:?}");
        assert!(interval.high - interval.low > 0.05, "{interval:?}");
    }
}
