//! The adaptation calls of the `Personalizer` JS class in Chromium: layout, offers, copy
//! variants, engagement hours and outcomes, their errors, consent, the holdout and persistence
//! in the real localStorage.
#![cfg(target_arch = "wasm32")]

mod browser_page;

use browser_page::*;
use js_sys::{Array, Reflect};
use shop_personalizer::wasm::JsPersonalizer;
use tsify::Ts;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SECTIONS: &[&str] = &[
    r#"{"id":"hero","kind":"deals","required":true,"minPosition":0,"maxPosition":0}"#,
    r#"{"id":"for-you","kind":"recommendedForYou","required":true,"maxPosition":2}"#,
    r#"{"id":"new","kind":"newArrivals"}"#,
    r#"{"id":"top","kind":"topInCategory"}"#,
];

const OFFERS: &[&str] = &[
    r#"{"id":"welcome-10","audience":[{"kind":"firstVisit"}],"limits":{"frequencyCap":{"maxShows":1,"windowHours":24}}}"#,
    r#"{"id":"cart-back","audience":[{"kind":"cartAbandoned"}]}"#,
];

const VARIANTS: &[&str] = &[
    r#"{"id":"city","text":"Stays dry on the way to work","tags":["commute"]}"#,
    r#"{"id":"hills","text":"Built for muddy trails","tags":["trail"]}"#,
];

const JACKET: &str = r#"{"id":"jacket-1","categoryPath":["Outdoor","Jackets"],"tags":["trail"]}"#;

/// A JS array of the entries' JSON.
fn list(items: &[&str]) -> JsValue {
    js(&format!("[{}]", items.join(",")))
}

/// `configureAdaptation` with `config` (JSON), awaited.
async fn configure(p: &JsPersonalizer, config: Option<&str>) -> Result<JsValue, JsValue> {
    settled(p.configure_adaptation(config.map(ts))).await
}

async fn adapting(shop: &str, mode: &str, holdout_share: f64) -> JsPersonalizer {
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, mode);
    // Little exploration and posterior spread, so interest matches decide (the seed is crypto-random).
    let config = format!(r#"{{"holdoutShare":{holdout_share},"bandit":{{"exploration":0,"posteriorScale":0.01}}}}"#);
    configure(&p, Some(&config)).await.expect("valid config");
    p
}

fn section_ids(layout: &JsValue) -> Vec<String> {
    let sections = Reflect::get(layout, &"sections".into()).expect("sections");
    Array::from(&sections)
        .iter()
        .filter_map(|s| Reflect::get(&s, &"id".into()).ok().and_then(|id| id.as_string()))
        .collect()
}

fn adapt_key(shop: &str) -> String {
    format!("{}adapt", prefix(shop))
}

#[wasm_bindgen_test]
async fn layout_respects_constraints_and_is_saved() {
    let shop = "t-adapt-layout";
    let p = adapting(shop, "full", 0.0).await;
    let context = ts(r#"{"maxSections":3,"defaultDensity":"list"}"#);
    let layout: JsValue = p.choose_layout(list(SECTIONS), Some(context)).expect("a layout").into();
    let ids = section_ids(&layout);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], "hero", "hero is pinned to the top");
    let for_you = ids.iter().position(|id| id == "for-you").expect("required sections are shown");
    assert!(for_you <= 2);
    assert_eq!(field(&layout, "personalized"), "true");
    assert!(field(&layout, "propensity").parse::<f64>().unwrap() > 0.0);
    let stored = storage().get_item(&adapt_key(shop)).unwrap().expect("saved at once");
    assert!(stored.starts_with(r#"{"format":"shop-personalizer/adapt","version":1,"#), "{stored}");
}

#[wasm_bindgen_test]
async fn bad_input_throws_clear_errors_and_stores_nothing() {
    let shop = "t-adapt-bad";
    let p = adapting(shop, "full", 0.0).await;
    let message = thrown(p.choose_layout(list(&[]), None));
    assert!(message.contains("no sections given"), "{message}");
    let contradictory = [
        r#"{"id":"a","kind":"deals","required":true,"minPosition":0,"maxPosition":0}"#,
        r#"{"id":"b","kind":"newArrivals","required":true,"minPosition":0,"maxPosition":0}"#,
    ];
    let message = thrown(p.choose_layout(list(&contradictory), None));
    assert!(message.contains("\"a\"") && message.contains("\"b\""), "{message}");
    let message = thrown(p.choose_layout(list(&[r#"{"id":"a","kind":"banner"}"#]), None));
    assert!(message.contains("unknown variant `banner`"), "{message}");
    let message = thrown(p.choose_layout(list(SECTIONS), Some(ts(r#"{"maxSection":3}"#))));
    assert!(message.contains("unknown field `maxSection`"), "{message}");
    let message = thrown(p.choose_offer(list(&[]), None));
    assert!(message.contains("no offers given"), "{message}");
    let (code, message) = thrown_code(p.choose_offer(list(&[r#"{"id":"x","audience":[{"kind":"vip"}]}"#]), None));
    assert!(message.contains("unknown audience \"vip\""), "{message}");
    assert_eq!(code, "invalidArgument");
    let message = thrown(p.choose_offer(list(&[r#"{"id":"x","audience":[{"kind":"loyal"}]}"#]), None));
    assert!(message.contains("minOrders"), "{message}");
    let message = thrown(p.choose_variant(ts(JACKET), list(&[])));
    assert!(message.contains("no variants given"), "{message}");
    let message = thrown(p.choose_variant(ts(JACKET), list(&[r#"{"id":"a","text":"t","tags":[""]}"#])));
    assert!(message.contains("empty or over-long tag"), "{message}");
    let (code, message) =
        thrown_code(p.record_decision_outcome(ts(r#"{"kind":"section","sectionId":"hero","engaged":true}"#)));
    assert!(message.contains("not waiting for an outcome"), "{message}");
    assert_eq!(code, "unknownDecision");
    let message = thrown(p.record_decision_outcome(ts(r#"{"kind":"banner","engaged":true}"#)));
    assert!(message.contains("unknown variant `banner`"), "{message}");
    let (code, message) = error_code(&configure(&p, Some(r#"{"holdoutShare":2}"#)).await.unwrap_err());
    assert!(message.contains("holdoutShare 2"), "{message}");
    assert_eq!(code, "invalidConfig");
    assert_eq!(storage().get_item(&adapt_key(shop)).unwrap(), None, "nothing stored from refused calls");
}

#[wasm_bindgen_test]
async fn offers_follow_the_visit_and_their_caps_persist_across_instances() {
    let shop = "t-adapt-offers";
    let p = adapting(shop, "full", 0.0).await;
    let first: JsValue = p.choose_offer(list(OFFERS), None).expect("an offer").into();
    assert_eq!(field(&first, "offerId"), "\"welcome-10\"");
    assert_eq!(field(&first, "reason"), "\"A welcome offer for your first visit\"");
    assert_eq!(field(&first, "code"), "\"audience\"");
    assert!(field(&first, "diagnostic").contains("first visit"), "{}", field(&first, "diagnostic"));
    assert_eq!(p.lift_bucket().unwrap().map(|b| JsValue::from(b).as_string()), Some(Some("personalized".into())));
    drop(p);

    let again = personalizer(shop, "");
    consent(&again, "full");
    configure(&again, None).await.expect("adaptation loads");
    let second: JsValue = again.choose_offer(list(OFFERS), None).expect("a decision").into();
    let offer_id = Reflect::get(&second, &"offerId".into()).expect("object");
    assert!(offer_id.is_undefined(), "shown once per 24 h: {}", field(&second, "skipped"));
    assert!(field(&second, "skipped").contains("welcome-10"));
    let taken = again.record_decision_outcome(ts(r#"{"kind":"offer","offerId":"welcome-10","takenUp":true}"#));
    assert!(taken.is_err(), "no offer was shown by the last decision");
}

#[wasm_bindgen_test]
async fn copy_follows_interests_and_learns_from_outcomes() {
    let shop = "t-adapt-copy";
    let p = adapting(shop, "full", 0.0).await;
    for i in 0..4 {
        let event = format!(
            r#"{{"type":"view","itemId":"j{i}","item":{{"categoryPath":["Outdoor","Jackets"],"tags":["trail"]}}}}"#
        );
        p.track(ts(&event)).expect("valid event");
    }
    let choice: JsValue = p.choose_variant(ts(JACKET), list(VARIANTS)).expect("a variant").into();
    assert_eq!(field(&choice, "variantId"), "\"hills\"", "{}", field(&choice, "reason"));
    assert!(field(&choice, "matchedInterests").contains("trail"));
    let outcome = r#"{"kind":"variant","itemId":"jacket-1","variantId":"hills","engaged":true}"#;
    assert_eq!(p.record_decision_outcome(ts(outcome)).ok(), Some(true));
    assert!(p.record_decision_outcome(ts(outcome)).is_err(), "an outcome counts once");
    let hours: JsValue = p.preferred_hours(None).expect("hours").into();
    assert_eq!(field(&hours, "status"), "\"notEnoughData\"");
    let state: JsValue = p.shopper_state().expect("state").into();
    assert_eq!(field(&state, "currentCategory"), "\"Outdoor > Jackets\"");
}

#[wasm_bindgen_test]
async fn the_holdout_gets_the_shops_defaults() {
    let shop = "t-adapt-holdout";
    let p = adapting(shop, "full", 1.0).await;
    let layout: JsValue = p.choose_layout(list(SECTIONS), None).expect("a layout").into();
    assert_eq!(section_ids(&layout), ["hero", "for-you", "new", "top"]);
    assert_eq!(field(&layout, "personalized"), "false");
    let choice: JsValue = p.choose_variant(ts(JACKET), list(VARIANTS)).expect("a variant").into();
    assert_eq!(field(&choice, "variantId"), "\"city\"");
    assert_eq!(p.lift_bucket().unwrap().map(|b| JsValue::from(b).as_string()), Some(Some("holdout".into())));
}

#[wasm_bindgen_test]
async fn without_consent_decisions_are_defaults_and_nothing_is_stored() {
    let shop = "t-adapt-none";
    clear_shop(shop);
    let p = personalizer(shop, "");
    let (code, message) = thrown_code(p.choose_layout(list(SECTIONS), None));
    assert_eq!(code, "notConfigured", "{message}");
    configure(&p, None).await.expect("adaptation loads");
    let layout: JsValue = p.choose_layout(list(SECTIONS), None).expect("a layout").into();
    assert_eq!(section_ids(&layout), ["hero", "for-you", "new", "top"]);
    assert!(
        field(&layout, "densityDiagnostic").contains("consent is \\\"none\\\""),
        "{}",
        field(&layout, "densityDiagnostic")
    );
    assert_eq!(field(&layout, "densityReason"), "\"Arranged by the shop\"");
    let offer: JsValue = p.choose_offer(list(OFFERS), None).expect("an offer").into();
    assert!(field(&offer, "diagnostic").contains("nothing personalized or stored"));
    assert_eq!(field(&offer, "reason"), "\"The shop's current offer\"", "no developer words for shoppers");
    assert!(p.lift_bucket().unwrap().is_none());
    assert_eq!(
        p.record_decision_outcome(ts(r#"{"kind":"offer","offerId":"welcome-10","takenUp":true}"#)).ok(),
        Some(false)
    );
    assert!(keys_with_prefix(&prefix(shop)).is_empty());
}

#[wasm_bindgen_test]
async fn session_consent_keeps_adaptation_in_memory_and_forget_removes_it() {
    let shop = "t-adapt-session";
    let p = adapting(shop, "session", 0.0).await;
    p.choose_layout(list(SECTIONS), None).expect("a layout");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "session consent writes nothing");
    consent(&p, "full");
    p.choose_layout(list(SECTIONS), None).expect("a layout");
    assert!(storage().get_item(&adapt_key(shop)).unwrap().is_some());
    assert!(p.forget().expect("forget") >= 1);
    assert!(keys_with_prefix(&prefix(shop)).is_empty());
}

/// A server answer of ten candidates `h-0`..`h-9`, alternating Shoes and Coffee, best first.
fn holdout_answer() -> JsValue {
    let ids: Vec<String> = (0..10).map(|i| format!("\"h-{i}\"")).collect();
    let attributes: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"categoryPath":["{}"],"price":{}}}"#, ["Shoes", "Coffee"][i % 2], 10 + i))
        .collect();
    let scores: Vec<String> = (0..10).map(|i| format!("{}", 1.0 - f64::from(i) / 10.0)).collect();
    js(&format!(
        r#"{{"ids":[{}],"attributes":[{}],"scores":[{}]}}"#,
        ids.join(","),
        attributes.join(","),
        scores.join(",")
    ))
}

#[wasm_bindgen_test]
async fn the_holdout_ranks_in_the_servers_order_and_never_trains_the_model() {
    let shop = "t-adapt-holdout-rank";
    clear_shop(shop);
    let config = format!(
        r#"{{"shop":"{shop}","noise":{{"botHeuristic":false,"maxEventsPerMinute":1000,"burstMaxEvents":1000}}}}"#
    );
    let p = JsPersonalizer::new(ts(&config)).expect("valid config");
    consent(&p, "full");
    configure(&p, Some(r#"{"holdoutShare":1}"#)).await.expect("valid config");
    assert_eq!(p.lift_bucket().expect("bucket").map(|b| JsValue::from(b).as_string()), Some(Some("holdout".into())));
    for i in [9, 7, 5] {
        assert_eq!(view(&p, &format!("h-{i}"), r#"["Coffee"]"#), "recorded");
    }
    let handle = p.register_candidates(Ts::new_unchecked(holdout_answer())).expect("a valid answer");
    let server: Vec<String> = (0..10).map(|i| format!("h-{i}")).collect();
    for _ in 0..10 {
        let list: JsValue = p.rank(handle, Some(ts(r#"{"limit":10,"explore":true}"#))).expect("ranked").into();
        let items = Array::from(&Reflect::get(&list, &"items".into()).expect("items"));
        let ids: Vec<String> =
            items.iter().filter_map(|item| Reflect::get(&item, &"id".into()).ok()?.as_string()).collect();
        assert_eq!(ids, server, "the server's order despite the Coffee views");
        assert_eq!((field(&list, "propensity"), field(&list, "explored")), ("1".into(), "false".into()));
        let last = ids.last().expect("items");
        let click = format!(r#"{{"type":"click","itemId":"{last}","placement":"home"}}"#);
        let outcome: JsValue = p.track(ts(&click)).expect("click").into();
        assert_eq!(field(&outcome, "status"), "\"recorded\"", "holdout clicks are still tracked and counted");
    }
    p.flush().expect("flushed");
    assert!(storage().get_item(&format!("{}model", prefix(shop))).unwrap().is_none(), "nothing learned, nothing saved");
    let stored = storage().get_item(&adapt_key(shop)).unwrap().expect("the adaptation state with the lift counts");
    // Ten clicks at "home" (no recommendation section there): counted as not recommended.
    let home = r#""placement":"home","recommended":[0.0,0.0,0.0,0.0,0.0],"notRecommended":[0.0,10.0,0.0,0.0,0.0]"#;
    assert!(stored.contains(home), "{stored}");
}
