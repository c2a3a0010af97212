//! The round policy: which updates are admissible, how they are summed, and the (ε, δ) a round
//! reports. Pure functions over the decoded update; no I/O.

use serde::Serialize;
use shop_personalizer::privacy::accountant::{central_rho, epsilon_from_rho, rho_per_update};
use shop_personalizer::sync::UpdateMessage;

use crate::config::CheckedConfig;
use crate::http::ApiError;

/// Fixed-point fraction bits of the running sum: a contribution `x` adds `round(x · 2^24)`.
/// Integer sums are exact and order-independent, so replicas adding in any order agree.
pub const FIXED_POINT_BITS: i32 = 24;
/// Probability that an honest update fails the norm check (the tail of the noise norm).
pub const NORM_CHECK_FALSE_REJECTION: f64 = 1e-9;

/// The declared parameters must match the server's within this relative tolerance (f32 round trip).
const PARAMETER_TOLERANCE: f64 = 1e-5;

/// The largest L2 norm an honest update can have, except with probability
/// [`NORM_CHECK_FALSE_REJECTION`]: clipped delta `C`, plus Gaussian noise whose norm exceeds
/// `σ(√d + t)` with probability at most `exp(−t²/2)` (the norm is 1-Lipschitz and its mean is
/// below `σ√d`), plus stochastic rounding that moves each coordinate by less than one step `s`.
pub fn norm_bound(clip_bound: f64, noise_multiplier: f64, dimension: usize, scale: f64) -> f64 {
    let tail = (2.0 * (1.0 / NORM_CHECK_FALSE_REJECTION).ln()).sqrt();
    let root_d = (dimension as f64).sqrt();
    clip_bound + noise_multiplier * clip_bound * (root_d + tail) + scale * root_d
}

fn matches(declared: f32, expected: f64) -> bool {
    (f64::from(declared) - expected).abs() <= PARAMETER_TOLERANCE * expected.abs()
}

/// Checks everything that can be checked without storage: version, dimension, declared
/// parameters, and the norm. Replays are checked by the store.
pub fn admit(update: &UpdateMessage, config: &CheckedConfig, current_version: u64) -> Result<(), ApiError> {
    if update.model_version != current_version {
        return Err(ApiError::WrongModelVersion { got: update.model_version, current: current_version });
    }
    if update.dimension() != config.dimension {
        return Err(ApiError::WrongDimension { got: update.dimension(), expected: config.dimension });
    }
    if !matches(update.clip_bound, config.clip_bound) || !matches(update.noise_multiplier, config.noise_multiplier) {
        return Err(ApiError::ParameterMismatch {
            clip_bound: update.clip_bound,
            noise_multiplier: update.noise_multiplier,
            expected_clip_bound: config.clip_bound,
            expected_noise_multiplier: config.noise_multiplier,
        });
    }
    let scale = f64::from(update.quantization_scale);
    let squares: i64 = update.values.iter().map(|&q| i64::from(i32::from(q) * i32::from(q))).sum();
    let norm = (squares as f64).sqrt() * scale;
    let bound = norm_bound(config.clip_bound, config.noise_multiplier, config.dimension, scale);
    if norm.is_nan() || norm > bound {
        return Err(ApiError::NormTooLarge { norm, bound });
    }
    Ok(())
}

/// Adds an admitted update to a fixed-point running sum: coordinate `q · s` adds
/// `q · round(s · 2^24)`, integer arithmetic the compiler vectorizes. (Rounding the scale once
/// moves a coordinate by at most 127 · 2^-25 ≈ 4e-6, far below the noise.)
pub fn accumulate(sum: &mut [i64], update: &UpdateMessage) {
    let step = (f64::from(update.quantization_scale) * f64::from(1_u32 << FIXED_POINT_BITS)).round() as i64;
    for (total, &q) in sum.iter_mut().zip(&update.values) {
        *total += i64::from(q) * step;
    }
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
    /// The published model counting the noise of `updates` honest devices plus the server's.
    pub central_epsilon_with_device_noise: Option<f64>,
    pub accounting: &'static str,
}

/// (ε, δ) of a round that averaged `updates` updates.
pub fn round_privacy(config: &CheckedConfig, updates: u64) -> RoundPrivacy {
    let delta = config.delta;
    let device_rho = rho_per_update(config.noise_multiplier);
    let central_noise = config.central_noise_multiplier;
    let with_devices = if updates == 0 {
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
        accounting: "zCDP Gaussian mechanism, sensitivity = clip bound (zero-out adjacency), \
                     epsilon = rho + 2 sqrt(rho ln(1/delta))",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;

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
        // t = sqrt(2 ln 1e9) = 6.437898; d = 4096: 1 + 1 * (64 + 6.437898) + 0.01 * 64 = 72.077898.
        assert!((norm_bound(1.0, 1.0, 4096, 0.01) - 72.077_898).abs() < 1e-5);
    }

    #[test]
    fn admission_checks_each_field() {
        let config = config();
        assert_eq!(admit(&update(vec![1, 2, 3, 4], 0.1), &config, 1), Ok(()));
        assert!(matches!(
            admit(&update(vec![1; 4], 0.1), &config, 2),
            Err(ApiError::WrongModelVersion { got: 1, current: 2 })
        ));
        assert!(matches!(
            admit(&update(vec![1; 5], 0.1), &config, 1),
            Err(ApiError::WrongDimension { got: 5, expected: 4 })
        ));
        let mut loud = update(vec![1; 4], 0.1);
        loud.clip_bound = 10.0;
        assert!(matches!(admit(&loud, &config, 1), Err(ApiError::ParameterMismatch { .. })));
        // Bound for d=4, scale 1: 1 + (2 + 6.437898) + 2 = 11.44; norm of (127,0,0,0)*1 = 127.
        assert!(matches!(admit(&update(vec![127, 0, 0, 0], 1.0), &config, 1), Err(ApiError::NormTooLarge { .. })));
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
        accumulate(&mut sum, &update(vec![3, -5], 0.25));
        accumulate(&mut sum, &update(vec![1, 1], 0.5));
        let floats = sum_to_f64(&sum);
        assert!((floats[0] - 1.25).abs() < 1e-6 && (floats[1] + 0.75).abs() < 1e-6);
        assert_eq!(sum_from_bytes(&sum_to_bytes(&sum), 2), Some(sum));
        assert_eq!(sum_from_bytes(&[0; 15], 2), None);
    }

    #[test]
    fn round_privacy_reports_local_and_central_epsilon() {
        let local_only = round_privacy(&config(), 100);
        assert!((local_only.per_device_epsilon - 5.756_522).abs() < 1e-5);
        assert_eq!(local_only.central_epsilon, None);
        // 100 devices with z = 1: rho = 1/200 = 0.005 -> 0.005 + 2 sqrt(0.005 * 13.8155) = 0.530652.
        let with_devices = local_only.central_epsilon_with_device_noise.expect("some");
        assert!((with_devices - 0.530_652).abs() < 1e-5, "{with_devices}");
        let config = ServerConfig { central_noise_multiplier: Some(2.0), ..settings() }.check().expect("valid");
        let central = round_privacy(&config, 100).central_epsilon.expect("configured");
        // rho = 1/8: 0.125 + 2 sqrt(0.125 * 13.8155) = 0.125 + 2.628261 = 2.753261.
        assert!((central - 2.753_261).abs() < 1e-5, "{central}");
    }
}
