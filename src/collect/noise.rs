//! The noise and bot filter: decides, before anything reaches the profile, whether an event is a
//! real shopper signal. Pure: the caller passes the time (`now_ms`, milliseconds since the epoch)
//! and whether the browser reports automation.
//!
//! Rules, in order:
//! 1. **Bot**: with `botHeuristic` on, every event from an automated browser is dropped.
//! 2. **Short dwell**: dwell below `minDwellMs` is a bounce.
//! 3. **Duplicate view**: a view of the item viewed last within `duplicateViewWindowMs` is a
//!    refresh. The window slides: a refresh every few seconds keeps being a refresh.
//! 4. **Burst**: more than `burstMaxEvents` shopper actions within `burstWindowMs`.
//! 5. **Rate cap**: more than `maxEventsPerMinute` shopper actions in the last 60 s.
//!
//! Impressions and purchases are page- or checkout-driven, not clicks, so they count toward neither
//! the burst nor the rate cap. Every event that is not a bot's also counts as activity for
//! sessionization: after `sessionTimeoutMs` of inactivity the next event starts a new session.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::collect::event::{EventKind, TrackEvent};
use crate::config::NoiseConfig;

const MINUTE_MS: f64 = 60_000.0;
/// Views remembered for duplicate detection before old ones are pruned.
const MAX_REMEMBERED_VIEWS: usize = 256;

/// Why an event did not reach the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum FilterReason {
    /// The browser reports automation (`navigator.webdriver`) and `botHeuristic` is on.
    Bot,
    /// Dwell shorter than `minDwellMs`.
    ShortDwell,
    /// The same item was viewed within `duplicateViewWindowMs` (a refresh).
    DuplicateView,
    /// Too many actions within `burstWindowMs`.
    Burst,
    /// More than `maxEventsPerMinute` actions in the last minute.
    RateLimited,
}

/// What the filter decided about one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseDecision {
    /// A real signal; `new_session` is true when it opens a new session.
    Recorded {
        new_session: bool,
    },
    Filtered {
        reason: FilterReason,
    },
}

/// True when an event at `now_ms` opens a new session after the last activity at `last_activity_ms`.
pub fn starts_new_session(last_activity_ms: Option<f64>, now_ms: f64, timeout_ms: f64) -> bool {
    match last_activity_ms {
        None => true,
        Some(last) => now_ms - last > timeout_ms,
    }
}

/// The filter's memory of recent activity. Lives in memory only; [`NoiseFilter::resume`] rebuilds
/// it from a stored profile so a page reload (a refresh) is still recognized.
#[derive(Debug, Clone, Default)]
pub struct NoiseFilter {
    last_activity_ms: Option<f64>,
    last_view_ms: HashMap<String, f64>,
    /// Times of recent counted actions, oldest first; only as many as a decision needs.
    recent_actions: VecDeque<f64>,
}

impl NoiseFilter {
    pub fn new() -> Self {
        NoiseFilter::default()
    }

    /// A filter that continues from stored activity: the last activity time and the latest views.
    pub fn resume<'a>(last_activity_ms: Option<f64>, views: impl IntoIterator<Item = (&'a str, f64)>) -> Self {
        let mut filter = NoiseFilter { last_activity_ms, ..NoiseFilter::default() };
        for (id, at_ms) in views {
            let entry = filter.last_view_ms.entry(id.to_string()).or_insert(at_ms);
            *entry = entry.max(at_ms);
        }
        filter
    }

    /// When the last non-bot event arrived.
    pub fn last_activity_ms(&self) -> Option<f64> {
        self.last_activity_ms
    }

    /// Decides whether `event` at `now_ms` is a real signal, and remembers it either way.
    /// `automated` is `navigator.webdriver`.
    pub fn decide(&mut self, config: &NoiseConfig, event: &TrackEvent, now_ms: f64, automated: bool) -> NoiseDecision {
        if config.bot_heuristic && automated {
            return NoiseDecision::Filtered { reason: FilterReason::Bot };
        }
        // A clock that steps back must not open windows of negative length.
        let now_ms = self.last_activity_ms.map_or(now_ms, |last| now_ms.max(last));
        let new_session = starts_new_session(self.last_activity_ms, now_ms, config.session_timeout_ms);
        self.last_activity_ms = Some(now_ms);
        if new_session {
            self.last_view_ms.clear();
        }
        let reason = self.reason_to_filter(config, event, now_ms);
        match reason {
            Some(reason) => NoiseDecision::Filtered { reason },
            None => NoiseDecision::Recorded { new_session },
        }
    }

    fn reason_to_filter(&mut self, config: &NoiseConfig, event: &TrackEvent, now_ms: f64) -> Option<FilterReason> {
        let counted = !matches!(event.kind(), EventKind::Impression | EventKind::Purchase);
        let (in_burst, in_minute) = if counted { self.count_action(config, now_ms) } else { (0, 0) };
        if let TrackEvent::Dwell { ms, .. } = event {
            if *ms < config.min_dwell_ms {
                return Some(FilterReason::ShortDwell);
            }
        }
        if let TrackEvent::View { item_id, .. } = event {
            if self.is_repeat_view(config, item_id, now_ms) {
                return Some(FilterReason::DuplicateView);
            }
        }
        if in_burst > config.burst_max_events as usize {
            return Some(FilterReason::Burst);
        }
        if in_minute > config.max_events_per_minute as usize {
            return Some(FilterReason::RateLimited);
        }
        None
    }

    /// Adds an action and returns how many fall in the burst window and in the last minute,
    /// this one included.
    fn count_action(&mut self, config: &NoiseConfig, now_ms: f64) -> (usize, usize) {
        let horizon = MINUTE_MS.max(config.burst_window_ms);
        while self.recent_actions.front().is_some_and(|t| now_ms - t >= horizon) {
            self.recent_actions.pop_front();
        }
        self.recent_actions.push_back(now_ms);
        // Counts above the larger limit change no decision, so older entries need not be kept.
        let keep = config.max_events_per_minute.max(config.burst_max_events) as usize + 1;
        while self.recent_actions.len() > keep {
            self.recent_actions.pop_front();
        }
        let in_window = |window: f64| self.recent_actions.iter().rev().take_while(|t| now_ms - **t < window).count();
        (in_window(config.burst_window_ms), in_window(MINUTE_MS))
    }

    fn is_repeat_view(&mut self, config: &NoiseConfig, item_id: &str, now_ms: f64) -> bool {
        let window = config.duplicate_view_window_ms;
        if self.last_view_ms.len() >= MAX_REMEMBERED_VIEWS {
            self.last_view_ms.retain(|_, at| now_ms - *at < window);
        }
        if self.last_view_ms.len() >= MAX_REMEMBERED_VIEWS {
            // Every remembered view is recent: forget the oldest to stay bounded.
            if let Some(oldest) = self.last_view_ms.iter().min_by(|a, b| a.1.total_cmp(b.1)).map(|(id, _)| id.clone()) {
                self.last_view_ms.remove(&oldest);
            }
        }
        let previous = self.last_view_ms.insert(item_id.to_string(), now_ms);
        previous.is_some_and(|at| now_ms - at < window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: &str) -> TrackEvent {
        TrackEvent::View { item_id: id.into(), item: None }
    }

    fn recorded(d: NoiseDecision) -> bool {
        matches!(d, NoiseDecision::Recorded { .. })
    }

    const T0: f64 = 1_700_000_000_000.0;

    #[test]
    fn a_refresh_is_a_duplicate_view_but_a_later_view_is_not() {
        let config = NoiseConfig::default();
        let mut filter = NoiseFilter::new();
        assert_eq!(filter.decide(&config, &view("a"), T0, false), NoiseDecision::Recorded { new_session: true });
        assert_eq!(
            filter.decide(&config, &view("a"), T0 + 5_000.0, false),
            NoiseDecision::Filtered { reason: FilterReason::DuplicateView }
        );
        // Another item in between does not reset the window for "a".
        assert!(recorded(filter.decide(&config, &view("b"), T0 + 10_000.0, false)));
        // The window slides from the last refresh at +5 s: +34 s is still within 30 s of it.
        assert!(!recorded(filter.decide(&config, &view("a"), T0 + 34_000.0, false)));
        assert_eq!(
            filter.decide(&config, &view("a"), T0 + 65_000.0, false),
            NoiseDecision::Recorded { new_session: false }
        );
    }

    #[test]
    fn resume_recognizes_a_reload() {
        let config = NoiseConfig::default();
        let mut filter = NoiseFilter::resume(Some(T0), [("a", T0)]);
        assert_eq!(
            filter.decide(&config, &view("a"), T0 + 2_000.0, false),
            NoiseDecision::Filtered { reason: FilterReason::DuplicateView }
        );
        assert_eq!(
            filter.decide(&config, &view("b"), T0 + 3_000.0, false),
            NoiseDecision::Recorded { new_session: false }
        );
    }

    #[test]
    fn thirty_minutes_of_inactivity_start_a_new_session() {
        let config = NoiseConfig::default();
        let mut filter = NoiseFilter::new();
        assert_eq!(filter.decide(&config, &view("a"), T0, false), NoiseDecision::Recorded { new_session: true });
        let just_inside = T0 + 1_800_000.0;
        assert_eq!(
            filter.decide(&config, &view("b"), just_inside, false),
            NoiseDecision::Recorded { new_session: false }
        );
        let after = just_inside + 1_800_001.0;
        assert_eq!(filter.decide(&config, &view("c"), after, false), NoiseDecision::Recorded { new_session: true });
        // A new session forgets earlier views, so viewing "c" again 31 min later counts.
        assert!(recorded(filter.decide(&config, &view("c"), after + 1_860_000.0, false)));
    }

    #[test]
    fn short_dwell_is_a_bounce() {
        let config = NoiseConfig::default();
        let mut filter = NoiseFilter::new();
        let dwell = |ms| TrackEvent::Dwell { item_id: "a".into(), ms };
        assert_eq!(
            filter.decide(&config, &dwell(1_999.0), T0, false),
            NoiseDecision::Filtered { reason: FilterReason::ShortDwell }
        );
        assert!(recorded(filter.decide(&config, &dwell(2_000.0), T0 + 10_000.0, false)));
    }

    #[test]
    fn bots_are_dropped_only_while_the_heuristic_is_on() {
        let mut config = NoiseConfig::default();
        let mut filter = NoiseFilter::new();
        assert_eq!(filter.decide(&config, &view("a"), T0, true), NoiseDecision::Filtered { reason: FilterReason::Bot });
        assert_eq!(filter.last_activity_ms(), None);
        config.bot_heuristic = false;
        assert!(recorded(filter.decide(&config, &view("a"), T0, true)));
        assert!(recorded(filter.decide(&config, &view("b"), T0 + 1.0, false)));
    }

    #[test]
    fn a_burst_is_filtered_and_clears_after_the_window() {
        let config = NoiseConfig { burst_max_events: 3, burst_window_ms: 1_000.0, ..NoiseConfig::default() };
        let mut filter = NoiseFilter::new();
        let click =
            |i: usize| TrackEvent::Click { item_id: format!("i{i}"), placement: None, position: None, item: None };
        let decisions: Vec<_> =
            (0..5).map(|i| filter.decide(&config, &click(i), T0 + i as f64 * 100.0, false)).collect();
        assert!(decisions[..3].iter().all(|d| recorded(*d)));
        assert_eq!(decisions[3], NoiseDecision::Filtered { reason: FilterReason::Burst });
        assert_eq!(decisions[4], NoiseDecision::Filtered { reason: FilterReason::Burst });
        assert!(recorded(filter.decide(&config, &click(9), T0 + 5_000.0, false)));
        // Impressions never count toward bursts.
        let shown = TrackEvent::Impression { placement: "home".into(), item_ids: vec!["x".into()], positions: None };
        for i in 0..10 {
            assert!(recorded(filter.decide(&config, &shown, T0 + 5_001.0 + f64::from(i), false)));
        }
    }

    #[test]
    fn the_rate_cap_counts_a_rolling_minute() {
        let config = NoiseConfig { max_events_per_minute: 5, ..NoiseConfig::default() };
        let mut filter = NoiseFilter::new();
        let click =
            |i: usize| TrackEvent::Click { item_id: format!("i{i}"), placement: None, position: None, item: None };
        let seconds_apart = |i: usize| T0 + i as f64 * 5_000.0;
        let decisions: Vec<_> = (0..7).map(|i| filter.decide(&config, &click(i), seconds_apart(i), false)).collect();
        assert!(decisions[..5].iter().all(|d| recorded(*d)));
        assert_eq!(decisions[5], NoiseDecision::Filtered { reason: FilterReason::RateLimited });
        // At 75 s the actions at 0, 5, 10 and 15 s have left the minute: 20, 25, 30 and 75 remain.
        assert!(recorded(filter.decide(&config, &click(20), T0 + 75_000.0, false)));
        // Purchases are never rate limited.
        let order = TrackEvent::Purchase { items: vec![], value: 0.0 };
        for i in 0..10 {
            assert!(recorded(filter.decide(&config, &order, T0 + 75_001.0 + f64::from(i), false)));
        }
    }

    #[test]
    fn a_clock_stepping_back_does_not_panic_or_open_a_session() {
        let config = NoiseConfig::default();
        let mut filter = NoiseFilter::new();
        assert!(recorded(filter.decide(&config, &view("a"), T0, false)));
        assert_eq!(
            filter.decide(&config, &view("b"), T0 - 5_000_000.0, false),
            NoiseDecision::Recorded { new_session: false }
        );
    }

    #[test]
    fn remembered_views_stay_bounded() {
        let config = NoiseConfig::default();
        let mut filter = NoiseFilter::new();
        for i in 0..1_000 {
            filter.decide(&config, &view(&format!("v{i}")), T0 + f64::from(i) * 2_000.0, false);
        }
        assert!(filter.last_view_ms.len() <= MAX_REMEMBERED_VIEWS);
        assert!(filter.recent_actions.len() <= 61);
    }

    proptest::proptest! {
        #[test]
        fn recorded_actions_never_exceed_the_caps(gaps in proptest::collection::vec(0.0f64..3_000.0, 1..400)) {
            let config = NoiseConfig { max_events_per_minute: 20, burst_max_events: 4, ..NoiseConfig::default() };
            let mut filter = NoiseFilter::new();
            let mut now = T0;
            let mut recorded_at = Vec::new();
            for (i, gap) in gaps.iter().enumerate() {
                now += gap;
                let click = TrackEvent::Click { item_id: format!("i{i}"), placement: None, position: None, item: None };
                if recorded(filter.decide(&config, &click, now, false)) {
                    recorded_at.push(now);
                }
            }
            for (i, t) in recorded_at.iter().enumerate() {
                let in_minute = recorded_at[..=i].iter().filter(|s| t - **s < 60_000.0).count();
                let in_burst = recorded_at[..=i].iter().filter(|s| t - **s < config.burst_window_ms).count();
                proptest::prop_assert!(in_minute <= 20, "{} in a minute", in_minute);
                proptest::prop_assert!(in_burst <= 4, "{} in a burst window", in_burst);
            }
        }
    }
}
