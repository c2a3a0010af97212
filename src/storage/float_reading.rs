//! Decimal text to the nearest `f64` (ties to even), exactly as `str::parse::<f64>` rounds, for
//! the numbers of stored JSON.
//!
//! The standard library's parser finds most results with the Eisel-Lemire algorithm over a table
//! of 651 128-bit powers of five: 10 KB of data that does not compress, the largest table left in
//! the core module. Stored numbers are written as their shortest decimal (at most 17 digits), so
//! nearly all of them take one of two exact paths in `u128` arithmetic here; the rest (long
//! digit strings, very large or small magnitudes) take an exact big-number division. No table.

use std::cmp::Ordering;

/// `text`, a JSON number (`-?digits(.digits)?([eE][+-]?digits)?`), rounded to the nearest `f64`;
/// infinite when it is beyond `f64::MAX` by half a unit or more, as `str::parse` gives it.
pub fn parse_decimal(text: &str) -> f64 {
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut at = usize::from(negative);
    // The significant digits (no leading zeros) and the power of ten they are scaled by.
    let mut digits: Vec<u8> = Vec::new();
    let mut exponent: i64 = 0;
    let mut fraction = false;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'0'..=b'9' => {
                if !digits.is_empty() || b != b'0' {
                    digits.push(b - b'0');
                }
                if fraction {
                    exponent -= 1;
                }
            }
            b'.' => fraction = true,
            _ => break,
        }
        at += 1;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        let sign = match bytes.get(at) {
            Some(b'-') => {
                at += 1;
                -1
            }
            Some(b'+') => {
                at += 1;
                1
            }
            _ => 1,
        };
        let mut written: i64 = 0;
        for &b in &bytes[at..] {
            // Far past any f64 either way: the digit count cannot bring it back.
            written = (written * 10 + i64::from(b - b'0')).min(1 << 40);
        }
        exponent += sign * written;
    }
    while digits.last() == Some(&0) {
        digits.pop();
        exponent += 1;
    }
    keep_deciding_digits(&mut digits, &mut exponent);
    let magnitude = magnitude(&digits, exponent);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The significant digits that can decide a rounding: the exact midpoint of two doubles has at
/// most 767, so digits past [`DECIDING_DIGITS`] only tell whether the value is above the kept
/// ones. They become one nonzero digit (a sticky digit), which rounds the same, and a stored
/// number of a million digits costs no more than one of eight hundred (the exact path's big
/// numbers grow with the digit count, quadratically in time).
const DECIDING_DIGITS: usize = 800;

fn keep_deciding_digits(digits: &mut Vec<u8>, exponent: &mut i64) {
    if digits.len() <= DECIDING_DIGITS {
        return;
    }
    // No trailing zeros are left, so the dropped digits are never all zero.
    *exponent += (digits.len() - DECIDING_DIGITS) as i64 - 1;
    digits.truncate(DECIDING_DIGITS);
    digits.push(1);
}

/// `digits` (no leading or trailing zeros) × 10^`exponent`, rounded.
fn magnitude(digits: &[u8], exponent: i64) -> f64 {
    if digits.is_empty() {
        return 0.0;
    }
    let scale = digits.len() as i64 + exponent;
    if scale > 310 {
        return f64::INFINITY;
    }
    if scale < -325 {
        // Below 10^-325, under half the smallest subnormal (4.9e-324).
        return 0.0;
    }
    if digits.len() <= 19 {
        let whole = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d));
        if let Some(value) = small(whole, exponent) {
            return value;
        }
    }
    exact(digits, exponent)
}

/// The paths in `u128` arithmetic: `whole` × 10^`exponent` for |exponent| ≤ 19.
fn small(whole: u64, exponent: i64) -> Option<f64> {
    if !(-19..=19).contains(&exponent) {
        return None;
    }
    let power = 10u64.pow(exponent.unsigned_abs() as u32);
    if exponent >= 0 {
        // Exact in u128; the conversion rounds to nearest, ties to even.
        return Some((u128::from(whole) * u128::from(power)) as f64);
    }
    // whole / power, at least 10^-19: far above the subnormals. The quotient gets 64 or 65 bits
    // and a sticky bit for a nonzero remainder, so converting it rounds as the exact value would.
    let shift = 64 + bits(u128::from(power)) - bits(u128::from(whole));
    let scaled = u128::from(whole) << shift;
    let quotient = scaled / u128::from(power);
    let sticky = u128::from(scaled % u128::from(power) != 0);
    Some(scale_by_two((quotient | sticky) as f64, -(shift as i64)))
}

fn bits(n: u128) -> u32 {
    128 - n.leading_zeros()
}

/// `value` × 2^`power`, exact unless the result overflows (infinite) or is subnormal (never
/// asked for here).
fn scale_by_two(mut value: f64, mut power: i64) -> f64 {
    while power > 1000 {
        value *= two_to(1000);
        power -= 1000;
    }
    while power < -1000 {
        value *= two_to(-1000);
        power += 1000;
    }
    value * two_to(power as i32)
}

/// 2^`power` for -1022 ≤ power ≤ 1023.
fn two_to(power: i32) -> f64 {
    f64::from_bits(((1023 + power) as u64) << 52)
}

/// The exact path: big numbers, any digit count and magnitude within the checked range.
fn exact(digits: &[u8], exponent: i64) -> f64 {
    let mut number = Big::from_digits(digits);
    if exponent >= 0 {
        number.mul_pow10(exponent as u32);
        return number.to_f64();
    }
    let mut divisor = Big::one();
    divisor.mul_pow10(exponent.unsigned_abs() as u32);
    // Below 2^-1022 the result is subnormal: counted in units of 2^-1074 and rounded once.
    let mut at_smallest_normal = number.clone();
    at_smallest_normal.shl(1022);
    if at_smallest_normal.cmp(&divisor) == Ordering::Less {
        number.shl(1074);
        let (quotient, remainder) = number.div_small_quotient(&divisor, 64);
        let mut twice = remainder;
        twice.shl(1);
        let up = match twice.cmp(&divisor) {
            Ordering::Greater => true,
            Ordering::Equal => quotient & 1 == 1,
            Ordering::Less => false,
        };
        let units = quotient + u128::from(up);
        return units as f64 * f64::from_bits(1);
    }
    // A quotient of 64 or 65 bits with a sticky bit, as in `small`.
    let shift = 64 + divisor.bits() as i64 - number.bits() as i64;
    if shift >= 0 {
        number.shl(shift as u32);
    } else {
        divisor.shl((-shift) as u32);
    }
    let (quotient, remainder) = number.div_small_quotient(&divisor, 66);
    let sticky = u128::from(!remainder.is_zero());
    scale_by_two((quotient | sticky) as f64, -shift)
}

/// An unsigned big number, 32-bit limbs, least significant first, no trailing zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn one() -> Self {
        Big { limbs: vec![1] }
    }

    fn from_digits(digits: &[u8]) -> Self {
        let mut number = Big { limbs: Vec::with_capacity(digits.len() / 9 + 1) };
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |n, &d| n * 10 + u32::from(d));
            number.mul_add_small(10u32.pow(chunk.len() as u32), value);
        }
        number
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bits(&self) -> u32 {
        match self.limbs.last() {
            None => 0,
            Some(top) => 32 * self.limbs.len() as u32 - top.leading_zeros(),
        }
    }

    fn mul_add_small(&mut self, factor: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.limbs {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut power: u32) {
        while power >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            power -= 9;
        }
        self.mul_add_small(10u32.pow(power), 0);
    }

    fn shl(&mut self, bits: u32) {
        if self.is_zero() {
            return;
        }
        let (limbs, bits) = ((bits / 32) as usize, bits % 32);
        if bits != 0 {
            let mut carry = 0;
            for limb in &mut self.limbs {
                let shifted = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = shifted;
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        self.limbs.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    fn shr1(&mut self) {
        let mut carry = 0;
        for limb in self.limbs.iter_mut().rev() {
            let next = *limb << 31;
            *limb = (*limb >> 1) | carry;
            carry = next;
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs.len().cmp(&other.limbs.len()).then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// `self -= other`, for `other <= self`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (at, limb) in self.limbs.iter_mut().enumerate() {
            let difference = i64::from(*limb) - i64::from(other.limbs.get(at).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(difference < 0);
            *limb = difference.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    /// The quotient of `self / divisor`, known to be below 2^`quotient_bits` (at most 127), and
    /// the remainder: long division a bit at a time.
    fn div_small_quotient(mut self, divisor: &Big, quotient_bits: u32) -> (u128, Big) {
        let mut shifted = divisor.clone();
        shifted.shl(quotient_bits - 1);
        let mut quotient = 0u128;
        for bit in (0..quotient_bits).rev() {
            if self.cmp(&shifted) != Ordering::Less {
                self.sub(&shifted);
                quotient |= 1 << bit;
            }
            shifted.shr1();
        }
        (quotient, self)
    }

    /// Rounded to the nearest `f64`, ties to even; infinite past `f64::MAX`.
    fn to_f64(&self) -> f64 {
        let bits = self.bits();
        if bits <= 64 {
            let low = self.limbs.iter().rev().fold(0u64, |n, &limb| (n << 32) | u64::from(limb));
            return low as f64;
        }
        // The top 64 bits, and a sticky bit for anything nonzero below them.
        let drop = bits - 64;
        let mut top = 0u64;
        for bit in (drop..bits).rev() {
            top = (top << 1) | u64::from(self.bit(bit));
        }
        let sticky = (0..drop / 32).any(|at| self.limbs[at as usize] != 0)
            || (self.limbs[(drop / 32) as usize] & ((1u32 << (drop % 32)) - 1)) != 0;
        scale_by_two((top | u64::from(sticky)) as f64, i64::from(drop))
    }

    fn bit(&self, at: u32) -> bool {
        (self.limbs[(at / 32) as usize] >> (at % 32)) & 1 == 1
    }
}

#[cfg(test)]
#[path = "float_reading_tests.rs"]
mod tests;
