//! The plain columns of a server answer read from the JSON tree of their text by hand
//! (`storage::derive_reading`): the path of what the fast text reader (`answer_text`) leaves, and
//! the one that words what is wrong. It reads what serde's derive of the columns read from the
//! tree, accepted and refused alike, in the same words: each column is checked in the order ids,
//! about, titles, attributes, neighbour ids, and the first malformed one is named
//! ("invalid answer.ids: invalid type: integer `7`, expected a string").

use std::borrow::Cow;

use serde_json::Value;

use super::answer_text::{PlainColumns, Text};
use crate::catalog::ItemAttributes;
use crate::storage::derive_reading::{fields, list, nullable, number, string, strings, Mismatch};

/// The columns of `tree` (the answer's plain columns as `answerJson` writes them: an object),
/// strings borrowed from it; the error is the message JS sees.
pub fn read_plain_tree(tree: &Value) -> Result<PlainColumns<'_>, String> {
    let Some(members) = tree.as_object() else { return Err("invalid answer: expected an object".to_owned()) };
    let column = |name: &str| members.get(name).filter(|value| !value.is_null());
    let ids = column("ids").map(texts).transpose().map_err(named("answer.ids"))?;
    let about = column("about").map(text).transpose().map_err(named("answer.about"))?;
    let titles = column("titles").map(texts).transpose().map_err(named("answer.titles"))?;
    let attributes =
        column("attributes").map(|v| list(v, attributes)).transpose().map_err(named("answer.attributes"))?;
    let neighbour_ids = column("neighbourIds").map(texts).transpose().map_err(named("answer.neighbours.ids"))?;
    let ids = ids.ok_or_else(|| "invalid answer: missing field `ids`".to_owned())?;
    Ok(PlainColumns { ids, about, titles, attributes, neighbour_ids })
}

/// The message of a malformed column: "invalid {what}: {problem}".
fn named(what: &'static str) -> impl Fn(Mismatch) -> String {
    move |problem| format!("invalid {what}: {problem}")
}

fn text(value: &Value) -> Result<Text<'_>, Mismatch> {
    string(value).map(|text| Text(Cow::Borrowed(text)))
}

fn texts(value: &Value) -> Result<Vec<Text<'_>>, Mismatch> {
    list(value, text)
}

/// One candidate's attributes, as `ItemAttributes`' derive reads them from the tree.
pub fn attributes(value: &Value) -> Result<ItemAttributes, Mismatch> {
    let mut attributes = ItemAttributes::default();
    fields(value, "struct ItemAttributes", &["categoryPath", "brand", "price", "tags"], |index, value| {
        match index {
            0 => attributes.category_path = strings(value)?,
            1 => attributes.brand = nullable(value, |v| string(v).map(str::to_owned))?,
            2 => attributes.price = nullable(value, number)?,
            _ => attributes.tags = strings(value)?,
        }
        Ok(())
    })?;
    Ok(attributes)
}

#[cfg(test)]
#[path = "answer_tree_tests.rs"]
pub(super) mod tests;
