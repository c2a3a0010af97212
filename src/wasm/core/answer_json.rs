//! The plain columns of a server answer (ids, titles, attributes, neighbour ids, `about`) read in
//! one go: JS writes them as one JSON text and encodes it to UTF-8 natively straight into wasm
//! memory (`TextEncoder.encodeInto`; `encode` and a copy out of its array cost ~35% more in
//! Chromium at 200 candidates), and wasm reads the columns from the text, strings borrowed from it
//! (`personalizer::read_plain_text`); what that fast path leaves goes through a tree whose strings
//! the columns borrow, which also words the error.
//!
//! Reading field by field cost one `JSON.stringify` per column, a JS loop over every character to
//! pass each text into wasm memory, and one allocation per id: at 200 candidates with 5
//! neighbours each, about 1,400 strings. Numeric columns still cross as typed arrays (one copy).

use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::error_code::ErrorCode;
pub use crate::personalizer::{read_plain_tree, PlainColumns, Text};
use crate::storage::json_reading;
use crate::wasm::js_errors::thrown;

#[wasm_bindgen(inline_js = r#"
const ENCODER = new TextEncoder();
let pending = "";
let taken = 0;
export function answerJsonChars(answer) {
  pending = "";
  taken = 0;
  const neighbours = answer.neighbours;
  const neighbourIds = neighbours !== null && typeof neighbours === "object" ? neighbours.ids : undefined;
  const plain = { ids: answer.ids, about: answer.about, titles: answer.titles, attributes: answer.attributes, neighbourIds };
  pending = JSON.stringify(plain);
  return pending.length;
}
export function answerJsonInto(bytes) {
  const { read, written } = ENCODER.encodeInto(taken === 0 ? pending : pending.substring(taken), bytes);
  taken += read;
  return written;
}
export function answerJsonDrop() {
  pending = "";
  taken = 0;
}
export function answerJsonLeft() {
  const left = pending.length - taken;
  if (left === 0) pending = "";
  return left;
}
"#)]
extern "C" {
    /// JSON-encodes the plain columns of `answer` and keeps the text for [`answer_json_into`];
    /// returns its length in UTF-16 units (each one or more bytes of UTF-8). Throws what
    /// `JSON.stringify` throws (a BigInt, a cycle).
    #[wasm_bindgen(catch, js_name = answerJsonChars)]
    fn answer_json_chars(answer: &JsValue) -> Result<u32, JsValue>;
    /// Writes the next part of the kept text into `bytes` (a view of wasm memory: no copy in
    /// between) as UTF-8, whole characters only; returns the bytes written.
    #[wasm_bindgen(js_name = answerJsonInto)]
    fn answer_json_into(bytes: &mut [u8]) -> u32;
    /// UTF-16 units of the kept text not written yet (0: done, and the text is dropped).
    #[wasm_bindgen(js_name = answerJsonLeft)]
    fn answer_json_left() -> u32;
    /// Drops the kept text unwritten.
    #[wasm_bindgen(js_name = answerJsonDrop)]
    fn answer_json_drop();
}

fn invalid(message: &str) -> JsError {
    thrown(ErrorCode::InvalidAnswer, message)
}

/// The JSON text of the plain columns of `answer` (an object), as UTF-8 bytes: JS writes it
/// straight into this buffer (`TextEncoder.encodeInto`), sized for ASCII text first and grown for
/// what did not fit. Over [`MAX_ANSWER_JSON_BYTES`](super::answer_limits::MAX_ANSWER_JSON_BYTES),
/// or more than wasm memory can hold, is an error, never a trap.
pub fn plain_json(answer: &JsValue) -> Result<Vec<u8>, JsError> {
    let chars = answer_json_chars(answer)
        .map_err(|_| invalid("invalid answer: its ids, titles, attributes and neighbour ids must be plain JSON data"))?
        as usize;
    let max = super::answer_limits::MAX_ANSWER_JSON_BYTES as usize;
    let over = || {
        answer_json_drop();
        invalid(&format!(
            "invalid answer: its ids, titles, attributes and neighbour ids are over {max} bytes of JSON; nothing of it was read"
        ))
    };
    let mut bytes = Vec::new();
    // Sized for ASCII first; each UTF-16 unit left after a round is at most 3 bytes of UTF-8.
    let mut wanted = chars;
    loop {
        let filled = bytes.len();
        // Room for one byte over the limit tells "over it" from "exactly at it".
        let capped = filled + wanted > max;
        let room = if capped { max + 1 - filled } else { wanted };
        if bytes.try_reserve_exact(room).is_err() {
            return Err(over());
        }
        bytes.resize(filled + room, 0);
        let written = answer_json_into(&mut bytes[filled..]) as usize;
        bytes.truncate(filled + written);
        let left = answer_json_left() as usize;
        if bytes.len() > max || (capped && left > 0) {
            // What is left did not fit in the room up to the limit: the text is over it.
            return Err(over());
        }
        if left == 0 {
            return Ok(bytes);
        }
        wanted = left.saturating_mul(3);
    }
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
