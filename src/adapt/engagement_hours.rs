//! `preferred_hours`: when this shopper is usually active, from the profile's local
//! hour-of-week histogram (hour 0 = Monday 00:00 local time). Computed on the device for the
//! shop's own on-device reminders; never synced.
//!
//! The histogram is smoothed over neighbouring hours (kernel ¼, ½, 1, ½, ¼, wrapping around the
//! week) and partly pooled with the same hour on the other days (habits repeat daily). An hour
//! is preferred when its smoothed share is at least `lift` times the uniform share. Until the
//! histogram holds `minEvents` events on `minActiveDays` distinct days, the answer is
//! "not enough data" rather than a guess.
//!
//! ```
//! use shop_personalizer::adapt::{preferred_hours, HoursParams, PreferredHours};
//! let mut histogram = vec![0.0; 168];
//! for day in 0..5 { histogram[day * 24 + 20] = 8.0; } // 20:00 on weekdays
//! match preferred_hours(&histogram, &HoursParams::default()).unwrap() {
//!     PreferredHours::Ready { hours_of_day, .. } => assert_eq!(hours_of_day[0], 20),
//!     PreferredHours::NotEnoughData { .. } => unreachable!(),
//! }
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

use crate::float_text::Decimal;
use crate::profile::shopper_state::HOURS_PER_WEEK;

const HOURS_PER_DAY: usize = 24;
const KERNEL: [f64; 5] = [0.25, 0.5, 1.0, 0.5, 0.25];

#[derive(Debug, Clone, PartialEq, Error)]
pub enum HoursError {
    #[error(
        "the hour-of-week histogram has {0} entries; it needs exactly 168 (7 days × 24 hours, Monday 00:00 first)"
    )]
    WrongLength(usize),
    #[error("hour {index} of the histogram is {}: counts must be finite and ≥ 0", Decimal(*.value))]
    BadCount { index: usize, value: f32 },
    #[error("hours parameter {name} = {} is out of range: expected {expected}", Decimal(*.value))]
    BadParameter { name: &'static str, value: f64, expected: &'static str },
}

impl Coded for HoursError {
    fn code(&self) -> ErrorCode {
        match self {
            // The histogram is the profile's own: a bad one is a bug, not the caller's input.
            HoursError::WrongLength(_) | HoursError::BadCount { .. } => ErrorCode::Internal,
            HoursError::BadParameter { .. } => ErrorCode::InvalidArgument,
        }
    }
}

/// Tuning of `preferredHours()`; every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct HoursParams {
    /// Events needed before answering (≥ 1).
    pub min_events: f64,
    /// Distinct active days needed before answering (1..=7).
    pub min_active_days: u32,
    /// Weight of the same hour on other days, in [0, 1].
    pub daily_pooling: f64,
    /// How many times the uniform share an hour needs (> 1).
    pub lift: f64,
    /// Most hours returned (1..=168).
    pub max_hours: usize,
}

impl Default for HoursParams {
    fn default() -> Self {
        HoursParams { min_events: 30.0, min_active_days: 3, daily_pooling: 0.5, lift: 1.5, max_hours: 12 }
    }
}

impl HoursParams {
    fn check(&self) -> Result<(), HoursError> {
        let bad = |name, value, expected| Err(HoursError::BadParameter { name, value, expected });
        if !(self.min_events.is_finite() && self.min_events >= 1.0) {
            return bad("minEvents", self.min_events, "a number ≥ 1");
        }
        if !(1..=7).contains(&self.min_active_days) {
            return bad("minActiveDays", f64::from(self.min_active_days), "1..=7");
        }
        if !(0.0..=1.0).contains(&self.daily_pooling) {
            return bad("dailyPooling", self.daily_pooling, "a weight in [0, 1]");
        }
        if !(self.lift.is_finite() && self.lift > 1.0) {
            return bad("lift", self.lift, "a factor > 1");
        }
        if !(1..=HOURS_PER_WEEK).contains(&self.max_hours) {
            return bad("maxHours", self.max_hours as f64, "1..=168");
        }
        Ok(())
    }
}

/// One preferred hour of the week.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ActiveHour {
    /// 0 = Monday … 6 = Sunday.
    pub day: u8,
    /// 0..=23, local time.
    pub hour: u8,
    /// Smoothed share of the week's activity in this hour.
    pub share: f64,
}

/// The answer: preferred hours, or why there is none yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "status", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PreferredHours {
    NotEnoughData {
        events: f64,
        needed_events: f64,
        active_days: u32,
        needed_days: u32,
    },
    /// `hoursOfWeek` strongest first; `hoursOfDay` (0..=23) pooled over the week, strongest first.
    Ready {
        hours_of_week: Vec<ActiveHour>,
        hours_of_day: Vec<u8>,
    },
}

/// Circular kernel smoothing of `values`.
fn smooth(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    (0..n).map(|h| KERNEL.iter().enumerate().map(|(k, w)| w * values[(h + n + k - 2) % n]).sum::<f64>()).collect()
}

/// Indices of `shares` at least `threshold`, strongest first (earlier index on ties), at most `max`.
fn strongest(shares: &[f64], threshold: f64, max: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = (0..shares.len()).filter(|&i| shares[i] >= threshold).collect();
    crate::ordering::sort_by(&mut picked, |&a, &b| shares[b].total_cmp(&shares[a]).then(a.cmp(&b)));
    picked.truncate(max);
    picked
}

/// The hours this shopper is usually active. See the module docs.
pub fn preferred_hours(histogram: &[f32], params: &HoursParams) -> Result<PreferredHours, HoursError> {
    params.check()?;
    if histogram.len() != HOURS_PER_WEEK {
        return Err(HoursError::WrongLength(histogram.len()));
    }
    if let Some((index, &value)) = histogram.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
        return Err(HoursError::BadCount { index, value });
    }
    let counts: Vec<f64> = histogram.iter().map(|&v| f64::from(v)).collect();
    let events: f64 = counts.iter().sum();
    let active_days = counts.chunks(HOURS_PER_DAY).filter(|day| day.iter().any(|&c| c > 0.0)).count() as u32;
    if events < params.min_events || active_days < params.min_active_days {
        return Ok(PreferredHours::NotEnoughData {
            events,
            needed_events: params.min_events,
            active_days,
            needed_days: params.min_active_days,
        });
    }
    let weekly = smooth(&counts);
    let mut by_hour = vec![0.0; HOURS_PER_DAY];
    for (h, c) in counts.iter().enumerate() {
        by_hour[h % HOURS_PER_DAY] += c / 7.0;
    }
    let daily = smooth(&by_hour);
    let pooled: Vec<f64> = (0..HOURS_PER_WEEK)
        .map(|h| (1.0 - params.daily_pooling) * weekly[h] + params.daily_pooling * daily[h % HOURS_PER_DAY])
        .collect();
    let total: f64 = pooled.iter().sum();
    let shares: Vec<f64> = pooled.iter().map(|p| p / total).collect();
    let hours_of_week = strongest(&shares, params.lift / HOURS_PER_WEEK as f64, params.max_hours)
        .into_iter()
        .map(|h| ActiveHour { day: (h / HOURS_PER_DAY) as u8, hour: (h % HOURS_PER_DAY) as u8, share: shares[h] })
        .collect();
    let daily_total: f64 = daily.iter().sum();
    let daily_shares: Vec<f64> = daily.iter().map(|d| d / daily_total).collect();
    let hours_of_day =
        strongest(&daily_shares, params.lift / HOURS_PER_DAY as f64, params.max_hours.min(HOURS_PER_DAY))
            .into_iter()
            .map(|h| h as u8)
            .collect();
    Ok(PreferredHours::Ready { hours_of_week, hours_of_day })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(result: PreferredHours) -> (Vec<ActiveHour>, Vec<u8>) {
        match result {
            PreferredHours::Ready { hours_of_week, hours_of_day } => (hours_of_week, hours_of_day),
            other => panic!("expected ready, got {other:?}"),
        }
    }

    #[test]
    fn a_daily_evening_habit_is_found() {
        let mut histogram = vec![0.0f32; HOURS_PER_WEEK];
        for day in 0..3 {
            histogram[day * 24 + 20] = 10.0;
        }
        let (week, day) = ready(preferred_hours(&histogram, &HoursParams::default()).unwrap());
        // Hand-computed daily profile: 30 / 7 events at 20:00, smoothed 1 : ½ : ¼ around it, so the
        // shares are 0.4 at 20h, 0.2 at 19h and 21h, 0.1 at 18h and 22h; all above 1.5 / 24 = 0.0625.
        assert_eq!(day, vec![20, 19, 21, 18, 22]);
        // Shares at Monday 20:00: weekly smoothed 10 of 30 × 2.5 = 75 total; daily 30/7 at 20h over
        // 7 days; pooled = 0.5 × 10 + 0.5 × 30/7 = 7.142857; total pooled = 0.5 × 75 + 0.5 × 75 = 75.
        assert_eq!((week[0].day, week[0].hour), (0, 20));
        assert!((week[0].share - 7.142_857 / 75.0).abs() < 1e-6, "{}", week[0].share);
        assert!(week.iter().all(|h| (19..=21).contains(&h.hour)));
        // Thursday 20:00 was never active but is pooled in from the daily habit.
        assert!(week.iter().any(|h| h.day == 3 && h.hour == 20));
    }

    #[test]
    fn too_little_evidence_says_what_is_missing() {
        let mut histogram = vec![0.0f32; HOURS_PER_WEEK];
        histogram[9] = 100.0;
        let result = preferred_hours(&histogram, &HoursParams::default()).unwrap();
        assert_eq!(
            result,
            PreferredHours::NotEnoughData { events: 100.0, needed_events: 30.0, active_days: 1, needed_days: 3 }
        );
        let empty = preferred_hours(&[0.0; HOURS_PER_WEEK], &HoursParams::default()).unwrap();
        assert!(matches!(empty, PreferredHours::NotEnoughData { events, .. } if events == 0.0));
    }

    #[test]
    fn a_flat_histogram_has_no_preferred_hour() {
        let (week, day) = ready(preferred_hours(&[1.0; HOURS_PER_WEEK], &HoursParams::default()).unwrap());
        assert!(week.is_empty() && day.is_empty());
    }

    #[test]
    fn bad_input_is_refused() {
        let p = HoursParams::default();
        assert_eq!(preferred_hours(&[1.0; 24], &p), Err(HoursError::WrongLength(24)));
        let mut h = vec![0.0f32; HOURS_PER_WEEK];
        h[5] = f32::NAN;
        assert!(matches!(preferred_hours(&h, &p), Err(HoursError::BadCount { index: 5, .. })));
        h[5] = -1.0;
        assert!(matches!(preferred_hours(&h, &p), Err(HoursError::BadCount { index: 5, .. })));
        let bad = HoursParams { lift: 1.0, ..p };
        assert!(preferred_hours(&[1.0; HOURS_PER_WEEK], &bad).unwrap_err().to_string().contains("lift"));
        let bad = HoursParams { max_hours: 0, ..p };
        assert!(matches!(preferred_hours(&[1.0; HOURS_PER_WEEK], &bad), Err(HoursError::BadParameter { .. })));
    }

    #[test]
    fn serializes_with_a_status_tag() {
        let json =
            serde_json::to_string(&PreferredHours::Ready { hours_of_week: vec![], hours_of_day: vec![20] }).unwrap();
        assert_eq!(json, r#"{"status":"ready","hoursOfWeek":[],"hoursOfDay":[20]}"#);
    }
}
