//! Converting the core's serde types to and from JS values, with errors that name what was wrong.

use js_sys::{Array, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsError, JsValue};

use super::input_limits::check_size;
use super::js_errors::thrown;
use crate::error_code::ErrorCode;

// A field set to `undefined` means the field is absent, as JS (and TypeScript's
// `exactOptionalPropertyTypes` with `?: T | undefined`) has it; serde-wasm-bindgen would read it
// as a unit value ("invalid type: unit value, expected f64"). So plain objects lose such keys
// first: only an argument that has one is copied, and only the objects on the way to one. The
// size check ran before, so the walks are bounded.
#[wasm_bindgen(inline_js = r#"
export function hasUndefined(value) {
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some(hasUndefined);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.keys(value).some((key) => value[key] === undefined || hasUndefined(value[key]));
}
export function withoutUndefined(value) {
  const plain = (v) => { const proto = Object.getPrototypeOf(v); return proto === Object.prototype || proto === null; };
  function clean(v) {
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return v;
    let copy = null;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const inner = clean(v[i]);
        if (inner !== v[i]) { copy ??= v.slice(); copy[i] = inner; }
      }
      return copy ?? v;
    }
    if (!plain(v)) return v;
    for (const key of Object.keys(v)) {
      const inner = v[key];
      if (inner === undefined) { copy ??= { ...v }; delete copy[key]; continue; }
      const cleaned = clean(inner);
      if (cleaned !== inner) { copy ??= { ...v }; copy[key] = cleaned; }
    }
    return copy ?? v;
  }
  return clean(value);
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = hasUndefined)]
    fn has_undefined(value: &JsValue) -> bool;
    #[wasm_bindgen(js_name = withoutUndefined)]
    fn without_undefined(value: &JsValue) -> JsValue;
}

/// Reads a typed JS argument, which must be an object within the size limits of
/// `input_limits` (checked before anything of it is copied). `what` names it in the error,
/// thrown with `code`: "invalid event: missing field `itemId`". A field set to `undefined` is
/// an absent field.
pub fn from_js<T>(value: &Ts<T>, code: ErrorCode, what: &str) -> Result<T, JsError>
where
    T: Tsify + DeserializeOwned,
{
    read(value, code, what).map(|(parsed, _)| parsed)
}

/// [`from_js`], also handing back the value read (without its `undefined` fields).
fn read<T>(value: &Ts<T>, code: ErrorCode, what: &str) -> Result<(T, JsValue), JsError>
where
    T: Tsify + DeserializeOwned,
{
    let value = value.js_value();
    if !value.is_object() || Array::is_array(&value) {
        let message = format!("invalid {what}: expected an object, got {}", describe_type(&value));
        return Err(thrown(code, &message));
    }
    check_size(&value, code, what)?;
    let value = if has_undefined(&value) { without_undefined(&value) } else { value };
    let parsed =
        serde_wasm_bindgen::from_value(value.clone()).map_err(|e| thrown(code, &format!("invalid {what}: {e}")))?;
    Ok((parsed, value))
}

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

/// Like [`from_js`], and also rejects fields the type does not have, at any depth, so a typo such
/// as `sensitiveCategory` is an error instead of a silently ignored setting. (serde-wasm-bindgen
/// reads only the fields a struct declares, so `deny_unknown_fields` alone does not catch these.)
pub fn from_js_strict<T>(value: &Ts<T>, code: ErrorCode, what: &str) -> Result<T, JsError>
where
    T: Tsify + DeserializeOwned + Serialize,
{
    let (parsed, given) = read(value, code, what)?;
    let known = serde_wasm_bindgen::to_value(&parsed).map_err(|e| thrown(code, &format!("invalid {what}: {e}")))?;
    if let Some(path) = unknown_field(&given, &known, "") {
        let message = format!("invalid {what}: unknown field `{path}`; check its spelling in the documentation");
        return Err(thrown(code, &message));
    }
    Ok(parsed)
}

fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value) && value.dyn_ref::<js_sys::Function>().is_none()
}

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

/// Turns a core value into its typed JS form (failing only on a bug: every core value converts).
pub fn to_js<T>(value: &T) -> Result<Ts<T>, JsError>
where
    T: Tsify + Serialize,
{
    Ts::from_rust(value).map_err(|e| thrown(ErrorCode::Internal, &e.to_string()))
}
