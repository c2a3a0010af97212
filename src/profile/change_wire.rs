//! A [`ProfileChange`] as stored values carry it for other tabs (see `personalizer/tabs.rs`):
//! a compact JSON array holding what [`Profile::apply`] uses of it and nothing else, e.g.
//! `["view",1700000000000,36,"mobile",[["sku-1",{"categoryPath":[],"brand":"Acme","tags":[]}]],"sku-1"]`.
//!
//! An event keeps its kind, time, hour of the week, the device of a page's first event, the
//! attributes it brought and the fields its kind learns from (item, quantity, order lines' items
//! and value, search results, rating, dwell, scroll depth); what only ranking or the shop reads
//! (placements, positions, the query, line prices) is left out, so the event read back applies
//! exactly as the recorded one did. Reading checks every field as `track` does.

use std::fmt::Write;

use serde_json::Value;

use super::{DeviceClass, ProfileChange, RecordedEvent, HOURS_PER_WEEK};
use crate::catalog::{AttributeKey, ItemAttributes};
use crate::collect::event::{PurchaseLine, TrackEvent, MAX_DWELL_MS};
use crate::float_text::Decimal;
use crate::storage::tree_reading::{list, number, optional, or_default, text, texts, whole_u64, whole_u8, TreeError};

use super::tree::{attribute_key, device_class};

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
            write_key(key, out);
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
    let _ = write!(out, ",{},{},", recorded.at_ms, recorded.hour_of_week);
    out.push_str(match recorded.visit_device {
        Some(DeviceClass::Unknown) => "\"unknown\"",
        Some(DeviceClass::Mobile) => "\"mobile\"",
        Some(DeviceClass::Tablet) => "\"tablet\"",
        Some(DeviceClass::Desktop) => "\"desktop\"",
        None => "null",
    });
    out.push_str(",[");
    for (n, (id, attributes)) in recorded.attributes.iter().enumerate() {
        out.push_str(if n == 0 { "[" } else { ",[" });
        push_text(out, id);
        out.push(',');
        write_attributes(attributes, out);
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
            let _ = write!(out, ",{quantity}");
        }
        TrackEvent::Purchase { items, value } => {
            out.push(',');
            write_texts(items.iter().map(|line| line.item_id.as_str()), out);
            push_number(out, *value);
        }
        TrackEvent::Search { result_ids, .. } => {
            out.push(',');
            write_texts(result_ids.iter().map(String::as_str), out);
        }
        TrackEvent::Rating { item_id, rating } => {
            push_field(out, item_id);
            let _ = write!(out, ",{rating}");
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

/// `text` as a JSON string (written by hand: serde's writer per type costs the core module code).
fn push_text(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_texts<'a>(texts: impl Iterator<Item = &'a str>, out: &mut String) {
    out.push('[');
    for (n, text) in texts.enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_text(out, text);
    }
    out.push(']');
}

/// As the profile stores item attributes: `{"categoryPath":[..],"brand":..,"price":..,"tags":[..]}`.
fn write_attributes(attributes: &ItemAttributes, out: &mut String) {
    out.push_str("{\"categoryPath\":");
    write_texts(attributes.category_path.iter().map(String::as_str), out);
    if let Some(brand) = &attributes.brand {
        out.push_str(",\"brand\":");
        push_text(out, brand);
    }
    if let Some(price) = attributes.price {
        let _ = write!(out, ",\"price\":{}", Decimal(if price.is_finite() { price } else { 0.0 }));
    }
    out.push_str(",\"tags\":");
    write_texts(attributes.tags.iter().map(String::as_str), out);
    out.push('}');
}

/// As an interest key is stored: `{"kind":"brand","value":"Acme"}`.
fn write_key(key: &AttributeKey, out: &mut String) {
    let (kind, text) = match key {
        AttributeKey::Category(path) => ("category", path),
        AttributeKey::Brand(brand) => ("brand", brand),
        AttributeKey::Tag(tag) => ("tag", tag),
        AttributeKey::PriceBand(band) => {
            let _ = write!(out, "{{\"kind\":\"priceBand\",\"value\":{band}}}");
            return;
        }
    };
    let _ = write!(out, "{{\"kind\":\"{kind}\",\"value\":");
    push_text(out, text);
    out.push('}');
}

fn push_field(out: &mut String, text: &str) {
    out.push(',');
    push_text(out, text);
}

/// A finite number (events hold no other; anything else writes 0), shortest round-trip form.
fn push_number(out: &mut String, value: f64) {
    let _ = write!(out, ",{}", Decimal(if value.is_finite() { value } else { 0.0 }));
}

/// Reads a change [`write_change`] wrote, checking it as `track` checks an event.
pub fn read_change(value: &Value) -> Result<ProfileChange, TreeError> {
    let parts = value.as_array().ok_or_else(|| TreeError::new("expected a change array"))?;
    let kind = text(entry(parts, 0)?)?;
    match kind.as_str() {
        "removeInterest" => Ok(ProfileChange::RemoveInterest(attribute_key(entry(parts, 1)?)?)),
        "forgetItem" => Ok(ProfileChange::ForgetItem(text(entry(parts, 1)?)?)),
        _ => read_recorded(&kind, parts).map(ProfileChange::Record),
    }
}

#[inline(never)]
fn entry(parts: &[Value], n: usize) -> Result<&Value, TreeError> {
    parts.get(n).ok_or_else(|| TreeError::new("a change is missing entries"))
}

/// The fields after the attributes, read once whatever the kind: an item id or a list of ids,
/// then an amount.
struct Tail {
    item_id: Option<String>,
    ids: Vec<String>,
    amount: f64,
}

impl Tail {
    #[inline(never)]
    fn read(parts: &[Value]) -> Result<Tail, TreeError> {
        let (mut item_id, mut ids) = (None, Vec::new());
        match parts.get(5) {
            None | Some(Value::Null) => {}
            Some(Value::Array(_)) => ids = texts(&parts[5])?,
            Some(other) => item_id = Some(text(other)?),
        }
        let amount = parts.get(6).map(number).transpose()?.unwrap_or(f64::NAN);
        Ok(Tail { item_id, ids, amount })
    }

    #[inline(never)]
    fn item(&mut self) -> Result<String, TreeError> {
        self.item_id.take().ok_or_else(|| TreeError::new("a change is missing its item"))
    }

    /// The amount as a whole number (quantity, stars); out of range reads as 0, which the checks
    /// refuse.
    #[inline(never)]
    fn whole(&self) -> u32 {
        let ok = self.amount.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&self.amount);
        if ok {
            self.amount as u32
        } else {
            0
        }
    }
}

fn read_recorded(kind: &str, parts: &[Value]) -> Result<RecordedEvent, TreeError> {
    let at_ms = whole_u64(entry(parts, 1)?)?;
    let hour_of_week = whole_u8(entry(parts, 2)?)?;
    if usize::from(hour_of_week) >= HOURS_PER_WEEK {
        return Err(TreeError::new("the hour of the week is not below 168"));
    }
    let visit_device = match entry(parts, 3)? {
        Value::Null => None,
        device => Some(device_class(device)?),
    };
    let attributes = list(entry(parts, 4)?, attributed)?;
    let mut tail = Tail::read(parts)?;
    let event = match kind {
        "view" => TrackEvent::View { item_id: tail.item()?, item: None },
        "click" => TrackEvent::Click { item_id: tail.item()?, placement: None, position: None, item: None },
        "impression" => {
            TrackEvent::Impression { placement: "carried".to_owned(), item_ids: Vec::new(), positions: None }
        }
        "addToCart" => TrackEvent::AddToCart { quantity: tail.whole(), item_id: tail.item()?, item: None },
        "removeFromCart" => TrackEvent::RemoveFromCart { quantity: tail.whole(), item_id: tail.item()? },
        "purchase" => {
            let line = |item_id| PurchaseLine { item_id, quantity: 1, price: None };
            TrackEvent::Purchase { items: tail.ids.into_iter().map(line).collect(), value: tail.amount }
        }
        "search" => TrackEvent::Search { query: "carried".to_owned(), result_ids: tail.ids },
        "rating" => TrackEvent::Rating { rating: u8::try_from(tail.whole()).unwrap_or(0), item_id: tail.item()? },
        "wishlistAdd" => TrackEvent::WishlistAdd { item_id: tail.item()? },
        "wishlistRemove" => TrackEvent::WishlistRemove { item_id: tail.item()? },
        "dismiss" => TrackEvent::Dismiss { item_id: tail.item()? },
        "dwell" => TrackEvent::Dwell { ms: tail.amount, item_id: tail.item()? },
        "scrollDepth" => TrackEvent::ScrollDepth { item_id: tail.item_id, depth: tail.amount },
        _ => return Err(TreeError::new("unknown change kind")),
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
        Err(TreeError::new(format!("{name} is out of range")))
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
