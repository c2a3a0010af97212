//! JS strings into Rust in one native copy, for the long ones: a stored profile is about 50 K
//! characters, read from localStorage on every page that loads it (and twice more in each
//! `storage` event of another tab's write).
//!
//! wasm-bindgen's own conversion (`JsValue::as_string`, a returned `String`) copies the ASCII
//! start of a string into wasm memory one character at a time in a JS loop, which on a freshly
//! loaded page, its JS not yet optimized, took 2–4 ms of the cold start for the stored profile
//! (bench-page/cold-profile.mjs). The page's `TextEncoder` encodes it natively instead, with the
//! same result: UTF-8, a lone surrogate as U+FFFD.

use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The page's `TextEncoder` (wasm-bindgen's glue needs one too, so it always exists).
    type TextEncoder;

    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;

    #[wasm_bindgen(method)]
    fn encode(this: &TextEncoder, text: &JsString) -> Uint8Array;
}

/// `value` as a Rust string when it is a JS string (what `JsValue::as_string` returns).
pub fn text(value: &JsValue) -> Option<String> {
    let text = value.dyn_ref::<JsString>()?;
    // `TextEncoder` writes valid UTF-8, so the check passes; the fallback only keeps it safe.
    String::from_utf8(TextEncoder::new().encode(text).to_vec()).ok().or_else(|| value.as_string())
}
