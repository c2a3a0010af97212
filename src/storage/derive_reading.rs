//! Reading a JSON tree (`serde_json::Value`) exactly as a serde derive reads it through
//! `serde_json::from_value`, with serde_json's words for what is wrong: for the arguments whose
//! errors JS sees word for word (rank contexts, a server answer's plain columns).
//!
//! Each derive is generic code per type and brings serde's error machinery with it, which formats
//! floats through `core::fmt` (~14 KB of the core module). These readers are plain functions: a
//! struct is an object (fields in any order, unknown ones ignored, each read when met) or an array
//! of its fields in order, as the derive's map and sequence visitors read them; numbers read as
//! serde's primitive visitors read them (an integer type takes whole numbers in range, a float
//! type any number); `null` is `None` where a value is optional. The words (`invalid type: integer
//! `7`, expected a string`, `missing field `id``, `unknown variant `x`, expected one of ...`) are
//! serde_json's, floats in them written as serde_json writes them (`Number`'s `Display`).

use std::fmt::{self, Write};

use serde::de::Unexpected;
use serde_json::{Map, Value};

use crate::float_text::Decimal;

/// What serde_json would have said, as its error's `Display` (a tree's errors have no position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// serde_json's words for `value` where another type was expected.
#[inline(never)]
fn unexpected(value: &Value, out: &mut String) {
    let _ = match value {
        Value::Null => out.write_str("null"),
        Value::Bool(flag) => write!(out, "boolean `{flag}`"),
        Value::Number(n) if n.is_f64() => write!(out, "floating point `{n}`"),
        Value::Number(n) => write!(out, "integer `{n}`"),
        Value::String(text) => write!(out, "string {text:?}"),
        Value::Array(_) => out.write_str("sequence"),
        Value::Object(_) => out.write_str("map"),
    };
}

/// "invalid type: {what `value` is}, expected {expected}".
#[inline(never)]
pub fn invalid_type(value: &Value, expected: &str) -> Mismatch {
    let mut message = String::from("invalid type: ");
    unexpected(value, &mut message);
    message.push_str(", expected ");
    message.push_str(expected);
    Mismatch(message)
}

/// "invalid value: {what `value` is}, expected {expected}".
#[inline(never)]
fn invalid_value(value: &Value, expected: &str) -> Mismatch {
    let mut message = String::from("invalid value: ");
    unexpected(value, &mut message);
    message.push_str(", expected ");
    message.push_str(expected);
    Mismatch(message)
}

#[inline(never)]
fn invalid_length(len: usize, expected: &str) -> Mismatch {
    Mismatch(format!("invalid length {len}, expected {expected}"))
}

/// A string, borrowed from the tree.
#[inline(never)]
pub fn string(value: &Value) -> Result<&str, Mismatch> {
    value.as_str().ok_or_else(|| invalid_type(value, "a string"))
}

pub fn owned_string(value: &Value) -> Result<String, Mismatch> {
    string(value).map(str::to_owned)
}

#[inline(never)]
pub fn flag(value: &Value) -> Result<bool, Mismatch> {
    value.as_bool().ok_or_else(|| invalid_type(value, "a boolean"))
}

/// A whole number in `0..=max`, named `expected` ("u32") in the error; a float is of another type.
#[inline(never)]
fn whole(value: &Value, max: u64, expected: &str) -> Result<u64, Mismatch> {
    match value {
        Value::Number(n) if !n.is_f64() => match n.as_u64() {
            Some(whole) if whole <= max => Ok(whole),
            _ => Err(invalid_value(value, expected)),
        },
        _ => Err(invalid_type(value, expected)),
    }
}

pub fn whole_u32(value: &Value) -> Result<u32, Mismatch> {
    whole(value, u64::from(u32::MAX), "u32").map(|n| n as u32)
}

/// A whole number that fits this platform's `usize` (32 bits in wasm).
pub fn whole_usize(value: &Value) -> Result<usize, Mismatch> {
    whole(value, usize::MAX as u64, "usize").map(|n| n as usize)
}

/// Any number, as serde's `f64` visitor takes it.
#[inline(never)]
pub fn number(value: &Value) -> Result<f64, Mismatch> {
    value.as_f64().ok_or_else(|| invalid_type(value, "f64"))
}

/// Any number, as serde's `f32` visitor takes it: the integer or float, cast.
#[inline(never)]
pub fn single(value: &Value) -> Result<f32, Mismatch> {
    match value.as_number() {
        Some(n) => Ok(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u as f32,
            (None, Some(i)) => i as f32,
            _ => n.as_f64().unwrap_or_default() as f32,
        }),
        None => Err(invalid_type(value, "f32")),
    }
}

/// `null` as `None`, else what `read` reads.
pub fn nullable<'v, T>(
    value: &'v Value,
    read: impl FnOnce(&'v Value) -> Result<T, Mismatch>,
) -> Result<Option<T>, Mismatch> {
    match value {
        Value::Null => Ok(None),
        value => read(value).map(Some),
    }
}

/// An array, each entry read by `read`.
pub fn list<'v, T>(value: &'v Value, read: impl FnMut(&'v Value) -> Result<T, Mismatch>) -> Result<Vec<T>, Mismatch> {
    entries(value)?.iter().map(read).collect()
}

#[inline(never)]
fn entries(value: &Value) -> Result<&[Value], Mismatch> {
    value.as_array().map(Vec::as_slice).ok_or_else(|| invalid_type(value, "a sequence"))
}

pub fn strings(value: &Value) -> Result<Vec<String>, Mismatch> {
    list(value, owned_string)
}

/// A unit variant by its name, as serde reads an enum of unit variants from the tree: the name,
/// or an object of one entry, the name, whose value is `null`. Gives the variant's index in
/// `variants`.
#[inline(never)]
pub fn unit_variant(value: &Value, variants: &[&str]) -> Result<usize, Mismatch> {
    let (name, inner) = match value {
        Value::String(name) => (name, None),
        Value::Object(fields) if fields.len() == 1 => match fields.iter().next() {
            Some((name, inner)) => (name, Some(inner)),
            None => return Err(invalid_value(value, "map with a single key")),
        },
        Value::Object(_) => return Err(invalid_value(value, "map with a single key")),
        other => return Err(invalid_type(other, "string or map")),
    };
    let Some(index) = variants.iter().position(|known| known == name) else {
        let mut message = format!("unknown variant `{name}`, expected ");
        one_of(variants, &mut message);
        return Err(Mismatch(message));
    };
    match inner {
        None | Some(Value::Null) => Ok(index),
        Some(other) => Err(invalid_type(other, "unit")),
    }
}

/// serde's list of the expected names.
fn one_of(names: &[&str], out: &mut String) {
    let _ = match names {
        [] => out.write_str("there are no variants"),
        [only] => write!(out, "`{only}`"),
        [first, second] => write!(out, "`{first}` or `{second}`"),
        _ => {
            out.push_str("one of ");
            for (index, name) in names.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "`{name}`");
            }
            Ok(())
        }
    };
}

/// The fields a struct's value set: which ones, and whether it came as an array (which words a
/// missing field differently).
#[derive(Debug, Clone, Copy)]
pub struct Present<'e> {
    seen: u32,
    /// `Some(expected)` for an array: "struct Pin".
    array_of: Option<&'e str>,
    count: usize,
}

impl Present<'_> {
    /// `slot` (read when the field was met), or serde's error for a field that must be set.
    pub fn required<T>(&self, slot: Option<T>, index: usize, name: &str) -> Result<T, Mismatch> {
        match slot {
            Some(value) => Ok(value),
            None => Err(match self.array_of {
                Some(expected) => {
                    let plural = if self.count == 1 { "" } else { "s" };
                    invalid_length(index, &format!("{expected} with {} element{plural}", self.count))
                }
                None => Mismatch(format!("missing field `{name}`")),
            }),
        }
    }

    /// Whether field `index` was set.
    pub fn has(&self, index: usize) -> bool {
        self.seen & (1 << index) != 0
    }
}

/// Reads a struct of the fields `names` (at most 32) as the derive does: `read(index, value)` for
/// each field the object sets, in its order, unknown keys ignored; or for each entry of an array,
/// field after field (more entries than fields is an error). `expected` names the struct
/// ("struct Pin"). What was not set is for the caller: a default, or [`Present::required`].
#[inline(never)]
pub fn fields<'e>(
    value: &Value,
    expected: &'e str,
    names: &[&str],
    mut read: impl FnMut(usize, &Value) -> Result<(), Mismatch>,
) -> Result<Present<'e>, Mismatch> {
    let mut seen = 0u32;
    match value {
        Value::Object(members) => {
            read_members(members, names, &mut seen, &mut read)?;
            Ok(Present { seen, array_of: None, count: names.len() })
        }
        Value::Array(entries) => {
            for (index, entry) in entries.iter().enumerate().take(names.len()) {
                read(index, entry)?;
                seen |= 1 << index;
            }
            if entries.len() > names.len() {
                return Err(invalid_length(entries.len(), "fewer elements in array"));
            }
            Ok(Present { seen, array_of: Some(expected), count: names.len() })
        }
        other => Err(invalid_type(other, expected)),
    }
}

fn read_members(
    members: &Map<String, Value>,
    names: &[&str],
    seen: &mut u32,
    read: &mut impl FnMut(usize, &Value) -> Result<(), Mismatch>,
) -> Result<(), Mismatch> {
    for (key, entry) in members {
        if let Some(index) = names.iter().position(|name| name == key) {
            read(index, entry)?;
            *seen |= 1 << index;
        }
    }
    Ok(())
}

/// serde's words for an unexpected value, as its `Display` writes them, floats written by
/// `float_text`: serde's own `Display` brings `core::fmt`'s float code into the module.
pub struct SerdeWords<'a>(pub Unexpected<'a>);

impl fmt::Display for SerdeWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Bool(flag) => write!(f, "boolean `{flag}`"),
            Unexpected::Unsigned(whole) => write!(f, "integer `{whole}`"),
            Unexpected::Signed(whole) => write!(f, "integer `{whole}`"),
            // serde adds ".0" to a finite float written without a point.
            Unexpected::Float(number) => {
                let text = Decimal(number).to_string();
                let point = if number.is_finite() && !text.contains('.') { ".0" } else { "" };
                write!(f, "floating point `{text}{point}`")
            }
            Unexpected::Char(c) => write!(f, "character `{c}`"),
            Unexpected::Str(text) => write!(f, "string {text:?}"),
            Unexpected::Bytes(_) => f.write_str("byte array"),
            Unexpected::Unit => f.write_str("unit value"),
            Unexpected::Option => f.write_str("Option value"),
            Unexpected::NewtypeStruct => f.write_str("newtype struct"),
            Unexpected::Seq => f.write_str("sequence"),
            Unexpected::Map => f.write_str("map"),
            Unexpected::Enum => f.write_str("enum"),
            Unexpected::UnitVariant => f.write_str("unit variant"),
            Unexpected::NewtypeVariant => f.write_str("newtype variant"),
            Unexpected::TupleVariant => f.write_str("tuple variant"),
            Unexpected::StructVariant => f.write_str("struct variant"),
            Unexpected::Other(other) => f.write_str(other),
        }
    }
}

#[cfg(test)]
#[path = "derive_reading_tests.rs"]
mod tests;
