//! Compact JSON text written by hand, byte for byte as `serde_json::to_string` writes it: strings
//! with serde_json's escapes (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters
//! as `\u00xx` in lower-case hex; everything else, DEL and non-ASCII included, as it is), whole
//! numbers in decimal, floats in zmij's shortest form (`1.0`, `0.1`, `1e300`, `-0.0`) and a
//! non-finite float as `null`. A stored state whose shape is fixed writes itself with these
//! instead of compiling serde's generic serializer of every one of its types into the core module.

/// A value that writes itself as compact JSON text, byte for byte as `serde_json::to_string`
/// writes its serde derive (each writer's tests hold it to that).
pub trait JsonText {
    fn write_json(&self, out: &mut String);

    /// The value's JSON text.
    fn json_text(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
}

/// `text` as a JSON string, quoted and escaped.
#[inline(never)]
pub fn push_str(out: &mut String, text: &str) {
    out.push('"');
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Only ASCII bytes are escaped, so `run..at` falls on character boundaries.
        out.push_str(&text[run..at]);
        run = at + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&text[run..]);
    out.push('"');
}

/// `fragment` as it is: punctuation and member names that need no escape (`,"atMs":`). Out of
/// line, so that each piece of a fixed layout costs its writer one call.
#[inline(never)]
pub fn push_raw(out: &mut String, fragment: &str) {
    out.push_str(fragment);
}

/// A whole number in decimal.
#[inline(never)]
pub fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // ASCII digits: always UTF-8.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// A float as serde_json writes an `f64`: zmij's shortest form, `null` when not finite.
#[inline(never)]
pub fn push_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

/// A float as serde_json writes an `f32`: zmij's shortest form of the `f32`, `null` when not finite.
#[inline(never)]
pub fn push_f32(out: &mut String, value: f32) {
    if value.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

/// `items` as a JSON array, each written by `write`.
#[inline(never)]
pub fn push_list<T>(out: &mut String, items: impl IntoIterator<Item = T>, mut write: impl FnMut(&mut String, T)) {
    out.push('[');
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

/// `entries` as a JSON object (in the order given), each value written by `write`.
#[inline(never)]
pub fn push_object<'a, V: 'a>(
    out: &mut String,
    entries: impl IntoIterator<Item = (&'a String, V)>,
    mut write: impl FnMut(&mut String, V),
) {
    out.push('{');
    for (n, (name, value)) in entries.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_str(out, name);
        out.push(':');
        write(out, value);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(write: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        write(&mut out);
        out
    }

    #[test]
    fn escapes_and_numbers_are_serde_jsons() {
        for s in ["", "plain", "\"q\"", "back\\slash", "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}", "é😀/<>"]
        {
            assert_eq!(text(|o| push_str(o, s)), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        for n in [0, 1, 9, 10, 99, 1_700_000_000_000, u64::MAX] {
            assert_eq!(text(|o| push_u64(o, n)), serde_json::to_string(&n).unwrap());
        }
        let floats = [0.0, -0.0, 1.0, -1.5, 0.1, 1e-7, 1e15, 1e16, 1e21, 1e300, 5e-324, f64::MAX, f64::MIN_POSITIVE];
        for x in floats.into_iter().chain([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]) {
            assert_eq!(text(|o| push_f64(o, x)), serde_json::to_string(&x).unwrap(), "{x:?}");
            let y = x as f32;
            assert_eq!(text(|o| push_f32(o, y)), serde_json::to_string(&y).unwrap(), "{y:?}");
        }
        assert_eq!(text(|o| push_list(o, [1u64, 2], push_u64)), "[1,2]");
        assert_eq!(text(|o| push_list(o, Vec::<u64>::new(), push_u64)), "[]");
        assert_eq!(text(|o| push_object(o, std::iter::empty::<(&String, u64)>(), push_u64)), "{}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_string_and_number_is_written_as_serde_json_writes_it(
            s in any::<String>(),
            controls in "[\\x00-\\x1f\"\\\\\\x7f]{0,8}",
            n in any::<u64>(),
            bits in any::<u64>(),
        ) {
            for s in [&s, &controls] {
                prop_assert_eq!(text(|o| push_str(o, s)), serde_json::to_string(s).unwrap());
            }
            prop_assert_eq!(text(|o| push_u64(o, n)), serde_json::to_string(&n).unwrap());
            let x = f64::from_bits(bits);
            prop_assert_eq!(text(|o| push_f64(o, x)), serde_json::to_string(&x).unwrap());
            let y = f32::from_bits(bits as u32);
            prop_assert_eq!(text(|o| push_f32(o, y)), serde_json::to_string(&y).unwrap());
        }
    }
}
