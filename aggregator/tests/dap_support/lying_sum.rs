//! A malicious device's lift client: the Prio3SumVec type and wire format, but its encoder puts
//! an out-of-range value (2^40, not a bit) into the first bit of the first entry and proves that
//! encoding honestly, so the report would add 2^40 personalized reports if summed. Only the
//! VDAF's range check can catch it.

use prio::field::Field128;
use prio::flp::gadgets::{Mul, ParallelSum};
use prio::flp::types::SumVec;
use prio::flp::{FlpError, Type};
use prio::vdaf::prio3::Prio3;
use prio::vdaf::xof::XofTurboShake128;

type Honest = SumVec<Field128, ParallelSum<Field128, Mul<Field128>>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LyingSum {
    honest: Honest,
}

pub fn lying_sum_vdaf(bits: usize, length: usize, chunk: usize) -> Prio3<LyingSum, XofTurboShake128, 16> {
    let honest = Honest::new(bits, length, chunk).expect("type");
    // The algorithm id of Prio3SumVec.
    Prio3::new(2, 1, 0x00000002, LyingSum { honest }).expect("vdaf")
}

impl Type for LyingSum {
    type Measurement = Vec<u128>;
    type AggregateResult = Vec<u128>;
    type Field = Field128;

    fn encode_measurement(&self, measurement: &Self::Measurement) -> Result<Vec<Field128>, FlpError> {
        let mut encoded = self.honest.encode_measurement(measurement)?;
        encoded[0] = Field128::from(1u128 << 40);
        Ok(encoded)
    }
    fn decode_result(&self, data: &[Field128], n: usize) -> Result<Vec<u128>, FlpError> {
        self.honest.decode_result(data, n)
    }
    super::forward_to_honest!();
}
