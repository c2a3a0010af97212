//! The argument of `track()`, read straight off the JS object into the slots serde's reader of
//! [`TrackEvent`] fills (`collect/event_reading.rs`), which then makes the event: the same
//! fields per kind, defaults and refusals, worded as serde words them (`unknown variant
//! `teleport`, expected one of `view`, ...`, `unknown field `colour`, expected `itemId` or
//! `item``, `missing field `itemId``).

use serde::de::{self, IntoDeserializer};
use serde::Deserialize;
use wasm_bindgen::{JsError, JsValue};

use crate::collect::event_reading::{fields_of, Slots};
use crate::collect::{EventKind, TrackEvent};
use crate::error_code::ErrorCode;
use crate::wasm::js_reading::{
    checked_object, invalid_type, list, nullable, number, present_fields, text, texts, whole_u32, whole_u8, Problem,
};

use super::input_reading::{attributes, purchase_line};

/// The event `value` passed to `track()`, checked (an object within the size limits) and read.
pub fn read_event(value: &JsValue) -> Result<TrackEvent, JsError> {
    checked_object(value, ErrorCode::InvalidEvent, "event")?;
    event(value).map_err(|problem| problem.thrown(ErrorCode::InvalidEvent, "event"))
}

/// The `type` of an event, with serde's error for an unknown one (which lists the kinds).
fn kind(value: &JsValue) -> Result<EventKind, Problem> {
    let name = value.as_string().ok_or_else(|| invalid_type(value, "variant identifier"))?;
    EventKind::deserialize(name.as_str().into_deserializer())
}

/// Reads the object's own fields, as serde reads a map (a prototype's `type` is not the event's).
fn event(value: &JsValue) -> Result<TrackEvent, Problem> {
    let fields = present_fields(value);
    let Some((_, kind_value)) = fields.iter().find(|(name, _)| name == "type") else {
        return Err(de::Error::missing_field("type"));
    };
    let kind = kind(kind_value)?;
    let allowed = fields_of(kind);
    let mut s = Slots::default();
    for (name, v) in fields {
        if name == "type" {
            continue;
        }
        // A field the kind lacks is refused before its value is read.
        if !allowed.contains(&name.as_str()) {
            return Err(de::Error::unknown_field(&name, allowed));
        }
        match name.as_str() {
            "itemId" => s.item_id = Some(nullable(&v, text)?),
            "item" => s.item = Some(nullable(&v, attributes)?),
            "placement" => s.placement = Some(nullable(&v, text)?),
            "position" => s.position = Some(nullable(&v, whole_u32)?),
            "itemIds" => s.item_ids = Some(texts(&v)?),
            "positions" => s.positions = Some(nullable(&v, |v| list(v, whole_u32))?),
            "quantity" => s.quantity = Some(whole_u32(&v)?),
            "items" => s.items = Some(list(&v, purchase_line)?),
            "value" => s.value = Some(number(&v)?),
            "query" => s.query = Some(text(&v)?),
            "resultIds" => s.result_ids = Some(texts(&v)?),
            "rating" => s.rating = Some(whole_u8(&v)?),
            "ms" => s.ms = Some(number(&v)?),
            "depth" => s.depth = Some(number(&v)?),
            _ => {}
        }
    }
    s.into_event(kind, None)
}
