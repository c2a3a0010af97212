//! The plain columns of a server answer (ids, titles, attributes, neighbour ids, `about`) read in
//! one go: JS writes them as one JSON text and encodes it to UTF-8 natively (`TextEncoder`), wasm
//! copies the bytes once and reads the columns from the text, strings borrowed from it
//! (`personalizer::read_plain_text`); what that fast path leaves goes through a tree whose strings
//! the columns borrow, which also words the error.
//!
//! Reading field by field cost one `JSON.stringify` per column, a JS loop over every character to
//! pass each text into wasm memory, and one allocation per id: at 200 candidates with 5
//! neighbours each, about 1,400 strings. Numeric columns still cross as typed arrays (one copy).

use js_sys::Uint8Array;
use serde::de::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::catalog::ItemAttributes;
use crate::error_code::ErrorCode;
pub use crate::personalizer::{PlainColumns, Text};
use crate::storage::json_reading;
use crate::wasm::js_errors::thrown;

#[wasm_bindgen(inline_js = r#"
const ENCODER = new TextEncoder();
export function answerJson(answer) {
  const neighbours = answer.neighbours;
  const neighbourIds = neighbours !== null && typeof neighbours === "object" ? neighbours.ids : undefined;
  const plain = { ids: answer.ids, about: answer.about, titles: answer.titles, attributes: answer.attributes, neighbourIds };
  return ENCODER.encode(JSON.stringify(plain));
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = answerJson)]
    fn answer_json(answer: &JsValue) -> Result<Uint8Array, JsValue>;
}

/// The columns in one pass: what a well-formed answer costs.
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

fn invalid(message: &str) -> JsError {
    thrown(ErrorCode::InvalidAnswer, message)
}

/// The JSON text of the plain columns of `answer` (an object), as UTF-8 bytes.
pub fn plain_json(answer: &JsValue) -> Result<Vec<u8>, JsError> {
    let bytes = answer_json(answer).map_err(|_| {
        invalid("invalid answer: its ids, titles, attributes and neighbour ids must be plain JSON data")
    })?;
    let max = super::answer_limits::MAX_ANSWER_JSON_BYTES;
    if bytes.length() > max {
        let message = format!("invalid answer: its ids, titles, attributes and neighbour ids are over {max} bytes of JSON; nothing of it was read");
        return Err(invalid(&message));
    }
    Ok(bytes.to_vec())
}

/// Reads one column; `what` names it in the error ("invalid answer.ids: ...").
fn column<'a, T: Deserialize<'a>>(raw: Option<&'a Value>, what: &str) -> Result<Option<T>, JsError> {
    raw.map(|raw| T::deserialize(raw).map_err(|e| invalid(&format!("invalid {what}: {e}")))).transpose()
}

/// [`plain_json`]'s bytes as text.
pub fn plain_text(json: &[u8]) -> Result<&str, JsError> {
    std::str::from_utf8(json).map_err(|_| invalid("invalid answer: its text is not UTF-8"))
}

/// [`plain_text`] as a tree, which [`read_plain`] borrows the strings of: the path of an answer
/// the fast reader (`read_plain_text`) leaves, and the one that words what is wrong with it.
pub fn parse_plain(json: &str) -> Result<Value, JsError> {
    // The parser stored state is read with, so the package holds one.
    json_reading::parse(json).map_err(|e| invalid(&format!("invalid answer: {e}")))
}

/// The columns of [`parse_plain`]'s tree, strings borrowed from it.
pub fn read_plain(tree: &Value) -> Result<PlainColumns<'_>, JsError> {
    let columns = match Columns::deserialize(tree) {
        Ok(columns) => columns,
        Err(_) => return Err(explain_bad(tree)),
    };
    Ok(PlainColumns {
        ids: columns.ids.ok_or_else(|| invalid("invalid answer: missing field `ids`"))?,
        about: columns.about,
        titles: columns.titles,
        attributes: columns.attributes,
        neighbour_ids: columns.neighbour_ids,
    })
}

/// Reads column by column to say which one is malformed.
fn explain_bad(tree: &Value) -> JsError {
    let Some(fields) = tree.as_object() else { return invalid("invalid answer: expected an object") };
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
        .unwrap_or_else(|| invalid("invalid answer: its plain columns could not be read"))
}
