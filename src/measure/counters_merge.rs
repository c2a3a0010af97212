//! Merging two tabs' lift counters that grew from one stored state: the other tab's counts plus
//! what this tab counted since (see `personalizer/adapting/tabs.rs`). A report taken in this tab
//! shows as a negative change (the counts it reported), so counts another tab added meanwhile
//! stay for the next report: nothing is lost and nothing counted twice.

use super::{LiftCounters, PlacementCounts};

impl LiftCounters {
    /// `theirs` plus `ours − base` (`None`: zero counts), never below zero.
    pub fn merged(base: Option<&LiftCounters>, ours: &LiftCounters, theirs: &LiftCounters) -> LiftCounters {
        let zero = LiftCounters::default();
        let base = base.unwrap_or(&zero);
        let mut merged = theirs.clone();
        merged.sessions = (theirs.sessions + ours.sessions - base.sessions).max(0.0);
        let names = ours.placements.iter().chain(&base.placements).map(|p| p.placement.as_str());
        let mut done: Vec<&str> = Vec::new();
        for name in names {
            if done.contains(&name) {
                continue;
            }
            done.push(name);
            let (now, before) = (ours.placement(name), base.placement(name));
            let change = |pick: fn(&PlacementCounts) -> &[f64; 5], i: usize| {
                now.map_or(0.0, |p| pick(p)[i]) - before.map_or(0.0, |p| pick(p)[i])
            };
            let recommended: [f64; 5] = std::array::from_fn(|i| change(|p| &p.recommended, i));
            let not_recommended: [f64; 5] = std::array::from_fn(|i| change(|p| &p.not_recommended, i));
            if recommended.iter().chain(&not_recommended).all(|d| *d == 0.0) {
                continue;
            }
            let slot = merged.slot(name);
            for (count, d) in slot.recommended.iter_mut().zip(recommended) {
                *count = (*count + d).max(0.0);
            }
            for (count, d) in slot.not_recommended.iter_mut().zip(not_recommended) {
                *count = (*count + d).max(0.0);
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{ItemClass, LiftMetric};

    fn clicks(c: &mut LiftCounters, placement: &str, n: f64) {
        c.record(placement, ItemClass::Recommended, LiftMetric::Clicks, n).expect("valid");
    }

    #[test]
    fn counts_of_both_tabs_add_up_once() {
        let mut base = LiftCounters::default();
        base.record_session();
        clicks(&mut base, "home", 2.0);
        let mut ours = base.clone();
        clicks(&mut ours, "home", 3.0);
        clicks(&mut ours, "cart", 1.0);
        let mut theirs = base.clone();
        theirs.record_session();
        clicks(&mut theirs, "home", 4.0);
        let merged = LiftCounters::merged(Some(&base), &ours, &theirs);
        assert!((merged.sessions() - 2.0).abs() < 1e-12);
        assert!((merged.placement("home").unwrap().recommended[1] - 9.0).abs() < 1e-12, "2 + 3 + 4");
        assert!((merged.placement("cart").unwrap().recommended[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_report_taken_here_keeps_what_the_other_tab_counted_meanwhile() {
        let mut base = LiftCounters::default();
        clicks(&mut base, "home", 5.0);
        let mut ours = base.clone();
        ours.reset();
        let mut theirs = base.clone();
        clicks(&mut theirs, "home", 2.0);
        let merged = LiftCounters::merged(Some(&base), &ours, &theirs);
        assert!((merged.placement("home").unwrap().recommended[1] - 2.0).abs() < 1e-12);
        assert_eq!(merged.validate(), Ok(()));
    }
}
