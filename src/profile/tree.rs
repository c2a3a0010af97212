//! The stored profile read from its JSON tree by hand (see `storage::tree_reading`): what every
//! page does once when it loads a profile, and again when another tab wrote one. It reads
//! exactly what the serde derives of these types read (a test compares the two on stored,
//! damaged and random profiles); the derives stay for the native tools and the tests.

use serde_json::Value;

use super::{
    Affinities, Affinity, CachedItem, Cart, CatalogCache, EventCounts, History, HourOfWeek, InterestCounts, Profile,
    RecentItems, RepeatInterest, SessionItem, SessionState, TimedItem, VisitStats, HOURS_PER_WEEK,
};
use crate::catalog::{AttributeKey, ItemAttributes};
use crate::collect::EventKind;
use crate::profile::affinity::MAX_AFFINITY;
use crate::profile::DeviceClass;
use crate::storage::tree_reading::{
    list, map, number, object, optional, or_default, required, text, texts, unit_variant, whole_u32, whole_u64,
    whole_u8, TreeError,
};

impl Profile {
    /// Reads a current-layout stored payload.
    pub fn from_tree(value: &Value) -> Result<Profile, TreeError> {
        let f = object(value)?;
        Ok(Profile {
            affinities: or_default(f, "affinities", affinities)?,
            session: or_default(f, "session", session)?,
            history: or_default(f, "history", history)?,
            interest: or_default(f, "interest", |v| map(v, repeat_interest).map(InterestCounts))?,
            visits: or_default(f, "visits", visits)?,
            device: or_default(f, "device", device_class)?,
            hour_of_week: or_default(f, "hourOfWeek", hour_of_week)?,
            cart: or_default(f, "cart", |v| map(v, whole_u32).map(Cart))?,
            catalog: or_default(f, "catalog", |v| map(v, cached_item).map(CatalogCache))?,
            event_counts: or_default(f, "eventCounts", event_counts)?,
        })
    }
}

/// The kinds of [`AttributeKey`] by their stored names.
#[derive(Clone, Copy)]
enum KeyKind {
    Category,
    Brand,
    PriceBand,
    Tag,
}

/// `{"kind":"brand","value":"Acme"}` (a price band's value a whole number to 255), as the key's
/// serde reader reads it from the tree (`catalog/key_reading.rs`): an object, `kind` a variant
/// name, other fields ignored.
pub(super) fn attribute_key(value: &Value) -> Result<AttributeKey, TreeError> {
    const KINDS: [(&str, KeyKind); 4] = [
        ("category", KeyKind::Category),
        ("brand", KeyKind::Brand),
        ("priceBand", KeyKind::PriceBand),
        ("tag", KeyKind::Tag),
    ];
    let f = object(value)?;
    let kind = required(f, "kind", |v| unit_variant(v, &KINDS))?;
    Ok(match kind {
        KeyKind::Category => AttributeKey::Category(required(f, "value", text)?),
        KeyKind::Brand => AttributeKey::Brand(required(f, "value", text)?),
        KeyKind::PriceBand => AttributeKey::PriceBand(required(f, "value", whole_u8)?),
        KeyKind::Tag => AttributeKey::Tag(required(f, "value", text)?),
    })
}

pub(super) fn device_class(value: &Value) -> Result<DeviceClass, TreeError> {
    const VARIANTS: [(&str, DeviceClass); 4] = [
        ("unknown", DeviceClass::Unknown),
        ("mobile", DeviceClass::Mobile),
        ("tablet", DeviceClass::Tablet),
        ("desktop", DeviceClass::Desktop),
    ];
    unit_variant(value, &VARIANTS)
}

fn event_kind(value: &Value) -> Result<EventKind, TreeError> {
    const VARIANTS: [(&str, EventKind); 13] = [
        ("view", EventKind::View),
        ("click", EventKind::Click),
        ("impression", EventKind::Impression),
        ("addToCart", EventKind::AddToCart),
        ("removeFromCart", EventKind::RemoveFromCart),
        ("purchase", EventKind::Purchase),
        ("search", EventKind::Search),
        ("rating", EventKind::Rating),
        ("wishlistAdd", EventKind::WishlistAdd),
        ("wishlistRemove", EventKind::WishlistRemove),
        ("dismiss", EventKind::Dismiss),
        ("dwell", EventKind::Dwell),
        ("scrollDepth", EventKind::ScrollDepth),
    ];
    unit_variant(value, &VARIANTS)
}

fn affinities(value: &Value) -> Result<Affinities, TreeError> {
    let stored = list(value, |v| {
        let f = object(v)?;
        Ok((required(f, "key", attribute_key)?, required(f, "value", number)?, required(f, "updatedMs", whole_u64)?))
    })?;
    let entries = stored.into_iter().filter(|(_, value, _)| value.is_finite()).map(|(key, value, updated_ms)| {
        (key, Affinity { value: value.clamp(-MAX_AFFINITY, MAX_AFFINITY), updated_ms })
    });
    Ok(Affinities(super::map_from_entries(entries)))
}

fn session(value: &Value) -> Result<SessionState, TreeError> {
    let f = object(value)?;
    Ok(SessionState {
        started_ms: or_default(f, "startedMs", whole_u64)?,
        last_activity_ms: or_default(f, "lastActivityMs", whole_u64)?,
        items: or_default(f, "items", |v| list(v, session_item))?,
    })
}

fn session_item(value: &Value) -> Result<SessionItem, TreeError> {
    let f = object(value)?;
    Ok(SessionItem {
        item_id: required(f, "itemId", text)?,
        kind: required(f, "kind", event_kind)?,
        at_ms: required(f, "atMs", whole_u64)?,
    })
}

fn recent(value: &Value) -> Result<RecentItems, TreeError> {
    let items = list(value, |v| {
        let f = object(v)?;
        Ok(TimedItem { item_id: required(f, "itemId", text)?, at_ms: required(f, "atMs", whole_u64)? })
    })?;
    Ok(RecentItems(items))
}

fn history(value: &Value) -> Result<History, TreeError> {
    let f = object(value)?;
    Ok(History {
        viewed: or_default(f, "viewed", recent)?,
        carted: or_default(f, "carted", recent)?,
        purchased: or_default(f, "purchased", recent)?,
        dismissed: or_default(f, "dismissed", recent)?,
        wishlist: or_default(f, "wishlist", recent)?,
    })
}

fn repeat_interest(value: &Value) -> Result<RepeatInterest, TreeError> {
    let f = object(value)?;
    Ok(RepeatInterest { count: required(f, "count", whole_u32)?, last_ms: required(f, "lastMs", whole_u64)? })
}

fn visits(value: &Value) -> Result<VisitStats, TreeError> {
    let f = object(value)?;
    Ok(VisitStats {
        first_seen_ms: or_default(f, "firstSeenMs", whole_u64)?,
        last_seen_ms: or_default(f, "lastSeenMs", whole_u64)?,
        visits: or_default(f, "visits", whole_u32)?,
        sessions: or_default(f, "sessions", whole_u32)?,
        orders: or_default(f, "orders", whole_u32)?,
        last_order_ms: optional(f, "lastOrderMs", whole_u64)?,
        revenue: or_default(f, "revenue", number)?,
    })
}

fn hour_of_week(value: &Value) -> Result<HourOfWeek, TreeError> {
    let counts = list(value, whole_u32)?;
    if counts.len() > HOURS_PER_WEEK {
        return Err(TreeError::new(format!("{} hourly counts, expected at most 168", counts.len())));
    }
    let mut hours = [0; HOURS_PER_WEEK];
    hours[..counts.len()].copy_from_slice(&counts);
    Ok(HourOfWeek(hours))
}

fn cached_item(value: &Value) -> Result<CachedItem, TreeError> {
    let f = object(value)?;
    let attributes = ItemAttributes {
        category_path: or_default(f, "categoryPath", texts)?,
        brand: optional(f, "brand", text)?,
        price: optional(f, "price", number)?,
        tags: or_default(f, "tags", texts)?,
    };
    Ok(CachedItem { attributes, last_used_ms: required(f, "lastUsedMs", whole_u64)? })
}

fn event_counts(value: &Value) -> Result<EventCounts, TreeError> {
    let f = object(value)?;
    Ok(EventCounts {
        view: or_default(f, "view", whole_u64)?,
        click: or_default(f, "click", whole_u64)?,
        impression: or_default(f, "impression", whole_u64)?,
        add_to_cart: or_default(f, "addToCart", whole_u64)?,
        remove_from_cart: or_default(f, "removeFromCart", whole_u64)?,
        purchase: or_default(f, "purchase", whole_u64)?,
        search: or_default(f, "search", whole_u64)?,
        rating: or_default(f, "rating", whole_u64)?,
        wishlist_add: or_default(f, "wishlistAdd", whole_u64)?,
        wishlist_remove: or_default(f, "wishlistRemove", whole_u64)?,
        dismiss: or_default(f, "dismiss", whole_u64)?,
        dwell: or_default(f, "dwell", whole_u64)?,
        scroll_depth: or_default(f, "scrollDepth", whole_u64)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A payload with every field of every type filled in.
    fn full() -> Value {
        let item = |id: &str, at: u64| json!({ "itemId": id, "atMs": at });
        json!({
            "affinities": [
                { "key": { "kind": "category", "value": "Shoes > Trail" }, "value": 2.5, "updatedMs": 10 },
                { "key": { "kind": "brand", "value": "Acme" }, "value": -1.25, "updatedMs": 11 },
                { "key": { "kind": "priceBand", "value": 3 }, "value": 0.5, "updatedMs": 12 },
                { "key": { "kind": "tag", "value": "wide" }, "value": 1.0, "updatedMs": 13 }
            ],
            "session": { "startedMs": 5, "lastActivityMs": 9, "items": [{ "itemId": "a", "kind": "addToCart", "atMs": 6 }] },
            "history": {
                "viewed": [item("a", 3), item("b", 2)], "carted": [item("a", 4)], "purchased": [item("c", 1)],
                "dismissed": [item("d", 1)], "wishlist": [item("e", 1)]
            },
            "interest": { "a": { "count": 3, "lastMs": 7 }, "b": { "count": 1, "lastMs": 2 } },
            "visits": { "firstSeenMs": 1, "lastSeenMs": 9, "visits": 4, "sessions": 3, "orders": 2, "lastOrderMs": 8, "revenue": 99.5 },
            "device": "tablet",
            "hourOfWeek": [0, 1, 2, 3],
            "cart": { "a": 2, "f": 1 },
            "catalog": {
                "a": { "categoryPath": ["Shoes", "Trail"], "brand": "Acme", "price": 89.0, "tags": ["wide"], "lastUsedMs": 6 },
                "b": { "lastUsedMs": 2 }
            },
            "eventCounts": {
                "view": 1, "click": 2, "impression": 3, "addToCart": 4, "removeFromCart": 5, "purchase": 6, "search": 7,
                "rating": 8, "wishlistAdd": 9, "wishlistRemove": 10, "dismiss": 11, "dwell": 12, "scrollDepth": 13
            }
        })
    }

    #[test]
    fn keys_and_unit_variants_read_as_their_serde_readers_read_them() {
        let same = |hand: Result<String, TreeError>, derived: Result<String, serde_json::Error>, tree: &Value| {
            assert_eq!(hand.ok(), derived.ok(), "{tree}");
        };
        let devices = [
            json!("mobile"),
            json!({ "mobile": null }),
            json!({ "mobile": 1 }),
            json!({ "mobile": null, "tablet": null }),
            json!({}),
            json!("phone"),
            json!(1),
            json!(null),
            json!([]),
            json!(["mobile"]),
        ];
        for tree in &devices {
            same(
                device_class(tree).map(|d| format!("{d:?}")),
                serde_json::from_value::<DeviceClass>(tree.clone()).map(|d| format!("{d:?}")),
                tree,
            );
            same(
                event_kind(tree).map(|k| format!("{k:?}")),
                serde_json::from_value::<EventKind>(tree.clone()).map(|k| format!("{k:?}")),
                tree,
            );
        }
        let keys = [
            json!({ "kind": "brand", "value": "Acme" }),
            json!({ "kind": { "brand": null }, "value": "Acme" }),
            json!({ "kind": { "brand": 1 }, "value": "Acme" }),
            json!({ "kind": "priceBand", "value": 3 }),
            json!({ "kind": "priceBand", "value": 300 }),
            json!({ "kind": "priceBand", "value": -1 }),
            json!({ "kind": "priceBand", "value": 2.0 }),
            json!({ "kind": "priceBand", "value": "3" }),
            json!({ "kind": "tag" }),
            json!({ "value": "x" }),
            json!({ "kind": "tag", "value": "x", "other": 1 }),
            json!({ "a": 1, "kind": "category", "value": "Shoes" }),
            json!({ "kind": "tag", "value": 5 }),
            json!({ "kind": "mood", "value": "x" }),
            json!({ "kind": null, "value": "x" }),
            json!({ "kind": "tag", "value": null }),
            json!(["tag", "x"]),
            json!("tag"),
        ];
        for tree in &keys {
            same(
                attribute_key(tree).map(|k| format!("{k:?}")),
                serde_json::from_value::<AttributeKey>(tree.clone()).map(|k| format!("{k:?}")),
                tree,
            );
        }
    }

    fn both(tree: &Value) -> (Result<Profile, TreeError>, Result<Profile, serde_json::Error>) {
        (Profile::from_tree(tree), serde_json::from_value::<Profile>(tree.clone()))
    }

    #[test]
    fn a_full_payload_reads_as_the_derive_reads_it_and_writes_back_the_same() {
        let tree = full();
        let (by_hand, derived) = both(&tree);
        let by_hand = by_hand.unwrap();
        assert_eq!(by_hand, derived.unwrap());
        assert_ne!(by_hand, Profile::default());
        assert_eq!(Profile::from_tree(&serde_json::to_value(&by_hand).unwrap()).unwrap(), by_hand);
    }

    /// Every place a value can be, in `tree`, as JSON pointers.
    fn pointers(tree: &Value, at: String, out: &mut Vec<String>) {
        match tree {
            Value::Object(fields) => fields.iter().for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
            Value::Array(entries) => {
                entries.iter().enumerate().for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out))
            }
            _ => {}
        }
        out.push(at);
    }

    /// Each value of the payload replaced by each kind of wrong value, and each field removed:
    /// the hand reader accepts exactly what the derive accepts, and reads the same profile. One
    /// exception: the derive also reads a struct from an array of its fields in order (which
    /// this library never writes); the hand reader refuses that.
    #[test]
    fn every_damage_is_accepted_or_refused_as_the_derive_does() {
        let mut places = Vec::new();
        pointers(&full(), String::new(), &mut places);
        let wrong = [
            json!(null),
            json!("x"),
            json!(-1),
            json!(1.5),
            json!(1u64 << 32),
            json!(300),
            json!([]),
            json!({}),
            json!(true),
        ];
        let mut checked = 0;
        for place in places.iter().filter(|p| !p.is_empty()) {
            for value in wrong.iter().map(Some).chain([None]) {
                let mut tree = full();
                let struct_as_list = tree.pointer(place).unwrap().is_object() && value.is_some_and(Value::is_array);
                let (parent, last) = place.rsplit_once('/').unwrap();
                match (tree.pointer_mut(parent).unwrap(), value) {
                    (Value::Object(fields), Some(v)) => drop(fields.insert(last.to_owned(), v.clone())),
                    (Value::Object(fields), None) => drop(fields.remove(last)),
                    (Value::Array(entries), Some(v)) => entries[last.parse::<usize>().unwrap()] = v.clone(),
                    (Value::Array(entries), None) => drop(entries.remove(last.parse::<usize>().unwrap())),
                    _ => unreachable!("parents are containers"),
                }
                let (by_hand, derived) = both(&tree);
                match (by_hand, derived) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{place} = {value:?}"),
                    (Err(_), Err(_)) => {}
                    (Err(_), Ok(_)) if struct_as_list => {}
                    (a, b) => panic!("{place} = {value:?}: by hand {a:?}, derive {b:?}"),
                }
                checked += 1;
            }
        }
        assert!(checked > 800, "{checked} damaged payloads");
    }
}
