//! Visit statistics, the shopper segment, the device class and the hour-of-week activity histogram.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Hours in a week: the histogram's bucket count.
pub const HOURS_PER_WEEK: usize = 168;

/// The kind of device the shop is browsed on, from the browser's user agent and screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum DeviceClass {
    #[default]
    Unknown,
    Mobile,
    Tablet,
    Desktop,
}

/// Shorter screen side (CSS px) below which a touch device is a phone.
pub const PHONE_MAX_SIDE: f64 = 600.0;

impl DeviceClass {
    /// A coarse device class from touch support (`navigator.maxTouchPoints`) and the screen's
    /// size, never from the user agent string: phones are touch devices whose shorter side is
    /// under [`PHONE_MAX_SIDE`], tablets larger touch devices; without a screen size, unknown.
    pub fn classify(max_touch_points: f64, screen: Option<(f64, f64)>) -> DeviceClass {
        let Some((width, height)) = screen else {
            return DeviceClass::Unknown;
        };
        match (max_touch_points > 0.0, width.min(height)) {
            (true, side) if side < PHONE_MAX_SIDE => DeviceClass::Mobile,
            (true, _) => DeviceClass::Tablet,
            (false, _) => DeviceClass::Desktop,
        }
    }
}

/// How well the shop knows the shopper.
///
/// `new`: at most one session and no order. `loyal`: two or more orders. `returning`: everyone else
/// (came back, or ordered once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Segment {
    New,
    Returning,
    Loyal,
}

/// Orders from which a shopper counts as loyal.
pub const LOYAL_ORDERS: u32 = 2;

/// Revenue is capped here so sums stay finite (JSON cannot store infinity).
pub const MAX_REVENUE: f64 = 1e15;

/// Counts of visits, sessions and orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", from = "StoredVisitStats")]
pub struct VisitStats {
    /// First recorded activity, in ms since the epoch (0 when none yet).
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// Page loads with at least one recorded event.
    pub visits: u32,
    /// Sessions (a new one after 30 minutes without activity).
    pub sessions: u32,
    pub orders: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub last_order_ms: Option<u64>,
    /// Sum of order values, in the shop's currency.
    pub revenue: f64,
}

/// How [`VisitStats`] is read: a missing field takes its default, as in older profiles. A type of
/// its own because results always carry every field, and a `default` on `VisitStats` itself would
/// mark each one optional in the TypeScript types.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StoredVisitStats {
    first_seen_ms: u64,
    last_seen_ms: u64,
    visits: u32,
    sessions: u32,
    orders: u32,
    last_order_ms: Option<u64>,
    revenue: f64,
}

impl From<StoredVisitStats> for VisitStats {
    fn from(stored: StoredVisitStats) -> VisitStats {
        let StoredVisitStats { first_seen_ms, last_seen_ms, visits, sessions, orders, last_order_ms, revenue } = stored;
        VisitStats { first_seen_ms, last_seen_ms, visits, sessions, orders, last_order_ms, revenue }
    }
}

impl VisitStats {
    pub fn segment(&self) -> Segment {
        if self.orders >= LOYAL_ORDERS {
            Segment::Loyal
        } else if self.orders == 0 && self.sessions <= 1 {
            Segment::New
        } else {
            Segment::Returning
        }
    }

    /// Notes activity at `at_ms`.
    pub fn seen(&mut self, at_ms: u64) {
        if self.first_seen_ms == 0 || at_ms < self.first_seen_ms {
            self.first_seen_ms = at_ms;
        }
        self.last_seen_ms = self.last_seen_ms.max(at_ms);
    }

    pub fn ordered(&mut self, value: f64, at_ms: u64) {
        self.orders = self.orders.saturating_add(1);
        self.last_order_ms = Some(self.last_order_ms.map_or(at_ms, |t| t.max(at_ms)));
        if value.is_finite() && value > 0.0 {
            self.revenue = (self.revenue + value).min(MAX_REVENUE);
        }
    }
}

/// Recorded events per local hour of the week (0 = Monday 00:00–00:59, 167 = Sunday 23:00–23:59).
#[derive(Debug, Clone, PartialEq)]
pub struct HourOfWeek(pub(super) [u32; HOURS_PER_WEEK]);

impl Default for HourOfWeek {
    fn default() -> Self {
        HourOfWeek([0; HOURS_PER_WEEK])
    }
}

impl HourOfWeek {
    /// Counts one event in `hour` (taken modulo 168).
    pub fn count(&mut self, hour: u8) {
        let slot = &mut self.0[usize::from(hour) % HOURS_PER_WEEK];
        *slot = slot.saturating_add(1);
    }

    pub fn buckets(&self) -> &[u32; HOURS_PER_WEEK] {
        &self.0
    }

    /// The busiest hour, if any event was counted.
    pub fn peak_hour(&self) -> Option<u8> {
        let (hour, count) = self.0.iter().enumerate().max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))?;
        (*count > 0).then_some(hour as u8)
    }
}

impl Serialize for HourOfWeek {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for HourOfWeek {
    /// Accepts a list of up to 168 counts (missing ones are 0), so a damaged histogram loads.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let counts = Vec::<u32>::deserialize(deserializer)?;
        if counts.len() > HOURS_PER_WEEK {
            return Err(serde::de::Error::invalid_length(counts.len(), &"at most 168 hourly counts"));
        }
        let mut hours = [0; HOURS_PER_WEEK];
        hours[..counts.len()].copy_from_slice(&counts);
        Ok(HourOfWeek(hours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_classed_by_touch_and_the_shorter_side() {
        assert_eq!(DeviceClass::classify(5.0, Some((390.0, 844.0))), DeviceClass::Mobile);
        assert_eq!(DeviceClass::classify(5.0, Some((1024.0, 768.0))), DeviceClass::Tablet);
        assert_eq!(DeviceClass::classify(5.0, Some((600.0, 960.0))), DeviceClass::Tablet, "600 is not under 600");
        assert_eq!(DeviceClass::classify(0.0, Some((390.0, 844.0))), DeviceClass::Desktop);
        assert_eq!(DeviceClass::classify(5.0, None), DeviceClass::Unknown);
    }

    #[test]
    fn segments_follow_sessions_and_orders() {
        let mut stats = VisitStats { sessions: 1, ..VisitStats::default() };
        assert_eq!(stats.segment(), Segment::New);
        stats.sessions = 2;
        assert_eq!(stats.segment(), Segment::Returning);
        stats.sessions = 1;
        stats.ordered(20.0, 5);
        assert_eq!(stats.segment(), Segment::Returning);
        stats.ordered(30.0, 3);
        assert_eq!(stats.segment(), Segment::Loyal);
        assert_eq!(stats.last_order_ms, Some(5));
        assert!((stats.revenue - 50.0).abs() < 1e-9);
        stats.ordered(f64::MAX, 6);
        stats.ordered(f64::MAX, 7);
        assert!((stats.revenue - MAX_REVENUE).abs() < 1.0);
    }

    #[test]
    fn seen_tracks_first_and_last() {
        let mut stats = VisitStats::default();
        stats.seen(100);
        stats.seen(50);
        stats.seen(200);
        assert_eq!((stats.first_seen_ms, stats.last_seen_ms), (50, 200));
    }

    #[test]
    fn hour_histogram_counts_and_round_trips() {
        let mut hours = HourOfWeek::default();
        hours.count(3);
        hours.count(3);
        hours.count(170); // wraps to 2
        assert_eq!(hours.peak_hour(), Some(3));
        assert_eq!(hours.buckets()[2], 1);
        let json = serde_json::to_string(&hours).unwrap();
        assert_eq!(serde_json::from_str::<HourOfWeek>(&json).unwrap(), hours);
        assert!(serde_json::from_str::<HourOfWeek>("[1,2]").is_ok());
        assert!(serde_json::from_str::<HourOfWeek>(&format!("[{}]", vec!["0"; 169].join(","))).is_err());
        assert_eq!(HourOfWeek::default().peak_hour(), None);
    }
}
