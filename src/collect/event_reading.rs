//! Reading a [`TrackEvent`] in one pass over its fields.
//!
//! serde's derive for an internally tagged enum (`{ "type": "view", ... }`) buffers the whole
//! object into its private `Content` tree, then reads the variant's fields from that tree: two
//! deserializers per field type, and the largest export of the package. Here every field goes
//! into its slot as it comes, whatever the order of `type`; then the variant takes the slots it
//! has. The errors are serde's own: `unknown variant `teleport`, expected one of `view`, ...`,
//! `unknown field `colour`, expected `itemId` or `item``, `missing field `itemId``.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::event::{one, EventKind, PurchaseLine, TrackEvent};
use crate::catalog::ItemAttributes;

/// The fields each kind of event has, as JS spells them (for "unknown field" errors).
pub(crate) fn fields_of(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::View => &["itemId", "item"],
        EventKind::Click => &["itemId", "placement", "position", "item"],
        EventKind::Impression => &["placement", "itemIds", "positions"],
        EventKind::AddToCart => &["itemId", "quantity", "item"],
        EventKind::RemoveFromCart => &["itemId", "quantity"],
        EventKind::Purchase => &["items", "value"],
        EventKind::Search => &["query", "resultIds"],
        EventKind::Rating => &["itemId", "rating"],
        EventKind::WishlistAdd | EventKind::WishlistRemove | EventKind::Dismiss => &["itemId"],
        EventKind::Dwell => &["itemId", "ms"],
        EventKind::ScrollDepth => &["itemId", "depth"],
    }
}

/// Every field any event has; `None` until the object names it. An optional field read as
/// `null` is `Some(None)`: present, and refused by a kind that does not have it. The intermediate
/// of both readers: serde's (below) and the browser's, straight off the JS object
/// (`wasm/core/event_input.rs`).
#[derive(Default)]
pub(crate) struct Slots {
    pub item_id: Option<Option<String>>,
    pub item: Option<Option<ItemAttributes>>,
    pub placement: Option<Option<String>>,
    pub position: Option<Option<u32>>,
    pub item_ids: Option<Vec<String>>,
    pub positions: Option<Option<Vec<u32>>>,
    pub quantity: Option<u32>,
    pub items: Option<Vec<PurchaseLine>>,
    pub value: Option<f64>,
    pub query: Option<String>,
    pub result_ids: Option<Vec<String>>,
    pub rating: Option<u8>,
    pub ms: Option<f64>,
    pub depth: Option<f64>,
}

impl Slots {
    /// The names of the fields the object had, in the order of [`fields_of`]'s union.
    fn present(&self) -> impl Iterator<Item = &'static str> + '_ {
        let flags = [
            ("itemId", self.item_id.is_some()),
            ("item", self.item.is_some()),
            ("placement", self.placement.is_some()),
            ("position", self.position.is_some()),
            ("itemIds", self.item_ids.is_some()),
            ("positions", self.positions.is_some()),
            ("quantity", self.quantity.is_some()),
            ("items", self.items.is_some()),
            ("value", self.value.is_some()),
            ("query", self.query.is_some()),
            ("resultIds", self.result_ids.is_some()),
            ("rating", self.rating.is_some()),
            ("ms", self.ms.is_some()),
            ("depth", self.depth.is_some()),
        ];
        flags.into_iter().filter(|(_, present)| *present).map(|(name, _)| name)
    }
}

/// Fills `slot` once; a second value for the same field is serde's "duplicate field" error.
fn fill<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| de::Error::missing_field(name))
}

/// A required string that may have been read as `null` (its slot is shared with optional ones).
fn required_text<E: de::Error>(slot: Option<Option<String>>, name: &'static str) -> Result<String, E> {
    required(slot, name)?.ok_or_else(|| de::Error::invalid_type(de::Unexpected::Unit, &"a string"))
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = TrackEvent;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event object with a `type`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TrackEvent, A::Error> {
        let mut kind: Option<EventKind> = None;
        let mut s = Slots::default();
        let mut unknown: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            // Once the kind is known, a field it lacks is refused before its value is read.
            if let Some(kind) = kind {
                if key != "type" && !fields_of(kind).contains(&key.as_str()) {
                    return Err(de::Error::unknown_field(&key, fields_of(kind)));
                }
            }
            match key.as_str() {
                "type" => fill(&mut map, &mut kind, "type")?,
                "itemId" => fill(&mut map, &mut s.item_id, "itemId")?,
                "item" => fill(&mut map, &mut s.item, "item")?,
                "placement" => fill(&mut map, &mut s.placement, "placement")?,
                "position" => fill(&mut map, &mut s.position, "position")?,
                "itemIds" => fill(&mut map, &mut s.item_ids, "itemIds")?,
                "positions" => fill(&mut map, &mut s.positions, "positions")?,
                "quantity" => fill(&mut map, &mut s.quantity, "quantity")?,
                "items" => fill(&mut map, &mut s.items, "items")?,
                "value" => fill(&mut map, &mut s.value, "value")?,
                "query" => fill(&mut map, &mut s.query, "query")?,
                "resultIds" => fill(&mut map, &mut s.result_ids, "resultIds")?,
                "rating" => fill(&mut map, &mut s.rating, "rating")?,
                "ms" => fill(&mut map, &mut s.ms, "ms")?,
                "depth" => fill(&mut map, &mut s.depth, "depth")?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    unknown.get_or_insert(key);
                }
            }
        }
        let kind = required(kind, "type")?;
        s.into_event(kind, unknown)
    }
}

impl Slots {
    /// The event of `kind` from the slots it has; `unknown` is a field no event has (if any).
    /// The refusals are serde's: unknown field (the kind's fields listed), missing field.
    pub(crate) fn into_event<E: de::Error>(self, kind: EventKind, unknown: Option<String>) -> Result<TrackEvent, E> {
        let allowed = fields_of(kind);
        if let Some(name) = unknown.as_deref().or_else(|| self.present().find(|name| !allowed.contains(name))) {
            return Err(de::Error::unknown_field(name, allowed));
        }
        Ok(match kind {
            EventKind::View => {
                TrackEvent::View { item_id: required_text(self.item_id, "itemId")?, item: self.item.flatten() }
            }
            EventKind::Click => TrackEvent::Click {
                item_id: required_text(self.item_id, "itemId")?,
                placement: self.placement.flatten(),
                position: self.position.flatten(),
                item: self.item.flatten(),
            },
            EventKind::Impression => TrackEvent::Impression {
                placement: required_text(self.placement, "placement")?,
                item_ids: required(self.item_ids, "itemIds")?,
                positions: self.positions.flatten(),
            },
            EventKind::AddToCart => TrackEvent::AddToCart {
                item_id: required_text(self.item_id, "itemId")?,
                quantity: self.quantity.unwrap_or_else(one),
                item: self.item.flatten(),
            },
            EventKind::RemoveFromCart => TrackEvent::RemoveFromCart {
                item_id: required_text(self.item_id, "itemId")?,
                quantity: self.quantity.unwrap_or_else(one),
            },
            EventKind::Purchase => {
                TrackEvent::Purchase { items: required(self.items, "items")?, value: required(self.value, "value")? }
            }
            EventKind::Search => TrackEvent::Search {
                query: required(self.query, "query")?,
                result_ids: self.result_ids.unwrap_or_default(),
            },
            EventKind::Rating => TrackEvent::Rating {
                item_id: required_text(self.item_id, "itemId")?,
                rating: required(self.rating, "rating")?,
            },
            EventKind::WishlistAdd => TrackEvent::WishlistAdd { item_id: required_text(self.item_id, "itemId")? },
            EventKind::WishlistRemove => TrackEvent::WishlistRemove { item_id: required_text(self.item_id, "itemId")? },
            EventKind::Dismiss => TrackEvent::Dismiss { item_id: required_text(self.item_id, "itemId")? },
            EventKind::Dwell => {
                TrackEvent::Dwell { item_id: required_text(self.item_id, "itemId")?, ms: required(self.ms, "ms")? }
            }
            EventKind::ScrollDepth => {
                TrackEvent::ScrollDepth { item_id: self.item_id.flatten(), depth: required(self.depth, "depth")? }
            }
        })
    }
}

impl<'de> Deserialize<'de> for TrackEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

#[cfg(test)]
mod tests {
    //! The hand-written reader against serde's derive of the same enum: the same events, the same
    //! refusals with the same messages.

    use serde::{Deserialize, Serialize};

    use crate::catalog::ItemAttributes;
    use crate::collect::event::{PurchaseLine, TrackEvent};

    fn one() -> u32 {
        1
    }

    /// `TrackEvent` as it was derived before it was read by hand.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
    enum Derived {
        View {
            item_id: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            item: Option<ItemAttributes>,
        },
        Click {
            item_id: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            placement: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            position: Option<u32>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            item: Option<ItemAttributes>,
        },
        Impression {
            placement: String,
            item_ids: Vec<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            positions: Option<Vec<u32>>,
        },
        AddToCart {
            item_id: String,
            #[serde(default = "one")]
            quantity: u32,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            item: Option<ItemAttributes>,
        },
        RemoveFromCart {
            item_id: String,
            #[serde(default = "one")]
            quantity: u32,
        },
        Purchase {
            items: Vec<PurchaseLine>,
            value: f64,
        },
        Search {
            query: String,
            #[serde(default)]
            result_ids: Vec<String>,
        },
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
        Dismiss {
            item_id: String,
        },
        Dwell {
            item_id: String,
            ms: f64,
        },
        ScrollDepth {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            item_id: Option<String>,
            depth: f64,
        },
    }

    /// The message without serde_json's position (the derive reports from its buffer's end).
    fn message(error: serde_json::Error) -> String {
        let text = error.to_string();
        text.rfind(" at line ").map_or(text.clone(), |at| text[..at].to_string())
    }

    fn both(json: &str) -> (Result<serde_json::Value, String>, Result<serde_json::Value, String>) {
        let by_hand =
            serde_json::from_str::<TrackEvent>(json).map(|e| serde_json::to_value(e).unwrap()).map_err(message);
        let derived = serde_json::from_str::<Derived>(json).map(|e| serde_json::to_value(e).unwrap()).map_err(message);
        (by_hand, derived)
    }

    #[test]
    fn reads_what_the_derive_reads_in_any_field_order() {
        let events = [
            r#"{"type":"view","itemId":"a"}"#,
            r#"{"itemId":"a","type":"view","item":{"categoryPath":["Shoes"],"price":10}}"#,
            r#"{"type":"view","itemId":"a","item":null}"#,
            r#"{"type":"click","itemId":"a","placement":"home","position":3}"#,
            r#"{"position":null,"type":"click","itemId":"a","placement":null}"#,
            r#"{"type":"impression","placement":"home","itemIds":["a","b"],"positions":[4,5]}"#,
            r#"{"type":"impression","placement":"home","itemIds":[],"positions":null}"#,
            r#"{"type":"addToCart","itemId":"a"}"#,
            r#"{"type":"addToCart","itemId":"a","quantity":3,"item":{"brand":"Acme"}}"#,
            r#"{"type":"removeFromCart","itemId":"a","quantity":2}"#,
            r#"{"value":10,"items":[{"itemId":"a","quantity":2,"price":5},{"itemId":"b"}],"type":"purchase"}"#,
            r#"{"type":"search","query":"trail shoes"}"#,
            r#"{"type":"search","query":"trail","resultIds":["a"]}"#,
            r#"{"type":"rating","itemId":"a","rating":4}"#,
            r#"{"type":"wishlistAdd","itemId":"a"}"#,
            r#"{"type":"wishlistRemove","itemId":"a"}"#,
            r#"{"type":"dismiss","itemId":"a"}"#,
            r#"{"type":"dwell","itemId":"a","ms":5000.5}"#,
            r#"{"type":"scrollDepth","depth":0.5}"#,
            r#"{"type":"scrollDepth","depth":1,"itemId":null}"#,
            r#"{"type":"scrollDepth","depth":0,"itemId":"a"}"#,
        ];
        for json in events {
            let (by_hand, derived) = both(json);
            assert!(derived.is_ok(), "{json}: {derived:?}");
            assert_eq!(by_hand, derived, "{json}");
        }
    }

    #[test]
    fn refuses_what_the_derive_refuses_with_its_message() {
        let refused = [
            (r#"{"type":"teleport","itemId":"a"}"#, "unknown variant `teleport`, expected one of `view`, `click`"),
            (r#"{"itemId":"a"}"#, "missing field `type`"),
            (r#"{"type":"view"}"#, "missing field `itemId`"),
            (r#"{"type":"view","itemId":"a","colour":"red"}"#, "unknown field `colour`, expected `itemId` or `item`"),
            (r#"{"colour":"red","type":"view","itemId":"a"}"#, "unknown field `colour`"),
            (r#"{"type":"view","itemId":"a","query":"x"}"#, "unknown field `query`"),
            (r#"{"query":"x","type":"view","itemId":"a"}"#, "unknown field `query`"),
            (r#"{"type":"search","query":"x","item":null}"#, "unknown field `item`"),
            (r#"{"type":"view","itemId":null}"#, "invalid type: null, expected a string"),
            (r#"{"type":"view","itemId":7}"#, "invalid type: integer `7`, expected a string"),
            (r#"{"type":"impression","itemIds":["a"]}"#, "missing field `placement`"),
            (r#"{"type":"impression","placement":null,"itemIds":["a"]}"#, "invalid type: null"),
            (r#"{"type":"impression","placement":"p","itemIds":null}"#, "invalid type: null, expected a sequence"),
            (r#"{"type":"addToCart","itemId":"a","quantity":null}"#, "invalid type: null, expected u32"),
            (r#"{"type":"addToCart","itemId":"a","quantity":1.5}"#, "invalid type: floating point `1.5`, expected u32"),
            (r#"{"type":"rating","itemId":"a","rating":300}"#, "invalid value: integer `300`, expected u8"),
            (r#"{"type":"rating","itemId":"a"}"#, "missing field `rating`"),
            (r#"{"type":"purchase","items":[{"itemId":"a","sku":1}],"value":1}"#, "unknown field `sku`"),
            (r#"{"type":"purchase","items":[]}"#, "missing field `value`"),
            (r#"{"type":"dwell","itemId":"a","ms":"long"}"#, "invalid type: string \"long\", expected f64"),
            (r#"{"type":"scrollDepth"}"#, "missing field `depth`"),
            (r#"{"type":"view","type":"view","itemId":"a"}"#, "duplicate field `type`"),
            (r#"{"type":"view","itemId":"a","itemId":"b"}"#, "duplicate field `itemId`"),
            (
                r#"{"type":"view","itemId":"a","item":{"price":"cheap"}}"#,
                "invalid type: string \"cheap\", expected f64",
            ),
        ];
        for (json, expected) in refused {
            let (by_hand, derived) = both(json);
            let (by_hand, derived) = (by_hand.expect_err(json), derived.expect_err(json));
            assert_eq!(by_hand, derived, "{json}");
            assert!(by_hand.contains(expected), "{json}: {by_hand}");
        }
    }

    #[test]
    fn a_field_of_another_kind_is_refused_before_its_value_is_read() {
        // The derive buffers the object first and so names the field; with `type` first so does the
        // reader. (With the field before `type` the reader reads it as its own kind's type first.)
        let json = r#"{"type":"search","query":"x","item":5}"#;
        let (by_hand, derived) = both(json);
        assert_eq!(by_hand, derived);
        assert!(by_hand.unwrap_err().starts_with("unknown field `item`, expected `query` or `resultIds`"));
    }
}
