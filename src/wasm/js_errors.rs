//! What JS sees of an error: an `Error` whose `message` says what to do and whose `code` is a
//! stable [`ErrorCode`] (`"unknownHandle"`), so callers branch on the code, not on English.
//! Every error the facade throws is built here.

use std::fmt::Display;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use crate::error_code::{Coded, ErrorCode};

#[wasm_bindgen(typescript_custom_section)]
const PERSONALIZER_ERROR: &str = r#"
/**
 * What every method of `Personalizer` throws (and `syncNow` rejects with, after an internal
 * error): an `Error` whose `message` says what to do and whose `code` stays the same across
 * versions. Branch on `code`; the message is for people.
 *
 * ```ts
 * try {
 *   p.rank(handle);
 * } catch (e) {
 *   const code = (e as PersonalizerError).code;
 *   if (code === "unknownHandle") handle = p.registerCandidates(answer);
 *   else if (code === "internal") p = new Personalizer(config);
 *   else throw e;
 * }
 * ```
 */
export interface PersonalizerError extends Error {
  readonly code: ErrorCode;
}
"#;

/// An `Error` with `message` and `code`.
pub fn thrown(code: ErrorCode, message: &str) -> JsError {
    let error = JsError::new(message);
    // A clone refers to the same JS object, so the property lands on the error that is thrown.
    let object = JsValue::from(error.clone());
    // Setting a property of a fresh `Error` cannot fail.
    let _ = Reflect::set(&object, &JsValue::from_str("code"), &JsValue::from_str(code.as_str()));
    error
}

/// A core error, thrown with its own code.
pub fn coded<E: Coded + Display>(error: E) -> JsError {
    thrown(error.code(), &error.to_string())
}
