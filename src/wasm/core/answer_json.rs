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
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::error_code::ErrorCode;
pub use crate::personalizer::{read_plain_tree, PlainColumns, Text};
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

/// The columns of [`parse_plain`]'s tree, strings borrowed from it, read by hand as serde's
/// derive of them read them (`personalizer::read_plain_tree`).
pub fn read_plain(tree: &Value) -> Result<PlainColumns<'_>, JsError> {
    read_plain_tree(tree).map_err(|message| invalid(&message))
}
