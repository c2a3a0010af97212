//! Server-side session baselines of the literature, built from the training sessions only and
//! scored on the same test cases as the device: S-POP (the session's own items by how often they
//! were viewed, the latest first among equals, then the most popular items), Item-KNN (the last item's neighbours by cosine
//! over the sessions both occur in) and SR (sequential rules: `b` after `a` within 10 steps adds
//! `1 / steps`, rules of the last item). Each case depends on its own prefix only.

use std::collections::HashMap;

use crate::data::Case;
use crate::metrics::{Accuracy, MAX_K};

/// Steps a sequential rule spans at most (the session-rec default).
pub const SR_STEPS: usize = 10;

/// Which baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    SessionPop,
    ItemKnn,
    SequentialRules,
}

impl Baseline {
    pub const ALL: [Baseline; 3] = [Baseline::SessionPop, Baseline::ItemKnn, Baseline::SequentialRules];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::SessionPop => "S-POP",
            Baseline::ItemKnn => "Item-KNN (last item)",
            Baseline::SequentialRules => "SR (last item)",
        }
    }
}

/// The training sessions indexed by item: for each item, the (session, position) of its views.
pub struct Baselines<'a> {
    sessions: &'a [Vec<u32>],
    occurrences: Vec<Vec<(u32, u32)>>,
    /// Sessions each item occurs in (counted once per session).
    session_counts: Vec<u32>,
    /// The `MAX_K` most viewed items, most first (S-POP's fill).
    popular: Vec<u32>,
}

/// The `MAX_K` best of `scores` (touched items only), best first; ties by item id.
fn top(scores: &mut [f64], touched: &mut Vec<u32>, skip: u32) -> Vec<u32> {
    let mut ranked: Vec<(f64, u32)> =
        touched.iter().filter(|&&i| i != skip).map(|&i| (scores[i as usize], i)).collect();
    for &i in touched.iter() {
        scores[i as usize] = 0.0;
    }
    touched.clear();
    ranked.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.truncate(MAX_K);
    ranked.into_iter().map(|(_, i)| i).collect()
}

impl<'a> Baselines<'a> {
    pub fn build(sessions: &'a [Vec<u32>], vocab_len: usize) -> Self {
        let mut occurrences = vec![Vec::new(); vocab_len];
        let mut session_counts = vec![0_u32; vocab_len];
        for (s, session) in sessions.iter().enumerate() {
            for (p, &item) in session.iter().enumerate() {
                if !session[..p].contains(&item) {
                    session_counts[item as usize] += 1;
                }
                occurrences[item as usize].push((s as u32, p as u32));
            }
        }
        let mut popular: Vec<u32> = (0..vocab_len as u32).filter(|&i| !occurrences[i as usize].is_empty()).collect();
        popular.sort_unstable_by(|&a, &b| {
            occurrences[b as usize].len().cmp(&occurrences[a as usize].len()).then(a.cmp(&b))
        });
        popular.truncate(MAX_K);
        Self { sessions, occurrences, session_counts, popular }
    }

    /// S-POP's order for one prefix.
    pub fn session_pop(&self, prefix: &[u32]) -> Vec<u32> {
        let mut counts: Vec<(u32, usize, u32)> = Vec::new();
        for (p, &item) in prefix.iter().enumerate() {
            match counts.iter_mut().find(|c| c.2 == item) {
                Some(c) => {
                    c.0 += 1;
                    c.1 = p;
                }
                None => counts.push((1, p, item)),
            }
        }
        counts.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        let mut order: Vec<u32> = counts.into_iter().take(MAX_K).map(|c| c.2).collect();
        for &item in &self.popular {
            if order.len() >= MAX_K {
                break;
            }
            if !prefix.contains(&item) {
                order.push(item);
            }
        }
        order
    }

    /// Item-KNN's neighbours of `item` (cosine over sessions), best first.
    fn item_knn(&self, item: u32, scores: &mut [f64], touched: &mut Vec<u32>) -> Vec<u32> {
        let mut last_session = u32::MAX;
        for &(s, _) in &self.occurrences[item as usize] {
            if s == last_session {
                continue;
            }
            last_session = s;
            let session = &self.sessions[s as usize];
            for (p, &other) in session.iter().enumerate() {
                if session[..p].contains(&other) {
                    continue;
                }
                if scores[other as usize] == 0.0 {
                    touched.push(other);
                }
                scores[other as usize] += 1.0;
            }
        }
        let own = f64::from(self.session_counts[item as usize]).max(1.0);
        for &other in touched.iter() {
            let theirs = f64::from(self.session_counts[other as usize]).max(1.0);
            scores[other as usize] /= (own * theirs).sqrt();
        }
        top(scores, touched, item)
    }

    /// SR's rules of `item`, best first.
    fn sequential_rules(&self, item: u32, scores: &mut [f64], touched: &mut Vec<u32>) -> Vec<u32> {
        for &(s, p) in &self.occurrences[item as usize] {
            let session = &self.sessions[s as usize];
            let start = p as usize + 1;
            for (d, &next) in session[start.min(session.len())..].iter().take(SR_STEPS).enumerate() {
                if scores[next as usize] == 0.0 {
                    touched.push(next);
                }
                scores[next as usize] += 1.0 / (d + 1) as f64;
            }
        }
        top(scores, touched, item)
    }

    /// S-POP's accuracy on the cases `keep` admits.
    pub fn session_pop_accuracy(&self, cases: &[Case], keep: impl Fn(&Case) -> bool) -> Accuracy {
        let mut acc = Accuracy::default();
        for case in cases.iter().filter(|c| keep(c)) {
            acc.add_order(&self.session_pop(&case.prefix), case.label);
        }
        acc
    }

    /// Scores every baseline on `cases`. The neighbour lists are computed once per distinct last item.
    pub fn evaluate(&self, cases: &[Case], vocab_len: usize) -> Vec<(Baseline, Accuracy)> {
        let mut scores = vec![0.0_f64; vocab_len];
        let mut touched = Vec::new();
        let mut knn: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut sr: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut results: Vec<(Baseline, Accuracy)> = Baseline::ALL.iter().map(|b| (*b, Accuracy::default())).collect();
        for case in cases {
            let Some(&last) = case.prefix.last() else { continue };
            let known = (last as usize) < self.occurrences.len();
            results[0].1.add_order(&self.session_pop(&case.prefix), case.label);
            let order = match known {
                true => knn.entry(last).or_insert_with(|| self.item_knn(last, &mut scores, &mut touched)).as_slice(),
                false => &[],
            };
            results[1].1.add_order(order, case.label);
            let order = match known {
                true => {
                    sr.entry(last).or_insert_with(|| self.sequential_rules(last, &mut scores, &mut touched)).as_slice()
                }
                false => &[],
            };
            results[2].1.add_order(order, case.label);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_orders() {
        let sessions = vec![vec![0, 1, 2], vec![0, 2], vec![1, 3], vec![0, 3, 3]];
        let b = Baselines::build(&sessions, 6);
        // S-POP: 3 was viewed three times, then 5 (latest) before 1; then popular 0 (3 views), 2 (2).
        assert_eq!(b.session_pop(&[1, 3, 5, 3, 5, 3]), vec![3, 5, 1, 0, 2]);
        assert_eq!(b.session_pop(&[1, 2]), vec![2, 1, 0, 3]);
        let (mut scores, mut touched) = (vec![0.0; 6], Vec::new());
        // Item 0 is in sessions 0, 1, 3 (3 sessions); 2 co-occurs in 2 of its 2 sessions: 2/sqrt(3*2);
        // 1 in 1 of 2: 1/sqrt(6); 3 in 1 of 2: 1/sqrt(6). Ties by id.
        assert_eq!(b.item_knn(0, &mut scores, &mut touched), vec![2, 1, 3]);
        assert!(scores.iter().all(|s| *s == 0.0) && touched.is_empty());
        // After 0: 1 at 1 step (1), 2 at 2 steps (1/2) and at 1 step (1) = 1.5, 3 at 1 and 2 steps = 1.5.
        assert_eq!(b.sequential_rules(0, &mut scores, &mut touched), vec![2, 3, 1]);
        let cases = vec![Case { prefix: vec![1, 0], label: 2 }, Case { prefix: vec![3, 0], label: 3 }];
        let results = b.evaluate(&cases, 6);
        // S-POP: [0, 1, 3, 2] (miss at 2, 2 at 4) and [0, 3, 1, 2] (3 at 2).
        assert_eq!(results[0].1.at(1).hr, 0.0);
        assert!((results[0].1.at(2).hr - 50.0).abs() < 1e-9);
        assert!((results[0].1.at(4).mrr - 100.0 * (0.25 + 0.5) / 2.0).abs() < 1e-9);
        assert!((results[1].1.at(1).hr - 50.0).abs() < 1e-9);
        assert!((results[2].1.at(2).mrr - 100.0 * (1.0 + 0.5) / 2.0).abs() < 1e-9);
    }
}
