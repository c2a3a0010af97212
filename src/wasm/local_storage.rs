//! [`KeyValueStore`] over `window.localStorage`, or over memory when the page may not use it
//! (storage disabled, a sandboxed iframe, Node, a worker): the personalizer then keeps working for
//! the life of the page and says so in a warning.
//!
//! That memory is one `Map` of the page (under a registered symbol of `globalThis`), not the wasm
//! memory of a module: the core and the on-demand module are two wasm instances, and each sees
//! what the other stored, as they would in localStorage (so `exportProfile()` and `forget()` in
//! the core cover the adaptation and sync state the on-demand module keeps).

use js_sys::{Array, Map, Reflect, Symbol};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::long_text;
use crate::storage::{KeyValueStore, StoreError};

#[wasm_bindgen]
extern "C" {
    /// A `Storage` whose `getItem` returns the JS string itself (`null` when absent), for `long_text`.
    #[wasm_bindgen(js_name = Storage)]
    type StorageText;

    #[wasm_bindgen(method, catch, js_name = getItem)]
    fn get_item_value(this: &StorageText, key: &str) -> Result<JsValue, JsValue>;
}

/// The registered symbol of the page's memory store.
const PAGE_MEMORY: &str = "shop-personalizer:page-memory";

/// Where the profile is kept.
#[derive(Debug, Clone)]
pub enum BrowserStore {
    Local(web_sys::Storage),
    /// localStorage was unavailable for the given reason.
    Memory {
        store: Map,
        reason: String,
    },
}

impl BrowserStore {
    /// `window.localStorage` when the page may use it, else an in-memory store.
    pub fn open() -> Self {
        match local_storage() {
            Ok(storage) => BrowserStore::Local(storage),
            Err(reason) => BrowserStore::Memory { store: page_memory(), reason },
        }
    }
}

/// The page's memory store, made by the first module that needs it.
fn page_memory() -> Map {
    let global = js_sys::global();
    let symbol = JsValue::from(Symbol::for_(PAGE_MEMORY));
    if let Ok(map) = Reflect::get(&global, &symbol).and_then(|found| found.dyn_into::<Map>()) {
        return map;
    }
    let map = Map::new();
    // A frozen global (a locked-down realm) keeps this module's own map: it still works.
    let _ = Reflect::set(&global, &symbol, &map);
    map
}

fn local_storage() -> Result<web_sys::Storage, String> {
    let window = web_sys::window().ok_or_else(|| "there is no window (not a browser page)".to_string())?;
    // Reading the property itself throws a SecurityError where storage is blocked.
    match window.local_storage() {
        Ok(Some(storage)) => Ok(storage),
        Ok(None) => Err("window.localStorage is null".to_string()),
        Err(error) => Err(describe(&error)),
    }
}

/// `"Name: message"` of a thrown DOMException or Error, or its string form.
fn describe(error: &JsValue) -> String {
    let field = |name: &str| Reflect::get(error, &JsValue::from_str(name)).ok().and_then(|v| v.as_string());
    match (field("name"), field("message")) {
        (Some(name), Some(message)) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        _ => error.as_string().unwrap_or_else(|| "unknown error".to_string()),
    }
}

/// Browsers report a full store as a DOMException named `QuotaExceededError` (Firefox once used
/// `NS_ERROR_DOM_QUOTA_REACHED`; legacy code 22 covers old engines).
fn is_quota_error(error: &JsValue) -> bool {
    let name = Reflect::get(error, &JsValue::from_str("name")).ok().and_then(|v| v.as_string());
    let code = Reflect::get(error, &JsValue::from_str("code")).ok().and_then(|v| v.as_f64());
    matches!(name.as_deref(), Some("QuotaExceededError" | "NS_ERROR_DOM_QUOTA_REACHED")) || code == Some(22.0)
}

fn store_error(error: &JsValue) -> StoreError {
    if is_quota_error(error) {
        StoreError::QuotaExceeded
    } else {
        StoreError::Unavailable(describe(error))
    }
}

impl KeyValueStore for BrowserStore {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            BrowserStore::Local(storage) => storage
                .unchecked_ref::<StorageText>()
                .get_item_value(key)
                .map(|value| long_text::text(&value))
                .map_err(|e| store_error(&e)),
            BrowserStore::Memory { store, .. } => Ok(long_text::text(&store.get(&JsValue::from_str(key)))),
        }
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        match self {
            BrowserStore::Local(storage) => storage.set_item(key, value).map_err(|e| store_error(&e)),
            BrowserStore::Memory { store, .. } => {
                store.set(&JsValue::from_str(key), &JsValue::from_str(value));
                Ok(())
            }
        }
    }

    fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        match self {
            BrowserStore::Local(storage) => storage.remove_item(key).map_err(|e| store_error(&e)),
            BrowserStore::Memory { store, .. } => {
                store.delete(&JsValue::from_str(key));
                Ok(())
            }
        }
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        match self {
            BrowserStore::Local(storage) => {
                let len = storage.length().map_err(|e| store_error(&e))?;
                let mut keys = Vec::with_capacity(len as usize);
                for index in 0..len {
                    if let Some(key) = storage.key(index).map_err(|e| store_error(&e))? {
                        keys.push(key);
                    }
                }
                Ok(keys)
            }
            BrowserStore::Memory { store, .. } => {
                Ok(Array::from(&store.keys().into()).iter().filter_map(|key| key.as_string()).collect())
            }
        }
    }

    /// Why localStorage is not used, when it is not.
    fn unavailable_reason(&self) -> Option<&str> {
        match self {
            BrowserStore::Local(_) => None,
            BrowserStore::Memory { reason, .. } => Some(reason),
        }
    }
}
