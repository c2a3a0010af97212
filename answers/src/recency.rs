//! Recency weighting: an event at time `t`, in a log whose latest time is `T`, weighs
//! `2^(-(T - t) / half_life)`, so popularity counts and co-visitation counts become weighted
//! sums in which an event one half-life old counts half. A half-life of 0 turns it off: every
//! event weighs exactly 1 and the sums are today's plain counts.
//!
//! Time is the session's: a JSON Lines log's sessions are at their last event's timestamp, in
//! days; a text log has no timestamps, only its order (oldest first), so its sessions are spread
//! evenly over one unit, the log's span: session `i` of `n` is at `i / n`, and a half-life of
//! 0.05 makes the sessions 5% of the log older than the latest weigh half.

use thiserror::Error;

/// Seconds in a day: JSON Lines timestamps are seconds, half-lives of timed logs are days.
pub const SECONDS_PER_DAY: f64 = 86_400.0;

/// A half-life that is refused: negative, NaN, infinite, or not a number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("recency_bad_half_life: {flag} got {value:?}: pass a finite number of at least 0 (0 turns the weighting off)")]
pub struct HalfLifeError {
    pub flag: &'static str,
    pub value: String,
}

impl HalfLifeError {
    /// The stable code, the message's first word.
    pub fn code(&self) -> &'static str {
        "recency_bad_half_life"
    }
}

/// A checked half-life: finite and at least 0; 0 is off.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct HalfLife(f64);

impl HalfLife {
    pub const OFF: Self = Self(0.0);

    /// `value` as a half-life, refused with `flag` named when negative, NaN or infinite.
    pub fn new(flag: &'static str, value: f64) -> Result<Self, HalfLifeError> {
        if value.is_finite() && value >= 0.0 {
            Ok(Self(value))
        } else {
            Err(HalfLifeError { flag, value: value.to_string() })
        }
    }

    /// Parses a flag's text.
    pub fn parse(flag: &'static str, text: &str) -> Result<Self, HalfLifeError> {
        let value = text.trim().parse::<f64>().map_err(|_| HalfLifeError { flag, value: text.to_owned() })?;
        Self::new(flag, value).map_err(|_| HalfLifeError { flag, value: text.to_owned() })
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn is_off(self) -> bool {
        self.0 == 0.0
    }

    /// The weight of an event `age` (= `T - t`, at least 0) old: `2^(-age / half_life)`, 1 when off.
    pub fn weight(self, age: f64) -> f64 {
        if self.is_off() {
            1.0
        } else {
            (-age.max(0.0) / self.0).exp2()
        }
    }

    /// Each session's weight from the sessions' times, or `None` when off (plain counts).
    pub fn session_weights(self, times: &[f64]) -> Option<Vec<f32>> {
        if self.is_off() {
            return None;
        }
        let latest = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Never quite 0, so every item a log holds keeps a popularity above 0.
        Some(times.iter().map(|&t| (self.weight(latest - t) as f32).max(f32::MIN_POSITIVE)).collect())
    }
}

/// Both half-lives of the candidate index (both off by default).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Recency {
    /// Weights the views behind each item's popularity (the popularity column, the popular fill).
    pub popularity: HalfLife,
    /// Weights the co-visitations behind neighbours, their popularity normaliser and the embeddings.
    pub covisit: HalfLife,
}

impl Recency {
    pub fn is_off(&self) -> bool {
        self.popularity.is_off() && self.covisit.is_off()
    }

    /// The sessions' weights for the views and for the co-visitations (`None` where off), from
    /// their `times`, or from their order when a log has no times.
    pub fn session_weights(&self, sessions: usize, times: Option<&[f64]>) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        if self.is_off() {
            return (None, None);
        }
        let positions;
        let times = match times {
            Some(times) => times,
            None => {
                positions = positional_times(sessions);
                &positions
            }
        };
        (self.popularity.session_weights(times), self.covisit.session_weights(times))
    }
}

/// The times of a text log's `n` sessions (oldest first): session `i` at `i / n`.
pub fn positional_times(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 / n as f64).collect()
}

/// Views per item, each weighted by its session's weight (`None`: each view counts 1).
pub fn weighted_popularity(sessions: &[Vec<u32>], items: usize, weights: Option<&[f32]>) -> Vec<f32> {
    let mut popularity = vec![0.0f32; items];
    match weights {
        None => {
            for &item in sessions.iter().flatten() {
                popularity[item as usize] += 1.0;
            }
        }
        Some(weights) => {
            for (session, &w) in sessions.iter().zip(weights) {
                for &item in session {
                    popularity[item as usize] += w;
                }
            }
        }
    }
    popularity
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(value: f64) -> HalfLife {
        HalfLife::new("--popularity-half-life", value).unwrap()
    }

    #[test]
    fn an_event_one_half_life_old_weighs_half_and_older_weighs_less() {
        let half = h(2.0);
        assert_eq!(half.weight(0.0), 1.0);
        assert!((half.weight(2.0) - 0.5).abs() < 1e-12);
        assert!((half.weight(4.0) - 0.25).abs() < 1e-12);
        assert!((half.weight(1.0) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        assert!(half.weight(3.0) < half.weight(2.9));
        let weights = half.session_weights(&[0.0, 2.0, 4.0]).unwrap();
        assert_eq!(weights, vec![0.25, 0.5, 1.0]);
    }

    #[test]
    fn off_is_plain_counts() {
        assert!(HalfLife::OFF.is_off() && HalfLife::default().is_off() && Recency::default().is_off());
        assert_eq!(HalfLife::OFF.weight(1e9), 1.0);
        assert_eq!(HalfLife::OFF.session_weights(&[0.0, 5.0]), None);
        let sessions = vec![vec![0, 1, 1], vec![1, 2]];
        assert_eq!(weighted_popularity(&sessions, 3, None), vec![1.0, 3.0, 1.0]);
        // Text-log times: 0 and 0.5 of the log; half-life 0.5 halves the older session.
        let weights = h(0.5).session_weights(&positional_times(2)).unwrap();
        assert_eq!(weighted_popularity(&sessions, 3, Some(&weights)), vec![0.5, 2.0, 1.0]);
    }

    #[test]
    fn negative_nan_and_infinite_half_lives_are_refused_with_a_code() {
        for bad in [-1.0, -0.0001, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let error = HalfLife::new("--covisit-half-life", bad).unwrap_err();
            assert_eq!(error.code(), "recency_bad_half_life");
            assert!(error.to_string().starts_with("recency_bad_half_life: --covisit-half-life"), "{error}");
        }
        for bad in ["-2", "NaN", "inf", "-inf", "soon", ""] {
            let error = HalfLife::parse("--covisit-half-life", bad).unwrap_err();
            assert_eq!(error.value, bad);
        }
        assert_eq!(HalfLife::parse("--covisit-half-life", "0").unwrap(), HalfLife::OFF);
        assert_eq!(HalfLife::parse("--covisit-half-life", "0.05").unwrap().get(), 0.05);
    }
}
