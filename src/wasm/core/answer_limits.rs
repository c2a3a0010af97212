//! The size limits of a server answer (`registerCandidates`), checked column by column before
//! any is copied into wasm (see `wasm/input_limits.rs` for the limits of every other argument).

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use crate::error_code::ErrorCode;
use crate::personalizer::{answer_field, RankingError};
use crate::rank::candidates::MAX_EMBEDDING_DIM;
use crate::rank::{RankError, MAX_CANDIDATES};
use crate::wasm::input_limits::MAX_STRING_CHARS;
use crate::wasm::js_errors::{coded, thrown};

/// Most co-visitation neighbours of one server answer, all candidates together.
pub const MAX_ANSWER_NEIGHBOURS: u32 = 1_000_000;
/// Longest JSON text of an answer's plain columns (ids, titles, attributes, neighbour ids).
pub const MAX_ANSWER_JSON_BYTES: u32 = 32 * 1024 * 1024;

/// The `length` of an array, typed array or string (`None` for anything else, which the
/// answer's reader refuses by itself).
fn length_of(value: &JsValue) -> Option<u32> {
    let measurable = value.is_string() || Array::is_array(value) || js_sys::ArrayBuffer::is_view(value);
    if !measurable {
        return None;
    }
    Reflect::get(value, &JsValue::from_str("length")).ok()?.as_f64().map(|n| n as u32)
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Checks a server answer's columns against their limits before any is copied: `ids`, `titles`,
/// `attributes`, `scores`, `popularity`, `next` at most [`MAX_CANDIDATES`] entries, `aboutEmbedding` at
/// most [`MAX_EMBEDDING_DIM`], `embeddings` both multiplied, the neighbours' `offsets` one more
/// than the candidates and their `ids` and `scores` at most [`MAX_ANSWER_NEIGHBOURS`], `about`
/// at most [`MAX_STRING_CHARS`] characters. (The JSON text of the plain columns is bounded by
/// [`MAX_ANSWER_JSON_BYTES`] where it is read.)
pub fn check_answer(answer: &JsValue) -> Result<(), JsError> {
    let candidates = MAX_CANDIDATES as u32;
    let ids = length_of(&field(answer, answer_field::IDS)).unwrap_or(0);
    if ids > candidates {
        return Err(coded(RankingError::Rank(RankError::TooManyCandidates { len: ids as usize, max: MAX_CANDIDATES })));
    }
    let neighbours = field(answer, answer_field::NEIGHBOURS);
    let columns = [
        (field(answer, answer_field::ABOUT), answer_field::ABOUT, MAX_STRING_CHARS),
        (field(answer, answer_field::TITLES), answer_field::TITLES, candidates),
        (field(answer, answer_field::ATTRIBUTES), answer_field::ATTRIBUTES, candidates),
        (field(answer, answer_field::SCORES), answer_field::SCORES, candidates),
        (field(answer, answer_field::POPULARITY), answer_field::POPULARITY, candidates),
        (field(answer, answer_field::NEXT), answer_field::NEXT, candidates),
        (field(answer, answer_field::ABOUT_EMBEDDING), answer_field::ABOUT_EMBEDDING, MAX_EMBEDDING_DIM as u32),
        (field(answer, answer_field::EMBEDDINGS), answer_field::EMBEDDINGS, candidates * MAX_EMBEDDING_DIM as u32),
        (field(&neighbours, answer_field::OFFSETS), answer_field::NEIGHBOUR_OFFSETS, candidates + 1),
        (field(&neighbours, answer_field::IDS), answer_field::NEIGHBOUR_IDS, MAX_ANSWER_NEIGHBOURS),
        (field(&neighbours, answer_field::SCORES), answer_field::NEIGHBOUR_SCORES, MAX_ANSWER_NEIGHBOURS),
    ];
    for (value, name, max) in columns {
        if let Some(len) = length_of(&value).filter(|&len| len > max) {
            let message = format!("invalid answer: {name} has {len} entries (at most {max}); nothing of it was read");
            return Err(thrown(ErrorCode::InvalidAnswer, &message));
        }
    }
    Ok(())
}
