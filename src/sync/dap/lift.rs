//! A lift report as a DAP-09 report with a **Prio3SumVec** proof: the clipped counts, in integers,
//! with this device's share of a distributed discrete Gaussian, offset so every entry is a
//! non-negative integer of `bits` bits, which is all the proof shows.
//!
//! One DAP task per bucket: a device sends its report to the lift task of its own bucket
//! (personalized or holdout), so the measurement is that bucket's block only, and the task's
//! report count is the bucket's (the aggregators learn each report's bucket, the holdout coin,
//! which is public by design of the holdout). Measurement layout (length `D + M`, `M =
//! D(D+1)/2`): the `D` cap-scaled counts `x_j = clip(count_j, 0, cap_j) / cap_j` and the `M`
//! products `x_i·x_j` (`i ≤ j`, row by row: the estimator's variances need sums of products,
//! which sums of `x` alone cannot give). Each entry is `offset + round(S·value) + DG(σ)`, `S` =
//! [`LIFT_SCALE`] steps per cap, `DG` the exact discrete Gaussian of `prio`
//! (Canonne–Kamath–Steinke). Each task's batches hold at least K reports, so each bucket's sums
//! carry the noise of at least K shares: the full distributed noise, and no more.
//!
//! Privacy: under zero-out adjacency a device moves the values by `√D` and the products by `√M`
//! caps at most; the sum of `K` noise shares is (close to, KLS21) a discrete Gaussian of `S·z₁`
//! on values and `S·z₂` on products, with `z₁ = √(D / (2·¾ρ))` and `z₂ = √(M / (2·¼ρ))`: ¾ of
//! the configured ρ buys the means, ¼ the second moments, and the two add up to ρ.

use janus_messages::{Report, ReportId};
use num_bigint::BigUint;
use num_rational::Ratio;
use prio::dp::distributions::DiscreteGaussian;
use prio::vdaf::prio3::Prio3SumVec;
use prio::vdaf::Client;
use rand08::distributions::Distribution;
use rand_core06::CryptoRngCore;

use super::report::{encoded, seal_shares};
use super::{DapError, DapTask};
use crate::measure::report::CheckedReportConfig;

/// The VDAF every lift task uses (VDAF-08 Prio3SumVec, Janus's `Prio3SumVec`).
pub type LiftVdaf = Prio3SumVec;
/// Integer steps per cap: the resolution of one report's count (1/256 of its cap).
pub const LIFT_SCALE: f64 = 256.0;
/// The share of ρ spent on the means (the rest buys the sums of products).
pub const VALUES_RHO_SHARE: f64 = 0.75;
/// A noise share below this many integer steps is refused: the sum of K discrete Gaussians is
/// then a discrete Gaussian up to a Rényi term of order `K·e^(−π²·16)` (KLS21, Theorem 1).
pub const MIN_SHARE_STEPS: f64 = 4.0;
/// The probability that an honest report's noise share leaves its entry's offset range (and is
/// clamped): below `1e-15` per report, so over a batch of `n` reports the clamping adds at most
/// `n·1e-15·(1 + e^ε)` to δ (8.4e-12 at n = 1000, ε = 2).
pub const CLAMP_PROBABILITY: f64 = 1e-15;
/// The most field elements a lift measurement may take (`length × bits`; 256 KiB of share).
pub const MAX_ENCODED_ELEMENTS: usize = 16_384;

/// How a lift configuration is encoded into a SumVec measurement; the aggregators decode with it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiftEncoding {
    dimension: usize,
    value_share_steps: f64,
    product_share_steps: f64,
    value_offset: u64,
    product_offset: u64,
    bits: usize,
    caps: Vec<f64>,
    value_multiplier: f64,
}

/// One bucket's decoded sums (one lift task's): its report count, the D sums of counts, and the upper triangle of
/// the sums of products (in cap_i·cap_j, row by row), as `measure::LiftSums::from_parts` takes them.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSums {
    pub reports: u64,
    pub sums: Vec<f64>,
    pub products: Vec<f64>,
}

/// `M = D(D+1)/2`.
pub fn products_of(dimension: usize) -> usize {
    dimension * (dimension + 1) / 2
}

impl LiftEncoding {
    /// The encoding of `config` whose noise is shared among `cohort` reports.
    pub fn new(config: &CheckedReportConfig, cohort: u32) -> Result<Self, DapError> {
        let d = config.dimension();
        let m = products_of(d);
        let rho = config.booked_rho();
        let value_multiplier = (d as f64 / (2.0 * VALUES_RHO_SHARE * rho)).sqrt();
        let product_multiplier = (m as f64 / (2.0 * (1.0 - VALUES_RHO_SHARE) * rho)).sqrt();
        let root_k = f64::from(cohort.max(1)).sqrt();
        let value_share_steps = LIFT_SCALE * value_multiplier / root_k;
        let product_share_steps = LIFT_SCALE * product_multiplier / root_k;
        if value_share_steps < MIN_SHARE_STEPS {
            return Err(DapError::LiftNoiseTooFine { steps: value_share_steps as u32 });
        }
        // t with 2L·P(Z > t) ≤ 1e-15 over the L noised entries, through P(Z > t) ≤ exp(−t²/2).
        let t = (2.0 * (2.0 * (d + m) as f64 / CLAMP_PROBABILITY).ln()).sqrt();
        let value_offset = (t * value_share_steps).ceil() as u64;
        let product_offset = (t * product_share_steps).ceil() as u64;
        let top = LIFT_SCALE as u64 + 2 * value_offset.max(product_offset);
        let bits = (u64::BITS - top.leading_zeros()) as usize;
        let encoding = LiftEncoding {
            dimension: d,
            value_share_steps,
            product_share_steps,
            value_offset,
            product_offset,
            bits,
            caps: config.caps().to_vec(),
            value_multiplier,
        };
        let elements = encoding.length() * bits;
        if bits > 32 || elements > MAX_ENCODED_ELEMENTS {
            return Err(DapError::LiftTooLarge { elements, max: MAX_ENCODED_ELEMENTS });
        }
        Ok(encoding)
    }

    /// The measurement's length: the bucket's `D + M` entries.
    pub fn length(&self) -> usize {
        self.dimension + products_of(self.dimension)
    }

    /// The bit width of every entry (what the proof bounds).
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The proof's chunk length: ≈ √(length·bits), as `prio` advises.
    pub fn chunk_length(&self) -> usize {
        ((self.length() * self.bits) as f64).sqrt().ceil().max(1.0) as usize
    }

    /// The VDAF instance (two aggregators).
    pub fn vdaf(&self) -> Result<LiftVdaf, DapError> {
        Prio3SumVec::new_sum_vec(2, self.bits, self.length(), self.chunk_length())
            .map_err(|e| DapError::Vdaf(e.to_string()))
    }

    /// The noise multiplier of the values over a sum of ≥ K reports (per unit of cap).
    pub fn value_multiplier(&self) -> f64 {
        self.value_multiplier
    }

    /// The standard deviation of one report's noise share on a value, in caps.
    pub fn value_share_std(&self) -> f64 {
        self.value_share_steps / LIFT_SCALE
    }

    /// How far one report can move the sum of one value, in caps, whatever it claims: an entry
    /// of `bits` bits decodes to `[−offset, 2^bits − 1 − offset] / S`.
    pub fn max_report_shift(&self) -> f64 {
        let top = ((1_u64 << self.bits) - 1) as f64;
        (top - self.value_offset as f64).max(self.value_offset as f64) / LIFT_SCALE
    }

    /// The noise shares' standard deviations in steps of `1/LIFT_SCALE` cap: `(values, products)`.
    pub fn share_steps(&self) -> (f64, f64) {
        (self.value_share_steps, self.product_share_steps)
    }

    /// The measurement of the clipped counts `values` (length D, clipped to `[0, cap_j]` here),
    /// with this device's noise shares drawn by prio's exact discrete Gaussian sampler.
    pub fn measurement(&self, values: &[f64], rng: &mut dyn CryptoRngCore) -> Result<Vec<u128>, DapError> {
        let value_noise = discrete_gaussian(self.value_share_steps)?;
        let product_noise = discrete_gaussian(self.product_share_steps)?;
        self.measurement_with_noise(values, &mut |is_value| {
            let noise = if is_value { &value_noise } else { &product_noise };
            i64::try_from(noise.sample(rng)).unwrap_or(i64::MAX / 2)
        })
    }

    /// [`Self::measurement`] with the noise samples (in steps) drawn by `noise(is_value)`: a
    /// value's share of sd `share_steps().0`, a product's of `.1`. Devices use `measurement`;
    /// a simulation of many devices may draw the same distributions faster.
    pub fn measurement_with_noise(
        &self,
        values: &[f64],
        noise: &mut dyn FnMut(bool) -> i64,
    ) -> Result<Vec<u128>, DapError> {
        if values.len() != self.dimension {
            return Err(DapError::Dimension { got: values.len(), expected: self.dimension });
        }
        let scaled: Vec<f64> = values.iter().zip(&self.caps).map(|(v, cap)| (v / cap).clamp(0.0, 1.0)).collect();
        let mut own = scaled.clone();
        for (i, xi) in scaled.iter().enumerate() {
            own.extend(scaled[i..].iter().map(|xj| xi * xj));
        }
        let top = (1_i64 << self.bits) - 1;
        let measurement = own
            .iter()
            .enumerate()
            .map(|(index, x)| {
                let is_value = index < self.dimension;
                let offset = if is_value { self.value_offset } else { self.product_offset };
                let count = (x * LIFT_SCALE).round() as i64;
                (offset as i64).saturating_add(count).saturating_add(noise(is_value)).clamp(0, top) as u128
            })
            .collect();
        Ok(measurement)
    }

    /// One bucket's sums (values in counts, then products in cap_i·cap_j) from the aggregate of
    /// `reports` measurements of its task. The noise variance the devices added is put back on
    /// the diagonal of the products (`n·σ²` per value), so the estimator's sample covariance
    /// holds the noise as it does for noised values.
    pub fn decode(&self, aggregate: &[u128], reports: u64) -> Result<BucketSums, DapError> {
        if aggregate.len() != self.length() {
            return Err(DapError::Dimension { got: aggregate.len(), expected: self.length() });
        }
        let n = reports as f64;
        let d = self.dimension;
        let noise_variance = n * self.value_share_std().powi(2);
        let (values, products) = aggregate.split_at(d);
        let sums: Vec<f64> = values
            .iter()
            .zip(&self.caps)
            .map(|(&s, cap)| (s as f64 - n * self.value_offset as f64) / LIFT_SCALE * cap)
            .collect();
        let mut cross = Vec::with_capacity(products.len());
        let mut entries = products.iter();
        for i in 0..d {
            for j in i..d {
                let s = entries.next().copied().unwrap_or_default() as f64;
                let scaled =
                    (s - n * self.product_offset as f64) / LIFT_SCALE + if i == j { noise_variance } else { 0.0 };
                cross.push(scaled * self.caps[i] * self.caps[j]);
            }
        }
        Ok(BucketSums { reports, sums, products: cross })
    }
}

fn discrete_gaussian(steps: f64) -> Result<DiscreteGaussian, DapError> {
    let denominator = 1_u64 << 20;
    let numerator = (steps * denominator as f64).round() as u64;
    DiscreteGaussian::new(Ratio::new(BigUint::from(numerator), BigUint::from(denominator)))
        .map_err(|e| DapError::Vdaf(e.to_string()))
}

/// The DAP-09 report of the lift `measurement` (made by [`LiftEncoding::measurement`]) for `task`.
pub fn build_lift_report(
    task: &DapTask,
    encoding: &LiftEncoding,
    measurement: &[u128],
    now_secs: u64,
    rng: &mut dyn CryptoRngCore,
) -> Result<Report, DapError> {
    let vdaf = encoding.vdaf()?;
    let mut id = [0u8; ReportId::LEN];
    rng.fill_bytes(&mut id);
    let (public_share, input_shares) =
        vdaf.shard(&measurement.to_vec(), &id).map_err(|error| DapError::Vdaf(error.to_string()))?;
    let [leader, helper]: [_; 2] =
        input_shares.try_into().map_err(|_| DapError::Vdaf("the VDAF did not make two input shares".into()))?;
    let input_shares = [encoded(&leader)?, encoded(&helper)?];
    seal_shares(task, ReportId::from(id), now_secs, encoded(&public_share)?, input_shares, rng)
}

#[cfg(test)]
#[path = "lift_tests.rs"]
mod tests;
