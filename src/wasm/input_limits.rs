//! Sizes checked before anything of a JS argument is copied into wasm memory.
//!
//! wasm-bindgen's glue copies a `Vec` parameter into wasm by putting every entry into the
//! module's table of JS references and a string by allocating its bytes: a `{ length: 1e7 }` or a
//! 10 MB string made the table grow past the browser's limit and trapped the module for the
//! whole page. So no export takes a `Vec` or a string; each takes the JS value and checks it
//! here first, in JS (one call, no copy), against limits no honest call reaches:
//!
//! | limit | value |
//! | --- | --- |
//! | characters in one string (or object key) | [`MAX_STRING_CHARS`] |
//! | characters of all strings of one argument | [`MAX_TOTAL_CHARS`] |
//! | entries of one array, `Map`, `Set` or typed array; keys of one object | [`MAX_ENTRIES`] |
//! | values in one argument (every string, number, object...) | [`MAX_VALUES`] |
//! | nesting | [`MAX_DEPTH`] levels |
//!
//! Array arguments also meet their call's own limit (1000 items, 32 sections, 64 offers, 16
//! variants) before any entry is read; a server answer has its own (`core/answer_limits.rs`).
//! Strings the modules pass each other (JSON of events, configs, shoppers; ids) and weights
//! meet [`checked_text`] and [`checked_weights`].
//! Other iterables (generators) are refused: serde would read them without end. A getter that
//! throws while the check reads it refuses the argument too.

use js_sys::Array;
#[cfg(feature = "on-demand-module")]
use js_sys::{Float32Array, JsString};
use wasm_bindgen::prelude::*;

use super::js_errors::thrown;
use crate::error_code::ErrorCode;

/// Longest string (or object key) of an argument, in UTF-16 units (JS `length`).
pub const MAX_STRING_CHARS: u32 = 65_536;
/// Characters of all strings and keys of one argument together.
pub const MAX_TOTAL_CHARS: u32 = 4_194_304;
/// Longest JSON text one module hands the other (an event, a config, a shopper): above what any
/// argument within the other limits encodes to, escapes included.
#[cfg(feature = "on-demand-module")]
pub const MAX_JSON_CHARS: u32 = 32 * 1024 * 1024;
/// Most entries of one array, `Map`, `Set` or typed array, and most keys of one object.
pub const MAX_ENTRIES: u32 = 10_000;
/// Most values in one argument, counting every string, number, array and object.
pub const MAX_VALUES: u32 = 200_000;
/// Deepest nesting of arrays and objects.
pub const MAX_DEPTH: u32 = 32;

#[wasm_bindgen(inline_js = r#"
export function sizeProblem(value, maxString, maxTotal, maxEntries, maxValues, maxDepth) {
  let values = 0;
  let sawUndefined = false;
  let chars = 0;
  const path = [];
  const where = () => (path.length === 0 ? "it" : path.join("").replace(/^\./, ""));
  const label = (key) => (key.length > 40 ? key.slice(0, 40) + "..." : key);
  const text = (s) => {
    chars += s.length;
    if (s.length > maxString) return `${where()} is a string of ${s.length} characters (at most ${maxString})`;
    if (chars > maxTotal) return `its strings hold more than ${maxTotal} characters in all`;
    return null;
  };
  const entries = (n) => (n > maxEntries ? `${where()} has ${n} entries (at most ${maxEntries})` : null);
  function walk(v, depth) {
    if (++values > maxValues) return `it holds more than ${maxValues} values`;
    if (typeof v === "string") return text(v);
    if (v === null || typeof v !== "object") return null;
    if (depth >= maxDepth) return `${where()} is nested deeper than ${maxDepth} levels`;
    if (ArrayBuffer.isView(v)) return entries(typeof v.length === "number" ? v.length : v.byteLength);
    if (Array.isArray(v)) {
      const problem = entries(v.length);
      if (problem) return problem;
      for (let i = 0; i < v.length; i++) {
        path.push(`[${i}]`);
        const inner = walk(v[i], depth + 1);
        path.pop();
        if (inner) return inner;
      }
      return null;
    }
    if (v instanceof Map || v instanceof Set) {
      const problem = entries(v.size);
      if (problem) return problem;
      for (const [key, inner] of v.entries()) {
        const found = walk(key, depth + 1) || walk(inner, depth + 1);
        if (found) return found;
      }
      return null;
    }
    if (typeof v[Symbol.iterator] === "function") return `${where()} is an iterable object: pass a plain array`;
    const keys = Object.keys(v);
    const problem = entries(keys.length);
    if (problem) return problem;
    for (const key of keys) {
      if (v[key] === undefined) sawUndefined = true;
      const long = text(key);
      if (long) return `${where()} has a key of ${key.length} characters (at most ${maxString})`;
      path.push("." + label(key));
      const inner = walk(v[key], depth + 1);
      path.pop();
      if (inner) return inner;
    }
    return null;
  }
  const problem = walk(value, 0);
  return problem ?? (sawUndefined ? withoutUndefined(value) : null);
}
// A field set to `undefined` is an absent field (as JS and TypeScript's `?: T | undefined` have
// it; serde-wasm-bindgen would read a unit value): a copy without such keys, made only when the
// walk above met one, sharing every part that has none.
function withoutUndefined(v) {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    let copy = null;
    for (let i = 0; i < v.length; i++) {
      const inner = withoutUndefined(v[i]);
      if (inner !== v[i]) { copy ??= v.slice(); copy[i] = inner; }
    }
    return copy ?? v;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return v;
  let copy = null;
  for (const key of Object.keys(v)) {
    const inner = v[key];
    if (inner === undefined) { copy ??= { ...v }; delete copy[key]; continue; }
    const cleaned = withoutUndefined(inner);
    if (cleaned !== inner) { copy ??= { ...v }; copy[key] = cleaned; }
  }
  return copy ?? v;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = sizeProblem)]
    fn size_problem(
        value: &JsValue,
        max_string: u32,
        max_total: u32,
        max_entries: u32,
        max_values: u32,
        max_depth: u32,
    ) -> Result<JsValue, JsValue>;
}

/// `Err` (thrown with `code`: "invalid event: itemId is a string of 10000000 characters (at most
/// 65536); nothing of it was read") when `value` exceeds the limits of the module docs.
#[cfg(feature = "core-module")]
pub fn check_size(value: &JsValue, code: ErrorCode, what: &str) -> Result<(), JsError> {
    checked_plain(value, code, what).map(drop)
}

/// [`check_size`], and the value to read: `value`, or a copy without the keys it sets to
/// `undefined` (made only when it has some).
pub fn checked_plain(value: &JsValue, code: ErrorCode, what: &str) -> Result<Option<JsValue>, JsError> {
    let checked = size_problem(value, MAX_STRING_CHARS, MAX_TOTAL_CHARS, MAX_ENTRIES, MAX_VALUES, MAX_DEPTH);
    match checked {
        Ok(outcome) if outcome.is_null() || outcome.is_undefined() => Ok(None),
        Ok(outcome) => match outcome.as_string() {
            None => Ok(Some(outcome)),
            Some(problem) => Err(thrown(code, &format!("invalid {what}: {problem}; nothing of it was read"))),
        },
        Err(_) => Err(thrown(code, &format!("invalid {what}: reading it threw; pass plain data"))),
    }
}

/// `value` as an array of at most `max` entries, checked before any entry is read; `too_long`
/// makes the error for a longer one (the call's own, so the message names its limit).
pub fn checked_array(
    value: &JsValue,
    max: usize,
    too_long: impl FnOnce(usize) -> JsError,
    code: ErrorCode,
    what: &str,
) -> Result<Array, JsError> {
    if !Array::is_array(value) {
        let got = super::js_values::describe_type(value);
        return Err(thrown(code, &format!("invalid {what}: expected an array, got {got}")));
    }
    let array: Array = value.clone().into();
    let len = array.length() as usize;
    if len > max {
        return Err(too_long(len));
    }
    Ok(array)
}

#[cfg(feature = "on-demand-module")]
/// `value` as a Rust string when it has at most `max` UTF-16 units, checked before it is copied.
pub fn checked_text(value: &JsString, max: u32, code: ErrorCode, what: &str) -> Result<String, JsError> {
    let len = value.length();
    if len > max {
        return Err(thrown(
            code,
            &format!("invalid {what}: a string of {len} characters (at most {max}); nothing of it was read"),
        ));
    }
    Ok(value.into())
}

#[cfg(feature = "on-demand-module")]
/// `weights` copied into wasm when it has at most `max` entries.
pub fn checked_weights(weights: &Float32Array, max: usize) -> Result<Vec<f32>, JsError> {
    let len = weights.length() as usize;
    if len > max {
        let message = format!("invalid weights: {len} entries (at most {max}); nothing of them was read");
        return Err(thrown(ErrorCode::InvalidArgument, &message));
    }
    Ok(weights.to_vec())
}
