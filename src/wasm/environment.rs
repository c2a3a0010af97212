//! What the facade reads from the browser for the core: the clock, the local hour of the week,
//! automation and Global Privacy Control flags, and a coarse device class.
//!
//! Everything is read through `globalThis` with reflection, so the module also works where there
//! is no `window` or `navigator` (Node, workers): missing values read as "unknown" / `false`.

#[cfg(feature = "core-module")]
use js_sys::Date;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::profile::DeviceClass;

/// The local hour of the week, 0 = Monday 00:00 … 167 = Sunday 23:00, from `new Date()`.
#[cfg(feature = "core-module")]
pub fn local_hour_of_week() -> u8 {
    let date = Date::new_0();
    // getDay(): 0 = Sunday; the core counts weeks from Monday.
    let day_from_monday = (date.get_day() + 6) % 7;
    let hour = date.get_hours().min(23);
    (day_from_monday * 24 + hour).min(167) as u8
}

fn navigator() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).ok()?;
    (!navigator.is_undefined() && !navigator.is_null()).then_some(navigator)
}

fn navigator_flag(name: &str) -> bool {
    navigator()
        .and_then(|navigator| Reflect::get(&navigator, &JsValue::from_str(name)).ok())
        .and_then(|value| value.as_bool())
        .unwrap_or(false)
}

/// `navigator.webdriver`: the browser is driven by automation.
pub fn is_automated() -> bool {
    navigator_flag("webdriver")
}

/// `navigator.globalPrivacyControl`: the shopper asks sites not to sell or share their data.
pub fn global_privacy_control() -> bool {
    navigator_flag("globalPrivacyControl")
}

fn number_at(target: &JsValue, path: &[&str]) -> Option<f64> {
    let mut value = target.clone();
    for name in path {
        value = Reflect::get(&value, &JsValue::from_str(name)).ok()?;
        if value.is_undefined() || value.is_null() {
            return None;
        }
    }
    value.as_f64()
}

/// The device class (`DeviceClass::classify`) from `navigator.maxTouchPoints` and the screen.
pub fn device_class() -> DeviceClass {
    let Some(navigator) = navigator() else {
        return DeviceClass::Unknown;
    };
    let touch_points = number_at(&navigator, &["maxTouchPoints"]).unwrap_or(0.0);
    let global = js_sys::global();
    let screen = match (number_at(&global, &["screen", "width"]), number_at(&global, &["screen", "height"])) {
        (Some(width), Some(height)) => Some((width, height)),
        _ => None,
    };
    DeviceClass::classify(touch_points, screen)
}
