//! The facade over the real localStorage in Chromium: unreadable stored data, two personalizers
//! (tabs) of one shop, the page events that flush and merge, and a full storage quota.
#![cfg(target_arch = "wasm32")]

mod browser_page;

use browser_page::*;
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Event, StorageEvent, StorageEventInit};

wasm_bindgen_test_configure!(run_in_browser);

/// The warnings as (code, backupKey) pairs.
fn warning_codes(p: &shop_personalizer::wasm::JsPersonalizer) -> Vec<(String, Option<String>)> {
    p.warnings()
        .expect("warnings")
        .into_iter()
        .map(|w| {
            let w: JsValue = w;
            let code = Reflect::get(&w, &"code".into()).ok().and_then(|c| c.as_string()).unwrap_or_default();
            let backup = Reflect::get(&w, &"backupKey".into()).ok().and_then(|b| b.as_string());
            (code, backup)
        })
        .collect()
}

fn check_unreadable_blob_is_backed_up(shop: &str, blob: &str) {
    clear_shop(shop);
    let profile_key = format!("{}profile", prefix(shop));
    storage().set_item(&profile_key, blob).expect("seed");
    let p = personalizer(shop, "");
    consent(&p, "full");

    let warnings = warning_codes(&p);
    assert_eq!(warnings.len(), 1, "{blob}: {warnings:?}");
    assert_eq!(warnings[0].0, "unreadable", "{blob}");
    let backup_key = warnings[0].1.clone().expect("the warning names the backup key");
    assert!(backup_key.starts_with(&prefix(shop)), "{backup_key}");
    assert_eq!(storage().get_item(&backup_key).ok().flatten().as_deref(), Some(blob), "nothing silently destroyed");
    assert!(interest_values(&p).is_empty(), "a fresh profile");

    assert_eq!(view(&p, "a", r#"["Garden"]"#), "recorded");
    p.flush().expect("flush");
    let reloaded = personalizer(shop, "");
    consent(&reloaded, "full");
    assert!(warning_codes(&reloaded).is_empty(), "the fresh profile reads back cleanly");
    assert!(interest_values(&reloaded).contains(&"Garden".to_string()));
    assert_eq!(p.take_warnings().map(|w| w.length()).ok(), Some(1));
    assert!(p.warnings().expect("warnings").length() == 0, "takeWarnings clears them");
    clear_shop(shop);
}

#[wasm_bindgen_test]
fn corrupt_json_is_kept_under_a_backup_key_and_a_fresh_profile_starts() {
    check_unreadable_blob_is_backed_up("t-corrupt", "{\"format\":\"shop-personalizer/profile\",\"versi");
}

#[wasm_bindgen_test]
fn a_wrong_checksum_is_kept_under_a_backup_key() {
    let blob = r#"{"format":"shop-personalizer/profile","version":1,"checksum":1234,"payload":{}}"#;
    check_unreadable_blob_is_backed_up("t-checksum", blob);
}

#[wasm_bindgen_test]
fn a_future_version_is_kept_under_a_backup_key() {
    let blob = r#"{"format":"shop-personalizer/profile","version":99,"checksum":0,"payload":{}}"#;
    check_unreadable_blob_is_backed_up("t-future", blob);
}

#[wasm_bindgen_test]
fn two_personalizers_of_one_shop_lose_no_events() {
    let shop = "t-two-tabs";
    clear_shop(shop);
    let tab_a = personalizer(shop, "");
    let tab_b = personalizer(shop, "");
    consent(&tab_a, "full");
    consent(&tab_b, "full");
    view(&tab_a, "a1", r#"["Shoes"]"#);
    view(&tab_b, "b1", r#"["Books"]"#);
    tab_a.flush().expect("flush a");
    tab_b.flush().expect("flush b (merges a's write)");
    view(&tab_a, "a2", r#"["Kitchen"]"#);
    tab_a.flush().expect("flush a again (merges b's write)");

    let fresh = personalizer(shop, "");
    consent(&fresh, "full");
    let interests = interest_values(&fresh);
    for category in ["Shoes", "Books", "Kitchen"] {
        assert!(interests.contains(&category.to_string()), "{category} missing from {interests:?}");
    }
    clear_shop(shop);
}

fn stored(key: &str) -> Option<String> {
    web_sys::window().expect("window").local_storage().expect("storage").expect("storage").get_item(key).expect("read")
}

/// Dispatches the `storage` event a browser sends the other tabs: the key, the value it replaced
/// and the value now stored (`null` after a removal).
fn dispatch_storage_event(key: &str, old_value: Option<&str>) {
    let init = StorageEventInit::new();
    init.set_key(Some(key));
    init.set_old_value(old_value);
    init.set_new_value(stored(key).as_deref());
    let event = StorageEvent::new_with_event_init_dict("storage", &init).expect("StorageEvent");
    web_sys::window().expect("window").dispatch_event(&event).expect("dispatch");
}

#[wasm_bindgen_test]
fn a_storage_event_brings_in_what_another_tab_wrote() {
    let shop = "t-storage-event";
    clear_shop(shop);
    let this_tab = personalizer(shop, "");
    let other_tab = personalizer(shop, "");
    consent(&this_tab, "full");
    consent(&other_tab, "full");
    view(&this_tab, "mine", r#"["Shoes"]"#);
    view(&other_tab, "theirs", r#"["Books"]"#);
    let key = format!("{}profile", prefix(shop));
    let before = stored(&key);
    other_tab.flush().expect("flush");
    assert!(!interest_values(&this_tab).contains(&"Books".to_string()), "not merged before the event");

    dispatch_storage_event(&key, before.as_deref());
    let interests = interest_values(&this_tab);
    assert!(interests.contains(&"Books".to_string()), "the other tab's write arrived: {interests:?}");
    assert!(interests.contains(&"Shoes".to_string()), "this tab's unsaved change survived: {interests:?}");
    assert_eq!(this_tab.has_unsaved_changes().ok(), Some(true));

    let before = stored(&key);
    other_tab.forget().expect("forget");
    dispatch_storage_event(&key, before.as_deref());
    assert!(interest_values(&this_tab).is_empty(), "forget in one tab forgets in the other");
    clear_shop(shop);
}

#[wasm_bindgen_test]
fn pagehide_and_hidden_visibility_flush() {
    let shop = "t-pagehide";
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, "full");
    view(&p, "a", r#"["Shoes"]"#);
    assert_eq!(p.has_unsaved_changes().ok(), Some(true));
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "writes are batched, not one per event");
    let window = web_sys::window().expect("window");
    window.dispatch_event(&Event::new("pagehide").expect("event")).expect("dispatch");
    assert_eq!(p.has_unsaved_changes().ok(), Some(false));
    assert_eq!(keys_with_prefix(&prefix(shop)).len(), 1);

    // A visibilitychange while the page is visible does not write.
    view(&p, "b", r#"["Books"]"#);
    let document = window.document().expect("document");
    document.dispatch_event(&Event::new("visibilitychange").expect("event")).expect("dispatch");
    assert_eq!(document.visibility_state(), web_sys::VisibilityState::Visible);
    assert_eq!(p.has_unsaved_changes().ok(), Some(true));

    // Freed personalizers stop listening.
    drop(p);
    window.dispatch_event(&Event::new("pagehide").expect("event")).expect("dispatch");
    clear_shop(shop);
}

/// Fills localStorage until fewer than `leave` bytes are free; returns the filler keys.
fn fill_local_storage(leave: usize) -> Vec<String> {
    let storage = storage();
    let mut keys = Vec::new();
    let mut chunk = 1 << 20;
    while chunk >= leave.max(16) {
        let key = format!("t-filler-{}", keys.len());
        if storage.set_item(&key, &"x".repeat(chunk)).is_ok() {
            keys.push(key);
        } else {
            chunk /= 2;
        }
    }
    keys
}

#[wasm_bindgen_test]
fn a_full_storage_is_reported_and_never_breaks_the_page() {
    let shop = "t-quota";
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, "full");
    let fillers = fill_local_storage(64);
    for i in 0..10 {
        view(&p, &format!("item-{i}"), r#"["Shoes","Running"]"#);
    }
    let (code, message) = thrown_code(p.flush());
    assert!(message.contains("storage"), "{message}");
    assert_eq!(code, "quotaExceeded");
    assert!(!interest_values(&p).is_empty(), "the profile is still in memory");
    assert_eq!(p.has_unsaved_changes().ok(), Some(true), "and still waits to be saved");

    // A failure during pagehide has no caller: it becomes a warning.
    web_sys::window().expect("window").dispatch_event(&Event::new("pagehide").expect("event")).expect("dispatch");
    let codes: Vec<String> = warning_codes(&p).into_iter().map(|(code, _)| code).collect();
    assert!(codes.contains(&"quotaExceeded".to_string()), "{codes:?}");

    for key in &fillers {
        storage().remove_item(key).expect("cleanup");
    }
    let report: JsValue = p.flush().expect("room again").into();
    assert_eq!(Reflect::get(&report, &"written".into()).ok().and_then(|w| w.as_bool()), Some(true));
    clear_shop(shop);
}

#[wasm_bindgen_test]
fn returned_values_are_plain_typed_objects() {
    let shop = "t-shapes";
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, "full");
    let kept = p
        .upsert_items(js_array(&[
            r#"{"id":"a","categoryPath":["Shoes"],"brand":"Acme","price":10,"tags":["trail"]}"#,
            r#"{"id":"b","categoryPath":["Books"]}"#,
        ]))
        .expect("items");
    assert_eq!(kept, 2);
    let outcome: JsValue = p.track(ts(r#"{"type":"addToCart","itemId":"a"}"#)).expect("track").into();
    assert_eq!(field(&outcome, "status"), "\"recorded\"");
    let summary: JsValue = p.profile_summary().expect("summary").into();
    let top = Array::from(&Reflect::get(&summary, &"topInterests".into()).expect("topInterests"));
    let first = top.get(0);
    assert!(first.is_object());
    assert_eq!(field(&first, "weight"), "1", "the strongest interest has weight 1");
    assert_eq!(field(&summary, "segment"), "\"new\"");
    let removed = p.remove_interest(ts(r#"{"kind":"tag","value":"trail"}"#)).expect("remove");
    assert!(removed);
    assert!(!interest_values(&p).contains(&"trail".to_string()));
    assert!(thrown(p.remove_interest(ts(r#"{"kind":"colour","value":"red"}"#))).starts_with("invalid interest key"));
    let export = p.export_profile().expect("export");
    let parsed = js_sys::JSON::parse(&export).expect("export is JSON");
    assert!(parsed.dyn_ref::<js_sys::Object>().is_some());
    clear_shop(shop);
}
