//! A [`ProfileChange`] as stored values carry it for other tabs (see `personalizer/tabs.rs`):
//! a compact JSON array holding what [`Profile::apply`] uses of it and nothing else, e.g.
//! `["view",1700000000000,36,"mobile",[["sku-1",{"categoryPath":[],"brand":"Acme","tags":[]}]],"sku-1"]`.
//!
//! An event keeps its kind, time, hour of the week, the device of a page's first event, the
//! attributes it brought and the fields its kind learns from (item, quantity, order lines' items
//! and value, search results, rating, dwell, scroll depth); what only ranking or the shop reads
//! (placements, positions, the query, line prices) is left out, so the event read back applies
//! exactly as the recorded one did. Reading checks every field as `track` does.

use serde_json::Value;

use super::{DeviceClass, ProfileChange, RecordedEvent, HOURS_PER_WEEK};
use crate::catalog::{AttributeKey, ItemAttributes};
use crate::collect::event::{PurchaseLine, TrackEvent, MAX_DWELL_MS};
use crate::storage::tree_reading::{
    by_serde, list, number, optional, or_default, text, texts, whole_u32, whole_u64, whole_u8, TreeError,
};

impl ProfileChange {
    /// Whether the change names `item_id` anywhere (a stored copy of it would keep a trace).
    pub fn mentions_item(&self, item_id: &str) -> bool {
        let ProfileChange::Record(recorded) = self else {
            return matches!(self, ProfileChange::ForgetItem(id) if id == item_id);
        };
        let listed = match &recorded.event {
            TrackEvent::Impression { item_ids, .. } => item_ids.iter().any(|id| id == item_id),
            TrackEvent::Purchase { items, .. } => items.iter().any(|line| line.item_id == item_id),
            TrackEvent::Search { result_ids, .. } => result_ids.iter().any(|id| id == item_id),
            event => event.item_id() == Some(item_id),
        };
        listed || recorded.attributes.iter().any(|(id, _)| id == item_id)
    }

    /// Whether the change brings attributes of an item in one of the `sensitive` categories.
    pub fn touches_sensitive(&self, sensitive: &[String]) -> bool {
        let ProfileChange::Record(recorded) = self else { return false };
        recorded.attributes.iter().any(|(_, attributes)| attributes.is_in_any_category(sensitive))
    }
}

/// Appends `change` as JSON to `out`.
pub fn write_change(change: &ProfileChange, out: &mut String) {
    out.push('[');
    match change {
        ProfileChange::Record(recorded) => write_recorded(recorded, out),
        ProfileChange::RemoveInterest(key) => {
            out.push_str("\"removeInterest\",");
            out.push_str(&serde_json::to_string(key).unwrap_or_default());
        }
        ProfileChange::ForgetItem(id) => {
            out.push_str("\"forgetItem\",");
            push_text(out, id);
        }
    }
    out.push(']');
}

fn write_recorded(recorded: &RecordedEvent, out: &mut String) {
    let event = &recorded.event;
    push_text(out, kind_name(event));
    out.push_str(&format!(",{},{},", recorded.at_ms, recorded.hour_of_week));
    match recorded.visit_device {
        Some(device) => out.push_str(&serde_json::to_string(&device).unwrap_or_default()),
        None => out.push_str("null"),
    }
    out.push_str(",[");
    for (n, (id, attributes)) in recorded.attributes.iter().enumerate() {
        out.push_str(if n == 0 { "[" } else { ",[" });
        push_text(out, id);
        out.push(',');
        out.push_str(&serde_json::to_string(attributes).unwrap_or_default());
        out.push(']');
    }
    out.push(']');
    match event {
        TrackEvent::View { item_id, .. }
        | TrackEvent::Click { item_id, .. }
        | TrackEvent::WishlistAdd { item_id }
        | TrackEvent::WishlistRemove { item_id }
        | TrackEvent::Dismiss { item_id } => push_field(out, item_id),
        TrackEvent::Impression { .. } => {}
        TrackEvent::AddToCart { item_id, quantity, .. } | TrackEvent::RemoveFromCart { item_id, quantity } => {
            push_field(out, item_id);
            out.push_str(&format!(",{quantity}"));
        }
        TrackEvent::Purchase { items, value } => {
            let ids: Vec<&str> = items.iter().map(|line| line.item_id.as_str()).collect();
            out.push(',');
            out.push_str(&serde_json::to_string(&ids).unwrap_or_default());
            push_number(out, *value);
        }
        TrackEvent::Search { result_ids, .. } => {
            out.push(',');
            out.push_str(&serde_json::to_string(result_ids).unwrap_or_default());
        }
        TrackEvent::Rating { item_id, rating } => {
            push_field(out, item_id);
            out.push_str(&format!(",{rating}"));
        }
        TrackEvent::Dwell { item_id, ms } => {
            push_field(out, item_id);
            push_number(out, *ms);
        }
        TrackEvent::ScrollDepth { item_id, depth } => {
            out.push(',');
            match item_id {
                Some(id) => push_text(out, id),
                None => out.push_str("null"),
            }
            push_number(out, *depth);
        }
    }
}

fn kind_name(event: &TrackEvent) -> &'static str {
    match event {
        TrackEvent::View { .. } => "view",
        TrackEvent::Click { .. } => "click",
        TrackEvent::Impression { .. } => "impression",
        TrackEvent::AddToCart { .. } => "addToCart",
        TrackEvent::RemoveFromCart { .. } => "removeFromCart",
        TrackEvent::Purchase { .. } => "purchase",
        TrackEvent::Search { .. } => "search",
        TrackEvent::Rating { .. } => "rating",
        TrackEvent::WishlistAdd { .. } => "wishlistAdd",
        TrackEvent::WishlistRemove { .. } => "wishlistRemove",
        TrackEvent::Dismiss { .. } => "dismiss",
        TrackEvent::Dwell { .. } => "dwell",
        TrackEvent::ScrollDepth { .. } => "scrollDepth",
    }
}

fn push_text(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

fn push_field(out: &mut String, text: &str) {
    out.push(',');
    push_text(out, text);
}

/// A finite number (events hold no other); anything else writes 0, which reading refuses.
fn push_number(out: &mut String, value: f64) {
    out.push(',');
    out.push_str(&serde_json::to_string(&value).unwrap_or_else(|_| "0".to_owned()));
}

/// Reads a change [`write_change`] wrote, checking it as `track` checks an event.
pub fn read_change(value: &Value) -> Result<ProfileChange, TreeError> {
    let parts = value.as_array().ok_or_else(|| TreeError::new("expected a change array"))?;
    let part =
        |n: usize| parts.get(n).ok_or_else(|| TreeError::new(format!("a change needs at least {} entries", n + 1)));
    let kind = text(part(0)?)?;
    match kind.as_str() {
        "removeInterest" => Ok(ProfileChange::RemoveInterest(by_serde::<AttributeKey>(part(1)?)?)),
        "forgetItem" => Ok(ProfileChange::ForgetItem(text(part(1)?)?)),
        _ => read_recorded(&kind, parts).map(ProfileChange::Record),
    }
}

fn read_recorded(kind: &str, parts: &[Value]) -> Result<RecordedEvent, TreeError> {
    let part = |n: usize| parts.get(n).ok_or_else(|| TreeError::new(format!("a {kind} change needs more entries")));
    let at_ms = whole_u64(part(1)?)?;
    let hour_of_week = whole_u8(part(2)?)?;
    if usize::from(hour_of_week) >= HOURS_PER_WEEK {
        return Err(TreeError::new(format!("hour of the week {hour_of_week} is not below 168")));
    }
    let visit_device = match part(3)? {
        Value::Null => None,
        device => Some(by_serde::<DeviceClass>(device)?),
    };
    let attributes = list(part(4)?, attributed)?;
    let item = |n: usize| part(n).and_then(text);
    let event = match kind {
        "view" => TrackEvent::View { item_id: item(5)?, item: None },
        "click" => TrackEvent::Click { item_id: item(5)?, placement: None, position: None, item: None },
        "impression" => {
            TrackEvent::Impression { placement: "carried".to_owned(), item_ids: Vec::new(), positions: None }
        }
        "addToCart" => TrackEvent::AddToCart { item_id: item(5)?, quantity: whole_u32(part(6)?)?, item: None },
        "removeFromCart" => TrackEvent::RemoveFromCart { item_id: item(5)?, quantity: whole_u32(part(6)?)? },
        "purchase" => {
            let line = |item_id| PurchaseLine { item_id, quantity: 1, price: None };
            TrackEvent::Purchase { items: texts(part(5)?)?.into_iter().map(line).collect(), value: number(part(6)?)? }
        }
        "search" => TrackEvent::Search { query: "carried".to_owned(), result_ids: texts(part(5)?)? },
        "rating" => TrackEvent::Rating { item_id: item(5)?, rating: whole_u8(part(6)?)? },
        "wishlistAdd" => TrackEvent::WishlistAdd { item_id: item(5)? },
        "wishlistRemove" => TrackEvent::WishlistRemove { item_id: item(5)? },
        "dismiss" => TrackEvent::Dismiss { item_id: item(5)? },
        "dwell" => TrackEvent::Dwell { item_id: item(5)?, ms: number(part(6)?)? },
        "scrollDepth" => {
            let item_id = match part(5)? {
                Value::Null => None,
                id => Some(text(id)?),
            };
            TrackEvent::ScrollDepth { item_id, depth: number(part(6)?)? }
        }
        other => return Err(TreeError::new(format!("unknown change kind {other:?}"))),
    };
    check_amounts(&event)?;
    Ok(RecordedEvent { event, at_ms, hour_of_week, attributes, visit_device })
}

/// The bounds `track` holds the amounts an event applies to (its other checks are of fields a
/// carried event no longer has, or were passed when it was recorded).
fn check_amounts(event: &TrackEvent) -> Result<(), TreeError> {
    let (name, value, ok) = match event {
        TrackEvent::AddToCart { quantity, .. } | TrackEvent::RemoveFromCart { quantity, .. } => {
            ("quantity", f64::from(*quantity), (1..=10_000).contains(quantity))
        }
        TrackEvent::Purchase { value, .. } => ("value", *value, *value >= 0.0),
        TrackEvent::Rating { rating, .. } => ("rating", f64::from(*rating), (1..=5).contains(rating)),
        TrackEvent::Dwell { ms, .. } => ("ms", *ms, (0.0..=MAX_DWELL_MS).contains(ms)),
        TrackEvent::ScrollDepth { depth, .. } => ("depth", *depth, (0.0..=1.0).contains(depth)),
        _ => return Ok(()),
    };
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(TreeError::new(format!("{name} {value} is out of range")))
    }
}

fn attributed(value: &Value) -> Result<(String, ItemAttributes), TreeError> {
    let pair = value.as_array().filter(|pair| pair.len() == 2);
    let [id, attributes] = pair.map(Vec::as_slice).unwrap_or_default() else {
        return Err(TreeError::new("expected an [id, attributes] pair"));
    };
    let fields = attributes.as_object().ok_or_else(|| TreeError::new("expected item attributes"))?;
    let attributes = ItemAttributes {
        category_path: or_default(fields, "categoryPath", texts)?,
        brand: optional(fields, "brand", text)?,
        price: optional(fields, "price", number)?,
        tags: or_default(fields, "tags", texts)?,
    };
    attributes.validate().map_err(|e| TreeError::new(e.to_string()))?;
    Ok((text(id)?, attributes))
}

#[cfg(test)]
#[path = "change_wire_tests.rs"]
mod tests;
