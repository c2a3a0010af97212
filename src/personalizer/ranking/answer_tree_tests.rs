//! The hand reader against the serde path it replaced (the derive of the columns, then column by
//! column to word the error), on the same trees.

use proptest::prelude::*;
use serde::de::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::storage::json_reading;

/// The serde path as the facade had it.
pub(in crate::personalizer::ranking) mod by_serde {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Columns<'a> {
        #[serde(borrow, default)]
        ids: Option<Vec<Text<'a>>>,
        #[serde(borrow, default)]
        about: Option<Text<'a>>,
        #[serde(borrow, default)]
        titles: Option<Vec<Text<'a>>>,
        #[serde(default)]
        attributes: Option<Vec<ItemAttributes>>,
        #[serde(borrow, default)]
        neighbour_ids: Option<Vec<Text<'a>>>,
    }

    fn column<'a, T: Deserialize<'a>>(raw: Option<&'a Value>, what: &str) -> Result<Option<T>, String> {
        raw.map(|raw| T::deserialize(raw).map_err(|e| format!("invalid {what}: {e}"))).transpose()
    }

    pub fn read_plain(tree: &Value) -> Result<PlainColumns<'_>, String> {
        let columns = match Columns::deserialize(tree) {
            Ok(columns) => columns,
            Err(_) => return Err(explain_bad(tree)),
        };
        Ok(PlainColumns {
            ids: columns.ids.ok_or_else(|| "invalid answer: missing field `ids`".to_owned())?,
            about: columns.about,
            titles: columns.titles,
            attributes: columns.attributes,
            neighbour_ids: columns.neighbour_ids,
        })
    }

    fn explain_bad(tree: &Value) -> String {
        let Some(fields) = tree.as_object() else { return "invalid answer: expected an object".to_owned() };
        let raw = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let checks = [
            column::<Vec<Text<'_>>>(raw("ids"), "answer.ids").err(),
            column::<Text<'_>>(raw("about"), "answer.about").err(),
            column::<Vec<Text<'_>>>(raw("titles"), "answer.titles").err(),
            column::<Vec<ItemAttributes>>(raw("attributes"), "answer.attributes").err(),
            column::<Vec<Text<'_>>>(raw("neighbourIds"), "answer.neighbours.ids").err(),
        ];
        checks
            .into_iter()
            .flatten()
            .next()
            .unwrap_or_else(|| "invalid answer: its plain columns could not be read".to_owned())
    }
}

fn agree(tree: &Value) {
    assert_eq!(read_plain_tree(tree), by_serde::read_plain(tree), "{tree}");
}

#[test]
fn reads_and_refuses_answers_as_the_serde_path_does() {
    for (text, words) in [
        (
            r#"{"ids":["a","b\n"],"about":"x","titles":["T"],"attributes":[{"categoryPath":["S"],"brand":"B","price":9.5,"tags":["t"]}],"neighbourIds":["n"]}"#,
            None,
        ),
        (r#"{"ids":["a"],"attributes":[[["S"],null,1],{},[]],"titles":null,"about":null}"#, None),
        (r#"{"ids":["a",7]}"#, Some("invalid answer.ids: invalid type: integer `7`, expected a string")),
        (r#"{"ids":["a"],"about":["a"]}"#, Some("invalid answer.about: invalid type: sequence, expected a string")),
        (
            r#"{"ids":["a"],"titles":"Shoe"}"#,
            Some("invalid answer.titles: invalid type: string \"Shoe\", expected a sequence"),
        ),
        (
            r#"{"ids":["a"],"attributes":[{"price":"cheap"}]}"#,
            Some("invalid answer.attributes: invalid type: string \"cheap\", expected f64"),
        ),
        (
            r#"{"ids":["a"],"attributes":[7]}"#,
            Some("invalid answer.attributes: invalid type: integer `7`, expected struct ItemAttributes"),
        ),
        (
            r#"{"ids":["a"],"attributes":[[[],null,null,[],5]]}"#,
            Some("invalid answer.attributes: invalid length 5, expected fewer elements in array"),
        ),
        (
            r#"{"ids":["a"],"neighbourIds":[3]}"#,
            Some("invalid answer.neighbours.ids: invalid type: integer `3`, expected a string"),
        ),
        (r#"{"titles":["a"]}"#, Some("invalid answer: missing field `ids`")),
        (
            r#"{"titles":[1],"ids":[2.5]}"#,
            Some("invalid answer.ids: invalid type: floating point `2.5`, expected a string"),
        ),
    ] {
        let tree = json_reading::parse(text).unwrap();
        if let Some(words) = words {
            assert_eq!(read_plain_tree(&tree).err().as_deref(), Some(words), "{text}");
        } else {
            assert!(read_plain_tree(&tree).is_ok(), "{text}");
        }
        agree(&tree);
    }
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop_oneof![Just(0.5), Just(-0.0), Just(3.0), Just(1e21)].prop_map(Value::from),
        "[a-z\"\\\\\u{1}é]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,2}", inner), 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn string_or_any() -> BoxedStrategy<Value> {
    prop_oneof![6 => "[a-z]{0,3}".prop_map(Value::from), 1 => any_value()].boxed()
}

fn strings_or_any() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => prop::collection::vec(string_or_any(), 0..4).prop_map(Value::Array),
        1 => any_value(),
    ]
    .boxed()
}

fn attributes_or_any() -> BoxedStrategy<Value> {
    let member = |value: BoxedStrategy<Value>| prop::option::weighted(0.6, value);
    let number = prop_oneof![4 => (0.0f64..100.0).prop_map(Value::from), 1 => any_value()].boxed();
    let object = (member(strings_or_any()), member(string_or_any()), member(number.clone()), member(strings_or_any()))
        .prop_map(|(path, brand, price, tags)| {
            let mut object = serde_json::Map::new();
            for (name, value) in [("categoryPath", path), ("brand", brand), ("price", price), ("tags", tags)] {
                if let Some(value) = value {
                    object.insert(name.to_owned(), value);
                }
            }
            Value::Object(object)
        });
    let array =
        prop::collection::vec(prop_oneof![strings_or_any(), string_or_any(), number], 0..6).prop_map(Value::Array);
    prop_oneof![6 => object, 1 => array, 1 => any_value()].boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn reads_any_tree_as_the_serde_path_does(
        ids in prop::option::of(strings_or_any()),
        about in prop::option::of(string_or_any()),
        titles in prop::option::of(strings_or_any()),
        attributes in prop::option::of(prop_oneof![
            4 => prop::collection::vec(attributes_or_any(), 0..4).prop_map(Value::Array),
            1 => any_value(),
        ]),
        neighbour_ids in prop::option::of(strings_or_any()),
    ) {
        let mut object = serde_json::Map::new();
        for (name, value) in [("ids", ids), ("about", about), ("titles", titles), ("attributes", attributes), ("neighbourIds", neighbour_ids)] {
            if let Some(value) = value {
                object.insert(name.to_owned(), value);
            }
        }
        agree(&Value::Object(object));
    }
}

/// `answerJson` always writes an object (a fresh object literal through `JSON.stringify`); the
/// derive would have read an array as the columns in order, this reader refuses anything else.
#[test]
fn refuses_a_tree_that_is_not_an_object() {
    for tree in [json!([]), json!(null), json!("ids")] {
        assert_eq!(read_plain_tree(&tree).err().as_deref(), Some("invalid answer: expected an object"));
    }
}
