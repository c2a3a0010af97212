//! What the adaptation decisions know about the shopper: a plain input struct built from the
//! private profile (the profile module fills it; nothing here reads storage).
//!
//! Sensitive categories are removed before a [`ShopperState`] is built; as a second guard,
//! [`ShopperState::without_sensitive`] drops anything under a sensitive category again.

mod build;

use serde::{Deserialize, Serialize, Serializer};

pub use build::{ShopperClock, SHOPPER_TOP_INTERESTS};

use crate::catalog::{AttributeKey, CATEGORY_SEPARATOR};

/// Hours in a week: the length of an hour-of-week histogram (hour 0 = Monday 00:00 local time).
pub const HOURS_PER_WEEK: usize = 168;

/// The number of context features every bandit decision sees (see [`ShopperState::features`]).
pub const CONTEXT_FEATURES: usize = 8;

/// New, returning or loyal, from the profile's visit statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum VisitSegment {
    /// First visit.
    #[default]
    New,
    /// Came back at least once, not (yet) loyal.
    Returning,
    /// Ordered repeatedly (the profile's own threshold).
    Loyal,
}

/// The device class the profile recorded (the profile's own type, so JS sees one `DeviceClass`).
pub use crate::profile::DeviceClass;

/// One interest from the profile: an attribute value and its decayed affinity weight (≥ 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Interest {
    pub key: AttributeKey,
    #[serde(serialize_with = "widened")]
    pub weight: f32,
}

/// An `f32` written as the `f64` of the same value: JSON text of the shortest `f32` decimal
/// (`0.3`) would reach JS as another number than the `f32` is (`0.30000001192092896`). Read
/// back as `f32`, either text gives the same value.
fn widened<S: Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(f64::from(*value))
}

/// [`widened`] for each entry.
fn all_widened<S: Serializer>(values: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|&value| f64::from(value)))
}

/// The shopper as the adaptation decisions see it. Built on the device from the profile;
/// never sent anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ShopperState {
    pub segment: VisitSegment,
    /// Visits so far, this one included.
    pub visits: u32,
    /// Orders placed so far.
    pub orders: u32,
    /// Hours since the last order, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub hours_since_last_order: Option<f64>,
    /// Items in the cart now.
    pub cart_items: u32,
    /// True when a cart was left without purchase in an earlier session.
    pub cart_abandoned: bool,
    /// The category being browsed, as a path joined with `" > "` (e.g. `"Shoes > Running"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub current_category: Option<String>,
    /// The strongest interests, strongest first.
    pub top_interests: Vec<Interest>,
    /// Activity per hour of the week (168 entries from Monday 00:00, or empty when unknown).
    #[serde(serialize_with = "all_widened")]
    pub hour_of_week_activity: Vec<f32>,
    pub device: DeviceClass,
}

impl ShopperState {
    /// The context vector the bandits read: bias, segment one-hot (new, returning, loyal), cart
    /// not empty, cart abandoned earlier, browsing a category, mobile device.
    pub fn features(&self) -> [f32; CONTEXT_FEATURES] {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        [
            1.0,
            flag(self.segment == VisitSegment::New),
            flag(self.segment == VisitSegment::Returning),
            flag(self.segment == VisitSegment::Loyal),
            flag(self.cart_items > 0),
            flag(self.cart_abandoned),
            flag(self.current_category.is_some()),
            flag(self.device == DeviceClass::Mobile),
        ]
    }

    /// A copy with every interest and the current category removed when they lie under one of
    /// the `sensitive` categories (matched case-insensitively on any level of the path), and
    /// with non-finite or negative interest weights dropped.
    pub fn without_sensitive(&self, sensitive: &[String]) -> ShopperState {
        let is_sensitive = |path: &str| {
            path.split(CATEGORY_SEPARATOR)
                .any(|level| sensitive.iter().any(|s| s.trim().eq_ignore_ascii_case(level.trim())))
        };
        let mut clean = self.clone();
        clean.current_category = self.current_category.clone().filter(|c| !is_sensitive(c));
        clean.top_interests.retain(|interest| {
            let sensitive_key = matches!(&interest.key, AttributeKey::Category(path) if is_sensitive(path));
            !sensitive_key && interest.weight.is_finite() && interest.weight >= 0.0
        });
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_encode_the_context() {
        let shopper = ShopperState {
            segment: VisitSegment::Loyal,
            cart_items: 2,
            current_category: Some("Shoes".into()),
            device: DeviceClass::Mobile,
            ..ShopperState::default()
        };
        assert_eq!(shopper.features(), [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        assert_eq!(ShopperState::default().features(), [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn sensitive_categories_are_dropped() {
        let shopper = ShopperState {
            current_category: Some("Health > Tests".into()),
            top_interests: vec![
                Interest { key: AttributeKey::Category("Health".into()), weight: 3.0 },
                Interest { key: AttributeKey::Category("Shoes > Trail".into()), weight: 2.0 },
                Interest { key: AttributeKey::Tag("gift".into()), weight: f32::NAN },
            ],
            ..ShopperState::default()
        };
        let clean = shopper.without_sensitive(&["health".into()]);
        assert_eq!(clean.current_category, None);
        assert_eq!(clean.top_interests.len(), 1);
        assert_eq!(clean.top_interests[0].key, AttributeKey::Category("Shoes > Trail".into()));
    }

    #[test]
    fn reads_camel_case_json() {
        let json = r#"{"segment":"returning","visits":3,"orders":0,"cartItems":1,"cartAbandoned":true,
            "topInterests":[{"key":{"kind":"tag","value":"trail"},"weight":0.5}],"hourOfWeekActivity":[],"device":"tablet"}"#;
        let shopper: ShopperState = serde_json::from_str(json).unwrap();
        assert_eq!(shopper.segment, VisitSegment::Returning);
        assert!(shopper.cart_abandoned);
        assert_eq!(shopper.top_interests[0].key, AttributeKey::Tag("trail".into()));
    }
}
