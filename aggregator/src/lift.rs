//! Lift reports: which are admissible, and what `GET /v1/lift` releases. Pure functions; the
//! store keeps only each bucket's sums (`measure::LiftSums`), never an individual report.
//!
//! Release rule: nothing about the estimate leaves the server until each bucket (personalized,
//! holdout) holds at least `--lift-min-reports-per-bucket` reports (never below 20). That is a
//! k-anonymity condition (no released number rests on fewer than k devices of a bucket) and,
//! with distributed noise (`--lift-min-cohort K`, the threshold is then at least K), the
//! condition under which the released sums carry the full noise of the configured (ε, δ).

use serde_json::{json, Value};
use shop_personalizer::measure::{CheckedReportConfig, LiftEstimator, LiftReport, LiftSums, NoiseMode};
use shop_personalizer::sync::lift_wire::LiftReportMessage;

use thiserror::Error;

use crate::config::CheckedConfig;

/// The noise multiplier must match the server's within this relative tolerance (f32 round trip).
const MULTIPLIER_TOLERANCE: f64 = 1e-5;

pub use shop_personalizer::measure::shares::range_sigmas;

/// Why a lift report is refused or no estimate can be given. Nothing of a refused report is stored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LiftError {
    /// The report (or share) has another number of values than the server's lift dimension.
    #[error("the update has {got} values; the shared model has {expected}")]
    WrongDimension { got: usize, expected: usize },
    #[error(
        "the lift report was made under another lift configuration (placements, caps, epsilon, delta or noise \
         differ from this server's): align liftReport on the devices with the aggregator's --lift-* flags"
    )]
    ConfigMismatch,
    #[error(
        "lift value {index} is {value}, outside [{low:.1}, {high:.1}], the range of an honest clipped and noised count"
    )]
    ValueOutOfRange { index: usize, value: f64, low: f64, high: f64 },
    #[error("confidence {0} is not in (0, 1): ask for e.g. ?confidence=0.95")]
    BadConfidence(f64),
    /// The stored sums do not make an estimator (they disagree with the configuration).
    #[error("the update could not be stored: retry later")]
    Storage,
}

/// Checks a decoded report against the server's lift configuration: dimension, fingerprint,
/// noise multiplier and the range of every value (clipped to `[0, cap_j]` plus noise of sd
/// `z·cap_j`). Replays are checked by the store.
pub fn admit_lift(message: &LiftReportMessage, lift: &CheckedReportConfig) -> Result<LiftReport, LiftError> {
    if message.values.len() != lift.dimension() {
        return Err(LiftError::WrongDimension { got: message.values.len(), expected: lift.dimension() });
    }
    let z = lift.noise_multiplier();
    let multiplier_ok = (f64::from(message.noise_multiplier) - z).abs() <= MULTIPLIER_TOLERANCE * z;
    if message.fingerprint != lift.fingerprint() || !multiplier_ok {
        return Err(LiftError::ConfigMismatch);
    }
    let sigmas = range_sigmas(lift.dimension());
    for (index, (value, cap)) in message.values.iter().zip(lift.caps()).enumerate() {
        let (value, slack) = (f64::from(*value), sigmas * z * cap);
        let (low, high) = (-slack, cap + slack);
        if !(low..=high).contains(&value) {
            return Err(LiftError::ValueOutOfRange { index, value, low, high });
        }
    }
    Ok(message.to_report())
}

/// The body of `GET /v1/lift`: the estimate once both buckets hold enough reports, otherwise
/// only the counts and the rule.
pub fn lift_answer(
    config: &CheckedConfig,
    personalized: LiftSums,
    holdout: LiftSums,
    confidence: f64,
) -> Result<Value, LiftError> {
    let (lift, min) = (&config.lift, config.lift_min_reports_per_bucket);
    let release = Release { noise: json!(lift.config().noise), rule: release_rule(lift, min), min };
    lift_release(lift, release, personalized, holdout, confidence)
}

/// How a server releases lift sums: its noise mode (as shown), its rule, its threshold.
pub struct Release {
    pub noise: Value,
    pub rule: String,
    pub min: u64,
}

/// The body of `GET /v1/lift` for `lift` and the two buckets' sums, under `release`.
pub fn lift_release(
    lift: &CheckedReportConfig,
    release: Release,
    personalized: LiftSums,
    holdout: LiftSums,
    confidence: f64,
) -> Result<Value, LiftError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(LiftError::BadConfidence(confidence));
    }
    let min = release.min;
    let (p, h) = (personalized.reports(), holdout.reports());
    let settings = json!({
        "placements": lift.config().placements,
        "epsilonPerReport": lift.booked_epsilon(),
        "delta": lift.config().delta,
        "noise": release.noise,
        "minReportsPerBucket": min,
        "releaseRule": release.rule,
    });
    if p < min || h < min {
        return Ok(json!({
            "status": "notEnoughReports",
            "message": format!(
                "not enough reports yet: {p} personalized and {h} holdout reports, {min} per bucket are needed \
                 before anything is released"
            ),
            "personalizedReports": p,
            "holdoutReports": h,
            "settings": settings,
        }));
    }
    let estimator = LiftEstimator::from_sums(lift.clone(), personalized, holdout).map_err(|_| LiftError::Storage)?;
    let estimate = estimator.estimate(confidence).map_err(|_| LiftError::BadConfidence(confidence))?;
    Ok(json!({ "status": "ready", "estimate": estimate, "settings": settings }))
}

fn release_rule(lift: &CheckedReportConfig, min: u64) -> String {
    match &lift.config().noise {
        NoiseMode::Local => format!(
            "k-anonymity: nothing is released before each bucket holds {min} reports; every report is \
             (epsilon {:.2}, delta {:e})-DP on its own (local noise)",
            lift.single_report_epsilon(),
            lift.config().delta
        ),
        NoiseMode::SharedSums { min_cohort, helper_url } => format!(
            "shared sums: devices split each report into two additive shares, one for this server and one for the \
             helper at {helper_url}; as long as the two do not collude, only sums of at least {min_cohort} reports are \
             ever seen, and they are (epsilon {:.2}, delta {:e})-DP; a release needs {min} more reports in each bucket \
             than the previous one",
            lift.config().epsilon,
            lift.config().delta
        ),
        NoiseMode::SecureAggregation { min_cohort, tasks } => format!(
            "secure aggregation (DAP-09, Prio3SumVec, one task per bucket): devices send each report as secret shares \
             to the leader {} and the helper {} of their bucket's task, each with a proof that every entry is in \
             range; as long as the two do not collude, only sums of at least {min_cohort} reports of one bucket are \
             ever seen, and they are (epsilon {:.2}, delta {:e})-DP",
            tasks.personalized.leader_url,
            tasks.personalized.helper_url,
            lift.config().epsilon,
            lift.config().delta
        ),
        NoiseMode::Distributed { min_cohort } => format!(
            "distributed noise: sums of at least {min_cohort} reports are (epsilon {:.2}, delta {:e})-DP; nothing is \
             released before each bucket holds {min} reports",
            lift.config().epsilon,
            lift.config().delta
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use rand::SeedableRng;
    use shop_personalizer::adapt::LiftBucket;
    use shop_personalizer::measure::{noised_report, LiftCounters};

    fn config() -> CheckedConfig {
        ServerConfig { lift_min_reports_per_bucket: 20, ..ServerConfig::default() }.check().expect("valid")
    }

    fn message(config: &CheckedConfig, seed: u64) -> LiftReportMessage {
        let mut counters = LiftCounters::default();
        counters.record_session();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let report = noised_report(&counters, LiftBucket::Holdout, &config.lift, &mut rng);
        LiftReportMessage::from_report(&report, &config.lift, [seed as u8; 16])
    }

    #[test]
    fn the_range_bound_matches_a_hand_computation() {
        // D = 11: sqrt(2 ln(22e9)) = sqrt(2 × 23.814) = 6.9014.
        assert!((range_sigmas(11) - 6.901_4).abs() < 1e-3);
    }

    #[test]
    fn honest_reports_pass_and_each_bad_field_is_named() {
        let config = config();
        for seed in 0..200 {
            assert!(admit_lift(&message(&config, seed), &config.lift).is_ok(), "seed {seed}");
        }
        let mut short = message(&config, 1);
        short.values.pop();
        assert!(matches!(admit_lift(&short, &config.lift), Err(LiftError::WrongDimension { got: 10, expected: 11 })));
        let mut other = message(&config, 1);
        other.fingerprint[0] ^= 1;
        assert_eq!(admit_lift(&other, &config.lift), Err(LiftError::ConfigMismatch));
        let mut quiet = message(&config, 1);
        quiet.noise_multiplier /= 2.0;
        assert_eq!(admit_lift(&quiet, &config.lift), Err(LiftError::ConfigMismatch));
        let mut huge = message(&config, 1);
        huge.values[3] = 1e7;
        assert!(matches!(admit_lift(&huge, &config.lift), Err(LiftError::ValueOutOfRange { index: 3, .. })));
    }

    #[test]
    fn nothing_is_released_below_the_threshold() {
        let config = config();
        let d = config.lift.dimension();
        let (mut personalized, mut holdout) = (LiftSums::new(d), LiftSums::new(d));
        let row = |sessions: f64, orders: f64| {
            let mut values = vec![0.0; d];
            values[0] = sessions;
            values[1 + 5 + 3] = orders;
            values
        };
        for i in 0..25 {
            personalized.add(&row(2.0 + f64::from(i % 3), 1.0 + f64::from(i % 2)));
        }
        for i in 0..19 {
            holdout.add(&row(2.0 + f64::from(i % 3), f64::from(i % 2)));
        }
        let early = lift_answer(&config, personalized.clone(), holdout.clone(), 0.95).expect("answer");
        assert_eq!(early["status"], "notEnoughReports");
        assert!(early.get("estimate").is_none(), "{early}");
        assert_eq!((early["personalizedReports"].as_u64(), early["holdoutReports"].as_u64()), (Some(25), Some(19)));
        holdout.add(&row(3.0, 1.0));
        let ready = lift_answer(&config, personalized.clone(), holdout.clone(), 0.9).expect("answer");
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["estimate"]["holdoutReports"], 20);
        assert_eq!(ready["estimate"]["metrics"][0]["metric"], "orders per session");
        assert!(matches!(lift_answer(&config, personalized, holdout, 1.5), Err(LiftError::BadConfidence(_))));
    }
}
