//! On-device lift counters: per placement and per item class (recommended by the device or
//! not), impressions, clicks, add-to-carts, orders and revenue, plus sessions. They stay on the
//! device; only a clipped and noised vector of them leaves it (see [`super::report`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::MAX_LABEL_BYTES;
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

/// Most distinct placements counted; later ones are counted under [`OTHER_PLACEMENT`].
pub const MAX_PLACEMENTS: usize = 16;
/// Where counts for placements beyond the limit (or unknown to the report) go.
pub const OTHER_PLACEMENT: &str = "(other)";
/// Metrics counted per placement and item class, in vector order.
pub const METRICS: [LiftMetric; 5] =
    [LiftMetric::Impressions, LiftMetric::Clicks, LiftMetric::AddToCarts, LiftMetric::Orders, LiftMetric::Revenue];

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CounterError {
    #[error("amount {} is not a finite number ≥ 0: count impressions, clicks and orders as counts, revenue in the shop's currency", Decimal(*.0))]
    BadAmount(f64),
    #[error(
        "placement name is empty or longer than {MAX_LABEL_BYTES} bytes: use the placement's short name, e.g. \"home\""
    )]
    BadPlacement,
    #[error("stored lift counters are unusable ({0}); start fresh")]
    Corrupt(&'static str),
}

impl Coded for CounterError {
    fn code(&self) -> ErrorCode {
        match self {
            CounterError::BadAmount(_) | CounterError::BadPlacement => ErrorCode::InvalidArgument,
            CounterError::Corrupt(_) => ErrorCode::UnreadableState,
        }
    }
}

/// Was the item put there by the device's personalization?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ItemClass {
    /// Placed or promoted by the device (in the holdout: by the shop's own recommendation slot).
    Recommended,
    NotRecommended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum LiftMetric {
    Impressions,
    Clicks,
    AddToCarts,
    Orders,
    Revenue,
}

impl LiftMetric {
    pub fn index(self) -> usize {
        match self {
            LiftMetric::Impressions => 0,
            LiftMetric::Clicks => 1,
            LiftMetric::AddToCarts => 2,
            LiftMetric::Orders => 3,
            LiftMetric::Revenue => 4,
        }
    }
}

/// Counts for one placement: `[class][metric]`, class 0 = recommended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementCounts {
    pub placement: String,
    pub recommended: [f64; 5],
    pub not_recommended: [f64; 5],
}

impl PlacementCounts {
    pub fn get(&self, class: ItemClass, metric: LiftMetric) -> f64 {
        match class {
            ItemClass::Recommended => self.recommended[metric.index()],
            ItemClass::NotRecommended => self.not_recommended[metric.index()],
        }
    }
}

/// This device's counts since the last report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LiftCounters {
    sessions: f64,
    placements: Vec<PlacementCounts>,
}

impl LiftCounters {
    pub fn sessions(&self) -> f64 {
        self.sessions
    }

    pub fn placements(&self) -> &[PlacementCounts] {
        &self.placements
    }

    /// Counts one session (visit).
    pub fn record_session(&mut self) {
        self.sessions += 1.0;
    }

    /// Adds `amount` of `metric` for items of `class` at `placement`.
    pub fn record(
        &mut self,
        placement: &str,
        class: ItemClass,
        metric: LiftMetric,
        amount: f64,
    ) -> Result<(), CounterError> {
        if !amount.is_finite() || amount < 0.0 {
            return Err(CounterError::BadAmount(amount));
        }
        if placement.trim().is_empty() || placement.len() > MAX_LABEL_BYTES {
            return Err(CounterError::BadPlacement);
        }
        let counts = self.slot(placement);
        let row = match class {
            ItemClass::Recommended => &mut counts.recommended,
            ItemClass::NotRecommended => &mut counts.not_recommended,
        };
        row[metric.index()] += amount;
        Ok(())
    }

    /// An order of an item of `class` first clicked at `placement`, worth `revenue`.
    pub fn record_order(&mut self, placement: &str, class: ItemClass, revenue: f64) -> Result<(), CounterError> {
        if !revenue.is_finite() || revenue < 0.0 {
            return Err(CounterError::BadAmount(revenue));
        }
        self.record(placement, class, LiftMetric::Orders, 1.0)?;
        self.record(placement, class, LiftMetric::Revenue, revenue)
    }

    fn slot(&mut self, placement: &str) -> &mut PlacementCounts {
        let known = self.placements.iter().position(|p| p.placement == placement);
        let index = match known {
            Some(index) => index,
            None if self.placements.len() < MAX_PLACEMENTS - 1 || placement == OTHER_PLACEMENT => {
                self.placements.push(PlacementCounts {
                    placement: placement.to_string(),
                    recommended: [0.0; 5],
                    not_recommended: [0.0; 5],
                });
                self.placements.len() - 1
            }
            None => return self.slot(OTHER_PLACEMENT),
        };
        &mut self.placements[index]
    }

    /// Counts of `placement` (zeros if never seen).
    pub fn placement(&self, placement: &str) -> Option<&PlacementCounts> {
        self.placements.iter().find(|p| p.placement == placement)
    }

    /// Checks stored counters: bounded, finite, non-negative.
    pub fn validate(&self) -> Result<(), CounterError> {
        if self.placements.len() > MAX_PLACEMENTS {
            return Err(CounterError::Corrupt("too many placements"));
        }
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(self.sessions)
            || self.placements.iter().any(|p| !p.recommended.iter().chain(&p.not_recommended).all(|v| ok(*v)))
        {
            return Err(CounterError::Corrupt("a count is negative or not finite"));
        }
        Ok(())
    }

    /// Starts a new period (after a report was made).
    pub fn reset(&mut self) {
        *self = LiftCounters::default();
    }
}

#[path = "counters_merge.rs"]
mod merge;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_placement_and_class() {
        let mut c = LiftCounters::default();
        c.record_session();
        c.record("home", ItemClass::Recommended, LiftMetric::Impressions, 8.0).unwrap();
        c.record("home", ItemClass::NotRecommended, LiftMetric::Impressions, 4.0).unwrap();
        c.record("home", ItemClass::Recommended, LiftMetric::Clicks, 1.0).unwrap();
        c.record_order("home", ItemClass::Recommended, 59.5).unwrap();
        let home = c.placement("home").unwrap();
        assert_eq!(home.recommended, [8.0, 1.0, 0.0, 1.0, 59.5]);
        assert_eq!(home.get(ItemClass::NotRecommended, LiftMetric::Impressions), 4.0);
        assert_eq!(c.sessions(), 1.0);
        c.reset();
        assert_eq!(c, LiftCounters::default());
    }

    #[test]
    fn placements_are_bounded() {
        let mut c = LiftCounters::default();
        for i in 0..40 {
            c.record(&format!("p{i}"), ItemClass::Recommended, LiftMetric::Clicks, 1.0).unwrap();
        }
        assert_eq!(c.placements().len(), MAX_PLACEMENTS);
        assert_eq!(c.placement(OTHER_PLACEMENT).unwrap().recommended[1], 25.0);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn bad_amounts_are_refused() {
        let mut c = LiftCounters::default();
        assert_eq!(
            c.record("home", ItemClass::Recommended, LiftMetric::Clicks, -1.0),
            Err(CounterError::BadAmount(-1.0))
        );
        assert!(matches!(c.record_order("home", ItemClass::Recommended, f64::NAN), Err(CounterError::BadAmount(_))));
        assert_eq!(c.record("", ItemClass::Recommended, LiftMetric::Clicks, 1.0), Err(CounterError::BadPlacement));
        assert_eq!(c, LiftCounters::default(), "nothing stored from a refused call");
    }
}
