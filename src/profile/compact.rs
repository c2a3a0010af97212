//! Compaction: shrinking the profile to a byte budget, least informative data first.
//!
//! Order of sacrifice:
//! 1. remembered item descriptions no stored list refers to (least recently used first);
//! 2. affinities that have decayed to noise (below 0.01);
//! 3. then, in rounds sized to the excess, a share of each of: the weakest affinities, the oldest
//!    views, the weakest repeat-interest counts, the oldest session items and the least recently
//!    used item descriptions (the shop can send those again), and half that share of the oldest
//!    carted, wishlisted, dismissed and purchased entries (explicit signals are worth more);
//! 4. last, cart lines.
//!
//! Visit statistics, event counts and the hour-of-week histogram are fixed-size and always kept.

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

use super::Profile;

/// Affinities weaker than this (decayed) are noise and go first.
const NOISE_AFFINITY: f64 = 0.01;
/// Smallest and largest share of each pool dropped per round.
const MIN_ROUND_SHARE: f64 = 0.02;
const MAX_ROUND_SHARE: f64 = 0.25;

/// Why a profile could not be compacted to its budget.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompactionError {
    #[error(
        "the profile's fixed parts take {needed} bytes, more than the budget of {budget}: raise storageBudgetBytes"
    )]
    CannotFit { needed: usize, budget: usize },
}

impl Coded for CompactionError {
    fn code(&self) -> ErrorCode {
        match self {
            CompactionError::CannotFit { .. } => ErrorCode::QuotaExceeded,
        }
    }
}

/// Length in bytes of the profile's stored (compact JSON) form.
pub fn encoded_len(profile: &Profile) -> usize {
    super::stored::payload_text(profile).len()
}

fn share_of(len: usize, share: f64) -> usize {
    if len == 0 {
        0
    } else {
        ((len as f64 * share).ceil() as usize).clamp(1, len)
    }
}

impl Profile {
    /// Drops the least informative data until the encoded profile takes at most `max_bytes`.
    /// Returns the final encoded length.
    pub fn compact_to(&mut self, max_bytes: usize, now_ms: u64, half_life_ms: f64) -> Result<usize, CompactionError> {
        let mut len = encoded_len(self);
        if len <= max_bytes {
            return Ok(len);
        }
        // 1 and 2: what carries no information.
        while len > max_bytes && self.drop_unreferenced_item() {
            len = encoded_len(self);
        }
        if len > max_bytes {
            self.affinities.retain(|_, a| a.value_at(now_ms, half_life_ms).abs() >= NOISE_AFFINITY);
            len = encoded_len(self);
        }
        // 3: rounds sized to the excess.
        while len > max_bytes {
            let share = ((len - max_bytes) as f64 / len as f64 * 1.2).clamp(MIN_ROUND_SHARE, MAX_ROUND_SHARE);
            if !self.drop_round(share, now_ms, half_life_ms) {
                break;
            }
            while self.drop_unreferenced_item() {}
            len = encoded_len(self);
        }
        // 4: last resort.
        while len > max_bytes {
            let oldest = self.catalog.least_recent(|_| true);
            let dropped = match oldest {
                Some(id) => self.catalog.remove(&id),
                None => self.drop_last_cart_line(),
            };
            if !dropped {
                return Err(CompactionError::CannotFit { needed: len, budget: max_bytes });
            }
            len = encoded_len(self);
        }
        Ok(len)
    }

    /// Drops a share of every pool; returns whether anything was dropped.
    fn drop_round(&mut self, share: f64, now_ms: u64, half_life_ms: f64) -> bool {
        let mut dropped = false;
        let weakest = self.affinities.weakest(share_of(self.affinities.len(), share), now_ms, half_life_ms);
        for key in &weakest {
            dropped |= self.affinities.remove(key);
        }
        for _ in 0..share_of(self.history.viewed.len(), share) {
            dropped |= self.history.viewed.drop_oldest();
        }
        for _ in 0..share_of(self.interest.len(), share) {
            dropped |= self.interest.drop_weakest();
        }
        let session_drop = share_of(self.session.items.len(), share);
        dropped |= session_drop > 0;
        self.session.items.drain(..session_drop);
        // Descriptions can be sent again by the shop (upsertItems), so they shrink at the full rate.
        for _ in 0..share_of(self.catalog.len(), share) {
            let oldest = self.catalog.least_recent(|_| true);
            dropped |= oldest.is_some_and(|id| self.catalog.remove(&id));
        }
        // Explicit signals are worth more: they shrink at half the rate.
        for list in [
            &mut self.history.carted,
            &mut self.history.wishlist,
            &mut self.history.dismissed,
            &mut self.history.purchased,
        ] {
            for _ in 0..share_of(list.len(), share / 2.0) {
                dropped |= list.drop_oldest();
            }
        }
        dropped
    }

    fn drop_unreferenced_item(&mut self) -> bool {
        let candidate = self.catalog.least_recent(|id| !self.mentions_item(id));
        candidate.is_some_and(|id| self.catalog.remove(&id))
    }

    fn drop_last_cart_line(&mut self) -> bool {
        let last = self.cart.items().next_back().map(|(id, _)| id.clone());
        last.is_some_and(|id| self.cart.remove_item(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemAttributes;
    use crate::collect::event::TrackEvent;
    use crate::config::ValidConfig;
    use crate::profile::{ProfileChange, RecordedEvent};
    use proptest::prelude::*;

    const T0: u64 = 1_700_000_000_000;

    fn busy_profile(events: usize, seed: u64) -> Profile {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        for i in 0..events {
            let n = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(seed) % 997;
            let id = format!("item-{n}");
            let attrs = ItemAttributes {
                category_path: vec![format!("Dept {}", n % 7), format!("Aisle {}", n % 31)],
                brand: Some(format!("Brand {}", n % 53)),
                price: Some((n % 400) as f64),
                tags: vec![format!("tag-{}", n % 41), format!("tag-{}", n % 17)],
            };
            let event = match i % 6 {
                0 => TrackEvent::AddToCart { item_id: id.clone(), quantity: 1, item: None },
                1 => TrackEvent::Dismiss { item_id: id.clone() },
                2 => TrackEvent::WishlistAdd { item_id: id.clone() },
                3 => TrackEvent::Search { query: "q".into(), result_ids: vec![id.clone()] },
                _ => TrackEvent::View { item_id: id.clone(), item: None },
            };
            let change = ProfileChange::Record(RecordedEvent {
                event,
                at_ms: T0 + i as u64 * 90_000,
                hour_of_week: (i % 168) as u8,
                attributes: vec![(id, attrs)],
                visit_device: None,
            });
            profile.apply(&change, &config);
        }
        profile
    }

    #[test]
    fn drops_unreferenced_descriptions_before_anything_learned() {
        let mut profile = busy_profile(400, 1);
        let now = T0 + 400 * 90_000;
        let half_life = ValidConfig::default().affinity_half_life_ms();
        let referenced_before = profile.catalog.iter().filter(|(id, _)| profile.mentions_item(id)).count();
        let before = encoded_len(&profile);
        let unreferenced_bytes: usize = profile
            .catalog
            .iter()
            .filter(|(id, _)| !profile.mentions_item(id))
            .map(|(id, c)| id.len() + serde_json::to_string(c).map_or(0, |s| s.len()) + 4)
            .sum();
        assert!(unreferenced_bytes > 0, "the fixture needs unreferenced descriptions");
        let affinities = profile.affinities.len();
        let len = profile.compact_to(before - unreferenced_bytes / 2, now, half_life).unwrap();
        assert!(len <= before - unreferenced_bytes / 2);
        assert_eq!(profile.affinities.len(), affinities, "affinities untouched");
        let referenced_after = profile.catalog.iter().filter(|(id, _)| profile.mentions_item(id)).count();
        assert_eq!(referenced_after, referenced_before);
    }

    #[test]
    fn keeps_the_strongest_affinities() {
        let mut profile = busy_profile(1_000, 7);
        let now = T0 + 1_000 * 90_000;
        let half_life = ValidConfig::default().affinity_half_life_ms();
        let strongest = profile.affinities.weakest(profile.affinities.len(), now, half_life).pop().unwrap();
        profile.compact_to(6_000, now, half_life).unwrap();
        assert!(encoded_len(&profile) <= 6_000);
        assert!(profile.affinities.get(&strongest).is_some());
        assert_eq!(profile.event_counts.total(), 1_000, "counts survive compaction");
    }

    #[test]
    fn a_budget_below_the_fixed_parts_is_an_error() {
        let mut profile = busy_profile(200, 3);
        let err = profile.compact_to(100, T0, 1e9).unwrap_err();
        assert!(matches!(err, CompactionError::CannotFit { budget: 100, .. }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn compaction_always_fits_a_workable_budget(events in 0usize..600, seed in 0u64..1_000, budget in 3_000usize..40_000) {
            let mut profile = busy_profile(events, seed);
            let now = T0 + events as u64 * 90_000;
            let len = profile.compact_to(budget, now, ValidConfig::default().affinity_half_life_ms()).unwrap();
            prop_assert!(len <= budget);
            prop_assert_eq!(len, encoded_len(&profile));
        }
    }
}
