//! What the browser tests share: JS values from JSON, thrown messages, and localStorage access.
#![allow(dead_code)]

use js_sys::{Reflect, JSON};
use shop_personalizer::wasm::JsPersonalizer;
use tsify::Ts;
use wasm_bindgen::{JsCast, JsValue};

/// Awaits a promise a call returned: its value, or what it rejected with.
pub async fn settled(promise: js_sys::Promise) -> Result<JsValue, JsValue> {
    wasm_bindgen_futures::JsFuture::from(promise).await
}

/// A JS value parsed from JSON text written in the test.
pub fn js(json: &str) -> JsValue {
    JSON::parse(json).unwrap_or_else(|_| panic!("test JSON does not parse: {json}"))
}

/// The same, typed for a facade argument.
pub fn ts<T: tsify::Tsify>(json: &str) -> Ts<T> {
    Ts::new_unchecked(js(json))
}

/// A JS array of values parsed from JSON texts (for array parameters).
pub fn js_array(items: &[&str]) -> JsValue {
    items.iter().map(|json| js(json)).collect::<js_sys::Array>().into()
}

/// The message of the Error a call threw; fails the test when it did not throw.
pub fn thrown<T, E: Into<JsValue>>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => panic!("expected the call to throw"),
        Err(error) => {
            let error: JsValue = error.into();
            Reflect::get(&error, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default()
        }
    }
}

/// The `code` and `message` of the Error a call threw; fails the test when it did not throw.
pub fn thrown_code<T, E: Into<JsValue>>(result: Result<T, E>) -> (String, String) {
    match result {
        Ok(_) => panic!("expected the call to throw"),
        Err(error) => error_code(&error.into()),
    }
}

/// The `code` and `message` of a thrown JS value; fails the test when it is not an `Error`.
pub fn error_code(error: &JsValue) -> (String, String) {
    assert!(error.is_instance_of::<js_sys::Error>(), "an Error, not {error:?}");
    let text = |name: &str| Reflect::get(error, &name.into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    (text("code"), text("message"))
}

/// A field of a returned JS object, as JSON text (for readable assertions).
pub fn field(value: &JsValue, name: &str) -> String {
    let field = Reflect::get(value, &name.into()).expect("object");
    JSON::stringify(&field).map(String::from).unwrap_or_default()
}

pub fn storage() -> web_sys::Storage {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten()).expect("localStorage in the test page")
}

/// Keys in localStorage that start with `prefix`, sorted.
pub fn keys_with_prefix(prefix: &str) -> Vec<String> {
    let storage = storage();
    let mut keys: Vec<String> = (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|key| key.starts_with(prefix))
        .collect();
    keys.sort();
    keys
}

/// Everything in localStorage, keys and values, as one string (to search for traces).
pub fn all_stored_text() -> String {
    let storage = storage();
    (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .map(|key| {
            let value = storage.get_item(&key).ok().flatten().unwrap_or_default();
            format!("{key}={value}\n")
        })
        .collect()
}

/// `shop-personalizer:<shop>:`, the prefix of every key the library writes for `shop`.
pub fn prefix(shop: &str) -> String {
    format!("shop-personalizer:{shop}:")
}

/// Removes the keys of `shop`, so each test starts clean.
pub fn clear_shop(shop: &str) {
    for key in keys_with_prefix(&prefix(shop)) {
        storage().remove_item(&key).expect("remove");
    }
}

/// A personalizer for `shop` with the automation heuristic off (the test browser is automated),
/// and `extra` config fields merged in (a JSON object body without braces, or "").
pub fn personalizer(shop: &str, extra: &str) -> JsPersonalizer {
    let separator = if extra.is_empty() { "" } else { "," };
    let config = format!(r#"{{"shop":"{shop}","noise":{{"botHeuristic":false}}{separator}{extra}}}"#);
    JsPersonalizer::new(ts(&config)).unwrap_or_else(|_| panic!("config should be accepted: {config}"))
}

pub fn consent(p: &JsPersonalizer, mode: &str) -> JsValue {
    let decision = p.set_consent(Ts::new_unchecked(mode.into()), None).unwrap_or_else(|_| panic!("consent {mode}"));
    decision.into()
}

/// Tracks a view of `id` in category path `path` (e.g. `["Shoes","Running"]`); returns the outcome's status.
pub fn view(p: &JsPersonalizer, id: &str, path: &str) -> String {
    let event =
        format!(r#"{{"type":"view","itemId":"{id}","item":{{"categoryPath":{path},"brand":"Acme","price":42}}}}"#);
    let outcome: JsValue = p.track(ts(&event)).unwrap_or_else(|_| panic!("valid event {event}")).into();
    field(&outcome, "status").trim_matches('"').to_string()
}

/// Key values of the summary's top interests, e.g. "Shoes > Running" or "Acme".
pub fn interest_values(p: &JsPersonalizer) -> Vec<String> {
    let summary: JsValue = p.profile_summary().expect("summary").into();
    let interests = Reflect::get(&summary, &"topInterests".into()).expect("topInterests");
    js_sys::Array::from(&interests)
        .iter()
        .filter_map(|interest| Reflect::get(&interest, &"key".into()).ok())
        .filter_map(|key| Reflect::get(&key, &"value".into()).ok())
        .map(|value| value.as_string().unwrap_or_else(|| value.as_f64().unwrap_or(-1.0).to_string()))
        .collect()
}
