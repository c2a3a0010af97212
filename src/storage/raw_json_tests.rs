use super::*;
use proptest::prelude::*;
use serde_json::value::RawValue;

/// What serde_json's check gives.
fn serde_raw(text: &str) -> Option<String> {
    RawValue::from_string(text.to_owned()).ok().map(|raw| raw.get().to_owned())
}

fn same(text: &str) {
    assert_eq!(raw_json(text).map(str::to_owned), serde_raw(text), "{text:?}");
}

#[test]
fn accepts_and_refuses_what_serde_json_does() {
    let accepted = [
        "0",
        "-0",
        "-0.5e-3",
        "1E+9",
        "12.50",
        " \t\n\r{ \"a\" : [1, 2.50, {}], \"b\":{\"c\":null} } \n",
        "[]",
        "{}",
        "[ ]",
        "{ }",
        "\"\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD800\\udfff\"",
        "\"é😀\u{7f}\"",
        "true",
        "false",
        "null",
        "[true,false,null,\"x\",-1]",
    ];
    for text in accepted {
        assert!(raw_json(text).is_some(), "{text:?}");
        same(text);
    }
    let refused = [
        "",
        " ",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "{\"a\" 1}",
        "{1:2}",
        "{\"a\"}",
        "[",
        "{",
        "[}",
        "{]",
        "\"open",
        "\"\\x\"",
        "\"\\u12G4\"",
        "\"\\u12\"",
        "\"tab\tinside\"",
        "nul",
        "nulls",
        "True",
        "1 2",
        "{} x",
        "NaN",
        "[1]]",
    ];
    for text in refused {
        assert!(raw_json(text).is_none(), "{text:?}");
        same(text);
    }
}

#[test]
fn nesting_has_no_limit_as_in_serde_jsons_check() {
    let deep = format!("{}{}", "[{\"a\":".repeat(300), "}]".repeat(300));
    assert!(raw_json(&deep).is_none());
    same(&deep);
    let deep = format!("{}1{}", "[{\"a\":".repeat(300), "}]".repeat(300));
    assert_eq!(raw_json(&deep), Some(deep.as_str()));
    same(&deep);
}

/// JSON values with whitespace anywhere whitespace may stand.
fn spaced_json() -> impl Strategy<Value = String> {
    let space = "[ \t\n\r]{0,2}";
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
        "\"([a-z é\\x7f]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})*\"",
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            (prop::collection::vec((space, inner.clone(), space), 0..4), space).prop_map(|(items, gap)| {
                let items: Vec<String> = items.into_iter().map(|(a, v, b)| format!("{a}{v}{b}")).collect();
                format!("[{gap}{}]", items.join(","))
            }),
            (prop::collection::vec((space, "\"[a-z]{0,3}\"", space, space, inner), 0..4), space).prop_map(
                |(members, gap)| {
                    let members: Vec<String> =
                        members.into_iter().map(|(a, k, b, c, v)| format!("{a}{k}{b}:{c}{v}")).collect();
                    format!("{{{gap}{}}}", members.join(","))
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn any_json_with_any_whitespace_is_checked_as_serde_json_checks_it(
        json in spaced_json(),
        before in "[ \t\n\r]{0,2}",
        after in "[ \t\n\r]{0,2}",
    ) {
        let text = format!("{before}{json}{after}");
        prop_assert_eq!(raw_json(&text), Some(json.as_str()));
        prop_assert_eq!(raw_json(&text).map(str::to_owned), serde_raw(&text));
    }

    #[test]
    fn a_damaged_json_text_is_checked_as_serde_json_checks_it(
        json in spaced_json(),
        cut in any::<prop::sample::Index>(),
        insert in "[\\[\\]{}:,\"\\\\ 0-9eE+.a-z\\x00-\\x1f-]{0,2}",
    ) {
        // Cut, insert, or both, at one character boundary.
        let boundaries: Vec<usize> = json.char_indices().map(|(i, _)| i).chain([json.len()]).collect();
        let at = boundaries[cut.index(boundaries.len())];
        let damaged = format!("{}{insert}{}", &json[..at], &json[at..]);
        prop_assert_eq!(raw_json(&damaged).map(str::to_owned), serde_raw(&damaged));
        let truncated = &json[..at];
        prop_assert_eq!(raw_json(truncated).map(str::to_owned), serde_raw(truncated));
    }

    #[test]
    fn any_text_of_json_characters_is_checked_as_serde_json_checks_it(
        text in "[\\[\\]{}:,\" \\\\/0-9eE+.ntrufalsbu\\x01\\x7fé-]{0,24}",
    ) {
        prop_assert_eq!(raw_json(&text).map(str::to_owned), serde_raw(&text));
    }
}
