//! The plain columns of a server answer (ids, `about`, titles, attributes, neighbour ids) read
//! straight from the JSON text the page writes of them (`JSON.stringify`), every string borrowed
//! from the text: no tree, no allocation per id. Reading through the tree of
//! `storage::json_reading` cost `registerCandidates` about 100 µs at 200 candidates with 5
//! neighbours each (one `String` per id and a map per attributes object, built and dropped).
//!
//! This is the fast path for what a page sends: anything it does not read exactly as the tree
//! path would (an escape in a string, an unknown or repeated field, a value of another type,
//! malformed text) gives `None`, and the caller reads the text through the tree, which also
//! words the error. So both paths accept the same answers and read them to the same columns.

use std::borrow::Cow;

use crate::catalog::ItemAttributes;
use crate::storage::json_reading;

/// A string of the answer, borrowed from the JSON text unless it had escapes.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The plain columns, checked for type; lengths are checked by the ranking part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlainColumns<'a> {
    pub ids: Vec<Text<'a>>,
    pub about: Option<Text<'a>>,
    pub titles: Option<Vec<Text<'a>>>,
    pub attributes: Option<Vec<ItemAttributes>>,
    pub neighbour_ids: Option<Vec<Text<'a>>>,
}

/// The columns of `text` (`{"ids":[...],"about":...,"titles":[...],"attributes":[...],
/// "neighbourIds":[...]}`, members in any order, `null` or absent for all but `ids`), or `None`
/// when the tree path must read it (see the module's doc).
#[inline(never)]
pub fn read_plain_text(text: &str) -> Option<PlainColumns<'_>> {
    let mut c = Cursor { text, at: 0 };
    let mut columns = PlainColumns::default();
    let mut ids = None;
    let mut seen = [false; 5];
    c.expect(b'{')?;
    if !c.eat(b'}') {
        loop {
            let name = c.string()?;
            c.expect(b':')?;
            let field = ["ids", "about", "titles", "attributes", "neighbourIds"].iter().position(|&f| f == name)?;
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            match field {
                0 => ids = c.or_null(Cursor::strings)?,
                1 => columns.about = c.or_null(|c| c.string().map(Text))?,
                2 => columns.titles = c.or_null(Cursor::strings)?,
                3 => columns.attributes = c.or_null(|c| c.array(Cursor::attributes))?,
                _ => columns.neighbour_ids = c.or_null(Cursor::strings)?,
            }
            if !c.eat(b',') {
                c.expect(b'}')?;
                break;
            }
        }
    }
    c.space();
    if c.at != text.len() {
        return None;
    }
    columns.ids = ids?;
    Some(columns)
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline(never)]
    fn space(&mut self) {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && matches!(bytes[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    /// Skips space, then `byte` if it comes next.
    #[inline(never)]
    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let found = self.text.as_bytes().get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// A string without escapes or control characters, borrowed.
    #[inline(never)]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.at;
        let bytes = self.text.as_bytes();
        loop {
            match *bytes.get(self.at)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        // Both ends sit next to an ASCII quote, so on character boundaries.
        self.text.get(start..self.at - 1).map(Cow::Borrowed)
    }

    /// `null` as `None`, else what `read` reads.
    fn or_null<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        self.space();
        if self.text.as_bytes().get(self.at..).is_some_and(|rest| rest.starts_with(b"null")) {
            self.at += 4;
            return Some(None);
        }
        read(self).map(Some)
    }

    fn array<T>(&mut self, mut element: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.eat(b']') {
            return Some(out);
        }
        loop {
            out.push(element(self)?);
            if !self.eat(b',') {
                self.expect(b']')?;
                return Some(out);
            }
        }
    }

    #[inline(never)]
    fn strings(&mut self) -> Option<Vec<Text<'a>>> {
        self.array(|c| c.string().map(Text))
    }

    #[inline(never)]
    fn owned_strings(&mut self) -> Option<Vec<String>> {
        self.array(|c| c.string().map(Cow::into_owned))
    }

    /// One attributes object of the four known fields, each at most once.
    #[inline(never)]
    fn attributes(&mut self) -> Option<ItemAttributes> {
        let mut attributes = ItemAttributes::default();
        let mut seen = [false; 4];
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(attributes);
        }
        loop {
            let name = self.string()?;
            self.expect(b':')?;
            let field = ["categoryPath", "brand", "price", "tags"].iter().position(|&f| f == name)?;
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            match field {
                0 => attributes.category_path = self.owned_strings()?,
                1 => attributes.brand = self.or_null(|c| c.string().map(Cow::into_owned))?,
                2 => attributes.price = self.or_null(Cursor::number)?,
                _ => attributes.tags = self.owned_strings()?,
            }
            if !self.eat(b',') {
                self.expect(b'}')?;
                return Some(attributes);
            }
        }
    }

    /// A number, read by the tree path's own reader so that it rounds the same.
    #[inline(never)]
    fn number(&mut self) -> Option<f64> {
        self.space();
        let start = self.at;
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && matches!(bytes[self.at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            self.at += 1;
        }
        match json_reading::parse(self.text.get(start..self.at)?).ok()? {
            serde_json::Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The tree path as serde's derive read it (the facade's reader before the hand one, which
    /// `answer_tree`'s tests hold to it).
    fn by_tree(tree: &Value) -> Option<PlainColumns<'_>> {
        super::super::answer_tree::tests::by_serde::read_plain(tree).ok()
    }

    /// Where the fast path reads, it reads what the tree path reads; says whether it read.
    fn agrees(text: &str) -> bool {
        let fast = read_plain_text(text);
        if let Some(fast) = &fast {
            let tree = json_reading::parse(text).expect("the fast path read malformed text");
            assert_eq!(Some(fast), by_tree(&tree).as_ref(), "{text}");
        }
        fast.is_some()
    }

    #[test]
    fn reads_what_a_page_writes_as_the_tree_path_does() {
        let answer = json!({
            "ids": ["sku-1", "sku-2", "ü ✓"],
            "about": "sku-0",
            "titles": ["Trail shoe", "Rain {jacket}, \"blue\""],
            "attributes": [
                { "categoryPath": ["Shoes", "Trail"], "brand": "Summit", "price": 129.99, "tags": ["trail"] },
                { "price": 10, "brand": null },
                {},
                { "price": 1e-7, "tags": [] }
            ],
            "neighbourIds": ["sku-2", "sku-9"]
        });
        let text = serde_json::to_string(&answer).unwrap();
        // The escaped quotes of the second title send this one through the tree.
        assert!(!agrees(&text));
        let mut plain = answer.clone();
        plain["titles"][1] = json!("Rain jacket");
        assert!(agrees(&serde_json::to_string(&plain).unwrap()));
        assert!(agrees(r#"{"ids":[]}"#));
        assert!(agrees(r#" { "ids" : [ "a" , "b" ] , "about" : null , "titles" : null } "#));
        assert!(agrees(r#"{"neighbourIds":["x"],"ids":["a"],"attributes":null}"#));
    }

    #[test]
    fn leaves_to_the_tree_path_what_it_does_not_read_exactly() {
        for text in [
            r#"{}"#,
            r#"{"ids":null}"#,
            r#"{"ids":["a"],"ids":["b"]}"#,
            r#"{"ids":["a"],"extra":1}"#,
            r#"{"ids":["a\n"]}"#,
            r#"{"ids":[1]}"#,
            r#"{"ids":["a"],"attributes":[null]}"#,
            r#"{"ids":["a"],"attributes":[{"title":"x"}]}"#,
            r#"{"ids":["a"],"attributes":[{"price":"12"}]}"#,
            r#"{"ids":["a"],"attributes":[{"price":1,"price":2}]}"#,
            r#"{"ids":["a"],"attributes":[{"tags":null}]}"#,
            r#"{"ids":["a"]} x"#,
            r#"{"ids":["a"],}"#,
            r#"{"ids":["a",]}"#,
            r#"{"ids":["a"]"#,
            r#"{"ids":["a"],"about":"x","about":"y"}"#,
            r#"{"ids":["a"],"attributes":[{"price":01}]}"#,
            r#"{"ids":["a"],"attributes":[{"price":-}]}"#,
        ] {
            assert!(!agrees(text), "{text}");
        }
    }

    fn any_string() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z0-9 ._-]{0,12}", ".{0,6}", "[\"\\\\{}:,\\[\\] ]{0,4}"]
    }

    fn any_attributes() -> impl Strategy<Value = Value> {
        (
            prop::option::of(prop::collection::vec(any_string(), 0..4)),
            prop::option::of(prop::option::of(any_string())),
            prop::option::of(prop_oneof![
                Just(Value::Null),
                (0u32..100_000).prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ]),
            prop::option::of(prop::collection::vec(any_string(), 0..3)),
        )
            .prop_map(|(path, brand, price, tags)| {
                let mut object = serde_json::Map::new();
                if let Some(path) = path {
                    object.insert("categoryPath".into(), json!(path));
                }
                if let Some(brand) = brand {
                    object.insert("brand".into(), json!(brand));
                }
                if let Some(price) = price {
                    object.insert("price".into(), price);
                }
                if let Some(tags) = tags {
                    object.insert("tags".into(), json!(tags));
                }
                Value::Object(object)
            })
    }

    proptest! {
        #[test]
        fn reads_any_answer_as_the_tree_path_does(
            ids in prop::collection::vec(any_string(), 0..8),
            about in prop::option::of(any_string()),
            titles in prop::option::of(prop::collection::vec(any_string(), 0..8)),
            attributes in prop::option::of(prop::collection::vec(any_attributes(), 0..6)),
            neighbour_ids in prop::option::of(prop::collection::vec(any_string(), 0..8)),
        ) {
            let answer = json!({ "ids": ids, "about": about, "titles": titles, "attributes": attributes, "neighbourIds": neighbour_ids });
            agrees(&serde_json::to_string(&answer).unwrap());
        }
    }
}
