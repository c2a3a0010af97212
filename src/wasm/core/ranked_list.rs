//! The ranked list handed to JS, built on the JS side from columns.
//!
//! `rank` returns `{ items: [{ id, score, reasons, reason, explanation, title?, fromSession }], impression,
//! propensity, explored }`. Writing that as JSON text and parsing it in the browser cost more
//! than a third of a ranking at 200 candidates (`JSON.parse` alone ≈ 13 µs for 20 items), and
//! setting fields one by one from wasm costs a boundary crossing each. Instead the strings of all
//! items cross as one text with their UTF-16 end offsets, the numbers as typed-array views of wasm
//! memory, and a small JS function builds the same objects (V8 slices strings without copying).

use tsify::Ts;
use wasm_bindgen::prelude::*;

use crate::personalizer::{RankedColumns, RankedList};

#[wasm_bindgen(inline_js = r#"
// In ReasonCode's declaration order: bit k of a reason set is REASON_CODES[k] (checked by a test).
const REASON_CODES = ["serverPick", "viewedTogether", "similar", "matchesInterest", "seenBefore",
  "popular", "pinned", "boosted", "explored"];
const REASONS_OF = new Map();
function reasonsOf(bits) {
  let codes = REASONS_OF.get(bits);
  if (codes === undefined) {
    codes = REASON_CODES.filter((_, k) => (bits >> k) & 1);
    REASONS_OF.set(bits, codes);
  }
  return codes.slice();
}
// In ExplanationCode's declaration order (checked by a test in src/rank/explain.rs).
const EXPLANATION_CODES = ["viewedTogether", "similar", "interest", "seenBefore", "popular", "featured",
  "explored", "search", "related", "cart", "shopPick"];
const INTEREST_KINDS = ["", "category", "brand", "priceBand", "tag"];
export function rankedList(text, ends, scores, reasonBits, codes, kinds, fromSession, impression, propensity, explored) {
  const items = new Array(scores.length);
  let at = 0;
  for (let i = 0; i < scores.length; i++) {
    const id = text.slice(at, (at = ends[4 * i]));
    const reason = text.slice(at, (at = ends[4 * i + 1]));
    const title = text.slice(at, (at = ends[4 * i + 2]));
    const param = text.slice(at, (at = ends[4 * i + 3]));
    const explanation = { code: EXPLANATION_CODES[codes[i]], text: reason };
    const kind = kinds[i];
    if (kind !== 0) explanation.interest = { kind: INTEREST_KINDS[kind], value: kind === 3 ? Number(param) : param };
    else if (param !== "") explanation.item = param;
    const item = { id, score: scores[i], reasons: reasonsOf(reasonBits[i]), reason, explanation, fromSession: fromSession[i] === 1 };
    if (title !== "") item.title = title;
    items[i] = item;
  }
  return { items, impression, propensity, explored };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = rankedList)]
    #[allow(clippy::too_many_arguments)]
    fn ranked_list(
        text: &str,
        ends: &[u32],
        scores: &[f32],
        reason_bits: &[u16],
        codes: &[u8],
        kinds: &[u8],
        from_session: &[u8],
        impression: u32,
        propensity: f64,
        explored: bool,
    ) -> JsValue;
}

/// Length of `text` in UTF-16 code units, the unit of JS string offsets.
pub fn to_js(list: &RankedList) -> Ts<RankedList> {
    let columns = RankedColumns::of(list);
    let value = ranked_list(
        &columns.text,
        &columns.ends,
        &columns.scores,
        &columns.reason_bits,
        &columns.explanation_codes,
        &columns.interest_kinds,
        &columns.from_session,
        list.impression,
        list.propensity,
        list.explored,
    );
    Ts::new_unchecked(value)
}
