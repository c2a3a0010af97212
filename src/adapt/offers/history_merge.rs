//! Merging two tabs' offer histories that grew from one stored state: the other tab's history
//! plus the shows this tab added since (see `personalizer/adapting/tabs.rs`), so a frequency cap
//! counts the shows of every tab.

use super::{OfferHistory, MAX_SHOWS_KEPT};

impl OfferHistory {
    /// `theirs` plus the shows in `ours` that `base` (`None`: no shows) does not hold.
    pub fn merged(base: Option<&OfferHistory>, ours: &OfferHistory, theirs: &OfferHistory) -> OfferHistory {
        let mut merged = theirs.clone();
        for offer in &ours.offers {
            let mut before: Vec<f64> = base.map_or_else(Vec::new, |b| b.shows(&offer.id).to_vec());
            for &at in &offer.shown_at_ms {
                match before.iter().position(|&b| b == at) {
                    Some(seen) => {
                        before.swap_remove(seen);
                    }
                    None => merged.insert_show(&offer.id, at),
                }
            }
        }
        merged
    }

    /// Records a show at `at_ms` in time order, keeping the newest [`MAX_SHOWS_KEPT`].
    fn insert_show(&mut self, offer_id: &str, at_ms: f64) {
        self.record(offer_id, at_ms);
        if let Some(offer) = self.offers.iter_mut().find(|o| o.id == offer_id) {
            crate::ordering::sort_by(&mut offer.shown_at_ms, f64::total_cmp);
            let extra = offer.shown_at_ms.len().saturating_sub(MAX_SHOWS_KEPT);
            offer.shown_at_ms.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 3_600_000.0;

    #[test]
    fn shows_of_both_tabs_count_toward_the_cap() {
        let mut base = OfferHistory::default();
        base.record("welcome", 0.0);
        let mut ours = base.clone();
        ours.record("welcome", 2.0 * HOUR);
        let mut theirs = base.clone();
        theirs.record("welcome", 1.0 * HOUR);
        theirs.record("other", 1.5 * HOUR);
        let merged = OfferHistory::merged(Some(&base), &ours, &theirs);
        assert_eq!(merged.shows("welcome"), [0.0, 1.0 * HOUR, 2.0 * HOUR]);
        assert_eq!(merged.shows("other"), [1.5 * HOUR]);
        assert_eq!(merged.shows_within("welcome", 3.0 * HOUR, 24.0), 3);
        // Nothing new in ours: theirs as it is.
        assert_eq!(OfferHistory::merged(Some(&ours), &ours, &theirs), theirs);
        // Two shows at the same instant in two tabs are two shows.
        let mut same = base.clone();
        same.record("welcome", 1.0 * HOUR);
        assert_eq!(OfferHistory::merged(Some(&base), &same, &theirs).shows("welcome"), [0.0, HOUR, HOUR]);
    }

    #[test]
    fn a_merged_history_stays_bounded_and_keeps_the_newest_shows() {
        let mut ours = OfferHistory::default();
        let mut theirs = OfferHistory::default();
        for i in 0..12 {
            ours.record("a", f64::from(2 * i));
            theirs.record("a", f64::from(2 * i + 1));
        }
        let merged = OfferHistory::merged(None, &ours, &theirs);
        assert!(merged.is_valid());
        let expected: Vec<f64> = (8..24).map(f64::from).collect();
        assert_eq!(merged.shows("a"), expected);
    }
}
