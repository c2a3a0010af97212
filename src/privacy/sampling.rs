//! Gaussian noise and unbiased quantization, each drawing from a caller-seeded RNG. Every
//! standard normal draw in the crate comes from [`standard_normal`].
//!
//! (Floating-point Gaussian sampling has known low-order-bit weaknesses; quantizing the noised
//! vector to 8 bits before it leaves the device discards those bits.)

use rand::{Rng, RngExt};

/// One draw from the standard normal distribution (Box–Muller; the pair's second value is
/// discarded to keep the stream simple). The one Gaussian sampler of the crate: model-update
/// noise, lift-report noise, the bandit's posterior draws and the aggregator's central noise.
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let radius_uniform = 1.0 - rng.random::<f64>();
    let angle_uniform = rng.random::<f64>();
    (-2.0 * radius_uniform.ln()).sqrt() * (std::f64::consts::TAU * angle_uniform).cos()
}

/// Largest magnitude of a quantized coordinate; `-128` is never produced so the code is symmetric.
pub const QUANT_LEVELS: i8 = 127;

/// A vector stored as `values[i] * scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedVector {
    pub scale: f32,
    pub values: Vec<i8>,
}

impl QuantizedVector {
    /// Stochastic rounding to `i8` with one shared scale `max|x| / 127`. Unbiased: the expected
    /// value of `values[i] * scale` is exactly `x[i]`, because no coordinate needs clamping.
    /// Non-finite inputs must be filtered by the caller; they quantize to 0.
    pub fn stochastic(x: &[f64], rng: &mut impl Rng) -> Self {
        let max_abs = x.iter().filter(|v| v.is_finite()).fold(0.0_f64, |m, v| m.max(v.abs()));
        if max_abs == 0.0 {
            return Self { scale: 0.0, values: vec![0; x.len()] };
        }
        let mut scale = (max_abs / f64::from(QUANT_LEVELS)) as f32;
        // Rounding to f32 may have shrunk the scale below what max_abs needs: step up one ulp.
        if f64::from(scale) * f64::from(QUANT_LEVELS) < max_abs {
            scale = f32::from_bits(scale.to_bits() + 1);
        }
        let scale_wide = f64::from(scale);
        let values = x
            .iter()
            .map(|&v| {
                if !v.is_finite() {
                    return 0;
                }
                let level = v / scale_wide;
                let floor = level.floor();
                let up = rng.random::<f64>() < level - floor;
                let rounded = if up { floor + 1.0 } else { floor };
                rounded.clamp(-f64::from(QUANT_LEVELS), f64::from(QUANT_LEVELS)) as i8
            })
            .collect();
        Self { scale, values }
    }

    /// The represented vector.
    pub fn dequantize(&self) -> Vec<f64> {
        let scale = f64::from(self.scale);
        self.values.iter().map(|&q| f64::from(q) * scale).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn standard_normal_has_zero_mean_and_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let variance = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.015, "variance {variance}");
        let beyond_two = draws.iter().filter(|d| d.abs() > 2.0).count() as f64 / n as f64;
        assert!((beyond_two - 0.0455).abs() < 0.003, "tail mass {beyond_two}");
        // P(|Z| < 1.96) = 0.95
        let inside = draws.iter().filter(|d| d.abs() < 1.96).count() as f64 / n as f64;
        assert!((inside - 0.95).abs() < 0.005, "coverage {inside}");
    }

    #[test]
    fn quantization_scale_maps_the_largest_coordinate_to_127() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let q = QuantizedVector::stochastic(&[1.27, -0.5, 0.0], &mut rng);
        assert!((q.scale - 0.01).abs() < 1e-7);
        assert_eq!(q.values[0], 127);
        assert_eq!(q.values[2], 0);
        assert!(q.values[1] == -50 || q.values[1] == -51 || q.values[1] == -49);
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let x = [0.3, -0.77, 0.001, 2.0];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let trials = 20_000;
        let mut sums = [0.0_f64; 4];
        for _ in 0..trials {
            for (sum, v) in sums.iter_mut().zip(QuantizedVector::stochastic(&x, &mut rng).dequantize()) {
                *sum += v;
            }
        }
        // Rounding error per trial is below scale = 2/127 = 0.0157, so the mean's standard error
        // is below 0.0157 / sqrt(20000) / 2 = 0.00006.
        for (sum, want) in sums.iter().zip(x) {
            assert!((sum / trials as f64 - want).abs() < 0.0005, "mean {} want {want}", sum / trials as f64);
        }
    }

    #[test]
    fn all_zero_input_quantizes_to_zero_scale() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let q = QuantizedVector::stochastic(&[0.0, 0.0], &mut rng);
        assert_eq!(q, QuantizedVector { scale: 0.0, values: vec![0, 0] });
    }

    proptest::proptest! {
        #[test]
        fn rounding_error_is_below_one_step(x in proptest::collection::vec(-1e3_f64..1e3, 1..64), seed in 0_u64..1000) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let q = QuantizedVector::stochastic(&x, &mut rng);
            let step = f64::from(q.scale);
            for (got, want) in q.dequantize().iter().zip(&x) {
                proptest::prop_assert!((got - want).abs() <= step * 1.000_001 + 1e-12);
            }
        }
    }
}
