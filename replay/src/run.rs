//! Replaying many cases on all cores, with a progress bar; labels are only read when scoring.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shop_personalizer::rank::RankConfig;

use crate::data::{Case, Vocabulary};
use crate::device::{CaseOrders, Device};
use crate::metrics::{Accuracy, MAX_K};
use crate::progress::ProgressBar;
use crate::server::Server;
use crate::ReplayError;

/// Everything a replay needs besides the cases.
#[derive(Clone)]
pub struct Setup<'a> {
    pub server: &'a Server,
    pub vocab: &'a Vocabulary,
    pub config: RankConfig,
    pub weights: Option<Vec<f32>>,
    pub use_categories: bool,
    pub threads: usize,
    pub progress: bool,
    /// Also rank the current answer alone (no pooling from earlier answers).
    pub rerank_only: bool,
}

/// The server's and the device's top-`MAX_K` orders for every prefix. Only prefixes are read.
pub fn replay_orders(
    setup: &Setup<'_>,
    prefixes: &[&[u32]],
    label: &'static str,
) -> Result<Vec<CaseOrders>, ReplayError> {
    let threads = setup.threads.max(1);
    let chunk = prefixes.len().div_ceil(threads).max(1);
    let done = AtomicUsize::new(0);
    let mut bar = ProgressBar::new(label, prefixes.len(), setup.progress);
    let results: Vec<Result<Vec<CaseOrders>, ReplayError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = prefixes
            .chunks(chunk)
            .map(|part| {
                let done = &done;
                scope.spawn(move || -> Result<Vec<CaseOrders>, ReplayError> {
                    let mut device = Device::new(
                        setup.server,
                        setup.vocab,
                        setup.config.clone(),
                        setup.weights.as_deref(),
                        MAX_K,
                        setup.use_categories,
                    )?;
                    let mut out = Vec::with_capacity(part.len());
                    for prefix in part {
                        let mut orders = CaseOrders::default();
                        device.orders(prefix, setup.rerank_only, &mut orders)?;
                        out.push(orders);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(out)
                })
            })
            .collect();
        while !handles.iter().all(|h| h.is_finished()) {
            bar.update(done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
        handles.into_iter().map(|h| h.join().unwrap_or(Err(ReplayError::Worker))).collect()
    });
    bar.finish();
    let mut all = Vec::with_capacity(prefixes.len());
    for part in results {
        all.extend(part?);
    }
    Ok(all)
}

/// The orders for whole cases; only their prefixes are handed to the devices.
pub fn replay_cases(setup: &Setup<'_>, cases: &[Case], label: &'static str) -> Result<Vec<CaseOrders>, ReplayError> {
    let prefixes: Vec<&[u32]> = cases.iter().map(|c| c.prefix.as_slice()).collect();
    replay_orders(setup, &prefixes, label)
}

/// Scores orders against the cases' labels: (server, device).
pub fn score(orders: &[CaseOrders], cases: &[Case]) -> (Accuracy, Accuracy) {
    let mut server = Accuracy::default();
    let mut device = Accuracy::default();
    for (o, case) in orders.iter().zip(cases) {
        server.add_order(&o.server, case.label);
        device.add_order(&o.device, case.label);
    }
    (server, device)
}

/// Prefix-length buckets of the breakdown: 1, 2, 3–4, 5–9, 10+.
pub const LENGTH_BUCKETS: [(usize, usize, &str); 5] =
    [(1, 1, "1"), (2, 2, "2"), (3, 4, "3-4"), (5, 9, "5-9"), (10, usize::MAX, "10+")];

/// (server, device) accuracy per prefix-length bucket.
pub fn score_by_length(orders: &[CaseOrders], cases: &[Case]) -> Vec<(&'static str, Accuracy, Accuracy)> {
    LENGTH_BUCKETS
        .iter()
        .map(|&(lo, hi, name)| {
            let (o, c): (Vec<CaseOrders>, Vec<Case>) = orders
                .iter()
                .zip(cases)
                .filter(|(_, c)| (lo..=hi).contains(&c.prefix.len()))
                .map(|(o, c)| (o.clone(), c.clone()))
                .unzip();
            let (s, d) = score(&o, &c);
            (name, s, d)
        })
        .collect()
}

/// Whether a case's label returns to an item of its prefix (`true`) or explores a new one.
pub fn returns(case: &Case) -> bool {
    case.prefix.contains(&case.label)
}

/// (server, device) accuracy of the cases whose label returns to a prefix item, then of those
/// whose label is new: the return-or-explore choice a ranker has to make.
pub fn score_by_return(orders: &[CaseOrders], cases: &[Case]) -> Vec<(&'static str, Accuracy, Accuracy)> {
    [(true, RETURN_BUCKETS[0]), (false, RETURN_BUCKETS[1])]
        .into_iter()
        .map(|(want, name)| {
            let mut server = Accuracy::default();
            let mut device = Accuracy::default();
            for (o, case) in orders.iter().zip(cases).filter(|(_, c)| returns(c) == want) {
                server.add_order(&o.server, case.label);
                device.add_order(&o.device, case.label);
            }
            (name, server, device)
        })
        .collect()
}

/// Names of the two [`score_by_return`] buckets.
pub const RETURN_BUCKETS: [&str; 2] = ["returns to a session item", "explores a new item"];

/// Replays and scores `cases`.
pub fn evaluate(setup: &Setup<'_>, cases: &[Case], label: &'static str) -> Result<(Accuracy, Accuracy), ReplayError> {
    let orders = replay_cases(setup, cases, label)?;
    Ok(score(&orders, cases))
}

/// Everything one replay measured.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub server: Accuracy,
    pub device: Accuracy,
    /// The device ranking the current answer alone (empty unless `Setup::rerank_only`).
    pub rerank_only: Accuracy,
    /// (bucket, server, device) per prefix length.
    pub by_length: Vec<(&'static str, Accuracy, Accuracy)>,
    /// (bucket, server, device) for labels that return to a session item and for new ones.
    pub by_return: Vec<(&'static str, Accuracy, Accuracy)>,
}

/// Replays and scores `cases`, overall and per prefix-length bucket.
pub fn evaluate_full(setup: &Setup<'_>, cases: &[Case], label: &'static str) -> Result<Evaluation, ReplayError> {
    let orders = replay_cases(setup, cases, label)?;
    let (server, device) = score(&orders, cases);
    let mut rerank_only = Accuracy::default();
    if setup.rerank_only {
        for (o, case) in orders.iter().zip(cases) {
            rerank_only.add_order(&o.rerank, case.label);
        }
    }
    Ok(Evaluation {
        server,
        device,
        rerank_only,
        by_length: score_by_length(&orders, cases),
        by_return: score_by_return(&orders, cases),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_and_explore_cases_are_scored_apart() {
        let cases = vec![
            Case { prefix: vec![1, 2], label: 1 },
            Case { prefix: vec![1, 2], label: 7 },
            Case { prefix: vec![3], label: 3 },
        ];
        let orders = vec![
            CaseOrders { server: vec![9, 1], device: vec![1, 2], rerank: Vec::new() },
            CaseOrders { server: vec![7], device: vec![2, 7], rerank: Vec::new() },
            CaseOrders { server: vec![], device: vec![5, 3], rerank: Vec::new() },
        ];
        let split = score_by_return(&orders, &cases);
        assert_eq!((split[0].0, split[0].2.cases(), split[1].2.cases()), (RETURN_BUCKETS[0], 2, 1));
        // Returns: device ranks 1 and 2 -> MRR (1 + 1/2) / 2; server 2 and absent -> 1/2 / 2.
        assert!((split[0].2.at(20).mrr - 75.0).abs() < 1e-9);
        assert!((split[0].1.at(20).mrr - 25.0).abs() < 1e-9 && (split[0].1.at(20).hr - 50.0).abs() < 1e-9);
        assert!((split[1].1.at(1).hr - 100.0).abs() < 1e-9 && (split[1].2.at(20).mrr - 50.0).abs() < 1e-9);
    }
}
