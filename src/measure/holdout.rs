//! The persistent lift bucket: each device draws once, keeps the draw in its profile, and a
//! configurable share (default 10%) forms the holdout that sees the shop's order and defaults.
//!
//! The draw (not the bucket) is kept, so changing the share moves only the devices between the
//! old and the new threshold, and a device's bucket never flips back and forth.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::gaussian::decision_rng;

/// The default holdout share.
pub const DEFAULT_HOLDOUT_SHARE: f64 = 0.1;

/// Which experience the device gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum LiftBucket {
    /// Personalized layout, offers, copy and ranking.
    Personalized,
    /// The server's order and the shop's defaults everywhere; still counts.
    Holdout,
}

/// A device's persistent uniform draw in [0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldoutDraw {
    draw: f64,
}

impl HoldoutDraw {
    /// Draws from `seed` (the facade seeds it from the browser's crypto random source once,
    /// when the profile is created).
    pub fn from_seed(seed: u64) -> HoldoutDraw {
        // Stream u64::MAX is reserved for the bucket so it never collides with decision draws.
        HoldoutDraw { draw: decision_rng(seed, u64::MAX).random::<f64>() }
    }

    /// `None` when a stored draw is outside [0, 1) or not finite.
    pub fn from_stored(draw: f64) -> Option<HoldoutDraw> {
        (0.0..1.0).contains(&draw).then_some(HoldoutDraw { draw })
    }

    pub fn value(&self) -> f64 {
        self.draw
    }

    /// The bucket for a holdout `share` in [0, 1].
    pub fn bucket(&self, share: f64) -> LiftBucket {
        if self.draw < share {
            LiftBucket::Holdout
        } else {
            LiftBucket::Personalized
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_the_share_of_devices_is_held_out() {
        let held = (0..20_000u64)
            .filter(|s| HoldoutDraw::from_seed(*s).bucket(DEFAULT_HOLDOUT_SHARE) == LiftBucket::Holdout)
            .count();
        // 2000 expected; binomial sd ≈ 42.
        assert!((held as i64 - 2000).abs() < 170, "{held}");
    }

    #[test]
    fn buckets_are_persistent_and_nested() {
        let draw = HoldoutDraw::from_seed(12345);
        assert_eq!(draw, HoldoutDraw::from_seed(12345));
        assert_eq!(HoldoutDraw::from_stored(draw.value()), Some(draw));
        assert_eq!(HoldoutDraw::from_stored(1.0), None);
        assert_eq!(HoldoutDraw::from_stored(f64::NAN), None);
        // A device held out at 10% stays held out at 20%.
        let d = HoldoutDraw::from_stored(0.05).unwrap();
        assert_eq!(d.bucket(0.1), LiftBucket::Holdout);
        assert_eq!(d.bucket(0.2), LiftBucket::Holdout);
        assert_eq!(d.bucket(0.0), LiftBucket::Personalized);
    }
}
