//! Converting the core's serde types to and from JS values through serde-wasm-bindgen, with errors
//! that name what was wrong: the on-demand module's arguments and results. (The core module reads
//! its own field by field, `js_reading`, and writes JSON text, `core/json_results`.)

use js_sys::Array;
#[cfg(feature = "on-demand-module")]
use js_sys::{Object, Reflect};
#[cfg(feature = "on-demand-module")]
use serde::{de::DeserializeOwned, Serialize};
#[cfg(feature = "on-demand-module")]
use tsify::{Ts, Tsify};
use wasm_bindgen::JsValue;
#[cfg(feature = "on-demand-module")]
use wasm_bindgen::{JsCast, JsError};

#[cfg(feature = "on-demand-module")]
use super::input_limits::checked_plain;
#[cfg(feature = "on-demand-module")]
use super::js_errors::thrown;
#[cfg(feature = "on-demand-module")]
use crate::error_code::ErrorCode;

#[cfg(feature = "on-demand-module")]
/// Reads a typed JS argument, which must be an object within the size limits of
/// `input_limits` (checked before anything of it is copied). `what` names it in the error,
/// thrown with `code`: "invalid event: missing field `itemId`". A field set to `undefined` is
/// an absent field.
pub fn from_js<T>(value: &Ts<T>, code: ErrorCode, what: &str) -> Result<T, JsError>
where
    T: Tsify + DeserializeOwned,
{
    parse(plain_value(value, code, what)?, code, what)
}

#[cfg(feature = "on-demand-module")]
/// The argument to read, checked: an object within the limits, without its `undefined` fields.
fn plain_value<T: Tsify>(value: &Ts<T>, code: ErrorCode, what: &str) -> Result<JsValue, JsError> {
    let value = value.js_value();
    if !value.is_object() || Array::is_array(&value) {
        let message = format!("invalid {what}: expected an object, got {}", describe_type(&value));
        return Err(thrown(code, &message));
    }
    Ok(checked_plain(&value, code, what)?.unwrap_or(value))
}

#[cfg(feature = "on-demand-module")]
fn parse<T: DeserializeOwned>(value: JsValue, code: ErrorCode, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| thrown(code, &format!("invalid {what}: {e}")))
}

#[cfg(feature = "on-demand-module")]
/// The entries of a checked array (see `input_limits::checked_array`), typed for [`from_js`].
pub fn entries<'a, T: Tsify + 'a>(array: &'a Array) -> impl Iterator<Item = Ts<T>> + 'a {
    array.iter().map(Ts::new_unchecked)
}

pub fn describe_type(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_string()
    } else if Array::is_array(value) {
        "an array".to_string()
    } else {
        value.js_typeof().as_string().unwrap_or_else(|| "a value of unknown type".to_string())
    }
}

#[cfg(feature = "on-demand-module")]
/// Like [`from_js`], and also rejects fields the type does not have, at any depth, so a typo such
/// as `sensitiveCategory` is an error instead of a silently ignored setting. (serde-wasm-bindgen
/// reads only the fields a struct declares, so `deny_unknown_fields` alone does not catch these.)
pub fn from_js_strict<T>(value: &Ts<T>, code: ErrorCode, what: &str) -> Result<T, JsError>
where
    T: Tsify + DeserializeOwned + Serialize,
{
    let given = plain_value(value, code, what)?;
    let parsed: T = parse(given.clone(), code, what)?;
    let known = serde_wasm_bindgen::to_value(&parsed).map_err(|e| thrown(code, &format!("invalid {what}: {e}")))?;
    if let Some(path) = unknown_field(&given, &known, "") {
        let message = format!("invalid {what}: unknown field `{path}`; check its spelling in the documentation");
        return Err(thrown(code, &message));
    }
    Ok(parsed)
}

#[cfg(feature = "on-demand-module")]
fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value) && value.dyn_ref::<js_sys::Function>().is_none()
}

#[cfg(feature = "on-demand-module")]
/// The path of the first key of `given` that `known` (the parsed value written back) lacks.
fn unknown_field(given: &JsValue, known: &JsValue, path: &str) -> Option<String> {
    if !is_plain_object(given) || !is_plain_object(known) {
        return None;
    }
    let given_object: &Object = given.unchecked_ref();
    for key in Object::keys(given_object).iter() {
        let name = key.as_string().unwrap_or_default();
        let here = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        let has_key = Reflect::has(known, &key).unwrap_or(false);
        if !has_key {
            return Some(here);
        }
        let inner_given = Reflect::get(given, &key).ok()?;
        let inner_known = Reflect::get(known, &key).ok()?;
        if let Some(found) = unknown_field(&inner_given, &inner_known, &here) {
            return Some(found);
        }
    }
    None
}

#[cfg(feature = "on-demand-module")]
/// Turns a core value into its typed JS form (failing only on a bug: every core value converts).
pub fn to_js<T>(value: &T) -> Result<Ts<T>, JsError>
where
    T: Tsify + Serialize,
{
    Ts::from_rust(value).map_err(|e| thrown(ErrorCode::Internal, &e.to_string()))
}
