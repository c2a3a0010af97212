//! The round policy: which updates are admissible, how they are summed, and the (ε, δ) a round
//! reports. Pure functions over the decoded update; no I/O.

use serde::Serialize;
use shop_personalizer::privacy::accountant::{central_rho, epsilon_from_rho, rho_per_update};
use shop_personalizer::sync::UpdateMessage;
use thiserror::Error;

use crate::config::CheckedConfig;

/// Fixed-point fraction bits of the running sum: a contribution `x` adds `round(x · 2^24)`.
/// Integer sums are exact and order-independent, so replicas adding in any order agree.
pub const FIXED_POINT_BITS: i32 = 24;

// The admission bounds are shared with the devices, which refuse a model that moved further
// than a round of admitted updates can move it (`shop_personalizer::sync::round_bound`).
use shop_personalizer::sync::round_bound::PARAMETER_TOLERANCE;
pub use shop_personalizer::sync::round_bound::{max_scale, norm_bound, NORM_CHECK_FALSE_REJECTION};

fn matches(declared: f32, expected: f64) -> bool {
    (f64::from(declared) - expected).abs() <= PARAMETER_TOLERANCE * expected.abs()
}

/// Why an update is not admissible (`admit`). Nothing of a refused update is stored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AdmitError {
    #[error("the update was computed against model version {got}; the current version is {current}: download GET /v1/model and recompute")]
    WrongModelVersion { got: u64, current: u64 },
    #[error("the update has {got} values; the shared model has {expected}")]
    WrongDimension { got: usize, expected: usize },
    #[error(
        "the update declares clip bound {clip_bound} and noise multiplier {noise_multiplier}; this server \
         aggregates clip bound {expected_clip_bound} and noise multiplier {expected_noise_multiplier}: align the device config"
    )]
    ParameterMismatch {
        clip_bound: f32,
        noise_multiplier: f32,
        expected_clip_bound: f64,
        expected_noise_multiplier: f64,
    },
    #[error("the update's L2 norm {norm:.3} exceeds {bound:.3}, the most a clipped and noised update can have")]
    NormTooLarge { norm: f64, bound: f64 },
    #[error(
        "the update declares quantization scale {scale:e}; an honest device under this server's clip bound and noise \
         multiplier declares at most {max:e} (its largest noised coordinate over 127)"
    )]
    ScaleOutOfRange { scale: f64, max: f64 },
}

/// Checks everything that can be checked without storage: version, dimension, declared
/// parameters, the norm of the decoded vector and the declared scale, each against a bound of
/// the server's settings. Replays are checked by the store.
pub fn admit(update: &UpdateMessage, config: &CheckedConfig, current_version: u64) -> Result<(), AdmitError> {
    if update.model_version != current_version {
        return Err(AdmitError::WrongModelVersion { got: update.model_version, current: current_version });
    }
    if update.dimension() != config.dimension {
        return Err(AdmitError::WrongDimension { got: update.dimension(), expected: config.dimension });
    }
    if !matches(update.clip_bound, config.clip_bound) || !matches(update.noise_multiplier, config.noise_multiplier) {
        return Err(AdmitError::ParameterMismatch {
            clip_bound: update.clip_bound,
            noise_multiplier: update.noise_multiplier,
            expected_clip_bound: config.clip_bound,
            expected_noise_multiplier: config.noise_multiplier,
        });
    }
    let scale = f64::from(update.quantization_scale);
    let squares: i64 = update.values.iter().map(|&q| i64::from(i32::from(q) * i32::from(q))).sum();
    let norm = (squares as f64).sqrt() * scale;
    let bound = norm_bound(config.clip_bound, config.noise_multiplier, config.dimension);
    if norm.is_nan() || norm > bound {
        return Err(AdmitError::NormTooLarge { norm, bound });
    }
    let max = max_scale(config.clip_bound, config.noise_multiplier, config.dimension);
    if scale.is_nan() || scale > max {
        return Err(AdmitError::ScaleOutOfRange { scale, max });
    }
    Ok(())
}

/// A fixed-point sum would leave the range of i64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("adding this update would overflow the round's fixed-point sum")]
pub struct SumOverflow;

/// The fixed-point step of `scale`: `round(scale · 2^24)`, refused beyond 2^53 (and for a
/// non-finite or negative scale) so the conversion is exact.
pub fn fixed_step(scale: f32) -> Result<i64, SumOverflow> {
    let step = (f64::from(scale) * f64::from(1_u32 << FIXED_POINT_BITS)).round();
    if step.is_finite() && (0.0..=9_007_199_254_740_992.0).contains(&step) {
        Ok(step as i64)
    } else {
        Err(SumOverflow)
    }
}

/// Adds an update to a fixed-point running sum: coordinate `q · s` adds `q · round(s · 2^24)`.
/// Checked: if any coordinate would leave i64, nothing is added and the update is refused.
/// (Rounding the scale once moves a coordinate by at most 127 · 2^-25 ≈ 4e-6, far below the noise.)
pub fn accumulate(sum: &mut [i64], update: &UpdateMessage) -> Result<(), SumOverflow> {
    let step = fixed_step(update.quantization_scale)?;
    let fits = sum
        .iter()
        .zip(&update.values)
        .all(|(total, &q)| i64::from(q).checked_mul(step).and_then(|add| total.checked_add(add)).is_some());
    if !fits || sum.len() != update.values.len() {
        return Err(SumOverflow);
    }
    for (total, &q) in sum.iter_mut().zip(&update.values) {
        *total += i64::from(q) * step;
    }
    Ok(())
}

/// The running sum as floating point.
pub fn sum_to_f64(sum: &[i64]) -> Vec<f64> {
    let unit = 1.0 / f64::from(1_u32 << FIXED_POINT_BITS);
    sum.iter().map(|&total| total as f64 * unit).collect()
}

/// Encodes a running sum for storage: little-endian i64s.
pub fn sum_to_bytes(sum: &[i64]) -> Vec<u8> {
    sum.iter().flat_map(|total| total.to_le_bytes()).collect()
}

/// Decodes a stored running sum; `None` if the length is not `8 · dimension`.
pub fn sum_from_bytes(bytes: &[u8], dimension: usize) -> Option<Vec<i64>> {
    if bytes.len() != 8 * dimension {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|chunk| {
                let mut word = [0_u8; 8];
                word.copy_from_slice(chunk);
                i64::from_le_bytes(word)
            })
            .collect(),
    )
}

/// The privacy a round provides, as `GET /v1/rounds/current` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundPrivacy {
    pub delta: f64,
    /// Each device's update on its own (local DP): `ρ = 1/(2z²)`.
    pub per_device_epsilon: f64,
    /// The published model from the server's own noise alone (trusting no device), if configured.
    pub central_epsilon: Option<f64>,
    /// The published model counting the noise of `updates` honest devices plus the server's
    /// (only for the plain mean: a trimmed mean is not a sum of the updates).
    pub central_epsilon_with_device_noise: Option<f64>,
    pub accounting: &'static str,
}

/// (ε, δ) of a round that averaged `updates` updates.
pub fn round_privacy(config: &CheckedConfig, updates: u64) -> RoundPrivacy {
    let delta = config.delta;
    let device_rho = rho_per_update(config.noise_multiplier);
    let central_noise = config.central_noise_multiplier;
    let with_devices = if updates == 0 || config.round_rule.keeps_updates() {
        None
    } else {
        // The sum carries variance (K z² + z_c²) C² with sensitivity C.
        let total_variance = updates as f64 * config.noise_multiplier.powi(2) + central_noise.unwrap_or(0.0).powi(2);
        Some(epsilon_from_rho(1.0 / (2.0 * total_variance), delta))
    };
    RoundPrivacy {
        delta,
        per_device_epsilon: epsilon_from_rho(device_rho, delta),
        central_epsilon: central_noise.map(|z| epsilon_from_rho(central_rho(z), delta)),
        central_epsilon_with_device_noise: with_devices,
        accounting: if config.round_rule.keeps_updates() {
            "zCDP Gaussian mechanism, sensitivity = clip bound (zero-out adjacency), \
             epsilon = rho + 2 sqrt(rho ln(1/delta)); the round publishes a robust coordinate-wise mean, \
             post-processing of the devices' noised updates, so each contributor has its per-device epsilon"
        } else {
            "zCDP Gaussian mechanism, sensitivity = clip bound (zero-out adjacency), \
             epsilon = rho + 2 sqrt(rho ln(1/delta))"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RoundRule, ServerConfig};

    fn config() -> CheckedConfig {
        settings().check().expect("valid")
    }

    fn settings() -> ServerConfig {
        ServerConfig { dimension: 4, ..ServerConfig::default() }
    }

    fn update(values: Vec<i8>, scale: f32) -> UpdateMessage {
        UpdateMessage {
            model_version: 1,
            clip_bound: 1.0,
            noise_multiplier: 1.0,
            quantization_scale: scale,
            nonce: [0; 16],
            values,
        }
    }

    #[test]
    fn the_norm_bound_matches_a_hand_computation() {
        // t = sqrt(2 ln 1e9) = 6.437898; d = 4096: the largest noise coordinate is below
        // sqrt(2 ln(8192e9)) = 7.711573, so s_max = (1 + 7.711573) / 127 * 1.00001 = 0.0685957 and
        // the bound is 1 + 1 * (64 + 6.437898) + 0.0685957 * 64 = 75.828026.
        assert!((max_scale(1.0, 1.0, 4096) - 0.068_595_7).abs() < 1e-7);
        assert!((norm_bound(1.0, 1.0, 4096) - 75.828_026).abs() < 1e-5);
    }

    #[test]
    fn admission_checks_each_field() {
        let config = config();
        assert_eq!(admit(&update(vec![1, 2, 3, 4], 0.05), &config, 1), Ok(()));
        assert!(matches!(
            admit(&update(vec![1; 4], 0.1), &config, 2),
            Err(AdmitError::WrongModelVersion { got: 1, current: 2 })
        ));
        assert!(matches!(
            admit(&update(vec![1; 5], 0.1), &config, 1),
            Err(AdmitError::WrongDimension { got: 5, expected: 4 })
        ));
        let mut loud = update(vec![1; 4], 0.1);
        loud.clip_bound = 10.0;
        assert!(matches!(admit(&loud, &config, 1), Err(AdmitError::ParameterMismatch { .. })));
        // d = 4: s_max = (1 + sqrt(2 ln 8e9)) / 127 * 1.00001 = 0.0610486; the bound is
        // 1 + (2 + 6.437898) + 2 * 0.0610486 = 9.559995, whatever scale the update declares.
        let bound = norm_bound(1.0, 1.0, 4);
        assert!((bound - 9.559_995).abs() < 1e-5, "{bound}");
        assert!(matches!(admit(&update(vec![127, 0, 0, 0], 1.0), &config, 1), Err(AdmitError::NormTooLarge { .. })));
        // Issue 14's poisoning update: all values ±1 with a huge declared scale.
        for scale in [1e6, 3e38] {
            let poison = update(vec![1, -1, 1, -1], scale);
            assert!(matches!(admit(&poison, &config, 1), Err(AdmitError::NormTooLarge { bound: b, .. }) if b == bound));
        }
        // A small norm with a scale no honest device declares.
        let coarse = admit(&update(vec![1, 0, 0, 0], 0.062), &config, 1);
        assert!(matches!(coarse, Err(AdmitError::ScaleOutOfRange { max, .. }) if (max - 0.061_048_6).abs() < 1e-6));
    }

    #[test]
    fn honest_updates_of_small_dimensions_pass_the_scale_check() {
        use rand::SeedableRng;
        use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams, UpdateBuilder, UpdateInputs};
        let params =
            PrivacyParams::new(PrivacyConfig { period_budget_epsilon: 1e9, ..Default::default() }).expect("valid");
        let builder = UpdateBuilder::new(params);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for dimension in [1, 8, 90] {
            let config = ServerConfig { dimension, ..ServerConfig::default() }.check().expect("valid");
            let base = vec![0.0_f32; dimension];
            // The whole clipped delta on one coordinate: the largest honest coordinate.
            let mut local = vec![0.0_f32; dimension];
            local[0] = 50.0;
            let mut ledger = PrivacyLedger::default();
            for round in 0..2_000 {
                let inputs = UpdateInputs {
                    base_version: 1,
                    base_weights: &base,
                    local_weights: &local,
                    labelled_impressions: 100,
                    full_consent: true,
                    now_unix_seconds: round * 86_400 * 400,
                };
                let noisy = builder.build(&inputs, &mut ledger, &mut rng).expect("built");
                let message = UpdateMessage::from_noisy(noisy, [1; 16]);
                assert_eq!(admit(&message, &config, 1), Ok(()), "d = {dimension}, round {round}");
            }
        }
    }

    #[test]
    fn honest_noised_updates_pass_the_norm_check() {
        use rand::SeedableRng;
        use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams, UpdateBuilder, UpdateInputs};
        let config = ServerConfig { dimension: 4096, ..ServerConfig::default() }.check().expect("valid");
        let params = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
        let builder = UpdateBuilder::new(params);
        let base = vec![0.0_f32; 4096];
        let local = vec![1.0_f32; 4096];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50 {
            let inputs = UpdateInputs {
                base_version: 1,
                base_weights: &base,
                local_weights: &local,
                labelled_impressions: 100,
                full_consent: true,
                now_unix_seconds: 0,
            };
            let noisy = builder.build(&inputs, &mut PrivacyLedger::default(), &mut rng).expect("built");
            let message = UpdateMessage::from_noisy(noisy, [1; 16]);
            assert_eq!(admit(&message, &config, 1), Ok(()));
        }
    }

    #[test]
    fn fixed_point_sums_round_trip() {
        let mut sum = vec![0_i64; 2];
        accumulate(&mut sum, &update(vec![3, -5], 0.25)).expect("fits");
        accumulate(&mut sum, &update(vec![1, 1], 0.5)).expect("fits");
        let floats = sum_to_f64(&sum);
        assert!((floats[0] - 1.25).abs() < 1e-6 && (floats[1] + 0.75).abs() < 1e-6);
        assert_eq!(sum_from_bytes(&sum_to_bytes(&sum), 2), Some(sum));
        assert_eq!(sum_from_bytes(&[0; 15], 2), None);
    }

    #[test]
    fn accumulation_refuses_an_overflow_and_leaves_the_sum_unchanged() {
        // 0.25 is 2^22 in fixed point: one more unit of it does not fit below i64::MAX.
        let mut sum = vec![i64::MAX - (1 << 22) + 1, 0];
        let before = sum.clone();
        assert_eq!(accumulate(&mut sum, &update(vec![1, 1], 0.25)), Err(SumOverflow));
        assert_eq!(sum, before, "nothing added, not even the coordinate that fits");
        assert_eq!(accumulate(&mut sum, &update(vec![-1, 1], 0.25)), Ok(()));
        assert_eq!(sum, vec![i64::MAX - (2 << 22) + 1, 1 << 22]);
        // Issue 14's saturating scale: refused before any multiplication can wrap.
        assert_eq!(fixed_step(3e38), Err(SumOverflow));
        assert_eq!(accumulate(&mut [0; 2], &update(vec![127, 127], 3e38)), Err(SumOverflow));
        assert_eq!(fixed_step(0.5), Ok(1 << 23));
    }

    #[test]
    fn round_privacy_reports_local_and_central_epsilon() {
        let trimmed = round_privacy(&config(), 100);
        assert!((trimmed.per_device_epsilon - 5.756_522).abs() < 1e-5);
        assert_eq!(trimmed.central_epsilon, None);
        assert_eq!(trimmed.central_epsilon_with_device_noise, None, "a robust mean is not a sum of the updates");
        let plain = ServerConfig { round_rule: RoundRule::Mean, ..settings() }.check().expect("valid");
        let local_only = round_privacy(&plain, 100);
        // 100 devices with z = 1: rho = 1/200 = 0.005 -> 0.005 + 2 sqrt(0.005 * 13.8155) = 0.530652.
        let with_devices = local_only.central_epsilon_with_device_noise.expect("some");
        assert!((with_devices - 0.530_652).abs() < 1e-5, "{with_devices}");
        let config = ServerConfig { central_noise_multiplier: Some(2.0), round_rule: RoundRule::Mean, ..settings() }
            .check()
            .expect("valid");
        let central = round_privacy(&config, 100).central_epsilon.expect("configured");
        // rho = 1/8: 0.125 + 2 sqrt(0.125 * 13.8155) = 0.125 + 2.628261 = 2.753261.
        assert!((central - 2.753_261).abs() < 1e-5, "{central}");
    }
}
