//! The hand reader against the serde derive it stands in for, on the same trees.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::rank::RankContext;
use crate::storage::json_reading;

/// Both readers of `tree`: the same context, or the same words.
fn agree(tree: &Value) {
    let by_hand = RankContext::from_tree(tree).map_err(|e| e.to_string());
    let derived = serde_json::from_value::<RankContext>(tree.clone()).map_err(|e| e.to_string());
    assert_eq!(by_hand, derived, "{tree}");
}

#[test]
fn reads_contexts_as_the_derive_does() {
    for text in [
        r#"{}"#,
        r#"{"placement":"product","currentItem":"c-0","limit":5}"#,
        r#"{"placement":"search","query":"shoes","limit":3,"explore":true}"#,
        r#"{"rules":{"pins":[{"id":"a","position":0}],"exclude":["b"],"boost":["c"],"bury":["d"]}}"#,
        r#"{"diversity":{"strength":0.3,"maxPerCategory":3},"unknown":{"deep":[1,2]}}"#,
        r#"{"placement":{"cart":null},"currentItem":null,"query":null}"#,
        r#"["home","x",null,7,[[["p",1]],["e"]],[1,null],false]"#,
        r#"["cart"]"#,
        r#"[]"#,
        r#"{"diversity":[0.5]}"#,
        r#"{"diversity":{"strength":2,"maxPerCategory":null}}"#,
        r#"{"diversity":{"strength":-3}}"#,
    ] {
        let tree = json_reading::parse(text).unwrap();
        assert!(RankContext::from_tree(&tree).is_ok(), "{text}");
        agree(&tree);
    }
}

#[test]
fn refuses_what_the_derive_refuses_in_its_words() {
    for (text, words) in [
        (
            r#"{"placement":"everywhere"}"#,
            "unknown variant `everywhere`, expected one of `home`, `product`, `cart`, `search`",
        ),
        (r#"{"placement":7}"#, "invalid type: integer `7`, expected string or map"),
        (r#"{"placement":{}}"#, "invalid value: map, expected map with a single key"),
        (r#"{"placement":{"home":1}}"#, "invalid type: integer `1`, expected unit"),
        (r#"{"limit":1.5}"#, "invalid type: floating point `1.5`, expected usize"),
        (r#"{"limit":1e21}"#, "invalid type: floating point `1e+21`, expected usize"),
        (r#"{"limit":-1}"#, "invalid value: integer `-1`, expected usize"),
        (r#"{"limit":"5"}"#, "invalid type: string \"5\", expected usize"),
        (r#"{"limit":null}"#, "invalid type: null, expected usize"),
        (r#"{"explore":"yes"}"#, "invalid type: string \"yes\", expected a boolean"),
        (r#"{"currentItem":["a"]}"#, "invalid type: sequence, expected a string"),
        (r#"{"rules":{"pins":[{"id":"a"}]}}"#, "missing field `position`"),
        (r#"{"rules":{"pins":[{"position":1}]}}"#, "missing field `id`"),
        (r#"{"rules":{"pins":[["a"]]}}"#, "invalid length 1, expected struct Pin with 2 elements"),
        (r#"{"rules":{"pins":[["a",1,2]]}}"#, "invalid length 3, expected fewer elements in array"),
        (
            r#"{"rules":{"pins":[{"id":"a","position":4294967296}]}}"#,
            "invalid value: integer `4294967296`, expected u32",
        ),
        (r#"{"rules":{"pins":{}}}"#, "invalid type: map, expected a sequence"),
        (r#"{"rules":{"exclude":[1]}}"#, "invalid type: integer `1`, expected a string"),
        (r#"{"rules":7}"#, "invalid type: integer `7`, expected struct BusinessRules"),
        (r#"{"diversity":{"strength":"x"}}"#, "invalid type: string \"x\", expected f32"),
        (r#"{"diversity":{"maxPerCategory":-0.0}}"#, "invalid type: floating point `-0.0`, expected u32"),
        (r#"true"#, "invalid type: boolean `true`, expected struct RankContext"),
        (r#"["home",null,null,20,{},{},false,1]"#, "invalid length 8, expected fewer elements in array"),
        (r#"{"limit":"\u001b\"q"}"#, "invalid type: string \"\\u{1b}\\\"q\", expected usize"),
    ] {
        let tree = json_reading::parse(text).unwrap();
        assert_eq!(RankContext::from_tree(&tree).map_err(|e| e.to_string()), Err(words.to_owned()), "{text}");
        agree(&tree);
    }
}

/// Any leaf or a small container: what a field may hold instead of its type.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..5).prop_map(Value::from),
        (0u64..=u64::from(u32::MAX) + 2).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop_oneof![Just(0.5), Just(-0.0), Just(3.0), Just(1e21), Just(1e-7)].prop_map(Value::from),
        "[a-z]{0,3}".prop_map(Value::from),
        prop_oneof![Just("home"), Just("product"), Just("cart"), Just("search"), Just("\u{7f}\"\\é")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof!["[a-z]{1,2}", Just("home".to_owned()), Just("id".to_owned())], inner),
                0..3
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// An object of some of `names`, each holding what `field` makes or anything else; or an array.
fn shaped(names: &'static [&'static str], field: fn(usize) -> BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let members: Vec<BoxedStrategy<Option<Value>>> = (0..names.len())
        .map(|index| prop::option::weighted(0.6, prop_oneof![4 => field(index), 1 => any_value()]).boxed())
        .collect();
    let object = (members, prop::option::of(any_value())).prop_map(move |(members, extra)| {
        let mut object = serde_json::Map::new();
        for (name, member) in names.iter().zip(members) {
            if let Some(member) = member {
                object.insert((*name).to_owned(), member);
            }
        }
        if let Some(extra) = extra {
            object.insert("extra".to_owned(), extra);
        }
        Value::Object(object)
    });
    let array = (0..names.len() + 2)
        .prop_flat_map(move |len| {
            let len = len.min(names.len() + 1);
            (0..len)
                .map(|index| if index < names.len() { field(index) } else { any_value().boxed() })
                .collect::<Vec<_>>()
        })
        .prop_map(Value::Array);
    prop_oneof![6 => object, 1 => array, 1 => any_value()].boxed()
}

fn strings() -> BoxedStrategy<Value> {
    prop::collection::vec(prop_oneof![4 => "[a-z]{0,3}".prop_map(Value::from), 1 => any_value()], 0..4)
        .prop_map(Value::Array)
        .boxed()
}

fn pin() -> BoxedStrategy<Value> {
    shaped(&["id", "position"], |index| match index {
        0 => "[a-z]{0,3}".prop_map(Value::from).boxed(),
        _ => (0u64..10).prop_map(Value::from).boxed(),
    })
}

fn context() -> BoxedStrategy<Value> {
    const NAMES: &[&str] = &["placement", "currentItem", "query", "limit", "rules", "diversity", "explore"];
    shaped(NAMES, |index| match index {
        0 => prop_oneof![
            Just(json!("home")),
            Just(json!("search")),
            Just(json!({ "cart": null })),
            Just(json!("nowhere"))
        ]
        .boxed(),
        1 | 2 => "[a-z]{0,3}".prop_map(Value::from).boxed(),
        3 => (0u64..50).prop_map(Value::from).boxed(),
        4 => shaped(&["pins", "exclude", "boost", "bury"], |index| match index {
            0 => prop::collection::vec(pin(), 0..3).prop_map(Value::Array).boxed(),
            _ => strings(),
        }),
        5 => shaped(&["strength", "maxPerCategory"], |index| match index {
            0 => (0.0f64..1.0).prop_map(Value::from).boxed(),
            _ => (0u64..5).prop_map(Value::from).boxed(),
        }),
        _ => any::<bool>().prop_map(Value::from).boxed(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn reads_any_tree_as_the_derive_does(tree in context()) {
        agree(&tree);
    }
}
