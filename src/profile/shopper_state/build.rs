//! The adaptation decisions' view of the shopper ([`ShopperState`]), built from the profile.
//!
//! Only what the profile already keeps goes in, so sensitive categories (never stored) cannot
//! reach a layout, offer or copy decision. The page load matters: a shopper who comes back
//! after the session timeout has not tracked anything yet in the new visit, so the state counts
//! that visit already (segment, visits) and treats the earlier session's cart as left behind.

use crate::catalog::CATEGORY_SEPARATOR;
use crate::collect::event::EventKind;
use crate::profile::shopper_state::{DeviceClass as AdaptDevice, Interest, ShopperState, VisitSegment};

use crate::profile::{DeviceClass, Profile, Segment, NEGLIGIBLE_AFFINITY};

/// Most interests handed to the decisions.
pub const SHOPPER_TOP_INTERESTS: usize = 8;
const MS_PER_HOUR: f64 = 3_600_000.0;

/// The moment a [`ShopperState`] is built for, and the settings that read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShopperClock {
    pub now_ms: u64,
    /// Affinity half-life (see the config).
    pub half_life_ms: f64,
    /// Inactivity after which the next event opens a new session.
    pub session_timeout_ms: f64,
    /// True when this page load has already been counted as a visit.
    pub visit_counted: bool,
}

impl Profile {
    /// True when the last session ended (no activity within the timeout) or none happened yet.
    fn session_over(&self, clock: &ShopperClock) -> bool {
        let last = self.session().last_activity_ms;
        self.visits().sessions == 0 || clock.now_ms.saturating_sub(last) as f64 > clock.session_timeout_ms
    }

    /// The shopper as layout, offers and copy see them, at `clock.now_ms`.
    pub fn shopper_state(&self, clock: &ShopperClock) -> ShopperState {
        let over = self.session_over(clock);
        let mut visits = self.visits().clone();
        if over {
            visits.sessions = visits.sessions.saturating_add(1);
        }
        let segment = match visits.segment() {
            Segment::New => VisitSegment::New,
            Segment::Returning => VisitSegment::Returning,
            Segment::Loyal => VisitSegment::Loyal,
        };
        let visits_so_far = if clock.visit_counted && !over { visits.visits } else { visits.visits.saturating_add(1) };
        let hours_since_last_order =
            visits.last_order_ms.map(|at| clock.now_ms.saturating_sub(at) as f64 / MS_PER_HOUR);
        let cart_items = self.cart().items().fold(0u32, |sum, (_, quantity)| sum.saturating_add(*quantity));
        ShopperState {
            segment,
            visits: visits_so_far,
            orders: visits.orders,
            hours_since_last_order,
            cart_items,
            cart_abandoned: self.cart_left_earlier(over),
            current_category: if over { None } else { self.browsing_category() },
            top_interests: self.top_interests(clock),
            hour_of_week_activity: self.hour_of_week().buckets().iter().map(|&n| n as f32).collect(),
            device: match self.device() {
                DeviceClass::Mobile => AdaptDevice::Mobile,
                DeviceClass::Tablet => AdaptDevice::Tablet,
                DeviceClass::Desktop | DeviceClass::Unknown => AdaptDevice::Desktop,
            },
        }
    }

    /// A cart item was put in during an earlier session and is still there (purchases empty
    /// the cart). When the last session is over, everything in the cart was left in it.
    fn cart_left_earlier(&self, session_over: bool) -> bool {
        if self.cart().is_empty() {
            return false;
        }
        if session_over {
            return true;
        }
        let started = self.session().started_ms;
        self.cart()
            .items()
            .any(|(id, _)| self.carted().entries().iter().find(|e| &e.item_id == id).is_some_and(|e| e.at_ms < started))
    }

    /// The category of the item the shopper looked at last in this session.
    fn browsing_category(&self) -> Option<String> {
        self.session_items()
            .iter()
            .rev()
            .filter(|e| matches!(e.kind, EventKind::View | EventKind::Click | EventKind::AddToCart))
            .find_map(|e| {
                let path = &self.cached_attributes(&e.item_id)?.category_path;
                (!path.is_empty()).then(|| path.join(CATEGORY_SEPARATOR))
            })
    }

    /// The strongest positive interests now, strongest first (ties by key, for repeatability).
    fn top_interests(&self, clock: &ShopperClock) -> Vec<Interest> {
        let mut interests: Vec<Interest> = self
            .affinities()
            .iter()
            .map(|(key, affinity)| (key, affinity.value_at(clock.now_ms, clock.half_life_ms)))
            .filter(|(_, value)| value.is_finite() && *value > NEGLIGIBLE_AFFINITY)
            .map(|(key, value)| Interest { key: key.clone(), weight: value as f32 })
            .collect();
        crate::ordering::sort_by(&mut interests, |a, b| b.weight.total_cmp(&a.weight).then_with(|| a.key.cmp(&b.key)));
        interests.truncate(SHOPPER_TOP_INTERESTS);
        interests
    }
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
