//! JSON text to a `serde_json::Value` tree, parsed by hand: how the core reads stored state.
//!
//! serde_json's own parser is generic over the reader and the visitor, and for exact floats it
//! brings its own big-number arithmetic: together about 45 KB of the core module, for a job done
//! a few times a page (a load, another tab's write). This parser builds the tree directly and
//! reads numbers with `float_reading`, which rounds correctly, as `str::parse::<f64>` and
//! serde_json's `float_roundtrip` do: a stored float reads back bit for bit.
//!
//! It accepts what `serde_json::from_str::<Value>` accepts (RFC 8259: no comments, no trailing
//! commas, no lone surrogates in escapes, at most [`MAX_DEPTH`] nested arrays and objects) and
//! builds the same tree: integers as `u64`/`i64` where they fit, other numbers as `f64`, a repeated
//! key's last value. Errors use serde_json's words and say where: "trailing comma at line 1
//! column 9".

use std::fmt;

use serde_json::{Map, Number, Value};

use super::float_reading::parse_decimal;

/// Deepest nesting of arrays and objects accepted (serde_json's limit): deeper input is an
/// error, never a stack overflow.
pub const MAX_DEPTH: usize = 128;

/// Why a text is not JSON, and where (1-based line and column, in bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: &'static str,
    line: usize,
    column: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for JsonError {}

/// The tree of `text`.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut parser = Parser { text, at: 0, depth: 0 };
    let value = parser.value(true)?;
    parser.end()?;
    Ok(value)
}

/// `text` read as a `T` through its tree (`serde_json::from_value`): what `serde_json::from_str`
/// does, with this parser. The error says what and where.
pub fn read_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let tree = parse(text).map_err(|e| e.to_string())?;
    serde_json::from_value(tree).map_err(|e| e.to_string())
}

/// The members of `text`'s top-level object, each value as its exact text (checked, not built),
/// in order; `None` when `text` is JSON but not an object.
pub fn object_members(text: &str) -> Result<Option<Vec<(String, &str)>>, JsonError> {
    let mut parser = Parser { text, at: 0, depth: 0 };
    parser.skip_space();
    if parser.peek() != Some(b'{') {
        parser.value(false)?;
        parser.end()?;
        return Ok(None);
    }
    let mut members = Vec::new();
    parser.object(false, Some(&mut members))?;
    parser.end()?;
    Ok(Some(members))
}

/// Members of an object as their raw text, see [`object_members`].
type Spans<'m, 'a> = Option<&'m mut Vec<(String, &'a str)>>;

struct Parser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    #[inline(never)]
    fn fail<T>(&self, message: &'static str) -> Result<T, JsonError> {
        let before = &self.text.as_bytes()[..self.at.min(self.text.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count();
        Err(JsonError { message, line, column })
    }

    /// [`Self::fail`] at the character after this one (where serde_json reports it).
    fn fail_past<T>(&mut self, message: &'static str) -> Result<T, JsonError> {
        self.at += 1;
        self.fail(message)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn end(&mut self) -> Result<(), JsonError> {
        self.skip_space();
        match self.peek() {
            None => Ok(()),
            Some(_) => {
                self.at += 1;
                self.fail("trailing characters")
            }
        }
    }

    /// One value after optional space; with `build` false only checked (`Value::Null` returned).
    fn value(&mut self, build: bool) -> Result<Value, JsonError> {
        self.skip_space();
        let Some(first) = self.peek() else { return self.fail("EOF while parsing a value") };
        match first {
            b'"' => {
                let mut text = String::new();
                self.string(build.then_some(&mut text))?;
                Ok(if build { Value::String(text) } else { Value::Null })
            }
            b'{' => self.object(build, None),
            b'[' => self.array(build),
            b't' => self.word(b"true", Value::Bool(true)),
            b'f' => self.word(b"false", Value::Bool(false)),
            b'n' => self.word(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(build),
            _ => {
                self.at += 1;
                self.fail("expected value")
            }
        }
    }

    fn word(&mut self, word: &[u8], value: Value) -> Result<Value, JsonError> {
        for &expected in word {
            match self.peek() {
                None => return self.fail("EOF while parsing a value"),
                Some(b) if b == expected => self.at += 1,
                Some(_) => {
                    self.at += 1;
                    return self.fail("expected ident");
                }
            }
        }
        Ok(value)
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        self.at += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("recursion limit exceeded");
        }
        Ok(())
    }

    fn array(&mut self, build: bool) -> Result<Value, JsonError> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek().is_none() {
            return self.fail("EOF while parsing a list");
        }
        if self.peek() == Some(b']') {
            self.at += 1;
            self.depth -= 1;
            return Ok(if build { Value::Array(items) } else { Value::Null });
        }
        loop {
            let item = self.value(build)?;
            if build {
                items.push(item);
            }
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_space();
                    if self.peek() == Some(b']') {
                        return self.fail_past("trailing comma");
                    }
                }
                Some(b']') => break,
                Some(_) => return self.fail_past("expected `,` or `]`"),
                None => return self.fail("EOF while parsing a list"),
            }
        }
        self.at += 1;
        self.depth -= 1;
        Ok(if build { Value::Array(items) } else { Value::Null })
    }

    /// An object; with `spans`, its members' values are checked and listed as raw text.
    fn object(&mut self, build: bool, mut spans: Spans<'_, 'a>) -> Result<Value, JsonError> {
        self.enter()?;
        let mut fields = Map::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            self.depth -= 1;
            return Ok(if build { Value::Object(fields) } else { Value::Null });
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                Some(_) => return self.fail_past("key must be a string"),
                None => return self.fail("EOF while parsing an object"),
            }
            let mut key = String::new();
            self.string((build || spans.is_some()).then_some(&mut key))?;
            self.skip_space();
            match self.peek() {
                Some(b':') => self.at += 1,
                Some(_) => return self.fail_past("expected `:`"),
                None => return self.fail("EOF while parsing an object"),
            }
            self.skip_space();
            let start = self.at;
            let value = self.value(build)?;
            if let Some(spans) = spans.as_deref_mut() {
                spans.push((key, &self.text[start..self.at]));
            } else if build {
                fields.insert(key, value);
            }
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_space();
                    if self.peek() == Some(b'}') {
                        return self.fail_past("trailing comma");
                    }
                }
                Some(b'}') => break,
                Some(_) => return self.fail_past("expected `,` or `}`"),
                None => return self.fail("EOF while parsing an object"),
            }
        }
        self.at += 1;
        self.depth -= 1;
        Ok(if build { Value::Object(fields) } else { Value::Null })
    }

    /// A string from its opening quote, decoded into `out` when given.
    fn string(&mut self, mut out: Option<&mut String>) -> Result<(), JsonError> {
        self.at += 1;
        loop {
            let run_start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            if let Some(out) = out.as_deref_mut() {
                // Only ASCII bytes end a run, so both ends are on character boundaries.
                out.push_str(&self.text[run_start..self.at]);
            }
            match self.peek() {
                None => return self.fail("EOF while parsing a string"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let decoded = self.escape()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(decoded);
                    }
                }
                Some(_) => {
                    self.at += 1;
                    return self.fail("control character (\\u0000-\\u001F) found while parsing a string");
                }
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(b) = self.peek() else { return self.fail("EOF while parsing a string") };
        self.at += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        for expected in [b'\\', b'u'] {
                            match self.peek() {
                                None => return self.fail("EOF while parsing a string"),
                                Some(b) if b == expected => self.at += 1,
                                Some(_) => return self.fail_past("unexpected end of hex escape"),
                            }
                        }
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return self.fail("lone leading surrogate in hex escape");
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).map_or_else(|| self.fail("invalid unicode code point"), Ok)?
                    }
                    0xDC00..=0xDFFF => return self.fail("lone leading surrogate in hex escape"),
                    _ => char::from_u32(first).map_or_else(|| self.fail("invalid unicode code point"), Ok)?,
                }
            }
            _ => return self.fail("invalid escape"),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(&digits) = self.text.as_bytes().get(self.at..).and_then(|rest| rest.first_chunk::<4>()) else {
            self.at = self.text.len();
            return self.fail("EOF while parsing a string");
        };
        self.at += 4;
        let mut code = 0;
        for b in digits {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return self.fail("invalid escape"),
            };
            code = code * 16 + u32::from(digit);
        }
        Ok(code)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number: integers as `u64`/`i64` where they fit (serde_json's choice), others as `f64`.
    fn number(&mut self, build: bool) -> Result<Value, JsonError> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return self.fail_past("invalid number");
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            Some(_) => {
                self.at += 1;
                return self.fail("invalid number");
            }
            None => return self.fail("EOF while parsing a value"),
        }
        let mut whole = true;
        if self.peek() == Some(b'.') {
            whole = false;
            self.at += 1;
            if self.digits() == 0 {
                return self.number_error();
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            whole = false;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return self.number_error();
            }
        }
        if !build {
            return Ok(Value::Null);
        }
        let text = &self.text[start..self.at];
        if whole {
            let integer = if negative {
                text.parse::<i64>().ok().filter(|&n| n != 0).map(Number::from)
            } else {
                text.parse::<u64>().ok().map(Number::from)
            };
            if let Some(integer) = integer {
                return Ok(Value::Number(integer));
            }
        }
        let float = Number::from_f64(parse_decimal(text));
        float.map_or_else(|| self.fail("number out of range"), |n| Ok(Value::Number(n)))
    }

    fn number_error<T>(&mut self) -> Result<T, JsonError> {
        if self.peek().is_none() {
            return self.fail("EOF while parsing a value");
        }
        self.at += 1;
        self.fail("invalid number")
    }
}

#[cfg(test)]
#[path = "json_reading_tests.rs"]
mod tests;
