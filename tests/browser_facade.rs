//! The `Personalizer` JS class in Chromium: input checking, consent, Global Privacy Control, the
//! automation heuristic, sensitive categories and forget, against the real localStorage.
#![cfg(target_arch = "wasm32")]

mod browser_page;

use browser_page::*;
use js_sys::Reflect;
use shop_personalizer::wasm::JsPersonalizer;
use tsify::Ts;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn bad_config_throws_a_message_that_says_what_to_fix() {
    let configs = [r#"{"shop":""}"#, r#"{"shop":"ok","storageBudgetBytes":12}"#, r#"{"shop":"ok","colour":1}"#, "3"];
    for config in configs {
        let (code, message) = thrown_code(JsPersonalizer::new(ts(config)));
        assert_eq!(code, "invalidConfig", "{config}: {message}");
    }
    let message = thrown(JsPersonalizer::new(ts(r#"{"shop":""}"#)));
    assert!(message.contains("shop is empty"), "{message}");
    let message = thrown(JsPersonalizer::new(ts(r#"{"shop":"ok","storageBudgetBytes":12}"#)));
    assert!(message.contains("storageBudgetBytes"), "{message}");
    let message = thrown(JsPersonalizer::new(ts(r#"{"shop":"ok","affinityHalfLifeDays":"long"}"#)));
    assert!(message.starts_with("invalid config:"), "{message}");
    let message = thrown(JsPersonalizer::new(ts(r#"{"shop":"ok","sensitiveCategory":["Health"]}"#)));
    assert!(message.contains("unknown field `sensitiveCategory`"), "a typo is not silently ignored: {message}");
    let message = thrown(JsPersonalizer::new(ts(r#"{"shop":"ok","noise":{"botHeuristics":false}}"#)));
    assert!(message.contains("unknown field `noise.botHeuristics`"), "{message}");
    let message = thrown(JsPersonalizer::new(Ts::new_unchecked(JsValue::from_f64(3.0))));
    assert!(message.starts_with("invalid config:"), "{message}");
}

#[wasm_bindgen_test]
fn bad_events_throw_and_store_nothing() {
    let shop = "t-bad-events";
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, "full");
    let cases = [
        (r#"{"type":"view","itemId":""}"#, "item id is empty"),
        (r#"{"type":"teleport","itemId":"a"}"#, "unknown variant `teleport`"),
        (r#"{"type":"view","itemId":"a","colour":"red"}"#, "unknown field `colour`"),
        (r#"{"type":"view"}"#, "missing field `itemId`"),
        (r#"{"type":"view","itemId":"a","item":{"price":-1}}"#, "price -1"),
        (r#"{"type":"rating","itemId":"a","rating":9}"#, "rating"),
        (r#"{"type":"impression","placement":"home","itemIds":["a","a"]}"#, "twice"),
        (r#"{"type":"search","query":"   "}"#, "query is empty"),
        (r#"{"type":"purchase","items":[],"value":10}"#, "items is empty"),
    ];
    for (event, expected) in cases {
        let (code, message) = thrown_code(p.track(ts(event)));
        assert!(message.contains(expected), "{event}: got {message:?}, expected it to mention {expected:?}");
        assert_eq!(code, "invalidEvent", "{event}: {message}");
    }
    let (code, _) = thrown_code(p.track(Ts::new_unchecked(JsValue::NULL)));
    assert_eq!(code, "invalidEvent");
    // NaN cannot be written in JSON: build the event in JS.
    let nan_dwell = js(r#"{"type":"dwell","itemId":"a"}"#);
    Reflect::set(&nan_dwell, &"ms".into(), &JsValue::from_f64(f64::NAN)).expect("set");
    assert!(thrown(p.track(Ts::new_unchecked(nan_dwell))).contains("ms must be a finite number"));
    let long_id = format!(r#"{{"type":"view","itemId":"{}"}}"#, "x".repeat(500));
    assert!(thrown(p.track(ts(&long_id))).contains("500 bytes"));

    let (code, message) =
        thrown_code(p.upsert_items(js_array(&[
            r#"{"id":"ok","categoryPath":["Shoes"]}"#,
            r#"{"id":"","categoryPath":["Shoes"]}"#,
        ])));
    assert!(message.contains("item 1"), "{message}");
    assert_eq!(code, "invalidItem");
    let (code, _) = thrown_code(p.upsert_items(js_array(&[r#"{"id":"ok","price":"cheap"}"#])));
    assert_eq!(code, "invalidItem");
    let (code, _) = thrown_code(p.set_consent(Ts::new_unchecked("always".into()), None));
    assert_eq!(code, "invalidArgument");

    assert_eq!(p.has_unsaved_changes().ok(), Some(false), "nothing from a rejected call is pending");
    p.flush().expect("flush");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "nothing stored: {:?}", keys_with_prefix(&prefix(shop)));
    assert!(interest_values(&p).is_empty());
}

#[wasm_bindgen_test]
fn consent_modes_decide_what_is_collected_and_kept() {
    let shop = "t-consent";
    clear_shop(shop);
    let p = personalizer(shop, "");
    assert_eq!(p.consent().map(|m| m.js_value().as_string()).ok().flatten().as_deref(), Some("none"));
    assert_eq!(view(&p, "a", r#"["Shoes"]"#), "noConsent");
    assert!(interest_values(&p).is_empty());

    consent(&p, "session");
    assert_eq!(view(&p, "b", r#"["Books"]"#), "recorded");
    let mut interests = interest_values(&p);
    interests.sort();
    assert_eq!(
        interests,
        vec!["2".to_string(), "Acme".into(), "Books".into()],
        "category, brand, price band 2 (25 to 50)"
    );
    let report: JsValue = p.flush().expect("flush").into();
    assert_eq!(field(&report, "written"), "false");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "session consent keeps nothing in localStorage");

    consent(&p, "full");
    p.flush().expect("flush");
    assert_eq!(keys_with_prefix(&prefix(shop)), vec![format!("{}profile", prefix(shop))]);
    assert!(interest_values(&p).contains(&"Books".to_string()), "raising consent keeps the session's profile");

    consent(&p, "session");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "lowering to session deletes what was stored");
    assert!(interest_values(&p).contains(&"Books".to_string()), "... but keeps the in-memory profile");

    consent(&p, "none");
    assert!(interest_values(&p).is_empty(), "lowering to none wipes memory too");
    let message = thrown(p.set_consent(Ts::new_unchecked("always".into()), None));
    assert!(message.contains("\"none\", \"session\" or \"full\""), "{message}");
    assert!(thrown(p.set_consent(Ts::new_unchecked(JsValue::TRUE), None)).contains("must be a string"));
    let message = thrown(p.set_consent(Ts::new_unchecked("full".into()), Some(ts(r#"{"optIn":true}"#))));
    assert!(message.contains("unknown field `optIn`"), "{message}");
}

fn set_global_privacy_control(on: bool) {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).expect("navigator");
    if on {
        let descriptor = js(r#"{"value":true,"configurable":true}"#);
        js_sys::Object::define_property(&navigator.into(), &"globalPrivacyControl".into(), &descriptor.into());
    } else {
        Reflect::delete_property(&navigator.into(), &"globalPrivacyControl".into()).expect("delete");
    }
}

#[wasm_bindgen_test]
fn global_privacy_control_caps_consent_at_session_without_explicit_opt_in() {
    let shop = "t-gpc";
    clear_shop(shop);
    set_global_privacy_control(true);
    let p = personalizer(shop, "");
    set_global_privacy_control(false);

    let decision = consent(&p, "full");
    assert_eq!(field(&decision, "effective"), "\"session\"");
    assert_eq!(field(&decision, "cappedByGlobalPrivacyControl"), "true");
    view(&p, "a", r#"["Shoes"]"#);
    p.flush().expect("flush");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "capped at session: nothing persisted");

    let decision: JsValue =
        p.set_consent(Ts::new_unchecked("full".into()), Some(ts(r#"{"explicitOptIn":true}"#))).expect("consent").into();
    assert_eq!(field(&decision, "effective"), "\"full\"");
    assert_eq!(field(&decision, "cappedByGlobalPrivacyControl"), "false");
    p.flush().expect("flush");
    assert_eq!(keys_with_prefix(&prefix(shop)).len(), 1, "an explicit opt-in persists");

    let without_gpc = personalizer("t-gpc-off", "");
    assert_eq!(field(&consent(&without_gpc, "full"), "effective"), "\"full\"");
}

#[wasm_bindgen_test]
fn automated_browsers_are_filtered_unless_the_heuristic_is_off() {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).expect("navigator");
    let webdriver = Reflect::get(&navigator, &"webdriver".into()).ok().and_then(|v| v.as_bool());
    assert_eq!(webdriver, Some(true), "the test browser is driven by chromedriver");

    let guarded = JsPersonalizer::new(ts(r#"{"shop":"t-bot"}"#)).expect("default config");
    consent(&guarded, "session");
    let outcome: JsValue = guarded.track(ts(r#"{"type":"view","itemId":"a"}"#)).expect("valid").into();
    assert_eq!(field(&outcome, "status"), "\"filtered\"");
    assert_eq!(field(&outcome, "reason"), "\"bot\"");

    let relaxed = personalizer("t-bot", "");
    consent(&relaxed, "session");
    assert_eq!(view(&relaxed, "a", r#"["Shoes"]"#), "recorded");
}

#[wasm_bindgen_test]
fn a_sensitive_event_leaves_no_trace_in_local_storage() {
    let shop = "t-sensitive";
    clear_shop(shop);
    let p = personalizer(shop, r#""sensitiveCategories":["Pharmacy"]"#);
    consent(&p, "full");
    assert_eq!(view(&p, "ordinary-1", r#"["Books","Travel"]"#), "recorded");
    let sensitive = r#"{"type":"view","itemId":"secret-42","item":{"categoryPath":["Health","Pharmacy","Tests"],"brand":"Medi","price":19,"tags":["pregnancy"]}}"#;
    let outcome: JsValue = p.track(ts(sensitive)).expect("valid").into();
    assert_eq!(field(&outcome, "status"), "\"sensitive\"");
    let cart = r#"{"type":"addToCart","itemId":"secret-42"}"#;
    assert_eq!(field(&p.track(ts(cart)).expect("valid").into(), "status"), "\"sensitive\"");
    p.flush().expect("flush");

    let stored = all_stored_text();
    assert!(stored.contains("Travel"), "the ordinary view is stored, so the check below can fail");
    for trace in ["secret-42", "Pharmacy", "Health", "Medi", "pregnancy"] {
        assert!(!stored.contains(trace), "localStorage contains {trace:?}");
    }
    assert!(!p.export_profile().expect("export").contains("secret-42"));
}

#[wasm_bindgen_test]
fn forget_removes_every_key_of_the_shop_and_nothing_else() {
    let shop = "t-forget";
    clear_shop(shop);
    let storage = storage();
    storage.set_item(&format!("{}profile", prefix(shop)), "{broken").expect("seed");
    storage.set_item("theme", "dark").expect("seed");
    storage.set_item(&format!("{}profile", prefix("t-forget-neighbour")), "{}").expect("seed");
    let p = personalizer(shop, "");
    consent(&p, "full"); // backs the broken value up under a backup key
    view(&p, "a", r#"["Shoes"]"#);
    p.flush().expect("flush");
    assert_eq!(keys_with_prefix(&prefix(shop)).len(), 2, "profile and backup: {:?}", keys_with_prefix(&prefix(shop)));

    assert_eq!(p.forget().ok(), Some(2));
    assert!(keys_with_prefix(&prefix(shop)).is_empty());
    assert!(interest_values(&p).is_empty());
    assert_eq!(storage.get_item("theme").ok().flatten().as_deref(), Some("dark"));
    assert_eq!(keys_with_prefix(&prefix("t-forget-neighbour")).len(), 1, "another shop's profile stays");
    storage.remove_item("theme").expect("cleanup");
    clear_shop("t-forget-neighbour");
}

#[wasm_bindgen_test]
fn events_carry_the_local_hour_of_the_week_and_the_device_class() {
    let p = personalizer("t-environment", "");
    consent(&p, "session");
    let date = js_sys::Date::new_0();
    // Hand computation: getDay() counts from Sunday, the profile's week starts on Monday.
    let expected_hour = ((date.get_day() + 6) % 7) * 24 + date.get_hours();
    view(&p, "a", r#"["Shoes"]"#);
    let export = js_sys::JSON::parse(&p.export_profile().expect("export")).expect("JSON");
    let profile = Reflect::get(&export, &"profile".into()).expect("profile");
    let hours = js_sys::Array::from(&Reflect::get(&profile, &"hourOfWeek".into()).expect("hourOfWeek"));
    let counted: Vec<u32> = (0..hours.length()).filter(|&i| hours.get(i).as_f64().unwrap_or(0.0) > 0.0).collect();
    assert_eq!(counted, vec![expected_hour], "one event, counted in this local hour of the week");
    // Headless Chromium has a screen and no touch points: a desktop.
    assert_eq!(field(&profile, "device"), "\"desktop\"");
}
