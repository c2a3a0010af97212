use super::*;
use proptest::prelude::*;

/// Ours against the standard library's parser, bit for bit (the sign of zero included).
fn agrees(text: &str) -> Result<(), TestCaseError> {
    let expected: f64 = text.parse().unwrap();
    let ours = parse_decimal(text);
    prop_assert_eq!(ours.to_bits(), expected.to_bits(), "{} read as {:e}, std reads {:e}", text, ours, expected);
    Ok(())
}

#[test]
fn a_number_of_a_hundred_thousand_digits_reads_as_std_reads_it() {
    let long = format!("0.{}", "7".repeat(100_000));
    agrees(&long).unwrap();
    let long_whole = format!("{}e-99990", "3".repeat(100_000));
    agrees(&long_whole).unwrap();
}

#[test]
fn hard_cases_round_as_std_does() {
    let cases = [
        "0",
        "-0",
        "-0.0",
        "0e5",
        "1",
        "0.1",
        "0.30000000000000004",
        "123456789012345678901234567890",
        "1e22",
        "1e23",
        "9007199254740993",
        "9007199254740992.5",
        "9007199254740993.0000000000000000000000001",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "2.225073858507201136057409796709131975934819546351645648e-308",
        "4.9e-324",
        "5e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2.47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189898282347722858865463328355177969898199387398005390939063150356595155702263922908583924491051844359318028499365361525003193704576782492193656236698636584807570351e-324",
        "1e-400",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1e309",
        "1e99999999999999999999",
        "1e-99999999999999999999",
        "0.000000000000000000000000000000000000000000001e300",
        "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000.5",
        "8.98846567431158e307",
        "1.0000000000000002",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "7.2057594037927933e16",
        "1448997445238699",
        "3.0540412e5",
        "1e-19",
        "1.2345678901234567e-20",
        "18446744073709551615",
        "18446744073709551616",
        "1844674407370955161.5e1",
        "12345678901234567890e-19",
        "12345678901234567890123e-40",
    ];
    for text in cases {
        agrees(text).unwrap();
    }
}

proptest! {
    #[test]
    fn shortest_decimals_read_back_bit_for_bit(bits in any::<u64>()) {
        let value = f64::from_bits(bits);
        prop_assume!(value.is_finite());
        // As serde_json writes it (the stored form), and Rust's two forms.
        let written = serde_json::to_string(&value).unwrap();
        agrees(&written)?;
        prop_assert_eq!(parse_decimal(&written).to_bits(), bits);
        agrees(&format!("{value}"))?;
        agrees(&format!("{value:e}"))?;
    }

    #[test]
    fn any_decimal_rounds_as_std_does(
        negative in any::<bool>(),
        whole in "(0|[1-9][0-9]{0,25})",
        fraction in proptest::option::of("[0-9]{1,30}"),
        exponent in proptest::option::of(-360i32..360),
    ) {
        let mut text = String::new();
        if negative {
            text.push('-');
        }
        text.push_str(&whole);
        if let Some(fraction) = fraction {
            text.push('.');
            text.push_str(&fraction);
        }
        if let Some(exponent) = exponent {
            text.push_str(&format!("e{exponent}"));
        }
        agrees(&text)?;
    }

    #[test]
    fn halfway_points_round_to_even(bits in any::<u64>(), above in -2i8..=2) {
        // The exact midpoint between a double and the next, written out in full, and a nudge.
        let value = f64::from_bits(bits & !(1 << 63));
        prop_assume!(value.is_finite() && value < f64::MAX);
        let next = f64::from_bits(value.to_bits() + 1);
        let midpoint = exact_decimal(value, next);
        let text = match above {
            1 => format!("{midpoint}1"),
            // Past the digits that can decide: only the sticky digit tells them apart.
            2 => format!("{midpoint}{}1", "0".repeat(1_200)),
            -1 => nudged_down(&midpoint),
            -2 => format!("{}{}", nudged_down(&midpoint), "9".repeat(1_200)),
            _ => midpoint,
        };
        agrees(&text)?;
    }
}

/// (a + b) / 2 of two doubles written exactly in decimal (digits, a point, no exponent).
fn exact_decimal(a: f64, b: f64) -> String {
    // Each double is m × 2^e; their midpoint is (ma·2^ea + mb·2^eb)/2, an exact binary fraction,
    // hence an exact decimal: expand with `Big` arithmetic in base 10 by scaling with 5^k.
    let (ma, ea) = parts(a);
    let (mb, eb) = parts(b);
    let low = ea.min(eb) - 1;
    let mut sum = Big { limbs: Vec::new() };
    for (m, e) in [(ma, ea), (mb, eb)] {
        let mut term = Big::from_digits(&digits_of(m));
        term.shl((e - low - 1) as u32);
        sum = add(&sum, &term);
    }
    // sum × 2^low: for low < 0 multiply by 5^-low and put the point -low digits from the right.
    if low >= 0 {
        sum.shl(low as u32);
        return decimal_string(&sum);
    }
    for _ in 0..-low {
        sum.mul_add_small(5, 0);
    }
    let text = decimal_string(&sum);
    let point = (-low) as usize;
    let padded = format!("{}{text}", "0".repeat((point + 1).saturating_sub(text.len())));
    let (int, frac) = padded.split_at(padded.len() - point);
    format!("{int}.{frac}")
}

fn nudged_down(exact: &str) -> String {
    // The same digits with the last nonzero digit lowered by one and nines after it.
    let mut digits: Vec<u8> = exact.bytes().collect();
    let last = digits.iter().rposition(|&d| d.is_ascii_digit() && d != b'0').unwrap();
    digits[last] -= 1;
    let mut text = String::from_utf8(digits).unwrap();
    if !text.contains('.') {
        text.push('.');
    }
    text.push_str("999");
    text
}

fn parts(x: f64) -> (u64, i64) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let mantissa = bits & ((1 << 52) - 1);
    if exponent == 0 {
        (mantissa, -1074)
    } else {
        (mantissa | (1 << 52), exponent - 1075)
    }
}

fn digits_of(n: u64) -> Vec<u8> {
    n.to_string().bytes().map(|b| b - b'0').collect()
}

fn add(a: &Big, b: &Big) -> Big {
    let mut limbs = Vec::new();
    let mut carry = 0u64;
    for at in 0..a.limbs.len().max(b.limbs.len()) {
        let sum =
            u64::from(a.limbs.get(at).copied().unwrap_or(0)) + u64::from(b.limbs.get(at).copied().unwrap_or(0)) + carry;
        limbs.push(sum as u32);
        carry = sum >> 32;
    }
    if carry != 0 {
        limbs.push(carry as u32);
    }
    let mut sum = Big { limbs };
    sum.trim();
    sum
}

fn decimal_string(n: &Big) -> String {
    let mut limbs = n.limbs.clone();
    let mut digits = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut remainder = 0u64;
        for limb in limbs.iter_mut().rev() {
            let current = (remainder << 32) | u64::from(*limb);
            *limb = (current / 10) as u32;
            remainder = current % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}
