//! The profile as ranking sees it: [`ShopperSignals`] over the real [`Profile`], read at one
//! moment (affinities decay with time) without copying anything.

use crate::catalog::AttributeKey;
use crate::rank::{SessionItem, ShopperSignals};

use super::Profile;

/// A read-only view of a profile at `now_ms`, for [`crate::rank::Ranker`].
///
/// Every method only reads the profile's own bounded lists, so none allocates: the session
/// (at most 50 items), the recent purchase and dismissal lists (at most 100 each), the
/// repeat-interest counts and the decayed affinities.
#[derive(Debug, Clone, Copy)]
pub struct ProfileShopper<'a> {
    profile: &'a Profile,
    now_ms: u64,
    half_life_ms: f64,
}

impl<'a> ProfileShopper<'a> {
    /// The profile seen at `now_ms`, its affinities decaying with `half_life_ms`.
    pub fn new(profile: &'a Profile, now_ms: u64, half_life_ms: f64) -> Self {
        ProfileShopper { profile, now_ms, half_life_ms }
    }
}

impl ShopperSignals for ProfileShopper<'_> {
    fn session_len(&self) -> usize {
        self.profile.session_items().len()
    }

    fn session_item(&self, index: usize) -> Option<SessionItem<'_>> {
        self.profile.session_items().get(index).map(|item| SessionItem {
            id: &item.item_id,
            kind: item.kind,
            at_ms: item.at_ms as f64,
        })
    }

    /// The decayed affinity; an avoided attribute (negative affinity) reads as 0, since
    /// dismissals are their own signal.
    fn affinity(&self, key: &AttributeKey) -> f32 {
        let value = self.profile.affinities().value_at(key, self.now_ms, self.half_life_ms);
        if value.is_finite() && value > 0.0 {
            value as f32
        } else {
            0.0
        }
    }

    fn has_purchased(&self, id: &str) -> bool {
        self.profile.purchased().contains(id)
    }

    fn has_dismissed(&self, id: &str) -> bool {
        self.profile.dismissed().contains(id)
    }

    fn repeat_interest(&self, id: &str) -> u32 {
        self.profile.interest(id).map_or(0, |interest| interest.count)
    }

    /// The profile keeps no embedding: the shop's embedding space is the server's, and the
    /// session's embedding is built from the answers of the session instead.
    fn long_term_embedding(&self) -> Option<&[f32]> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemAttributes;
    use crate::collect::event::{EventKind, PurchaseLine, TrackEvent};
    use crate::config::ValidConfig;
    use crate::profile::{ProfileChange, RecordedEvent};

    const DAY_MS: u64 = 86_400_000;

    fn record(profile: &mut Profile, event: TrackEvent, at_ms: u64, attributes: Vec<(String, ItemAttributes)>) {
        let change =
            ProfileChange::Record(RecordedEvent { event, at_ms, hour_of_week: 0, attributes, visit_device: None });
        profile.apply(&change, &ValidConfig::default());
    }

    fn shoes() -> ItemAttributes {
        ItemAttributes { category_path: vec!["Shoes".into()], ..ItemAttributes::default() }
    }

    #[test]
    fn reads_the_session_history_and_interest_of_the_profile() {
        let mut profile = Profile::default();
        let t0 = 1_700_000_000_000;
        record(&mut profile, TrackEvent::View { item_id: "a".into(), item: None }, t0, vec![("a".into(), shoes())]);
        record(&mut profile, TrackEvent::View { item_id: "a".into(), item: None }, t0 + 60_000, vec![]);
        let purchase = TrackEvent::Purchase {
            items: vec![PurchaseLine { item_id: "b".into(), quantity: 1, price: Some(10.0) }],
            value: 10.0,
        };
        record(&mut profile, purchase, t0 + 120_000, vec![]);
        record(&mut profile, TrackEvent::Dismiss { item_id: "c".into() }, t0 + 180_000, vec![]);

        let shopper = ProfileShopper::new(&profile, t0 + 180_000, 14.0 * DAY_MS as f64);
        assert_eq!(shopper.session_len(), profile.session_items().len());
        let first = shopper.session_item(0).expect("a session item");
        assert_eq!((first.id, first.kind, first.at_ms), ("a", EventKind::View, t0 as f64));
        assert!(shopper.session_item(shopper.session_len()).is_none());
        assert!(shopper.has_purchased("b") && !shopper.has_purchased("a"));
        assert!(shopper.has_dismissed("c") && !shopper.has_dismissed("b"));
        assert_eq!(shopper.repeat_interest("a"), profile.interest("a").map_or(0, |i| i.count));
        assert!(shopper.repeat_interest("a") >= 2, "two views of a");
        assert_eq!(shopper.repeat_interest("never"), 0);
        assert!(shopper.long_term_embedding().is_none());
    }

    #[test]
    fn affinities_decay_with_the_half_life_and_never_read_negative() {
        let mut profile = Profile::default();
        let t0 = 1_700_000_000_000;
        record(&mut profile, TrackEvent::View { item_id: "a".into(), item: None }, t0, vec![("a".into(), shoes())]);
        let key = AttributeKey::Category("Shoes".into());
        let half_life = 14.0 * DAY_MS as f64;
        let now = ProfileShopper::new(&profile, t0, half_life).affinity(&key);
        let later = ProfileShopper::new(&profile, t0 + 14 * DAY_MS, half_life).affinity(&key);
        assert!(now > 0.0);
        assert!((later - now / 2.0).abs() < 1e-4 * now, "one half-life halves it: {now} → {later}");
        assert_eq!(ProfileShopper::new(&profile, t0, half_life).affinity(&AttributeKey::Brand("None".into())), 0.0);

        record(&mut profile, TrackEvent::Dismiss { item_id: "a".into() }, t0 + 1, vec![]);
        record(&mut profile, TrackEvent::Dismiss { item_id: "a".into() }, t0 + 2, vec![]);
        let avoided = profile.affinities().value_at(&key, t0 + 2, half_life);
        let read = ProfileShopper::new(&profile, t0 + 2, half_life).affinity(&key);
        assert!(read >= 0.0, "affinity {avoided} reads as {read}");
    }
}
