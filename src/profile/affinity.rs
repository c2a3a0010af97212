//! Time-decayed affinities over attribute values.
//!
//! Each entry keeps a value and the time it was last brought up to date. The value decays
//! exponentially, halving every half-life, and is decayed lazily: only when read or updated.
//! Adding `w` at time `t` to an entry last updated at `u` gives `v·2^(−(t−u)/h) + w` when `t ≥ u`
//! and `v + w·2^(−(u−t)/h)` when the signal is older than the entry (it came from another tab).
//! Either way the value at any later time `T` is `Σ wᵢ·2^(−(T−tᵢ)/h)`, independent of the order
//! the signals arrived in, which is what lets two tabs merge their signals without loss.

use litemap::LiteMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog::AttributeKey;

/// Values smaller than this in magnitude carry no information and are dropped.
pub const NEGLIGIBLE_AFFINITY: f64 = 1e-4;
/// Affinities are clamped to ±this, so no sum of signals can overflow to infinity (which JSON
/// cannot store).
pub const MAX_AFFINITY: f64 = 1e9;
/// Stored values are rounded to this many decimal places to keep the profile small.
const STORED_DECIMALS: f64 = 1e4;

/// The factor a value keeps after `elapsed_ms` with half-life `half_life_ms`.
pub fn decay_factor(elapsed_ms: f64, half_life_ms: f64) -> f64 {
    if elapsed_ms <= 0.0 {
        1.0
    } else {
        (-elapsed_ms / half_life_ms * std::f64::consts::LN_2).exp()
    }
}

/// One affinity: its value at `updated_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    pub value: f64,
    pub updated_ms: u64,
}

impl Affinity {
    /// The value decayed to `now_ms` (never grown: a time before `updated_ms` reads as `updated_ms`).
    pub fn value_at(&self, now_ms: u64, half_life_ms: f64) -> f64 {
        self.value * decay_factor(now_ms.saturating_sub(self.updated_ms) as f64, half_life_ms)
    }
}

/// All affinities, by attribute key. Serialized as a list of `{ key, value, updatedMs }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Affinities(pub(super) LiteMap<AttributeKey, Affinity>);

impl Affinities {
    /// Adds a signal of weight `weight` at `at_ms`.
    pub fn add(&mut self, key: AttributeKey, weight: f64, at_ms: u64, half_life_ms: f64) {
        if !weight.is_finite() || weight == 0.0 {
            return;
        }
        let entry = self.0.entry(key).or_insert(Affinity { value: 0.0, updated_ms: at_ms });
        if at_ms >= entry.updated_ms {
            entry.value = entry.value_at(at_ms, half_life_ms) + weight;
            entry.updated_ms = at_ms;
        } else {
            entry.value += weight * decay_factor((entry.updated_ms - at_ms) as f64, half_life_ms);
        }
        entry.value = entry.value.clamp(-MAX_AFFINITY, MAX_AFFINITY);
    }

    pub fn get(&self, key: &AttributeKey) -> Option<&Affinity> {
        self.0.get(key)
    }

    /// The value of `key` decayed to `now_ms`; 0 when there is none.
    pub fn value_at(&self, key: &AttributeKey, now_ms: u64, half_life_ms: f64) -> f64 {
        self.0.get(key).map_or(0.0, |a| a.value_at(now_ms, half_life_ms))
    }

    pub fn remove(&mut self, key: &AttributeKey) -> bool {
        self.0.remove(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&AttributeKey, &Affinity)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&AttributeKey, &Affinity) -> bool) {
        self.0.retain(|k, a| keep(k, a));
    }

    /// The keys of the `count` entries with the smallest decayed magnitude at `now_ms`.
    pub fn weakest(&self, count: usize, now_ms: u64, half_life_ms: f64) -> Vec<AttributeKey> {
        let mut ranked: Vec<(f64, &AttributeKey)> =
            self.0.iter().map(|(k, a)| (a.value_at(now_ms, half_life_ms).abs(), k)).collect();
        crate::ordering::sort_by(&mut ranked, |a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        ranked.into_iter().take(count).map(|(_, k)| k.clone()).collect()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAffinity {
    key: AttributeKey,
    value: f64,
    updated_ms: u64,
}

impl Serialize for Affinities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(key, a)| StoredAffinity {
            key: key.clone(),
            value: (a.value * STORED_DECIMALS).round() / STORED_DECIMALS,
            updated_ms: a.updated_ms,
        }))
    }
}

impl<'de> Deserialize<'de> for Affinities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Vec::<StoredAffinity>::deserialize(deserializer)?;
        Ok(Affinities(crate::profile::map_from_entries(stored.into_iter().filter(|s| s.value.is_finite()).map(|s| {
            (s.key, Affinity { value: s.value.clamp(-MAX_AFFINITY, MAX_AFFINITY), updated_ms: s.updated_ms })
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: f64 = 86_400_000.0;
    const HALF_LIFE: f64 = 14.0 * DAY;
    const T0: u64 = 1_700_000_000_000;

    fn brand(b: &str) -> AttributeKey {
        AttributeKey::Brand(b.into())
    }

    #[test]
    fn halves_every_half_life() {
        let mut a = Affinities::default();
        a.add(brand("Acme"), 8.0, T0, HALF_LIFE);
        let at = |days: f64| a.value_at(&brand("Acme"), T0 + (days * DAY) as u64, HALF_LIFE);
        assert!((at(0.0) - 8.0).abs() < 1e-9);
        assert!((at(14.0) - 4.0).abs() < 1e-9);
        assert!((at(28.0) - 2.0).abs() < 1e-9);
        assert!((at(7.0) - 8.0 / 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn adds_onto_the_decayed_value() {
        let mut a = Affinities::default();
        a.add(brand("Acme"), 4.0, T0, HALF_LIFE);
        a.add(brand("Acme"), 1.0, T0 + (14.0 * DAY) as u64, HALF_LIFE);
        // 4 halves to 2, plus 1.
        let entry = a.get(&brand("Acme")).unwrap();
        assert!((entry.value - 3.0).abs() < 1e-9);
        assert_eq!(entry.updated_ms, T0 + (14.0 * DAY) as u64);
    }

    #[test]
    fn an_older_signal_is_decayed_to_the_entry_time() {
        let later = T0 + (14.0 * DAY) as u64;
        let mut a = Affinities::default();
        a.add(brand("Acme"), 1.0, later, HALF_LIFE);
        a.add(brand("Acme"), 4.0, T0, HALF_LIFE);
        let entry = a.get(&brand("Acme")).unwrap();
        assert!((entry.value - 3.0).abs() < 1e-9);
        assert_eq!(entry.updated_ms, later);
    }

    #[test]
    fn huge_values_are_clamped_not_infinite() {
        let mut a = Affinities::default();
        a.add(brand("x"), f64::MAX, T0, HALF_LIFE);
        a.add(brand("x"), f64::MAX, T0, HALF_LIFE);
        assert!((a.value_at(&brand("x"), T0, HALF_LIFE) - MAX_AFFINITY).abs() < 1e-3);
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains("null"));
    }

    #[test]
    fn weakest_ranks_by_decayed_magnitude() {
        let mut a = Affinities::default();
        a.add(brand("old-strong"), 10.0, T0, HALF_LIFE);
        a.add(brand("new-weak"), 0.5, T0 + (70.0 * DAY) as u64, HALF_LIFE);
        a.add(brand("negative"), -3.0, T0 + (70.0 * DAY) as u64, HALF_LIFE);
        // After 5 half-lives the old 10 is worth 0.3125, below the new 0.5.
        let now = T0 + (70.0 * DAY) as u64;
        assert_eq!(a.weakest(2, now, HALF_LIFE), vec![brand("old-strong"), brand("new-weak")]);
    }

    #[test]
    fn serializes_as_a_rounded_list() {
        let mut a = Affinities::default();
        a.add(brand("Acme"), 1.0 / 3.0, T0, HALF_LIFE);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"[{"key":{"kind":"brand","value":"Acme"},"value":0.3333,"updatedMs":1700000000000}]"#);
        let back: Affinities = serde_json::from_str(&json).unwrap();
        assert!((back.value_at(&brand("Acme"), T0, HALF_LIFE) - 0.3333).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn decay_is_monotone(value in -100.0f64..100.0, start in 0u64..1u64 << 42,
                             a in 0u64..1u64 << 36, b in 0u64..1u64 << 36, half_days in 0.1f64..365.0) {
            let entry = Affinity { value, updated_ms: start };
            let half_life = half_days * DAY;
            let (early, late) = (start + a.min(b), start + a.max(b));
            let (v_early, v_late) = (entry.value_at(early, half_life), entry.value_at(late, half_life));
            prop_assert!(v_late.abs() <= v_early.abs() + 1e-12);
            prop_assert!(v_late * value >= 0.0, "decay never flips the sign");
        }

        #[test]
        fn merge_order_does_not_matter(signals in proptest::collection::vec((-10.0f64..10.0, 0u64..1u64 << 34), 1..20)) {
            let base = T0;
            let mut forward = Affinities::default();
            for (w, t) in &signals {
                forward.add(brand("x"), *w, base + t, HALF_LIFE);
            }
            let mut backward = Affinities::default();
            for (w, t) in signals.iter().rev() {
                backward.add(brand("x"), *w, base + t, HALF_LIFE);
            }
            let now = base + (1u64 << 35);
            let expected: f64 = signals.iter().map(|(w, t)| w * decay_factor((now - base - t) as f64, HALF_LIFE)).sum();
            prop_assert!((forward.value_at(&brand("x"), now, HALF_LIFE) - expected).abs() < 1e-6);
            prop_assert!((backward.value_at(&brand("x"), now, HALF_LIFE) - expected).abs() < 1e-6);
        }
    }
}
