//! The ranking half of the `Personalizer` JS class: a server answer is registered once when it
//! arrives (strings and attributes converted once, embeddings and scores copied straight out of
//! typed arrays) and then ranked by handle as often as the page renders.
//!
//! Crossing the boundary field by field costs more than ranking, so plain data crosses as JSON
//! text (the browser's `JSON.stringify` is native and fast), typed arrays as one copy each, and
//! the result in columns that a small JS function turns into objects (see `ranked_list`).

use js_sys::{Array, Float32Array, Object, Reflect, Uint32Array, JSON};
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::catalog::ItemAttributes;
use crate::error_code::ErrorCode;
use crate::personalizer::{answer_field as field, AnswerColumns, NeighbourColumns, RankedList, ANSWER_FIELDS};
use crate::rank::RankContext;

use super::answer_json::{parse_plain, plain_json, plain_text, read_plain, Text};
use super::personalizer::JsPersonalizer;
use crate::personalizer::read_plain_text;
use crate::wasm::js_errors::{coded, thrown};

/// Co-visitation neighbours of every candidate, in columns: candidate `r`'s neighbours are
/// `ids[offsets[r]]` up to (not including) `ids[offsets[r + 1]]`, with the same slice of `scores`.
#[derive(Debug, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct NeighbourAnswer {
    /// One more offset than candidates: starts at 0, never decreases, ends at `ids.length`.
    #[tsify(type = "Uint32Array | number[]")]
    pub offsets: JsValue,
    pub ids: Vec<String>,
    #[tsify(type = "Float32Array | number[]")]
    pub scores: JsValue,
}

/// What the shop's server answered for one page view, about the current item or query only.
/// Every column but `ids` is optional; present ones hold one entry per candidate, in the
/// server's order.
#[derive(Debug, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct CandidateAnswer {
    /// The item the answer is about (the product page's item).
    #[serde(default)]
    #[tsify(optional)]
    pub about: Option<String>,
    /// The embedding of `about` itself.
    #[serde(default)]
    #[tsify(optional, type = "Float32Array | number[]")]
    pub about_embedding: JsValue,
    pub ids: Vec<String>,
    /// The server's relevance scores, higher is better (default: the order of `ids`).
    #[serde(default)]
    #[tsify(optional, type = "Float32Array | number[]")]
    pub scores: JsValue,
    /// Display names used in reasons ("because you viewed Trail shoes"); "" for none.
    #[serde(default)]
    #[tsify(optional)]
    pub titles: Option<Vec<String>>,
    /// Shop-wide views or orders, ≥ 0.
    #[serde(default)]
    #[tsify(optional, type = "Float32Array | number[]")]
    pub popularity: JsValue,
    #[serde(default)]
    #[tsify(optional)]
    pub attributes: Option<Vec<ItemAttributes>>,
    /// `ids.length × dimension` numbers, candidate after candidate (one dimension per answer).
    #[serde(default)]
    #[tsify(optional, type = "Float32Array")]
    pub embeddings: JsValue,
    #[serde(default)]
    #[tsify(optional)]
    pub neighbours: Option<NeighbourAnswer>,
    /// Per candidate, the share of `about`'s views in the shop's logs that it came directly
    /// after (0..=1); the ranker reads it as the direction of the session.
    #[serde(default)]
    #[tsify(optional, type = "Float32Array | number[]")]
    pub next: JsValue,
}

fn invalid_answer(message: &str) -> JsError {
    thrown(ErrorCode::InvalidAnswer, message)
}

fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// A `Float32Array` (copied in one go) or an array of numbers.
fn f32_column(value: &JsValue, name: &str) -> Result<Option<Vec<f32>>, JsError> {
    if is_absent(value) {
        return Ok(None);
    }
    if let Some(array) = value.dyn_ref::<Float32Array>() {
        return Ok(Some(array.to_vec()));
    }
    if Array::is_array(value) {
        return Ok(Some(Float32Array::new(value).to_vec()));
    }
    Err(invalid_answer(&format!("invalid answer: {name} must be a Float32Array or an array of numbers")))
}

fn u32_column(value: &JsValue, name: &str) -> Result<Vec<u32>, JsError> {
    if let Some(array) = value.dyn_ref::<Uint32Array>() {
        return Ok(array.to_vec());
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        return array
            .iter()
            .map(|v| match v.as_f64() {
                Some(x) if x >= 0.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0 => Ok(x as u32),
                _ => Err(invalid_answer(&format!("invalid answer: {name} must hold whole numbers ≥ 0"))),
            })
            .collect();
    }
    Err(invalid_answer(&format!("invalid answer: {name} must be a Uint32Array or an array of numbers")))
}

fn get(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads the rank context through one `JSON.stringify`, its tree read by hand as serde's derive
/// reads it (`RankContext::from_tree`).
fn read_context(value: &JsValue) -> Result<RankContext, JsError> {
    let invalid = |problem: &dyn std::fmt::Display| {
        thrown(ErrorCode::InvalidArgument, &format!("invalid rank context: {problem}"))
    };
    let text = JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| invalid(&"it cannot be read as JSON data"))?;
    // Through the tree: the parser stored state is read with, not a second one.
    let tree = crate::storage::json_reading::parse(&text).map_err(|e| invalid(&e))?;
    RankContext::from_tree(&tree).map_err(|e| invalid(&e))
}

fn describe(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_owned()
    } else if Array::is_array(value) {
        "an array".to_owned()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

/// A misspelt field (`embedding` for `embeddings`) is an error, not a silently ignored column.
fn reject_unknown_fields(answer: &JsValue) -> Result<(), JsError> {
    if !answer.is_object() {
        return Ok(());
    }
    let object: &Object = answer.unchecked_ref();
    for key in Object::keys(object).iter() {
        let name = key.as_string().unwrap_or_default();
        if !ANSWER_FIELDS.contains(&name.as_str()) {
            return Err(invalid_answer(&format!(
                "invalid answer: unknown field `{name}`; the fields are {}",
                ANSWER_FIELDS.join(", ")
            )));
        }
    }
    Ok(())
}

#[wasm_bindgen(js_class = Personalizer)]
impl JsPersonalizer {
    /// Registers the shop server's answer for this page view and returns a handle for `rank`.
    /// Call it once when the answer arrives; rank by handle as often as you render. Throws on a
    /// malformed answer (duplicate ids, NaN scores, columns of the wrong length, embeddings that
    /// are not one dimension per answer, more than 10,000 candidates); nothing of it is kept.
    /// The 32 most recently used answers stay registered; older handles throw in `rank`.
    ///
    /// ```js
    /// const answer = await fetch(`/recommendations?item=${itemId}`).then((r) => r.json());
    /// const handle = p.registerCandidates({
    ///   about: itemId,                                   // the answer is about this item
    ///   ids: answer.ids,                                 // ["sku-2", "sku-7", ...]
    ///   scores: Float32Array.from(answer.scores),
    ///   attributes: answer.attributes,                   // [{ categoryPath: ["Shoes"], brand: "Acme", price: 89 }, ...]
    ///   embeddings: new Float32Array(answer.embeddingBuffer), // ids.length × 32 numbers
    ///   neighbours: { offsets: Uint32Array.from(answer.nbOffsets), ids: answer.nbIds, scores: Float32Array.from(answer.nbScores) },
    /// });
    /// ```
    #[wasm_bindgen(js_name = registerCandidates)]
    pub fn register_candidates(&self, answer: Ts<CandidateAnswer>) -> Result<u32, JsError> {
        self.health.check()?;
        let answer = answer.js_value();
        if !answer.is_object() || Array::is_array(&answer) {
            return Err(invalid_answer(&format!("invalid answer: expected an object, got {}", describe(&answer))));
        }
        reject_unknown_fields(&answer)?;
        super::answer_limits::check_answer(&answer)?;
        let json = plain_json(&answer)?;
        let text = plain_text(&json)?;
        let tree;
        let plain = match read_plain_text(text) {
            Some(plain) => plain,
            None => {
                tree = parse_plain(text)?;
                read_plain(&tree)?
            }
        };
        let scores = f32_column(&get(&answer, field::SCORES), field::SCORES)?;
        let popularity = f32_column(&get(&answer, field::POPULARITY), field::POPULARITY)?;
        let embeddings = f32_column(&get(&answer, field::EMBEDDINGS), field::EMBEDDINGS)?;
        let about_embedding = f32_column(&get(&answer, field::ABOUT_EMBEDDING), field::ABOUT_EMBEDDING)?;
        let next = f32_column(&get(&answer, field::NEXT), field::NEXT)?;
        let neighbours = get(&answer, field::NEIGHBOURS);
        let neighbours = if is_absent(&neighbours) {
            None
        } else {
            let offsets = u32_column(&get(&neighbours, field::OFFSETS), field::NEIGHBOUR_OFFSETS)?;
            let scores = f32_column(&get(&neighbours, field::SCORES), field::NEIGHBOUR_SCORES)?.unwrap_or_default();
            Some((offsets, scores))
        };
        let no_ids: &[Text<'_>] = &[];
        let columns = AnswerColumns {
            about: plain.about.as_ref().map(AsRef::as_ref),
            about_embedding: about_embedding.as_deref(),
            ids: &plain.ids,
            scores: scores.as_deref(),
            titles: plain.titles.as_deref(),
            popularity: popularity.as_deref(),
            attributes: plain.attributes.as_deref(),
            embeddings: embeddings.as_deref(),
            neighbours: neighbours.as_ref().map(|(offsets, scores)| NeighbourColumns {
                offsets,
                ids: plain.neighbour_ids.as_deref().unwrap_or(no_ids),
                scores,
            }),
            next: next.as_deref(),
        };
        self.state()?.engine.register_candidates(&columns).map_err(coded)
    }

    /// Orders a registered answer for this shopper: the server's score and order, the session
    /// (items seen, co-visitation with them through earlier answers), decayed interests, embedding
    /// similarity, purchases and dismissals, through a model that learns from the clicks, cart
    /// additions and purchases you `track` on the returned items. Each item comes with a score,
    /// reason codes and a short human reason. `placement: "search"` reorders every result and
    /// drops none; other placements return `limit` items (default 20) and may add items earlier
    /// answers of the session offered (`fromSession`). Business rules (`pins`, `exclude`, `boost`,
    /// `bury`) always hold; `diversity` trades relevance for variety.
    ///
    /// ```js
    /// const { items, impression, propensity } = p.rank(handle, {
    ///   placement: "product", currentItem: "sku-1", limit: 8,
    ///   rules: { exclude: outOfStock, pins: [{ id: "sku-9", position: 0 }] },
    ///   diversity: { strength: 0.3, maxPerCategory: 3 },
    /// });
    /// for (const { id, reason, reasons } of items) render(id, reason); // "because you viewed Trail shoes"
    /// ```
    #[wasm_bindgen(js_name = rank)]
    pub fn rank(&self, handle: u32, context: Option<Ts<RankContext>>) -> Result<Ts<RankedList>, JsError> {
        self.health.check()?;
        let context = match context.map(|c| c.js_value()) {
            Some(context) if !is_absent(&context) => {
                if !context.is_object() || Array::is_array(&context) {
                    let message = format!("invalid rank context: expected an object, got {}", describe(&context));
                    return Err(thrown(ErrorCode::InvalidArgument, &message));
                }
                crate::wasm::input_limits::check_size(&context, ErrorCode::InvalidArgument, "rank context")?;
                read_context(&context)?
            }
            _ => RankContext::default(),
        };
        let list = self.state()?.engine.rank(handle, &context, js_sys::Date::now()).map_err(coded)?;
        Ok(super::ranked_list::to_js(&list))
    }

    /// Forgets a registered answer before it is evicted. Returns whether the handle was live.
    ///
    /// ```js
    /// p.releaseCandidates(handle);
    /// ```
    #[wasm_bindgen(js_name = releaseCandidates)]
    pub fn release_candidates(&self, handle: u32) -> Result<bool, JsError> {
        Ok(self.state()?.engine.release_candidates(handle))
    }
}
