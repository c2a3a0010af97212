//! What the shopper sees in a "what this shop knows about you" panel, and the full export.

use serde::{Deserialize, Serialize};

use crate::catalog::AttributeKey;

use super::{DeviceClass, Profile, Segment, VisitStats};

/// Interests listed in a summary, per direction (liked and avoided).
pub const SUMMARY_INTERESTS: usize = 10;

/// One interest as shown to the shopper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct InterestSummary {
    /// Pass this back to `removeInterest` to delete the interest.
    pub key: AttributeKey,
    /// Human label, e.g. "Running", "Acme", "50 to 100".
    pub label: String,
    /// Strength relative to the strongest interest: 1 for the strongest, towards 0 for weak ones;
    /// negative for avoided attributes (−1 for the most avoided).
    pub weight: f64,
}

/// How much of each kind of data is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct KeptCounts {
    pub interests: usize,
    pub session_items: usize,
    pub viewed: usize,
    pub carted: usize,
    pub purchased: usize,
    pub dismissed: usize,
    pub wishlist: usize,
    pub cart_items: usize,
    pub remembered_items: usize,
    pub items_with_repeat_interest: usize,
    pub events_recorded: u64,
}

/// The "what this shop knows about you" panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ProfileSummary {
    /// Strongest positive interests first.
    pub top_interests: Vec<InterestSummary>,
    /// Most avoided attributes first (from dismissals, low ratings, removals).
    pub avoided: Vec<InterestSummary>,
    pub visits: VisitStats,
    pub segment: Segment,
    /// The device class of the latest visit.
    pub device: DeviceClass,
    /// The local hour of the week with the most activity (0 = Monday 00:00), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub busiest_hour_of_week: Option<u8>,
    pub kept: KeptCounts,
    /// The privacy ledger of model updates sent from this device (ε spent this period, budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub privacy_ledger: Option<crate::privacy::LedgerSummary>,
}

/// What the export's `profile` holds, field by field.
pub const EXPORT_EXPLANATION: &str = "Your shopping profile. affinities: attribute values (category levels, brands, price bands, tags) with a strength that halves \
every half-life; session: what you did in the current visit; history: recently viewed, carted, \
purchased, dismissed and wishlisted items; interest: how often you returned to an item; visits: \
counts of visits, sessions and orders; hourOfWeek: activity per local hour of the week (Monday 00:00 \
first); cart: items in your cart; catalog: descriptions of items you interacted with. None of it \
leaves your device.";

impl Profile {
    /// Affinities at `now_ms` that are not negligible, strongest first.
    fn decayed_interests(&self, now_ms: u64, half_life_ms: f64) -> Vec<(&AttributeKey, f64)> {
        let mut decayed: Vec<(&AttributeKey, f64)> = self
            .affinities
            .iter()
            .map(|(k, a)| (k, a.value_at(now_ms, half_life_ms)))
            .filter(|(_, v)| v.abs() >= super::NEGLIGIBLE_AFFINITY)
            .collect();
        crate::ordering::sort_by(&mut decayed, |a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        decayed
    }

    /// The keys of the summary's `top_interests` at `now_ms`: the interests an explanation may
    /// name (the shopper sees each in the panel and can remove it).
    pub fn top_interest_keys(&self, now_ms: u64, half_life_ms: f64) -> Vec<&AttributeKey> {
        let decayed = self.decayed_interests(now_ms, half_life_ms);
        decayed.into_iter().filter(|(_, v)| *v > 0.0).take(SUMMARY_INTERESTS).map(|(k, _)| k).collect()
    }

    /// The panel data at `now_ms`, with affinities decayed by `half_life_ms`.
    pub fn summary(&self, now_ms: u64, half_life_ms: f64) -> ProfileSummary {
        let decayed = self.decayed_interests(now_ms, half_life_ms);
        let strongest = decayed.first().map_or(0.0, |(_, v)| v.max(0.0));
        let weakest = decayed.last().map_or(0.0, |(_, v)| v.min(0.0));
        let entry = |(key, value): &(&AttributeKey, f64), scale: f64| InterestSummary {
            key: (*key).clone(),
            label: key.to_string(),
            weight: value / scale,
        };
        let top_interests =
            decayed.iter().filter(|(_, v)| *v > 0.0).take(SUMMARY_INTERESTS).map(|e| entry(e, strongest)).collect();
        let avoided = decayed
            .iter()
            .rev()
            .filter(|(_, v)| *v < 0.0)
            .take(SUMMARY_INTERESTS)
            .map(|e| entry(e, -weakest))
            .collect();
        ProfileSummary {
            top_interests,
            avoided,
            visits: self.visits.clone(),
            segment: self.visits.segment(),
            device: self.device,
            busiest_hour_of_week: self.hour_of_week.peak_hour(),
            kept: self.kept_counts(),
            privacy_ledger: None,
        }
    }

    pub fn kept_counts(&self) -> KeptCounts {
        KeptCounts {
            interests: self.affinities.len(),
            session_items: self.session.items.len(),
            viewed: self.history.viewed.len(),
            carted: self.history.carted.len(),
            purchased: self.history.purchased.len(),
            dismissed: self.history.dismissed.len(),
            wishlist: self.history.wishlist.len(),
            cart_items: self.cart.len(),
            remembered_items: self.catalog.len(),
            items_with_repeat_interest: self.interest.len(),
            events_recorded: self.event_counts.total(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemAttributes;
    use crate::collect::event::TrackEvent;
    use crate::config::ValidConfig;
    use crate::profile::{ProfileChange, RecordedEvent};

    const T0: u64 = 1_700_000_000_000;

    fn view(profile: &mut Profile, id: &str, attrs: ItemAttributes, event: TrackEvent) {
        let change = ProfileChange::Record(RecordedEvent {
            event,
            at_ms: T0,
            hour_of_week: 0,
            attributes: vec![(id.to_string(), attrs)],
            visit_device: None,
        });
        profile.apply(&change, &ValidConfig::default());
    }

    #[test]
    fn summary_normalizes_and_splits_liked_from_avoided() {
        let mut profile = Profile::default();
        let acme = ItemAttributes { brand: Some("Acme".into()), ..ItemAttributes::default() };
        let zed = ItemAttributes { brand: Some("Zed".into()), tags: vec!["loud".into()], ..ItemAttributes::default() };
        view(&mut profile, "a", acme.clone(), TrackEvent::AddToCart { item_id: "a".into(), quantity: 1, item: None });
        view(&mut profile, "a", acme, TrackEvent::View { item_id: "a".into(), item: None });
        view(&mut profile, "z", zed.clone(), TrackEvent::View { item_id: "z".into(), item: None });
        view(&mut profile, "z", zed, TrackEvent::Dismiss { item_id: "z".into() });
        let summary = profile.summary(T0, ValidConfig::default().affinity_half_life_ms());
        assert_eq!(summary.top_interests.len(), 1);
        assert_eq!(summary.top_interests[0].label, "Acme");
        assert!((summary.top_interests[0].weight - 1.0).abs() < 1e-9);
        // Zed and loud: 1 − 8 = −7 each, both the most avoided.
        let avoided: Vec<_> = summary.avoided.iter().map(|i| (i.label.as_str(), i.weight)).collect();
        assert_eq!(avoided.len(), 2);
        assert!(avoided.iter().all(|(_, w)| (w + 1.0).abs() < 1e-9));
        assert_eq!(summary.kept.events_recorded, 4);
        assert_eq!(summary.busiest_hour_of_week, Some(0));
        assert_eq!(summary.device, DeviceClass::Unknown);
        assert_eq!(summary.kept.viewed, 2);
        assert_eq!(summary.kept.dismissed, 1);
        assert_eq!(summary.kept.cart_items, 1);
    }
}
