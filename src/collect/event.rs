//! The events a storefront reports, as one typed union, and their validation.
//!
//! JS passes `{ type: "view", itemId: "sku-1", item: { categoryPath: [...] } }` and so on.
//! An event that fails [`TrackEvent::validate`] is rejected whole: nothing of it is stored.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::{validate_item_id, CatalogError, ItemAttributes, MAX_LABEL_BYTES};
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

/// Most ids one impression, search result list or purchase may carry.
pub const MAX_LIST_LEN: usize = 1000;
/// Longest accepted search query, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// Longest accepted dwell, in milliseconds (one day); longer values are clock or tab glitches.
pub const MAX_DWELL_MS: f64 = 86_400_000.0;

/// Why an event was rejected. Nothing from a rejected event is stored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EventError {
    #[error("{0}")]
    Item(#[from] CatalogError),
    #[error("{field} is empty: pass at least one entry")]
    EmptyList { field: &'static str },
    #[error("{field} has {len} entries; the limit is {max}: send fewer per event")]
    ListTooLong { field: &'static str, len: usize, max: usize },
    #[error("{field} must be a finite number {rule}, got {}", Decimal(*.value))]
    OutOfRange { field: &'static str, rule: &'static str, value: f64 },
    #[error("search query is empty: track a search only when the shopper typed something")]
    EmptyQuery,
    #[error("{field} is {len} bytes long; the limit is {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
    #[error("positions has {positions} entries but itemIds has {ids}: give one position per id or none")]
    PositionsMismatch { positions: usize, ids: usize },
    #[error("{field} lists item id {id:?} twice: list each item once")]
    DuplicateId { field: &'static str, id: String },
}

impl Coded for EventError {
    /// Always `invalidEvent`: an invalid item inside an event is the event's fault.
    fn code(&self) -> ErrorCode {
        match self {
            EventError::Item(_)
            | EventError::EmptyList { .. }
            | EventError::ListTooLong { .. }
            | EventError::OutOfRange { .. }
            | EventError::EmptyQuery
            | EventError::TooLong { .. }
            | EventError::PositionsMismatch { .. }
            | EventError::DuplicateId { .. } => ErrorCode::InvalidEvent,
        }
    }
}

/// One line of a purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurchaseLine {
    pub item_id: String,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Unit price paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub price: Option<f64>,
}

pub(super) fn one() -> u32 {
    1
}

/// Something the shopper did. `item`, where present, carries the item's attributes so the
/// shop need not call `upsertItems` first.
// Read by hand in one pass (`event_reading`); the `serde` attributes describe the same format for
// `Serialize` and the TypeScript types.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum TrackEvent {
    /// A product page or quick view was opened.
    View {
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        item: Option<ItemAttributes>,
    },
    /// A product link was clicked in a list (`placement`, 0-based `position`).
    Click {
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        placement: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        position: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        item: Option<ItemAttributes>,
    },
    /// A list of products was shown. `positions` defaults to 0, 1, 2, ... in list order.
    Impression {
        placement: String,
        item_ids: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        positions: Option<Vec<u32>>,
    },
    AddToCart {
        item_id: String,
        #[serde(default = "one")]
        quantity: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        item: Option<ItemAttributes>,
    },
    RemoveFromCart {
        item_id: String,
        #[serde(default = "one")]
        quantity: u32,
    },
    /// An order was placed. `value` is the order total.
    Purchase {
        items: Vec<PurchaseLine>,
        value: f64,
    },
    /// The shopper searched for `query` and was shown `resultIds`.
    Search {
        query: String,
        #[serde(default)]
        result_ids: Vec<String>,
    },
    /// An explicit rating from 1 to 5 stars.
    Rating {
        item_id: String,
        rating: u8,
    },
    WishlistAdd {
        item_id: String,
    },
    WishlistRemove {
        item_id: String,
    },
    /// "Not interested": the strongest negative signal.
    Dismiss {
        item_id: String,
    },
    /// Milliseconds spent on a product page.
    Dwell {
        item_id: String,
        ms: f64,
    },
    /// How far down a page the shopper scrolled, from 0 to 1.
    ScrollDepth {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        item_id: Option<String>,
        depth: f64,
    },
}

/// The kind of an event, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    View,
    Click,
    Impression,
    AddToCart,
    RemoveFromCart,
    Purchase,
    Search,
    Rating,
    WishlistAdd,
    WishlistRemove,
    Dismiss,
    Dwell,
    ScrollDepth,
}

impl TrackEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            TrackEvent::View { .. } => EventKind::View,
            TrackEvent::Click { .. } => EventKind::Click,
            TrackEvent::Impression { .. } => EventKind::Impression,
            TrackEvent::AddToCart { .. } => EventKind::AddToCart,
            TrackEvent::RemoveFromCart { .. } => EventKind::RemoveFromCart,
            TrackEvent::Purchase { .. } => EventKind::Purchase,
            TrackEvent::Search { .. } => EventKind::Search,
            TrackEvent::Rating { .. } => EventKind::Rating,
            TrackEvent::WishlistAdd { .. } => EventKind::WishlistAdd,
            TrackEvent::WishlistRemove { .. } => EventKind::WishlistRemove,
            TrackEvent::Dismiss { .. } => EventKind::Dismiss,
            TrackEvent::Dwell { .. } => EventKind::Dwell,
            TrackEvent::ScrollDepth { .. } => EventKind::ScrollDepth,
        }
    }

    /// The single item this event is about, if it is about exactly one.
    pub fn item_id(&self) -> Option<&str> {
        match self {
            TrackEvent::View { item_id, .. }
            | TrackEvent::Click { item_id, .. }
            | TrackEvent::AddToCart { item_id, .. }
            | TrackEvent::RemoveFromCart { item_id, .. }
            | TrackEvent::Rating { item_id, .. }
            | TrackEvent::WishlistAdd { item_id }
            | TrackEvent::WishlistRemove { item_id }
            | TrackEvent::Dismiss { item_id }
            | TrackEvent::Dwell { item_id, .. } => Some(item_id),
            TrackEvent::ScrollDepth { item_id, .. } => item_id.as_deref(),
            TrackEvent::Impression { .. } | TrackEvent::Purchase { .. } | TrackEvent::Search { .. } => None,
        }
    }

    /// Attributes carried inline with the event, if any.
    pub fn inline_attributes(&self) -> Option<&ItemAttributes> {
        match self {
            TrackEvent::View { item, .. } | TrackEvent::Click { item, .. } | TrackEvent::AddToCart { item, .. } => {
                item.as_ref()
            }
            _ => None,
        }
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), EventError> {
        if let Some(id) = self.item_id() {
            validate_item_id(id)?;
        }
        if let Some(attrs) = self.inline_attributes() {
            attrs.validate()?;
        }
        match self {
            TrackEvent::Click { placement: Some(p), .. } => check_placement(p),
            TrackEvent::Impression { placement, item_ids, positions } => {
                check_placement(placement)?;
                check_ids("itemIds", item_ids, false)?;
                match positions {
                    Some(p) if p.len() != item_ids.len() => {
                        Err(EventError::PositionsMismatch { positions: p.len(), ids: item_ids.len() })
                    }
                    _ => Ok(()),
                }
            }
            TrackEvent::AddToCart { quantity, .. } | TrackEvent::RemoveFromCart { quantity, .. } => {
                check_quantity(*quantity)
            }
            TrackEvent::Purchase { items, value } => {
                if items.is_empty() {
                    return Err(EventError::EmptyList { field: "items" });
                }
                if items.len() > MAX_LIST_LEN {
                    return Err(EventError::ListTooLong { field: "items", len: items.len(), max: MAX_LIST_LEN });
                }
                for line in items {
                    validate_item_id(&line.item_id)?;
                    check_quantity(line.quantity)?;
                    if let Some(price) = line.price {
                        check_range("price", price, "of at least 0", price >= 0.0)?;
                    }
                }
                check_range("value", *value, "of at least 0", *value >= 0.0)
            }
            TrackEvent::Search { query, result_ids } => {
                if query.trim().is_empty() {
                    return Err(EventError::EmptyQuery);
                }
                if query.len() > MAX_QUERY_BYTES {
                    return Err(EventError::TooLong { field: "query", len: query.len(), max: MAX_QUERY_BYTES });
                }
                check_ids("resultIds", result_ids, true)
            }
            TrackEvent::Rating { rating, .. } => {
                let value = f64::from(*rating);
                check_range("rating", value, "from 1 to 5", (1..=5).contains(rating))
            }
            TrackEvent::Dwell { ms, .. } => {
                check_range("ms", *ms, "from 0 to 86400000", (0.0..=MAX_DWELL_MS).contains(ms))
            }
            TrackEvent::ScrollDepth { depth, .. } => {
                check_range("depth", *depth, "from 0 to 1", (0.0..=1.0).contains(depth))
            }
            _ => Ok(()),
        }
    }
}

fn check_range(field: &'static str, value: f64, rule: &'static str, ok: bool) -> Result<(), EventError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(EventError::OutOfRange { field, rule, value })
    }
}

fn check_quantity(quantity: u32) -> Result<(), EventError> {
    check_range("quantity", f64::from(quantity), "from 1 to 10000", (1..=10_000).contains(&quantity))
}

fn check_placement(placement: &str) -> Result<(), EventError> {
    if placement.len() > MAX_LABEL_BYTES {
        return Err(EventError::TooLong { field: "placement", len: placement.len(), max: MAX_LABEL_BYTES });
    }
    Ok(())
}

fn check_ids(field: &'static str, ids: &[String], may_be_empty: bool) -> Result<(), EventError> {
    if ids.is_empty() && !may_be_empty {
        return Err(EventError::EmptyList { field });
    }
    if ids.len() > MAX_LIST_LEN {
        return Err(EventError::ListTooLong { field, len: ids.len(), max: MAX_LIST_LEN });
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for id in ids {
        validate_item_id(id)?;
        if !seen.insert(id.as_str()) {
            return Err(EventError::DuplicateId { field, id: id.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<TrackEvent, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn parses_every_kind_from_js_shaped_json() {
        let cases = [
            (r#"{"type":"view","itemId":"a","item":{"categoryPath":["Shoes"],"price":10}}"#, EventKind::View),
            (r#"{"type":"click","itemId":"a","placement":"home","position":3}"#, EventKind::Click),
            (r#"{"type":"impression","placement":"home","itemIds":["a","b"]}"#, EventKind::Impression),
            (r#"{"type":"addToCart","itemId":"a"}"#, EventKind::AddToCart),
            (r#"{"type":"removeFromCart","itemId":"a","quantity":2}"#, EventKind::RemoveFromCart),
            (r#"{"type":"purchase","items":[{"itemId":"a","quantity":2,"price":5}],"value":10}"#, EventKind::Purchase),
            (r#"{"type":"search","query":"trail shoes","resultIds":["a"]}"#, EventKind::Search),
            (r#"{"type":"rating","itemId":"a","rating":4}"#, EventKind::Rating),
            (r#"{"type":"wishlistAdd","itemId":"a"}"#, EventKind::WishlistAdd),
            (r#"{"type":"wishlistRemove","itemId":"a"}"#, EventKind::WishlistRemove),
            (r#"{"type":"dismiss","itemId":"a"}"#, EventKind::Dismiss),
            (r#"{"type":"dwell","itemId":"a","ms":5000}"#, EventKind::Dwell),
            (r#"{"type":"scrollDepth","depth":0.5}"#, EventKind::ScrollDepth),
        ];
        for (json, kind) in cases {
            let event = parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(event.kind(), kind);
            assert_eq!(event.validate(), Ok(()), "{json}");
            // How the core hands a recorded event to the on-demand module: written, then read back.
            let written = serde_json::to_string(&event).unwrap();
            assert_eq!(parse(&written).unwrap_or_else(|e| panic!("{written}: {e}")), event, "{written}");
        }
    }

    #[test]
    fn unknown_type_and_unknown_field_do_not_parse() {
        assert!(parse(r#"{"type":"teleport","itemId":"a"}"#).is_err());
        assert!(parse(r#"{"type":"view","itemId":"a","colour":"red"}"#).is_err());
        assert!(parse(r#"{"type":"view"}"#).is_err());
    }

    #[test]
    fn rejects_bad_fields_with_a_reason() {
        let bad = [
            r#"{"type":"view","itemId":""}"#,
            r#"{"type":"view","itemId":"a","item":{"price":-3}}"#,
            r#"{"type":"impression","placement":"home","itemIds":[]}"#,
            r#"{"type":"impression","placement":"home","itemIds":["a","a"]}"#,
            r#"{"type":"impression","placement":"home","itemIds":["a"],"positions":[0,1]}"#,
            r#"{"type":"purchase","items":[],"value":0}"#,
            r#"{"type":"purchase","items":[{"itemId":"a","quantity":0}],"value":1}"#,
            r#"{"type":"search","query":"  "}"#,
            r#"{"type":"rating","itemId":"a","rating":6}"#,
            r#"{"type":"dwell","itemId":"a","ms":-1}"#,
            r#"{"type":"scrollDepth","depth":1.5}"#,
        ];
        for json in bad {
            let event = parse(json).unwrap();
            let err = event.validate().expect_err(json);
            assert!(!err.to_string().is_empty());
        }
        let nan = TrackEvent::Dwell { item_id: "a".into(), ms: f64::NAN };
        assert!(matches!(nan.validate(), Err(EventError::OutOfRange { field: "ms", .. })));
        let empty = TrackEvent::Impression { placement: "p".into(), item_ids: Vec::new(), positions: None };
        assert!(matches!(empty.validate(), Err(EventError::EmptyList { field: "itemIds" })));
        let item_ids = (0..=MAX_LIST_LEN).map(|i| format!("i{i}")).collect();
        let huge = TrackEvent::Impression { placement: "p".into(), item_ids, positions: None };
        assert!(matches!(huge.validate(), Err(EventError::ListTooLong { field: "itemIds", .. })));
    }
}
