//! What ranking needs to know about the shopper, behind a small trait.
//!
//! The profile (`crate::profile`) implements [`ShopperSignals`]; [`InMemoryShopper`] serves tests
//! and the replay tool. Every method is called on the hot path, so none may allocate.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::catalog::AttributeKey;
use crate::collect::EventKind;

/// One item of the current session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionItem<'a> {
    pub id: &'a str,
    pub kind: EventKind,
    /// Milliseconds since the Unix epoch.
    pub at_ms: f64,
}

/// The shopper as ranking sees it.
pub trait ShopperSignals {
    /// Number of items in the current session.
    fn session_len(&self) -> usize;
    /// Session item `index`, 0 being the oldest; `None` past the end.
    fn session_item(&self, index: usize) -> Option<SessionItem<'_>>;
    /// Time-decayed affinity (≥ 0) for an attribute value; 0 when unknown.
    fn affinity(&self, key: &AttributeKey) -> f32;
    fn has_purchased(&self, id: &str) -> bool;
    /// The shopper said "not interested".
    fn has_dismissed(&self, id: &str) -> bool;
    /// How often the shopper came back to this item across visits (0 when never seen).
    fn repeat_interest(&self, id: &str) -> u32;
    /// A long-term taste vector in the shop's embedding space, if the profile keeps one.
    fn long_term_embedding(&self) -> Option<&[f32]>;
}

/// FNV-1a: a fast hash for the short ids looked up once per candidate (not DoS-resistant,
/// which an in-memory twin of the profile does not need).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// A shopper held in plain maps: for tests and the replay.
#[derive(Debug, Clone, Default)]
pub struct InMemoryShopper {
    session: Vec<(String, EventKind, f64)>,
    affinities: FastMap<AttributeKey, f32>,
    purchased: FastSet<String>,
    dismissed: FastSet<String>,
    repeats: FastMap<String, u32>,
    long_term: Option<Vec<f32>>,
    /// Multiplier applied to every affinity on each new event (1 = no decay).
    affinity_decay: f32,
}

impl InMemoryShopper {
    /// A shopper whose affinities decay by `affinity_decay` (0..=1) per recorded event.
    pub fn new(affinity_decay: f32) -> Self {
        Self { affinity_decay: affinity_decay.clamp(0.0, 1.0), ..Self::default() }
    }

    /// Records an event on `id` with the item's attribute keys: appends it to the session, counts
    /// a repeat, decays then raises the affinities, and marks purchases and dismissals.
    pub fn record(&mut self, id: &str, kind: EventKind, at_ms: f64, keys: &[AttributeKey]) {
        self.session.push((id.to_owned(), kind, at_ms));
        *self.repeats.entry(id.to_owned()).or_insert(0) += 1;
        for a in self.affinities.values_mut() {
            *a *= self.affinity_decay;
        }
        let strength = match kind {
            EventKind::Purchase => 3.0,
            EventKind::AddToCart | EventKind::WishlistAdd => 2.0,
            EventKind::Dismiss => 0.0,
            _ => 1.0,
        };
        for key in keys {
            *self.affinities.entry(key.clone()).or_insert(0.0) += strength;
        }
        match kind {
            EventKind::Purchase => {
                self.purchased.insert(id.to_owned());
            }
            EventKind::Dismiss => {
                self.dismissed.insert(id.to_owned());
            }
            _ => {}
        }
    }

    pub fn set_long_term_embedding(&mut self, embedding: Option<Vec<f32>>) {
        self.long_term = embedding;
    }

    /// Ends the session; affinities, purchases, dismissals and repeats stay.
    pub fn end_session(&mut self) {
        self.session.clear();
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        let decay = self.affinity_decay;
        *self = Self::new(decay);
    }
}

impl ShopperSignals for InMemoryShopper {
    fn session_len(&self) -> usize {
        self.session.len()
    }

    fn session_item(&self, index: usize) -> Option<SessionItem<'_>> {
        self.session.get(index).map(|(id, kind, at_ms)| SessionItem { id, kind: *kind, at_ms: *at_ms })
    }

    fn affinity(&self, key: &AttributeKey) -> f32 {
        self.affinities.get(key).copied().unwrap_or(0.0)
    }

    fn has_purchased(&self, id: &str) -> bool {
        self.purchased.contains(id)
    }

    fn has_dismissed(&self, id: &str) -> bool {
        self.dismissed.contains(id)
    }

    fn repeat_interest(&self, id: &str) -> u32 {
        self.repeats.get(id).copied().unwrap_or(0)
    }

    fn long_term_embedding(&self) -> Option<&[f32]> {
        self.long_term.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decay_and_marks() {
        let cat = AttributeKey::Category("Shoes".into());
        let mut s = InMemoryShopper::new(0.5);
        s.record("a", EventKind::View, 1.0, std::slice::from_ref(&cat));
        s.record("b", EventKind::Purchase, 2.0, &[]);
        // 1 decayed once by 0.5
        assert!((s.affinity(&cat) - 0.5).abs() < 1e-6);
        assert!(s.has_purchased("b") && !s.has_purchased("a"));
        assert_eq!(s.session_len(), 2);
        assert_eq!(s.session_item(0).map(|i| i.id), Some("a"));
        assert_eq!(s.repeat_interest("a"), 1);
        s.end_session();
        assert_eq!(s.session_len(), 0);
        assert_eq!(s.repeat_interest("a"), 1);
    }
}
