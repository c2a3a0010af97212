//! Whether a text is one JSON value, checked by hand exactly as `serde_json`'s
//! `RawValue::from_string` checks it: `exportProfile()` gives every stored value as it is stored
//! when it is JSON (and as a string when it is not), and serde_json's check (its text parser's
//! `ignore_value`) would bring that parser into the core module for this one job.
//!
//! The grammar is RFC 8259's, with serde_json's leniencies of a value it skips: no limit on
//! nesting (the check keeps its own stack, never recursing) and any four hex digits after `\u`
//! (a lone surrogate included). Control characters (below U+0020) in a string are refused;
//! whitespace is space, tab, line feed and carriage return, before and after the value.

/// `text` without its surrounding whitespace, when it is one JSON value (what
/// `RawValue::from_string(text).get()` gives); `None` when it is not JSON.
pub fn raw_json(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    let start = at;
    // The open arrays and objects, innermost last: `true` for an object.
    let mut open: Vec<bool> = Vec::new();
    loop {
        // A value.
        match *bytes.get(at)? {
            b'[' | b'{' => {
                let object = bytes[at] == b'{';
                at = skip_space(bytes, at + 1);
                let close = if object { b'}' } else { b']' };
                if bytes.get(at) == Some(&close) {
                    at += 1;
                } else {
                    open.push(object);
                    if object {
                        at = member_name(bytes, at)?;
                    }
                    continue;
                }
            }
            b'"' => at = string_end(bytes, at + 1)?,
            b'n' => at = word(bytes, at, b"null")?,
            b't' => at = word(bytes, at, b"true")?,
            b'f' => at = word(bytes, at, b"false")?,
            b'-' | b'0'..=b'9' => at = number_end(bytes, at)?,
            _ => return None,
        }
        // After a value: a comma and the next one, or the end of its arrays and objects.
        loop {
            let end = at;
            at = skip_space(bytes, at);
            let Some(&object) = open.last() else {
                return (at == bytes.len()).then(|| &text[start..end]);
            };
            match *bytes.get(at)? {
                b',' => {
                    at = skip_space(bytes, at + 1);
                    if object {
                        at = member_name(bytes, at)?;
                    }
                    break;
                }
                b'}' if object => {}
                b']' if !object => {}
                _ => return None,
            }
            at += 1;
            open.pop();
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        at += 1;
    }
    at
}

/// After a member's name and its colon (and the space after it), from the name's opening quote.
fn member_name(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let at = skip_space(bytes, string_end(bytes, at + 1)?);
    (bytes.get(at) == Some(&b':')).then(|| skip_space(bytes, at + 1))
}

/// After the closing quote of a string whose content starts at `at`.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => match *bytes.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                b'u' => {
                    let hex = bytes.get(at + 2..at + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    at += 6;
                }
                _ => return None,
            },
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

fn word(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    bytes[at..].starts_with(word).then_some(at + word.len())
}

fn digits_end(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

/// After a number (`-`? then `0` or a digit run not starting with `0`, an optional fraction and
/// exponent, each with at least one digit).
fn number_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes[at] == b'-' {
        at += 1;
    }
    at = match *bytes.get(at)? {
        b'0' => at + 1,
        b'1'..=b'9' => digits_end(bytes, at + 1),
        _ => return None,
    };
    if bytes.get(at) == Some(&b'.') {
        let end = digits_end(bytes, at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let end = digits_end(bytes, at);
        if end == at {
            return None;
        }
        at = end;
    }
    Some(at)
}

#[cfg(test)]
#[path = "raw_json_tests.rs"]
mod tests;
