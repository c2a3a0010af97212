//! The small per-offer shown-history the device keeps to enforce frequency caps and cooldowns.
//! Bounded: at most [`MAX_TRACKED_OFFERS`] offers, each with its last [`MAX_SHOWS_KEPT`] shows.

use serde::{Deserialize, Serialize};

/// Most offers remembered; the one shown longest ago is forgotten first.
pub const MAX_TRACKED_OFFERS: usize = 32;
/// Most show times kept per offer (so a frequency cap can count up to this many shows).
pub const MAX_SHOWS_KEPT: usize = 16;

const MS_PER_HOUR: f64 = 3_600_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfferShows {
    id: String,
    /// Milliseconds since the epoch, oldest first.
    shown_at_ms: Vec<f64>,
}

/// When each offer was shown on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct OfferHistory {
    offers: Vec<OfferShows>,
}

impl OfferHistory {
    /// Records that `offer_id` was shown at `now_ms`.
    pub fn record(&mut self, offer_id: &str, now_ms: f64) {
        let index = match self.offers.iter().position(|o| o.id == offer_id) {
            Some(index) => index,
            None => {
                if self.offers.len() >= MAX_TRACKED_OFFERS {
                    let stalest = (0..self.offers.len())
                        .min_by(|&a, &b| self.last_shown(a).total_cmp(&self.last_shown(b)))
                        .unwrap_or(0);
                    self.offers.swap_remove(stalest);
                }
                self.offers.push(OfferShows { id: offer_id.to_string(), shown_at_ms: Vec::new() });
                self.offers.len() - 1
            }
        };
        let shows = &mut self.offers[index].shown_at_ms;
        shows.push(now_ms);
        if shows.len() > MAX_SHOWS_KEPT {
            shows.remove(0);
        }
    }

    fn last_shown(&self, index: usize) -> f64 {
        self.offers[index].shown_at_ms.last().copied().unwrap_or(f64::NEG_INFINITY)
    }

    fn shows(&self, offer_id: &str) -> &[f64] {
        self.offers.iter().find(|o| o.id == offer_id).map_or(&[], |o| &o.shown_at_ms)
    }

    /// Shows of `offer_id` within the last `hours` before `now_ms` (a show stamped in the
    /// future, from a clock change, counts as recent).
    pub fn shows_within(&self, offer_id: &str, now_ms: f64, hours: f64) -> usize {
        self.shows(offer_id).iter().filter(|&&t| now_ms - t < hours * MS_PER_HOUR).count()
    }

    /// Hours since `offer_id` was last shown; `None` if never (or forgotten).
    pub fn hours_since_shown(&self, offer_id: &str, now_ms: f64) -> Option<f64> {
        self.shows(offer_id).last().map(|&t| ((now_ms - t) / MS_PER_HOUR).max(0.0))
    }

    /// True when the stored history respects its bounds and holds finite times.
    pub fn is_valid(&self) -> bool {
        self.offers.len() <= MAX_TRACKED_OFFERS
            && self
                .offers
                .iter()
                .all(|o| o.shown_at_ms.len() <= MAX_SHOWS_KEPT && o.shown_at_ms.iter().all(|t| t.is_finite()))
    }
}

#[path = "history_merge.rs"]
mod merge;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_recent_shows_and_time_since_last() {
        let mut history = OfferHistory::default();
        let hour = MS_PER_HOUR;
        history.record("welcome", 0.0);
        history.record("welcome", 10.0 * hour);
        history.record("welcome", 20.0 * hour);
        assert_eq!(history.shows_within("welcome", 24.0 * hour, 24.0), 2);
        assert_eq!(history.shows_within("welcome", 24.0 * hour, 30.0), 3);
        assert_eq!(history.hours_since_shown("welcome", 24.0 * hour), Some(4.0));
        assert_eq!(history.hours_since_shown("other", 24.0 * hour), None);
    }

    #[test]
    fn stays_bounded() {
        let mut history = OfferHistory::default();
        for t in 0..40 {
            history.record("a", f64::from(t));
            history.record(&format!("offer-{t}"), f64::from(t));
        }
        assert!(history.is_valid());
        assert_eq!(history.offers.len(), MAX_TRACKED_OFFERS);
        assert_eq!(history.shows("a").len(), MAX_SHOWS_KEPT);
        assert_eq!(history.shows("a")[0], 24.0);
        // The offers shown longest ago were forgotten first.
        assert!(history.shows("offer-0").is_empty());
        assert_eq!(history.shows("offer-39"), &[39.0]);
    }
}
