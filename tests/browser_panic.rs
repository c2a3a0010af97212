//! A panic in Chromium, under the package's `panic = "abort"`: the call traps, every instance made
//! before it then throws `code: "internal"` (not "busy"), and a new instance works with the
//! stored profile. Needs the `test-panic` feature (scripts/test-browser turns it on) for the
//! hidden `__panicForTest` export; the package is built without it.
#![cfg(target_arch = "wasm32")]

mod browser_page;

use browser_page::*;
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function attempt(target, method, args) {
  try {
    return { value: target[method](...args) };
  } catch (error) {
    return { error };
  }
}
"#)]
extern "C" {
    /// Calls `target[method](...args)` from JS, so that a trap ends that call only: `{ value }`
    /// or `{ error }`.
    fn attempt(target: &JsValue, method: &str, args: &Array) -> JsValue;
}

/// What calling `method` on the JS object threw; fails the test when it returned.
fn error_of(target: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    let outcome = attempt(target, method, &args.iter().collect());
    let error = Reflect::get(&outcome, &"error".into()).expect("outcome");
    assert!(!error.is_undefined(), "{method} should have thrown");
    error
}

/// `{ code, message }` of what `method` threw.
fn code_of(target: &JsValue, method: &str, args: &[JsValue]) -> (String, String) {
    error_code(&error_of(target, method, args))
}

fn assert_trapped(target: &JsValue) {
    let trap = error_of(target, "__panicForTest", &[]);
    assert!(trap.is_instance_of::<js_sys::WebAssembly::RuntimeError>(), "a trap, not {trap:?}");
}

#[wasm_bindgen_test]
async fn after_a_panic_old_instances_throw_internal_and_a_new_one_works_with_the_stored_profile() {
    let shop = "t-panic";
    clear_shop(shop);
    let first = personalizer(shop, "");
    consent(&first, "full");
    view(&first, "a", r#"["Shoes","Running"]"#);
    first.flush().expect("flush");
    let bystander = personalizer("t-panic-bystander", "");
    let first = JsValue::from(first);

    assert_trapped(&first);
    let event = js(r#"{"type":"view","itemId":"b"}"#);
    for (method, args) in [("profileSummary", vec![]), ("track", vec![event]), ("track", vec![JsValue::NULL])] {
        let (code, message) = code_of(&first, method, &args);
        assert_eq!(code, "internal", "{method}: {message}");
        assert!(message.contains("construct a new Personalizer"), "{message}");
        assert!(message.contains("src/wasm/panic_guard.rs"), "names where: {message}");
    }
    let (code, _) = thrown_code(bystander.profile_summary());
    assert_eq!(code, "internal", "every instance made before the panic");
    let sync = Reflect::get(&first, &"syncNow".into()).expect("syncNow");
    let promise: Promise = js_sys::Function::from(sync).call0(&first).expect("a promise").into();
    let rejected = JsFuture::from(promise).await.expect_err("syncNow rejects");
    assert_eq!(error_code(&rejected).0, "internal");

    let second = personalizer(shop, "");
    consent(&second, "full");
    assert!(interest_values(&second).iter().any(|value| value == "Shoes > Running"), "the stored profile is back");
    assert_eq!(view(&second, "c", r#"["Coffee"]"#), "recorded");
    second.flush().expect("the new instance saves");

    // The hook runs again at a second panic, and a third instance still works.
    let second = JsValue::from(second);
    assert_trapped(&second);
    assert_eq!(code_of(&second, "flush", &[]).0, "internal");
    let third = personalizer(shop, "");
    consent(&third, "full");
    let values = interest_values(&third);
    assert!(values.iter().any(|v| v == "Coffee") && values.iter().any(|v| v == "Shoes > Running"), "{values:?}");
}
