//! Optional aggregator-side noise on model-update sums (task file `aggregatorNoiseEpsilon`): each
//! aggregator adds discrete Gaussian noise to its own aggregate share before it leaves (the helper
//! before sealing it to the collector, the leader before unsharding or handing it to a collector),
//! calibrated with `prio`'s `ZCdpDiscreteGaussian` to the VDAF's sensitivity (`2^16` steps: two
//! measurements of L2 norm below 1 differ by less than 2 in fixed point, replace-one adjacency).
//! So a released sum is `ε²/2`-zCDP per device **without trusting any device** to have added its
//! noise share, and without trusting the other aggregator: the noise of one honest aggregator alone
//! gives it. In update units the standard deviation per coordinate is `2·B/(0.999·ε)` per
//! aggregator (5.4 at `B` = 2.69, ε = 1): far more than the devices' own `z·C`, which is why it is
//! off by default.
//!
//! The noise of a batch is drawn from a stream seeded by this aggregator's HPKE private key and the
//! batch id, so a share asked for twice (a retry after a crash) carries the same noise: fresh noise
//! per request would let a collector average it away. Only model-update tasks take it (lift tasks'
//! SumVec has no zCDP strategy in `prio`; their devices add their own distributed noise).

use num_bigint::{BigInt, BigUint, Sign};
use num_rational::Ratio;
use prio::codec::{Decode, Encode};
use prio::dp::distributions::ZCdpDiscreteGaussian;
use prio::dp::{DifferentialPrivacyStrategy, Rational, ZCdpBudget};
use prio::field::{Field128, FieldElementWithInteger};
use prio::vdaf::xof::{Seed, Xof, XofTurboShake128};
use prio::vdaf::AggregateShare;
use rand08::distributions::Distribution;
use sha2::{Digest, Sha256};

use super::prepare::decode_aggregate;
use shop_personalizer::sync::dap::ModelUpdateVdaf;

/// The entries' fixed-point bits of the model-update VDAF (`FixedI16`).
const ENTRY_BITS: u32 = 16;
/// The smallest and largest ε a task file may set (below 0.01 the noise passes the field's
/// headroom for a batch; above 100 it is no protection worth the name).
pub const EPSILON_RANGE: (f64, f64) = (0.01, 100.0);
const NOISE_DST: &[u8] = b"shop-personalizer/dap/aggregator-noise/v1";

/// Checks a task file's `aggregatorNoiseEpsilon`.
pub fn checked_epsilon(epsilon: f64) -> Result<f64, String> {
    if epsilon.is_finite() && (EPSILON_RANGE.0..=EPSILON_RANGE.1).contains(&epsilon) {
        Ok(epsilon)
    } else {
        Err(format!(
            "aggregatorNoiseEpsilon must be between {} and {}, got {epsilon}",
            EPSILON_RANGE.0, EPSILON_RANGE.1
        ))
    }
}

/// The standard deviation of one aggregator's noise per coordinate, in the units of the
/// decoded sum of updates (measurement bound `bound`).
pub fn noise_std_in_update_units(epsilon: f64, bound: f64) -> f64 {
    2.0 * bound / (shop_personalizer::sync::dap::MAX_NORM * epsilon)
}

/// `share` (an encoded aggregate share of `vdaf`) with this aggregator's noise for `batch_id`
/// added, encoded again.
pub fn noised_share(
    vdaf: &ModelUpdateVdaf,
    share: &[u8],
    epsilon: f64,
    private_key: &[u8],
    batch_id: &[u8; 32],
) -> Result<Vec<u8>, String> {
    let decoded = decode_aggregate(vdaf, share)?;
    let mut entries: Vec<Field128> = decoded.as_ref().to_vec();
    // ε to a millionth (the task file's ε is checked to 0.01..=100).
    let budget = Rational::from_unsigned((epsilon * 1e6).round() as u128, 1_000_000).map_err(|e| e.to_string())?;
    let strategy = ZCdpDiscreteGaussian::from_budget(ZCdpBudget::new(budget));
    let sensitivity = Ratio::from_integer(BigUint::from(1u32 << ENTRY_BITS));
    let sampler = strategy.create_distribution(sensitivity).map_err(|error| error.to_string())?;
    let seed = Seed::<16>::get_decoded(&Sha256::digest(private_key)[..16]).map_err(|e| e.to_string())?;
    let mut stream = XofTurboShake128::seed_stream(&seed, NOISE_DST, batch_id);
    let modulus = BigInt::from(Field128::modulus());
    for entry in &mut entries {
        let noise: BigInt = sampler.sample(&mut stream);
        let wrapped = if noise.sign() == Sign::Minus { &modulus + noise } else { noise };
        let value = u128::try_from(wrapped).map_err(|error| error.to_string())?;
        *entry += Field128::from(value);
    }
    AggregateShare::from(entries).get_encoded().map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prio::field::FieldElement;
    use prio::vdaf::Collector;
    use shop_personalizer::sync::dap::{decode_sum, model_update_vdaf};

    const DIMENSION: usize = 106;
    const KEY: &[u8] = b"the helper's private key";

    fn zero_share() -> Vec<u8> {
        AggregateShare::from(vec![Field128::zero(); DIMENSION]).get_encoded().unwrap()
    }

    /// The noise of `noised` over `clean` per entry, as signed integers.
    fn noise_of(noised: &[u8], vdaf: &ModelUpdateVdaf) -> Vec<f64> {
        let modulus = Field128::modulus();
        let share = decode_aggregate(vdaf, noised).unwrap();
        share
            .as_ref()
            .iter()
            .map(|&entry| {
                let value = u128::from(entry);
                if value > modulus / 2 {
                    -((modulus - value) as f64)
                } else {
                    value as f64
                }
            })
            .collect()
    }

    #[test]
    fn the_noise_has_the_calibrated_spread_and_is_the_same_when_a_batch_is_asked_twice() {
        let vdaf = model_update_vdaf(DIMENSION).unwrap();
        let epsilon = 2.0;
        let mut draws = Vec::new();
        for batch in 0..20_u8 {
            let once = noised_share(&vdaf, &zero_share(), epsilon, KEY, &[batch; 32]).unwrap();
            let twice = noised_share(&vdaf, &zero_share(), epsilon, KEY, &[batch; 32]).unwrap();
            assert_eq!(once, twice, "a retried request gets the same noise");
            draws.extend(noise_of(&once, &vdaf));
        }
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let std = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt();
        let expected = f64::from(1u32 << ENTRY_BITS) / epsilon;
        // 2,120 draws: the sample std is within 10% of σ with overwhelming probability.
        assert!((std / expected - 1.0).abs() < 0.1, "std {std} vs σ = 2^16/ε = {expected}");
        assert!(mean.abs() < 4.0 * expected / (draws.len() as f64).sqrt(), "mean {mean}");
    }

    #[test]
    fn another_batch_or_another_aggregator_draws_other_noise() {
        let vdaf = model_update_vdaf(DIMENSION).unwrap();
        let first = noised_share(&vdaf, &zero_share(), 1.0, KEY, &[1; 32]).unwrap();
        assert_ne!(first, noised_share(&vdaf, &zero_share(), 1.0, KEY, &[2; 32]).unwrap());
        assert_ne!(first, noised_share(&vdaf, &zero_share(), 1.0, b"the leader's key", &[1; 32]).unwrap());
    }

    #[test]
    fn in_update_units_the_noise_is_two_bounds_over_epsilon() {
        // Unshard the noised and the clean shares of a batch of 100: the decoded sums differ by
        // the noise, whose spread in update units is 2·B/(0.999·ε) per aggregator.
        let vdaf = model_update_vdaf(DIMENSION).unwrap();
        let (epsilon, bound) = (1.0, 2.69);
        let decoded = |leader: &[u8], helper: &[u8]| {
            let shares = [decode_aggregate(&vdaf, leader).unwrap(), decode_aggregate(&vdaf, helper).unwrap()];
            decode_sum(&vdaf.unshard(&(), shares, 100).unwrap(), bound)
        };
        // The leader's share of 100 reports of 0 (each entry encodes as 2^15), the helper's 0.
        let batch_of_zeros =
            AggregateShare::from(vec![Field128::from(100_u128 << 15); DIMENSION]).get_encoded().unwrap();
        let clean = decoded(&batch_of_zeros, &zero_share());
        assert!(clean.iter().all(|&value| value.abs() < 1e-9), "{:?}", &clean[..3]);
        let mut differences = Vec::new();
        for batch in 0..10_u8 {
            let leader = noised_share(&vdaf, &batch_of_zeros, epsilon, b"leader", &[batch; 32]).unwrap();
            let helper = noised_share(&vdaf, &zero_share(), epsilon, b"helper", &[batch; 32]).unwrap();
            differences.extend(decoded(&leader, &helper).iter().zip(&clean).map(|(n, c)| n - c));
        }
        let std = (differences.iter().map(|d| d * d).sum::<f64>() / differences.len() as f64).sqrt();
        let expected = 2.0_f64.sqrt() * noise_std_in_update_units(epsilon, bound);
        assert!((std / expected - 1.0).abs() < 0.12, "std {std} vs {expected} (both aggregators' noise)");
    }

    #[test]
    fn epsilon_outside_the_range_is_refused() {
        assert_eq!(checked_epsilon(1.0), Ok(1.0));
        assert!(checked_epsilon(0.0).is_err() && checked_epsilon(f64::NAN).is_err() && checked_epsilon(1e3).is_err());
    }
}
