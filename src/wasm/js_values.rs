//! Converting the core's serde types to and from JS values, with errors that name what was wrong.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tsify::{Ts, Tsify};
use wasm_bindgen::JsError;

/// Reads a typed JS argument. `what` names it in the error: "invalid event: missing field `itemId`".
pub fn from_js<T>(value: &Ts<T>, what: &str) -> Result<T, JsError>
where
    T: Tsify + DeserializeOwned,
{
    let value = value.js_value();
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

/// Turns a core value into its typed JS form.
pub fn to_js<T>(value: &T) -> Result<Ts<T>, JsError>
where
    T: Tsify + Serialize,
{
    Ts::from_rust(value).map_err(|e| JsError::new(&e.to_string()))
}
