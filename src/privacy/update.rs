//! Turning local learning into a differentially private update: policy, clip, noise, quantize.

use rand::Rng;

use super::ledger::PrivacyLedger;
use super::params::PrivacyParams;
use super::sampling::{standard_normal, QuantizedVector};
use super::PrivacyError;

/// What the device knows when it considers a sync.
#[derive(Debug, Clone, Copy)]
pub struct UpdateInputs<'a> {
    /// Version of the shared model the local model started from.
    pub base_version: u64,
    /// That shared model's weights.
    pub base_weights: &'a [f32],
    /// The device's shared weights after local learning.
    pub local_weights: &'a [f32],
    /// Labelled impressions since the last sync.
    pub labelled_impressions: u32,
    /// Whether the shopper's consent is `full`. Anything less never syncs.
    pub full_consent: bool,
    pub now_unix_seconds: u64,
}

/// A clipped, noised, quantized update, ready to be encoded. Its privacy spend is already booked.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisyUpdate {
    pub base_version: u64,
    pub clip_bound: f32,
    pub noise_multiplier: f32,
    pub quantized: QuantizedVector,
    /// `ρ` this update spent.
    pub rho: f64,
}

/// Builds updates under checked [`PrivacyParams`].
#[derive(Debug, Clone)]
pub struct UpdateBuilder {
    params: PrivacyParams,
}

/// Scales `delta` in place so its L2 norm is at most `bound`; returns the norm before clipping.
pub fn clip_to_norm(delta: &mut [f64], bound: f64) -> f64 {
    let norm = delta.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > bound {
        let factor = bound / norm;
        delta.iter_mut().for_each(|v| *v *= factor);
    }
    norm
}

impl UpdateBuilder {
    pub fn new(params: PrivacyParams) -> Self {
        Self { params }
    }

    pub fn params(&self) -> &PrivacyParams {
        &self.params
    }

    /// Checks the policy without spending anything: consent, impressions, shapes, period limit
    /// and budget. `Ok` means [`Self::build`] would produce an update now.
    pub fn check(&self, inputs: &UpdateInputs<'_>, ledger: &PrivacyLedger) -> Result<(), PrivacyError> {
        if !inputs.full_consent {
            return Err(PrivacyError::NoConsent);
        }
        let need = self.params.min_labelled_impressions();
        if inputs.labelled_impressions < need {
            return Err(PrivacyError::NotEnoughImpressions { have: inputs.labelled_impressions, need });
        }
        if inputs.base_weights.len() != inputs.local_weights.len() || inputs.local_weights.is_empty() {
            return Err(PrivacyError::DimensionMismatch {
                local: inputs.local_weights.len(),
                shared: inputs.base_weights.len(),
            });
        }
        let all = inputs.base_weights.iter().chain(inputs.local_weights);
        if let Some(index) = all.clone().position(|w| !w.is_finite()) {
            return Err(PrivacyError::NonFiniteWeight { index: index % inputs.local_weights.len() });
        }
        ledger.check_room(&self.params, inputs.now_unix_seconds).map(|_| ())
    }

    /// Computes `local − base`, clips it to `C`, adds `N(0, (z·C)²)` per coordinate, quantizes
    /// stochastically, and books the spend in `ledger`. Refuses (spending nothing) for any reason
    /// [`Self::check`] gives.
    pub fn build(
        &self,
        inputs: &UpdateInputs<'_>,
        ledger: &mut PrivacyLedger,
        rng: &mut impl Rng,
    ) -> Result<NoisyUpdate, PrivacyError> {
        let (noised, rho) = self.clip_noise_and_book(inputs, 1, ledger, rng)?;
        Ok(NoisyUpdate {
            base_version: inputs.base_version,
            clip_bound: self.params.clip_bound() as f32,
            noise_multiplier: self.params.noise_multiplier() as f32,
            quantized: QuantizedVector::stochastic(&noised, rng),
            rho,
        })
    }

    /// The clipped delta plus this device's share of the noise of a sum of `cohort` updates:
    /// `N(0, (z·C)² / cohort)` per coordinate, so the sum of `cohort` such updates carries
    /// `N(0, (z·C)²)`, the noise one local update carries (`cohort` 1 is the local update before
    /// quantization). Books the spend of that sum (`ρ = 1/(2z²)`, what [`Self::build`] books)
    /// and returns it with the vector. Refuses, spending nothing, as [`Self::check`] does.
    pub fn clip_noise_and_book(
        &self,
        inputs: &UpdateInputs<'_>,
        cohort: u32,
        ledger: &mut PrivacyLedger,
        rng: &mut impl Rng,
    ) -> Result<(Vec<f64>, f64), PrivacyError> {
        self.check(inputs, ledger)?;
        let mut delta: Vec<f64> = inputs
            .local_weights
            .iter()
            .zip(inputs.base_weights)
            .map(|(local, base)| f64::from(*local) - f64::from(*base))
            .collect();
        clip_to_norm(&mut delta, self.params.clip_bound());
        let noise_std = self.params.noise_std() / f64::from(cohort.max(1)).sqrt();
        delta.iter_mut().for_each(|v| *v += noise_std * standard_normal(rng));
        let rho = ledger.record_update(&self.params, inputs.now_unix_seconds)?;
        Ok((delta, rho))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::PrivacyConfig;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn builder(noise_multiplier: f64) -> UpdateBuilder {
        let config = PrivacyConfig { noise_multiplier, period_budget_epsilon: 1e6, ..Default::default() };
        UpdateBuilder::new(PrivacyParams::new(config).expect("valid"))
    }

    fn inputs<'a>(base: &'a [f32], local: &'a [f32]) -> UpdateInputs<'a> {
        UpdateInputs {
            base_version: 4,
            base_weights: base,
            local_weights: local,
            labelled_impressions: 25,
            full_consent: true,
            now_unix_seconds: 1_000_000,
        }
    }

    #[test]
    fn clipping_scales_long_vectors_to_the_bound_and_keeps_short_ones() {
        let mut long = vec![3.0, 4.0];
        assert!((clip_to_norm(&mut long, 1.0) - 5.0).abs() < 1e-12);
        assert!((long[0] - 0.6).abs() < 1e-12 && (long[1] - 0.8).abs() < 1e-12);
        let mut short = vec![0.3, 0.4];
        clip_to_norm(&mut short, 1.0);
        assert_eq!(short, vec![0.3, 0.4]);
    }

    #[test]
    fn refusals_spend_nothing() {
        let builder = builder(1.0);
        let base = [0.0_f32; 3];
        let local = [1.0_f32; 3];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut ledger = PrivacyLedger::default();
        let no_consent = UpdateInputs { full_consent: false, ..inputs(&base, &local) };
        assert_eq!(builder.build(&no_consent, &mut ledger, &mut rng), Err(PrivacyError::NoConsent));
        let few = UpdateInputs { labelled_impressions: 3, ..inputs(&base, &local) };
        assert_eq!(
            builder.build(&few, &mut ledger, &mut rng),
            Err(PrivacyError::NotEnoughImpressions { have: 3, need: 20 })
        );
        let short = [0.0_f32; 2];
        assert!(matches!(
            builder.build(&inputs(&short, &local), &mut ledger, &mut rng),
            Err(PrivacyError::DimensionMismatch { local: 3, shared: 2 })
        ));
        let nan = [0.0, f32::NAN, 0.0];
        assert_eq!(
            builder.build(&inputs(&base, &nan), &mut ledger, &mut rng),
            Err(PrivacyError::NonFiniteWeight { index: 1 })
        );
        assert_eq!(ledger, PrivacyLedger::default());
    }

    #[test]
    fn a_built_update_books_its_spend_and_carries_the_parameters() {
        let builder = builder(1.0);
        let base = [0.0_f32; 8];
        let local = [0.1_f32; 8];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut ledger = PrivacyLedger::default();
        let update = builder.build(&inputs(&base, &local), &mut ledger, &mut rng).expect("allowed");
        assert_eq!(update.base_version, 4);
        assert_eq!(update.quantized.values.len(), 8);
        assert!((update.rho - 0.5).abs() < 1e-12);
        assert_eq!(update.clip_bound, 1.0);
        assert_eq!(ledger.summary(builder.params(), 1_000_000).current_period_updates, 1);
        // Same seed, fresh ledger: the same bytes (seeded randomness).
        let mut again_rng = ChaCha8Rng::seed_from_u64(9);
        let again = builder.build(&inputs(&base, &local), &mut PrivacyLedger::default(), &mut again_rng);
        assert_eq!(again, Ok(update));
    }

    #[test]
    fn averaged_updates_recover_the_clipped_delta() {
        // The noise is zero-mean and rounding unbiased: the mean of many devices' updates is the
        // clipped delta. delta = (3, 4, 0, 0) clips to (0.6, 0.8, 0, 0).
        let builder = builder(1.0);
        let base = [0.0_f32; 4];
        let local = [3.0_f32, 4.0, 0.0, 0.0];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let devices = 20_000;
        let mut sum = [0.0_f64; 4];
        for _ in 0..devices {
            let update = builder.build(&inputs(&base, &local), &mut PrivacyLedger::default(), &mut rng);
            let values = update.expect("allowed").quantized.dequantize();
            sum.iter_mut().zip(values).for_each(|(s, v)| *s += v);
        }
        // Noise std per coordinate 1 -> standard error of the mean 1/sqrt(20000) = 0.0071.
        for (s, want) in sum.iter().zip([0.6, 0.8, 0.0, 0.0]) {
            assert!((s / devices as f64 - want).abs() < 0.03, "mean {} want {want}", s / devices as f64);
        }
    }
}
