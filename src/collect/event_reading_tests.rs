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
    let by_hand = serde_json::from_str::<TrackEvent>(json).map(|e| serde_json::to_value(e).unwrap()).map_err(message);
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
        (r#"{"type":"view","itemId":"a","item":{"price":"cheap"}}"#, "invalid type: string \"cheap\", expected f64"),
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
