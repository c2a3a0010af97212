//! serde_json's pretty layout of compact JSON text: what `serde_json::to_string_pretty` writes
//! (two spaces a level, one member or element a line, `": "` after a name, `{}` and `[]` for
//! empty ones), from what `serde_json::to_string` wrote. `exportProfile()` lays out its big
//! parts so, instead of compiling a second (pretty) serializer of every profile type into the
//! core module.

/// `compact` (JSON without whitespace outside strings, as `serde_json::to_string` writes it) laid
/// out as `serde_json::to_string_pretty` would, for a value nested `depth` levels deep (the lines
/// after the first indented accordingly, so the text can stand as a member's raw value).
pub fn pretty(compact: &str, depth: usize) -> String {
    let mut out = String::with_capacity(compact.len() + compact.len() / 2);
    let mut level = depth;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                match chars.peek() {
                    Some(&close @ ('}' | ']')) => {
                        out.push(close);
                        chars.next();
                    }
                    _ => {
                        level += 1;
                        new_line(&mut out, level);
                    }
                }
            }
            '}' | ']' => {
                level = level.saturating_sub(1);
                new_line(&mut out, level);
                out.push(c);
            }
            ',' => {
                out.push(c);
                new_line(&mut out, level);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

fn new_line(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn same(value: &Value) {
        let compact = serde_json::to_string(value).unwrap();
        assert_eq!(pretty(&compact, 0), serde_json::to_string_pretty(value).unwrap());
    }

    #[test]
    fn lays_out_as_serde_json_does() {
        same(&json!({}));
        same(&json!([]));
        same(&json!({ "a": {}, "b": [], "c": [{}, [], [1, 2.5, -3e-7], { "d": null }] }));
        same(&json!({ "s": "{\"x\": [1, 2]}, \\\" : ,", "t": "é ✓ \u{1}" }));
        same(&json!([true, false, null, "", 0, 1.0e300]));
    }

    #[test]
    fn indents_a_nested_value_for_its_depth() {
        let inner = json!({ "x": [1, { "y": "z" }] });
        let outer = json!({ "a": 1, "inner": inner });
        let laid_out = pretty(&serde_json::to_string(&inner).unwrap(), 1);
        let expected = serde_json::to_string_pretty(&outer).unwrap();
        assert_eq!(format!("{{\n  \"a\": 1,\n  \"inner\": {laid_out}\n}}"), expected);
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".*".prop_map(Value::String),
            "[{}\\[\\],:\"\\\\ ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z{}:,\"\\\\ ]{0,6}", inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn lays_out_any_json_as_serde_json_does(value in any_json()) {
            same(&value);
        }
    }
}
