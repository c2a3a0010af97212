//! The core module's results for JS: written as JSON text and parsed by the browser
//! (`JSON.parse`), so no serializer to JS values is in the module. Each result writes its text by
//! hand ([`JsonText`], byte for byte what serde_json wrote of its serde derive).
//!
//! Text changes two kinds of value a direct conversion kept: an `f32` would be written as its
//! shortest decimal (`0.3`) instead of its exact value widened to a JS number
//! (`0.30000001192092896`), so the one result with `f32` fields (`ShopperState`) writes them as
//! `f64`; and a non-finite number has no JSON form: serde_json writes `null` where the direct
//! conversion gave `NaN` or `Infinity`. The TypeScript types keep `number`: the results' numbers
//! are ratios to a positive total or maximum, counts, times and configured ε, finite as made.

use tsify::{Ts, Tsify};
use wasm_bindgen::{JsError, JsValue};

use crate::error_code::ErrorCode;
use crate::storage::json_text::JsonText;
use crate::wasm::js_errors::thrown;

fn internal(error: impl std::fmt::Display) -> JsError {
    thrown(ErrorCode::Internal, &error.to_string())
}

fn parsed<T: Tsify>(text: &str) -> Result<Ts<T>, JsError> {
    let value: JsValue = js_sys::JSON::parse(text).map_err(|_| internal("a result was not valid JSON"))?;
    Ok(Ts::new_unchecked(value))
}

/// `value` as the JS value its TypeScript type describes (failing only on a bug).
pub fn to_js<T: Tsify + JsonText>(value: &T) -> Result<Ts<T>, JsError> {
    parsed(&value.json_text())
}
