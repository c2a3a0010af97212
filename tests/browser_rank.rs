//! Ranking through the `Personalizer` JS class in Chromium: registering a server answer with typed
//! arrays, ranking it by handle, bad input, handle eviction, learning from clicks, and the learned
//! model persisting in localStorage across instances.
#![cfg(target_arch = "wasm32")]

mod browser_page;

use browser_page::*;
use js_sys::{Array, Float32Array, Reflect, Uint32Array, JSON};
use shop_personalizer::wasm::JsPersonalizer;
use tsify::Ts;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DIM: u32 = 4;

/// A personalizer whose noise filter lets a test's rapid clicks through.
fn fast_personalizer(shop: &str) -> JsPersonalizer {
    let config = format!(
        r#"{{"shop":"{shop}","noise":{{"botHeuristic":false,"maxEventsPerMinute":1000,"burstMaxEvents":1000}}}}"#
    );
    JsPersonalizer::new(ts(&config)).unwrap_or_else(|_| panic!("config should be accepted: {config}"))
}

/// An answer of `n` candidates `{prefix}-i` as a storefront holds it: ids, attributes, and typed
/// arrays for scores, popularity and `n × DIM` embeddings (deterministic, varied values).
fn answer(prefix: &str, n: u32) -> JsValue {
    let ids: Vec<String> = (0..n).map(|i| format!("\"{prefix}-{i}\"")).collect();
    let attributes: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"categoryPath":["{}"],"brand":"Brand {}","price":{}}}"#,
                ["Shoes", "Coffee"][(i % 2) as usize],
                i % 3,
                10 + i
            )
        })
        .collect();
    let titles: Vec<String> = (0..n).map(|i| format!("\"Item {i}\"")).collect();
    let value = js(&format!(
        r#"{{"ids":[{}],"attributes":[{}],"titles":[{}]}}"#,
        ids.join(","),
        attributes.join(","),
        titles.join(",")
    ));
    let scores: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 / n as f32).collect();
    let popularity: Vec<f32> = (0..n).map(|i| ((i * 37) % 11) as f32 * 9.0).collect();
    let embeddings: Vec<f32> = (0..n * DIM).map(|k| ((k * 7919) % 13) as f32 / 13.0 - 0.5).collect();
    set(&value, "scores", &Float32Array::from(scores.as_slice()).into());
    set(&value, "popularity", &Float32Array::from(popularity.as_slice()).into());
    set(&value, "embeddings", &Float32Array::from(embeddings.as_slice()).into());
    value
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    Reflect::set(target, &name.into(), value).expect("set a field");
}

fn register(p: &JsPersonalizer, answer: &JsValue) -> u32 {
    p.register_candidates(Ts::new_unchecked(answer.clone())).unwrap_or_else(|_| panic!("a valid answer"))
}

/// The ranked ids (and the whole list) for `context` (JSON).
fn rank(p: &JsPersonalizer, handle: u32, context: &str) -> (Vec<String>, JsValue) {
    let list: JsValue = p.rank(handle, Some(ts(context))).unwrap_or_else(|_| panic!("rank {handle}")).into();
    let items = Array::from(&Reflect::get(&list, &"items".into()).expect("items"));
    let ids = items
        .iter()
        .map(|item| Reflect::get(&item, &"id".into()).ok().and_then(|id| id.as_string()).unwrap_or_default())
        .collect();
    (ids, list)
}

fn click(p: &JsPersonalizer, id: &str) {
    let outcome: JsValue =
        p.track(ts(&format!(r#"{{"type":"click","itemId":"{id}","placement":"home"}}"#))).expect("click").into();
    assert_eq!(field(&outcome, "status"), "\"recorded\"", "the click reached the profile");
}

#[wasm_bindgen_test]
fn a_registered_answer_ranks_into_typed_items_with_reasons() {
    let shop = "t-rank-basic";
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, "session");
    assert_eq!(view(&p, "c-3", r#"["Shoes"]"#), "recorded");
    let handle = register(&p, &answer("c", 12));
    let (ids, list) = rank(&p, handle, r#"{"placement":"product","currentItem":"c-0","limit":5}"#);
    assert_eq!(ids.len(), 5);
    assert!(!ids.contains(&"c-0".to_string()), "the page's own item is not recommended: {ids:?}");
    let items = Array::from(&Reflect::get(&list, &"items".into()).expect("items"));
    for item in items.iter() {
        assert!(Reflect::get(&item, &"score".into()).expect("score").as_f64().is_some_and(f64::is_finite));
        assert!(Array::is_array(&Reflect::get(&item, &"reasons".into()).expect("reasons")));
        let reason = Reflect::get(&item, &"reason".into()).ok().and_then(|r| r.as_string()).unwrap_or_default();
        assert!(!reason.is_empty(), "every item has a human reason");
        assert!(Reflect::get(&item, &"title".into())
            .expect("title")
            .as_string()
            .is_some_and(|t| t.starts_with("Item ")));
    }
    assert_eq!(field(&list, "propensity"), "1");
    assert_eq!(field(&list, "explored"), "false");
    assert!(Reflect::get(&list, &"impression".into()).expect("impression").as_f64().is_some_and(|i| i >= 1.0));

    let (search, _) = rank(&p, handle, r#"{"placement":"search","query":"shoes","limit":3}"#);
    let mut sorted = search.clone();
    sorted.sort();
    let mut sent: Vec<String> = (0..12).map(|i| format!("c-{i}")).collect();
    sent.sort();
    assert_eq!(sorted, sent, "search keeps every result");

    // Plain arrays work as well as typed arrays; the answer's neighbours come in columns.
    let plain = js(
        r#"{"ids":["a","b","c"],"scores":[0.2,0.9,0.5],"neighbours":{"offsets":[0,1,1,2],"ids":["b","a"],"scores":[3,1]}}"#,
    );
    let (order, _) = rank(&p, register(&p, &plain), r#"{"limit":3}"#);
    assert_eq!(order.len(), 3);
    assert!(p.rank(handle, None).is_ok(), "the context is optional");
}

#[wasm_bindgen_test]
fn ranked_items_cross_intact_with_any_text() {
    let p = personalizer("t-rank-text", "");
    // Ids and titles outside ASCII (one needs two UTF-16 units), an absent title, quotes.
    let answer = js(
        r#"{"ids":["caf\u00e9-1","\ud83d\ude00-2","plain \"3\""],"titles":["Caf\u00e9 \u2615","","\ud83d\ude00 smile"]}"#,
    );
    let handle = register(&p, &answer);
    let (ids, list) = rank(&p, handle, r#"{"placement":"home","limit":3}"#);
    assert_eq!(ids, ["caf\u{e9}-1", "\u{1f600}-2", "plain \"3\""], "a new shopper gets the server's order");
    assert_eq!(
        field(&list, "items"),
        format!(
            r#"[{{"id":"café-1","score":{s0},"reasons":["serverPick"],"reason":"Picked by the shop","explanation":{{"code":"shopPick","text":"Picked by the shop"}},"fromSession":false,"title":"Café ☕"}},{{"id":"😀-2","score":{s1},"reasons":["serverPick"],"reason":"Picked by the shop","explanation":{{"code":"shopPick","text":"Picked by the shop"}},"fromSession":false}},{{"id":"plain \"3\"","score":{s2},"reasons":["serverPick"],"reason":"Picked by the shop","explanation":{{"code":"shopPick","text":"Picked by the shop"}},"fromSession":false,"title":"😀 smile"}}]"#,
            s0 = score_at(&list, 0),
            s1 = score_at(&list, 1),
            s2 = score_at(&list, 2),
        )
    );
    let items = Array::from(&Reflect::get(&list, &"items".into()).expect("items"));
    let reasons = Reflect::get(&items.get(0), &"reasons".into()).expect("reasons");
    Array::from(&reasons).push(&"mutated".into());
    let (_, again) = rank(&p, handle, r#"{"placement":"home","limit":1}"#);
    assert_eq!(
        field(&Array::from(&field_value(&again, "items")).get(0), "reasons"),
        r#"["serverPick"]"#,
        "every list has its own arrays"
    );
}

fn field_value(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).expect("object")
}

/// The score of item `index` as JSON writes it.
fn score_at(list: &JsValue, index: u32) -> String {
    let item = Array::from(&field_value(list, "items")).get(index);
    let score = field_value(&item, "score").as_f64().expect("a number");
    assert!(score.is_finite());
    JSON::stringify(&JsValue::from_f64(score)).map(String::from).unwrap_or_default()
}

#[wasm_bindgen_test]
fn bad_input_throws_and_nothing_is_stored() {
    let shop = "t-rank-bad";
    clear_shop(shop);
    let p = personalizer(shop, "");
    consent(&p, "full");
    let duplicate = answer("d", 3);
    set(&duplicate, "ids", &js(r#"["d-0","d-1","d-0"]"#));
    let nan = answer("n", 3);
    set(&nan, "scores", &Float32Array::from([1.0f32, f32::NAN, 0.5].as_slice()).into());
    let ragged = answer("r", 3);
    set(&ragged, "embeddings", &Float32Array::from([0.5f32; 7].as_slice()).into());
    let short = answer("s", 3);
    set(&short, "popularity", &Float32Array::from([1.0f32].as_slice()).into());
    let typo = answer("t", 3);
    set(&typo, "embedding", &Float32Array::new_with_length(12).into());
    let bad_offsets = answer("o", 2);
    set(&bad_offsets, "neighbours", &js(r#"{"ids":["x"],"scores":[1]}"#));
    Reflect::set(
        &Reflect::get(&bad_offsets, &"neighbours".into()).expect("nb"),
        &"offsets".into(),
        &Uint32Array::from([0u32, 5, 1].as_slice()).into(),
    )
    .expect("set");
    let cases: [(JsValue, &str); 14] = [
        (duplicate, "appears twice"),
        (nan, "is NaN"),
        (ragged, "embeddings hold 7 numbers for 3 candidates"),
        (short, "popularity has 1 entries for 3 candidates"),
        (typo, "unknown field `embedding`"),
        (bad_offsets, "neighbours.offsets[1] is 5"),
        (js(r#"{"ids":[""]}"#), "item id is empty"),
        (JsValue::from_f64(3.0), "expected an object"),
        (js(r#"{"ids":["a",7]}"#), "invalid answer.ids: invalid type: integer `7`, expected a string"),
        (js(r#"{"ids":["a"],"about":["a"]}"#), "invalid answer.about"),
        (js(r#"{"ids":["a"],"titles":"Shoe"}"#), "invalid answer.titles"),
        (js(r#"{"ids":["a"],"attributes":[{"price":"cheap"}]}"#), "invalid answer.attributes"),
        (js(r#"{"ids":["a"],"neighbours":{"offsets":[0,1],"ids":[3],"scores":[1]}}"#), "invalid answer.neighbours.ids"),
        (js(r#"{"titles":["a"]}"#), "missing field `ids`"),
    ];
    for (bad, expected) in cases {
        let (code, message) = thrown_code(p.register_candidates(Ts::new_unchecked(bad)));
        assert!(message.contains(expected), "{message:?} should mention {expected:?}");
        assert_eq!(code, "invalidAnswer", "{message}");
    }
    let (code, message) = thrown_code(p.rank(7_777, None));
    assert!(message.contains("call registerCandidates again"), "{message}");
    assert_eq!(code, "unknownHandle");
    let handle = register(&p, &answer("ok", 3));
    let (code, message) = thrown_code(p.rank(handle, Some(ts(r#"{"placement":"everywhere"}"#))));
    assert!(message.contains("unknown variant `everywhere`"), "{message}");
    assert_eq!(code, "invalidArgument");
    let (code, message) = thrown_code(p.rank(handle, Some(ts(r#"{"diversity":{"strength":3}}"#))));
    assert!(message.contains("between 0 and 1"), "{message}");
    assert_eq!(code, "invalidArgument");
    p.flush().expect("flush");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "nothing stored: {:?}", keys_with_prefix(&prefix(shop)));
}

#[wasm_bindgen_test]
fn the_least_recently_used_handle_is_evicted() {
    let p = personalizer("t-rank-evict", "");
    let first = register(&p, &answer("e", 3));
    let second = register(&p, &answer("e", 3));
    for _ in 0..30 {
        register(&p, &answer("e", 3));
    }
    rank(&p, first, "{}");
    register(&p, &answer("e", 3));
    assert!(thrown(p.rank(second, None)).contains("unknown or was evicted"));
    assert!(p.rank(first, None).is_ok(), "a recently used handle stays");
    assert_eq!(p.release_candidates(first).ok(), Some(true));
    assert!(thrown(p.rank(first, None)).contains("unknown or was evicted"));
}

#[wasm_bindgen_test]
fn clicks_on_ranked_items_change_the_order() {
    let (learner, control) = (fast_personalizer("t-rank-learner"), fast_personalizer("t-rank-control"));
    for p in [&learner, &control] {
        consent(p, "session");
    }
    let handle = register(&learner, &answer("l", 10));
    let (before, _) = rank(&learner, handle, r#"{"limit":10}"#);
    let target = before.last().cloned().expect("items");
    for _ in 0..30 {
        rank(&learner, handle, r#"{"limit":10}"#);
        click(&learner, &target);
        click(&control, &target);
    }
    let fresh = |p: &JsPersonalizer| rank(p, register(p, &answer("f", 10)), r#"{"limit":10}"#).0;
    assert_ne!(
        fresh(&learner),
        fresh(&control),
        "same profile, but only the learner learned from clicks on its rankings"
    );
}

#[wasm_bindgen_test]
fn the_learned_model_persists_across_instances_until_forget() {
    let shop = "t-rank-persist";
    clear_shop(shop);
    let p = fast_personalizer(shop);
    consent(&p, "full");
    let handle = register(&p, &answer("p", 8));
    for _ in 0..5 {
        let (ids, _) = rank(&p, handle, r#"{"limit":8}"#);
        click(&p, ids.last().expect("items"));
    }
    p.flush().expect("flush");
    let model_key = format!("{}model", prefix(shop));
    assert!(keys_with_prefix(&prefix(shop)).contains(&model_key), "{:?}", keys_with_prefix(&prefix(shop)));
    let stored = storage().get_item(&model_key).ok().flatten().unwrap_or_default();
    assert!(stored.starts_with(r#"{"format":"shop-personalizer/rank-model","version":1,"#), "{stored}");

    // Both instances know the session's items from the same answer (the session only counts
    // items some registered answer mentioned).
    let scores = |p: &JsPersonalizer| {
        register(p, &answer("p", 8));
        let (_, list) = rank(p, register(p, &answer("q", 8)), r#"{"placement":"search"}"#);
        field(&list, "items")
    };
    let reopened = fast_personalizer(shop);
    consent(&reopened, "full");
    let untrained = fast_personalizer("t-rank-untrained");
    clear_shop("t-rank-untrained");
    assert_eq!(scores(&reopened), scores(&p), "the new instance ranks with the learned model");
    assert_ne!(scores(&untrained), scores(&p), "... which differs from the shipped one");

    reopened.forget().expect("forget");
    assert!(keys_with_prefix(&prefix(shop)).is_empty(), "forget removes the model too");
}

/// An answer of `n` candidates, each titled `title`.
fn answer_titled(title: &str, n: u32) -> JsValue {
    let title = JsValue::from_str(title);
    let value = js("{}");
    set(&value, "ids", &(0..n).map(|i| JsValue::from_str(&format!("long-{i}"))).collect::<Array>().into());
    set(&value, "titles", &(0..n).map(|_| title.clone()).collect::<Array>().into());
    value
}

#[wasm_bindgen_test]
fn an_answer_over_its_json_limit_throws_and_the_next_one_registers() {
    let p = personalizer("t-rank-json-limit", "");
    // Over the 32 MiB of JSON: 513 ASCII titles (33.6 M characters), and 171 titles of a 3-byte
    // character (11.2 M characters, under the limit as characters, 33.6 MB as UTF-8).
    // (Each title is the longest string allowed, 65,536 UTF-16 units.)
    for (unit, n) in [("a", 513), ("\u{2615}", 171)] {
        let answer = answer_titled(&unit.repeat(65_536), n);
        let (code, message) = thrown_code(p.register_candidates(Ts::new_unchecked(answer)));
        assert_eq!(code, "invalidAnswer", "{message}");
        assert!(message.contains("over 33554432 bytes of JSON"), "{message}");
    }
    // Under it, with characters of 1, 2, 3 and 4 bytes (two UTF-16 units): 50 titles of 65,535
    // units, 6.6 MB of UTF-8 from 3.3 M characters, arrive whole.
    let long = "a\u{e9}\u{2615}\u{1f600}".repeat(13_107);
    let handle = register(&p, &answer_titled(&long, 50));
    let (ids, list) = rank(&p, handle, r#"{"placement":"home","limit":2}"#);
    assert_eq!(ids, ["long-0", "long-1"]);
    let title = field_value(&Array::from(&field_value(&list, "items")).get(1), "title").as_string();
    assert_eq!(title, Some(long));
}
