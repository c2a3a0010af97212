//! A malicious device's client: the same Prio3 type and wire format, but it encodes an
//! out-of-bound measurement (entries near +1, so the squared norm is about `big`, far over 1)
//! while it claims norm 0, and proves that encoding honestly. Everything decodes as an honest
//! report; only the VDAF's validity check can catch it.

use fixed::types::extra::U15;
use fixed::FixedI16;
use prio::field::Field128;
use prio::flp::gadgets::{Mul, ParallelSum, PolyEval};
use prio::flp::types::fixedpoint_l2::FixedPointBoundedL2VecSum;
use prio::flp::{FlpError, Type};
use prio::vdaf::prio3::Prio3;
use prio::vdaf::xof::XofTurboShake128;

type Honest = FixedPointBoundedL2VecSum<
    FixedI16<U15>,
    ParallelSum<Field128, PolyEval<Field128>>,
    ParallelSum<Field128, Mul<Field128>>,
>;

/// The honest type with a lying encoder: entries `0..big` are set to the largest value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lying {
    honest: Honest,
    big: usize,
}

pub fn lying_vdaf(dimension: usize, big: usize) -> Prio3<Lying, XofTurboShake128, 16> {
    let honest = Honest::new(dimension).expect("type");
    // The algorithm id of Prio3FixedPointBoundedL2VecSum in prio 0.16.
    Prio3::new(2, 1, 0xFFFF0000, Lying { honest, big }).expect("vdaf")
}

impl Type for Lying {
    type Measurement = Vec<FixedI16<U15>>;
    type AggregateResult = Vec<f64>;
    type Field = Field128;

    fn encode_measurement(&self, measurement: &Self::Measurement) -> Result<Vec<Field128>, FlpError> {
        let zeros = vec![FixedI16::<U15>::ZERO; measurement.len()];
        let mut encoded = self.honest.encode_measurement(&zeros)?;
        // Entry i is 16 bits, least significant first, of x·2^15 + 2^15: all ones is x ≈ +1.
        for bit in encoded.iter_mut().take(16 * self.big) {
            *bit = Field128::from(1u128);
        }
        Ok(encoded)
    }
    fn decode_result(&self, data: &[Field128], n: usize) -> Result<Vec<f64>, FlpError> {
        self.honest.decode_result(data, n)
    }
    super::forward_to_honest!();
}
