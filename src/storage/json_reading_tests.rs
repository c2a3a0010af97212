use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// What serde_json (with `float_roundtrip`) makes of `text`: the tree, or that it is an error.
fn reference(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text).ok()
}

fn agrees(text: &str) {
    let ours = parse(text);
    match (reference(text), &ours) {
        (Some(expected), Ok(found)) => assert_eq!(found, &expected, "{text:?}"),
        (None, Err(_)) => {}
        (expected, found) => panic!("{text:?}: serde_json {expected:?}, ours {found:?}"),
    }
}

#[test]
fn reads_what_serde_json_reads() {
    for text in [
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1",
        "-1",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.5",
        "-1.5e3",
        "1E+2",
        "1e-400",
        "2.2250738585072014e-308",
        "0.1",
        "123456789012345678901234567890",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"é😀\"",
        "[]",
        "[1,[2,[3]]]",
        "{}",
        "{\"a\":1,\"a\":2}",
        " {\"a\" : [ 1 , {\"b\":null} ] } ",
        "\t\n\r1\n",
    ] {
        agrees(text);
        assert!(parse(text).is_ok(), "{text}");
    }
}

#[test]
fn refuses_what_serde_json_refuses() {
    for text in [
        "",
        " ",
        "nul",
        "nulll",
        "tru",
        "01",
        "-",
        "-a",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "1e400",
        "-1e400",
        "\"abc",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\uD800\"",
        "\"\\uD800\\u0041\"",
        "\"\\uDC00\"",
        "\"a\nb\"",
        "[1,]",
        "[1 2]",
        "[",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{1:2}",
        "{\"a\":1",
        "1 2",
        "[1]]",
        "NaN",
        "Infinity",
        "// c\n1",
        "'a'",
    ] {
        agrees(text);
        assert!(parse(text).is_err(), "{text}");
    }
}

#[test]
fn errors_say_what_and_where_in_serde_json_words() {
    for text in [
        "[1,\n 2,]",
        "{\"a\":1",
        "1 x",
        "[1 2]",
        "{\"a\" 1}",
        "{1:2}",
        "\"\\x\"",
        "01",
        "1.",
        "nulx",
        "",
        "[",
        "[1,",
        "{",
        "{\"a\"",
        "{\"a\":",
        "-",
        "1e",
        "\"\\u",
        "\"\\uD800\"",
        "\"\\uD800\\n\"",
        "\"\\uD800\\u0041\"",
        "\"\\uDC00\"",
        "\"\\u00zz\"",
        "\"a\nb\"",
    ] {
        let expected = serde_json::from_str::<Value>(text).unwrap_err().to_string();
        assert_eq!(parse(text).unwrap_err().to_string(), expected, "{text:?}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(parse(&nested(MAX_DEPTH)).is_ok());
    assert_eq!(parse(&nested(MAX_DEPTH + 1)).unwrap_err().message, "recursion limit exceeded");
    assert!(parse(&"{\"a\":".repeat(100_000)).is_err());
    assert!(object_members(&format!("{{\"a\":{}}}", nested(200))).is_err());
}

#[test]
fn object_members_are_the_exact_texts_of_the_values() {
    let text = r#" { "format" : "x", "payload":{"b": [1, 2.5 ]},"n":7 } "#;
    let members = object_members(text).unwrap().unwrap();
    let found: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(found, [("format", "\"x\""), ("payload", "{\"b\": [1, 2.5 ]}"), ("n", "7")]);
    assert_eq!(object_members("[1]").unwrap(), None);
    assert!(object_members("{\"a\":}").is_err());
    assert!(object_members("{\"a\":1} x").is_err());
}

fn json_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_tree_reads_back_as_written(tree in json_tree(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&tree) } else { serde_json::to_string(&tree) }.unwrap();
        prop_assert_eq!(parse(&text).unwrap(), tree);
    }

    #[test]
    fn every_float_reads_back_bit_for_bit(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let text = serde_json::to_string(&x).unwrap();
        let read = parse(&text).unwrap().as_f64().unwrap();
        prop_assert_eq!(read.to_bits(), x.to_bits(), "{}", text);
    }

    #[test]
    fn any_text_parses_as_serde_json_does(text in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,24}") {
        agrees(&text);
    }

    #[test]
    fn any_damaged_json_parses_as_serde_json_does(tree in json_tree(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut text = serde_json::to_string(&tree).unwrap().into_bytes();
        let at = cut.index(text.len() + 1);
        text.insert(at, byte);
        if let Ok(text) = String::from_utf8(text) {
            agrees(&text);
        }
    }
}
