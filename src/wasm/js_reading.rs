//! Reading plain data straight off a JS value, field by field, for the core module's arguments
//! (`core/input_reading.rs`, `core/event_input.rs`). No generic deserializer: each reader asks JS
//! for one field (`Reflect.get`) and checks its type, so the module carries only the readers its
//! calls use.
//!
//! An argument meets [`checked_object`] first: an object within the size limits of
//! `input_limits`, checked in JS before anything of it is read. A field set to `undefined` is an
//! absent field. The problems say what serde says for the same input (`missing field `itemId``,
//! `invalid type: integer `7`, expected a string`, `unknown field `colour`, expected ...`), since
//! [`Problem`] is a [`serde::de::Error`].

use std::fmt;

use js_sys::{Array, JsString, Object, Reflect};
use serde::de::{self, Unexpected};
use wasm_bindgen::{JsCast, JsError, JsValue};

use super::input_limits::{check_size, MAX_ENTRIES, MAX_STRING_CHARS};
use super::js_errors::thrown;
use super::js_values::describe_type;
use crate::error_code::ErrorCode;
use crate::storage::derive_reading::SerdeWords;

/// What was wrong with a value, in words.
#[derive(Debug)]
pub struct Problem(String);

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Problem {}

impl de::Error for Problem {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Problem(message.to_string())
    }

    /// As serde_json words it: JS's `null` is "null", not serde's "unit value".
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        match unexpected {
            Unexpected::Unit => Problem(format!("invalid type: null, expected {expected}")),
            other => Problem(format!("invalid type: {}, expected {expected}", SerdeWords(other))),
        }
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Problem(format!("invalid value: {}, expected {expected}", SerdeWords(unexpected)))
    }
}

impl Problem {
    /// The error JS sees: "invalid {what}: {problem}", thrown with `code`.
    pub fn thrown(&self, code: ErrorCode, what: &str) -> JsError {
        thrown(code, &format!("invalid {what}: {self}"))
    }

    /// A key no field of the value has, at `path`; for arguments that refuse typos.
    pub fn unknown_field_at(path: &str) -> Problem {
        Problem(format!("unknown field `{path}`; check its spelling in the documentation"))
    }
}

/// `value` as the argument `what` to read: an object (not an array) within the size limits.
pub fn checked_object(value: &JsValue, code: ErrorCode, what: &str) -> Result<(), JsError> {
    if !is_object(value) {
        let message = format!("invalid {what}: expected an object, got {}", describe_type(value));
        return Err(thrown(code, &message));
    }
    check_size(value, code, what)
}

/// An object that is not an array.
pub fn is_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

/// The field `name` of `object` (its own or its prototype's, as a getter of a class gives it);
/// `None` when it is absent or `undefined`.
pub fn field(object: &JsValue, name: &str) -> Option<JsValue> {
    let value = Reflect::get(object, &JsValue::from_str(name)).ok()?;
    (!value.is_undefined()).then_some(value)
}

/// The fields `object` sets, in its key order: own enumerable keys whose value is not `undefined`.
pub fn present_fields(object: &JsValue) -> Vec<(String, JsValue)> {
    let Some(plain) = object.dyn_ref::<Object>() else {
        return Vec::new();
    };
    let keys = Object::keys(plain);
    let mut fields = Vec::with_capacity(keys.length() as usize);
    for key in keys.iter() {
        let Ok(value) = Reflect::get(object, &key) else { continue };
        if let (false, Some(name)) = (value.is_undefined(), key.as_string()) {
            fields.push((name, value));
        }
    }
    fields
}

/// The first field `object` sets that is not in `known`.
pub fn first_unknown(object: &JsValue, known: &[&str]) -> Option<String> {
    present_fields(object).into_iter().map(|(name, _)| name).find(|name| !known.contains(&name.as_str()))
}

/// The first field of `object` that is not in `known`, as `prefix.name`.
pub fn unknown_field(object: &JsValue, known: &[&str], prefix: &str) -> Result<(), Problem> {
    match first_unknown(object, known) {
        None => Ok(()),
        Some(name) if prefix.is_empty() => Err(Problem::unknown_field_at(&name)),
        Some(name) => Err(Problem::unknown_field_at(&format!("{prefix}.{name}"))),
    }
}

/// serde's "invalid type: {what value is}, expected {expected}".
pub fn invalid_type(value: &JsValue, expected: &str) -> Problem {
    let text = value.as_string();
    let unexpected = if let Some(text) = &text {
        Unexpected::Str(text)
    } else if let Some(number) = value.as_f64() {
        match whole_number(number) {
            Some(whole) if whole < 0 => Unexpected::Signed(whole),
            Some(whole) => Unexpected::Unsigned(whole as u64),
            None => Unexpected::Float(number),
        }
    } else if let Some(flag) = value.as_bool() {
        Unexpected::Bool(flag)
    } else if value.is_null() {
        Unexpected::Unit
    } else if Array::is_array(value) {
        Unexpected::Seq
    } else if value.is_object() {
        Unexpected::Map
    } else if value.is_undefined() {
        Unexpected::Other("undefined")
    } else {
        Unexpected::Other("a value of another type")
    };
    de::Error::invalid_type(unexpected, &expected)
}

/// `number` as an integer when it is one JS can count exactly.
fn whole_number(number: f64) -> Option<i64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    (number.fract() == 0.0 && number.abs() <= MAX_SAFE).then_some(number as i64)
}

/// A string, copied only when it is within [`MAX_STRING_CHARS`] (the size check saw the
/// object's own fields; this also holds for one a prototype's getter gives).
pub fn text(value: &JsValue) -> Result<String, Problem> {
    let Some(string) = value.dyn_ref::<JsString>() else {
        return Err(invalid_type(value, "a string"));
    };
    let len = string.length();
    if len > MAX_STRING_CHARS {
        return Err(Problem(format!("a string of {len} characters (at most {MAX_STRING_CHARS})")));
    }
    Ok(String::from(string))
}

pub fn number(value: &JsValue) -> Result<f64, Problem> {
    value.as_f64().ok_or_else(|| invalid_type(value, "f64"))
}

pub fn flag(value: &JsValue) -> Result<bool, Problem> {
    value.as_bool().ok_or_else(|| invalid_type(value, "a boolean"))
}

/// A whole number in `0..=max`, named `expected` ("u32") in the error.
fn whole(value: &JsValue, max: u64, expected: &str) -> Result<u64, Problem> {
    let Some(number) = value.as_f64() else {
        return Err(invalid_type(value, expected));
    };
    match whole_number(number) {
        Some(whole) if (0..=max as i64).contains(&whole) => Ok(whole as u64),
        Some(whole) if whole < 0 => Err(de::Error::invalid_value(Unexpected::Signed(whole), &expected)),
        Some(whole) => Err(de::Error::invalid_value(Unexpected::Unsigned(whole as u64), &expected)),
        None => Err(invalid_type(value, expected)),
    }
}

pub fn whole_u32(value: &JsValue) -> Result<u32, Problem> {
    whole(value, u64::from(u32::MAX), "u32").map(|n| n as u32)
}

pub fn whole_u8(value: &JsValue) -> Result<u8, Problem> {
    whole(value, u64::from(u8::MAX), "u8").map(|n| n as u8)
}

/// `None` for `null`, else the value read by `read`.
pub fn nullable<T>(value: &JsValue, read: impl FnOnce(&JsValue) -> Result<T, Problem>) -> Result<Option<T>, Problem> {
    if value.is_null() {
        Ok(None)
    } else {
        read(value).map(Some)
    }
}

/// An array (not an array-like: its length is checked before any entry is read) of entries
/// read by `read`.
pub fn list<T>(value: &JsValue, mut read: impl FnMut(&JsValue) -> Result<T, Problem>) -> Result<Vec<T>, Problem> {
    let Some(array) = value.dyn_ref::<Array>() else {
        return Err(invalid_type(value, "a sequence"));
    };
    let len = array.length();
    if len > MAX_ENTRIES {
        return Err(Problem(format!("an array of {len} entries (at most {MAX_ENTRIES})")));
    }
    (0..len).map(|index| read(&array.get(index))).collect()
}

pub fn texts(value: &JsValue) -> Result<Vec<String>, Problem> {
    list(value, text)
}

/// Reads the field `name` of `object` into `slot` when it is set (else `slot` keeps its default).
pub fn set<T>(
    object: &JsValue,
    name: &str,
    slot: &mut T,
    read: impl FnOnce(&JsValue) -> Result<T, Problem>,
) -> Result<(), Problem> {
    if let Some(value) = field(object, name) {
        *slot = read(&value)?;
    }
    Ok(())
}

/// The field `name`, required: serde's "missing field" when it is absent.
pub fn required<T>(
    object: &JsValue,
    name: &'static str,
    read: impl FnOnce(&JsValue) -> Result<T, Problem>,
) -> Result<T, Problem> {
    match field(object, name) {
        Some(value) => read(&value),
        None => Err(de::Error::missing_field(name)),
    }
}
