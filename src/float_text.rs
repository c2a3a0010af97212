//! Floats in messages, written exactly as the standard library's `{}` writes them (`0.1`, `3`,
//! `1000000000000000000000`, `0.0000001`, `-0`, `NaN`, `inf`): the shortest digits that read back
//! to the same float, in plain decimal notation, never an exponent.
//!
//! `core::fmt`'s float code (Grisu with a Dragon4 fallback, for `{}` and `{:.N}` alike) is about
//! 14 KB of the core module, for the numbers of a few error messages. The digits here come from
//! zmij, serde_json's float writer, which the module holds anyway for the stored profile; only the
//! notation is rewritten.

use std::fmt;

/// A float that displays as std's `{}` does: `Decimal(x)` in a `format!` or an `#[error]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decimal<F>(pub F);

impl fmt::Display for Decimal<f64> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        if !value.is_finite() {
            return f.write_str(zmij::Buffer::new().format(value));
        }
        let bits = value.to_bits();
        let (fraction, biased) = (bits & ((1 << 52) - 1), ((bits >> 52) & 0x7ff) as i32);
        let exact = if biased == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased - 1075) };
        write_plain(zmij::Buffer::new().format_finite(value), value.is_sign_negative(), exact, f)
    }
}

impl fmt::Display for Decimal<f32> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        if !value.is_finite() {
            return f.write_str(zmij::Buffer::new().format(value));
        }
        let bits = value.to_bits();
        let (fraction, biased) = (u64::from(bits & ((1 << 23) - 1)), ((bits >> 23) & 0xff) as i32);
        let exact = if biased == 0 { (fraction, -149) } else { (fraction | (1 << 23), biased - 150) };
        write_plain(zmij::Buffer::new().format_finite(value), value.is_sign_negative(), exact, f)
    }
}

/// Whether `mantissa × 2^exponent` is exactly `tie × 10^scale`.
fn equals(mantissa: u64, exponent: i32, tie: u64, scale: i32) -> bool {
    if mantissa == 0 {
        return false;
    }
    let twos = mantissa.trailing_zeros() as i32;
    let odd = u128::from(mantissa >> twos);
    // tie ends in 5, so it is odd: the powers of two must match, the odd parts too.
    if twos + exponent != scale {
        return false;
    }
    let five_power = |n: u32| 5u128.checked_pow(n);
    if scale >= 0 {
        five_power(scale as u32).and_then(|p| p.checked_mul(u128::from(tie))) == Some(odd)
    } else {
        five_power(scale.unsigned_abs()).and_then(|p| p.checked_mul(odd)) == Some(u128::from(tie))
    }
}

/// Rewrites zmij's `[-]d[.ddd][e[+-]x]` (its shortest digits) in plain decimal notation.
#[inline(never)]
fn write_plain(shortest: &str, negative: bool, exact: (u64, i32), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let unsigned = shortest.strip_prefix('-').unwrap_or(shortest);
    let (mantissa, exponent) = match unsigned.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The digits without a point, and where the point goes: value = 0.digits × 10^point.
    let mut digits = [0u8; 40];
    let mut len = 0;
    for &byte in whole.as_bytes().iter().chain(fraction.as_bytes()) {
        if len < digits.len() {
            digits[len] = byte;
            len += 1;
        }
    }
    let mut point = whole.len() as i32 + exponent;
    let leading = digits[..len].iter().take_while(|&&d| d == b'0').count();
    let trailing = digits[leading..len].iter().rev().take_while(|&&d| d == b'0').count();
    let end = len - trailing;
    point -= leading as i32;
    // Of two shortest digit strings equally near the float, zmij takes the even one, std the
    // upper one: when the float lies exactly halfway, step the last digit up (an even digit, so
    // no carry).
    if end > leading && digits[end - 1] % 2 == 0 {
        let whole =
            digits[leading..end].iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')));
        let tie = whole.and_then(|n| n.checked_mul(10)?.checked_add(5));
        let scale = point - (end - leading) as i32 - 1;
        if tie.is_some_and(|tie| equals(exact.0, exact.1, tie, scale)) {
            digits[end - 1] += 1;
        }
    }
    let digits = &digits[leading..end];
    if negative {
        f.write_str("-")?;
    }
    if digits.is_empty() {
        return f.write_str("0");
    }
    if point <= 0 {
        f.write_str("0.")?;
        for _ in 0..-point {
            f.write_str("0")?;
        }
        f.write_str(ascii(digits))
    } else if point as usize >= digits.len() {
        f.write_str(ascii(digits))?;
        for _ in digits.len()..point as usize {
            f.write_str("0")?;
        }
        Ok(())
    } else {
        let (before, after) = digits.split_at(point as usize);
        f.write_str(ascii(before))?;
        f.write_str(".")?;
        f.write_str(ascii(after))
    }
}

/// The digits as text (they are ASCII).
fn ascii(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_what_std_writes() {
        for value in [
            0.0,
            -0.0,
            1.0,
            3.0,
            0.1,
            0.5,
            1.5,
            100.0,
            1e21,
            1e22,
            1e-7,
            123.456,
            -2.5,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(Decimal(value).to_string(), format!("{value}"));
        }
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(Decimal(value).to_string(), format!("{value}"));
        }
        for value in
            [0.0f32, -0.0, 0.1, 3.0, 1e-7, 16_777_216.0, f32::MAX, f32::MIN_POSITIVE, 1e-45, f32::NAN, f32::INFINITY]
        {
            assert_eq!(Decimal(value).to_string(), format!("{value}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn writes_any_f64_as_std(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            prop_assert_eq!(Decimal(value).to_string(), format!("{value}"));
        }

        #[test]
        fn writes_any_f32_as_std(bits in any::<u32>()) {
            let value = f32::from_bits(bits);
            prop_assert_eq!(Decimal(value).to_string(), format!("{value}"));
        }

        #[test]
        fn writes_short_decimals_as_std(whole in 0u32..100_000, fraction in 0u32..1000, scale in -30i32..30) {
            let value = (f64::from(whole) + f64::from(fraction) / 1000.0) * 10f64.powi(scale);
            prop_assert_eq!(Decimal(value).to_string(), format!("{value}"));
            let single = value as f32;
            prop_assert_eq!(Decimal(single).to_string(), format!("{single}"));
        }
    }
}
