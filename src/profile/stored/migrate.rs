//! Migrations of older stored layouts to the current one.
//!
//! Each step turns a version-`n` payload into a version-`n+1` payload, so a profile of any older
//! version walks forward one step at a time and the current `Profile` type only ever reads the
//! current layout.
//!
//! Version 0 (the pre-release layout) kept one update time for the whole profile, affinities as a
//! map from `"kind:value"` to a number, only the viewed list, and no sessions, cart, catalog or
//! hour-of-week histogram:
//!
//! ```json
//! { "updatedMs": 1700000000000,
//!   "affinities": { "category:Shoes > Running": 2.5, "brand:Acme": 1, "priceBand:3": 0.5, "tag:trail": 1 },
//!   "viewed": ["sku-2", "sku-1"],
//!   "visits": { "firstSeenMs": 1690000000000, "visits": 3, "orders": 1 } }
//! ```

use litemap::LiteMap;
use serde_json::{Map, Value};

use crate::catalog::AttributeKey;
use crate::profile::Profile;
use crate::storage::json_reading::parse;
use crate::storage::tree_reading::{map, number, object, or_default, texts, whole_u32, whole_u64, TreeError};

/// Migrates a payload of `version` (older than the current one) to a current profile.
pub fn to_current(version: u64, payload: &str) -> Result<Profile, String> {
    match version {
        0 => {
            let tree = parse(payload).map_err(|e| e.to_string())?;
            let v0 = ProfileV0::from_tree(&tree).map_err(|e| e.to_string())?;
            Profile::from_tree(&v0_to_v1(v0)).map_err(|e| e.to_string())
        }
        _ => <super::format::ProfileFormat as crate::storage::StoredKind>::read_current(payload),
    }
}

/// A version-0 payload, read by hand from its tree (as `storage::tree_reading` reads the current
/// one): every field may be absent; unknown fields are ignored.
#[derive(Debug)]
struct ProfileV0 {
    updated_ms: u64,
    affinities: LiteMap<String, f64>,
    viewed: Vec<String>,
    visits: VisitsV0,
}

impl ProfileV0 {
    fn from_tree(value: &Value) -> Result<Self, TreeError> {
        let f = object(value)?;
        Ok(ProfileV0 {
            updated_ms: or_default(f, "updatedMs", whole_u64)?,
            affinities: or_default(f, "affinities", |v| map(v, number))?,
            viewed: or_default(f, "viewed", texts)?,
            visits: or_default(f, "visits", VisitsV0::from_tree)?,
        })
    }
}

#[derive(Debug, Default)]
struct VisitsV0 {
    first_seen_ms: u64,
    visits: u32,
    orders: u32,
}

impl VisitsV0 {
    fn from_tree(value: &Value) -> Result<Self, TreeError> {
        let f = object(value)?;
        Ok(VisitsV0 {
            first_seen_ms: or_default(f, "firstSeenMs", whole_u64)?,
            visits: or_default(f, "visits", whole_u32)?,
            orders: or_default(f, "orders", whole_u32)?,
        })
    }
}

/// Parses a version-0 key such as `"brand:Acme"`; unknown kinds are dropped.
fn key_v0(text: &str) -> Option<AttributeKey> {
    let (kind, value) = text.split_once(':')?;
    if value.is_empty() {
        return None;
    }
    match kind {
        "category" => Some(AttributeKey::Category(value.to_string())),
        "brand" => Some(AttributeKey::Brand(value.to_string())),
        "priceBand" => value.parse().ok().map(AttributeKey::PriceBand),
        "tag" => Some(AttributeKey::Tag(value.to_string())),
        _ => None,
    }
}

/// An object of `fields`, inserted one by one: collecting into the map would compile
/// `BTreeMap`'s bulk build and a sort of its own per call shape.
fn fields(fields: Vec<(&str, Value)>) -> Value {
    let mut object = Map::new();
    for (name, value) in fields {
        object.insert(name.to_owned(), value);
    }
    Value::Object(object)
}

/// A key as the current layout stores it: `{"kind":"brand","value":"Acme"}`.
fn key_tree(key: AttributeKey) -> Value {
    let (kind, value) = match key {
        AttributeKey::Category(path) => ("category", Value::from(path)),
        AttributeKey::Brand(brand) => ("brand", Value::from(brand)),
        AttributeKey::PriceBand(band) => ("priceBand", Value::from(band)),
        AttributeKey::Tag(tag) => ("tag", Value::from(tag)),
    };
    fields(vec![("kind", Value::from(kind)), ("value", value)])
}

fn v0_to_v1(v0: ProfileV0) -> Value {
    let at = v0.updated_ms;
    let affinities: Vec<Value> = v0
        .affinities
        .into_iter()
        .filter(|(_, value)| value.is_finite())
        .filter_map(|(key, value)| {
            let key = key_v0(&key)?;
            Some(fields(vec![("key", key_tree(key)), ("value", Value::from(value)), ("updatedMs", Value::from(at))]))
        })
        .collect();
    let viewed: Vec<Value> =
        v0.viewed.into_iter().map(|id| fields(vec![("itemId", Value::from(id)), ("atMs", Value::from(at))])).collect();
    fields(vec![
        ("affinities", Value::from(affinities)),
        ("history", fields(vec![("viewed", Value::from(viewed))])),
        (
            "visits",
            fields(vec![
                ("firstSeenMs", Value::from(v0.visits.first_seen_ms)),
                ("lastSeenMs", Value::from(at.max(v0.visits.first_seen_ms))),
                ("visits", Value::from(v0.visits.visits)),
                // Version 0 did not tell sessions from visits.
                ("sessions", Value::from(v0.visits.visits)),
                ("orders", Value::from(v0.visits.orders)),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::stored::{decode, encode, FORMAT_NAME};
    use proptest::prelude::*;

    const V0_PAYLOAD: &str = r#"{"updatedMs":1700000000000,
        "affinities":{"category:Shoes > Running":2.5,"brand:Acme":1,"priceBand:3":0.5,"tag:trail":1,"colour:red":9},
        "viewed":["sku-2","sku-1"],
        "visits":{"firstSeenMs":1690000000000,"visits":3,"orders":1}}"#;

    fn v0_envelope(payload: &str) -> String {
        format!(
            r#"{{"format":"{FORMAT_NAME}","version":0,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        )
    }

    #[test]
    fn a_version_0_profile_migrates_forward() {
        let decoded = decode(&v0_envelope(V0_PAYLOAD), 1 << 20).unwrap();
        assert_eq!(decoded.migrated_from, Some(0));
        let profile = decoded.profile;
        let acme = profile.affinities().get(&AttributeKey::Brand("Acme".into())).unwrap();
        assert!((acme.value - 1.0).abs() < 1e-12);
        assert_eq!(acme.updated_ms, 1_700_000_000_000);
        let running = profile.affinities().get(&AttributeKey::Category("Shoes > Running".into())).unwrap();
        assert!((running.value - 2.5).abs() < 1e-12);
        assert!(profile.affinities().get(&AttributeKey::PriceBand(3)).is_some());
        assert_eq!(profile.affinities().len(), 4, "the unknown kind 'colour' is dropped");
        let viewed: Vec<_> = profile.viewed().entries().iter().map(|e| e.item_id.as_str()).collect();
        assert_eq!(viewed, ["sku-2", "sku-1"]);
        assert_eq!(profile.visits().visits, 3);
        assert_eq!(profile.visits().sessions, 3);
        assert_eq!(profile.visits().orders, 1);
        assert_eq!(profile.visits().first_seen_ms, 1_690_000_000_000);
        assert_eq!(profile.hour_of_week().peak_hour(), None);
        // Written back, it is a current-version envelope.
        assert!(encode(&profile).unwrap().contains("\"version\":1"));
    }

    #[test]
    fn a_damaged_version_0_payload_is_an_invalid_payload() {
        let err = decode(&v0_envelope(r#"{"viewed":"sku-1"}"#), 1 << 20).unwrap_err();
        assert!(matches!(err, crate::storage::LoadError::InvalidPayload { version: 0, .. }));
    }

    #[test]
    fn keys_are_written_as_the_current_layout_stores_them() {
        for key in [
            AttributeKey::Category("Shoes > Trail".into()),
            AttributeKey::Brand("Acme".into()),
            AttributeKey::PriceBand(7),
            AttributeKey::Tag("trail".into()),
        ] {
            assert_eq!(key_tree(key.clone()), serde_json::to_value(&key).unwrap());
        }
    }

    /// The version-0 layout as serde's derive read it before the hand reader.
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DerivedV0 {
        #[serde(default)]
        updated_ms: u64,
        #[serde(default)]
        affinities: LiteMap<String, f64>,
        #[serde(default)]
        viewed: Vec<String>,
        #[serde(default)]
        visits: DerivedVisitsV0,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    struct DerivedVisitsV0 {
        first_seen_ms: u64,
        visits: u32,
        orders: u32,
    }

    /// A JSON value that is sometimes of the type a version-0 field has and sometimes not.
    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (0u64..5_000_000_000).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-z:]{0,6}".prop_map(Value::from),
        ]
    }

    fn maybe_object(names: &'static [&'static str], value: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
        let fields = prop::collection::vec((prop::sample::select(names), value), 0..5)
            .prop_map(|entries| Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        prop_oneof![4 => fields, 1 => leaf()].boxed()
    }

    fn v0_tree() -> BoxedStrategy<Value> {
        let list = prop::collection::vec(prop_oneof![3 => "[a-z0-9-]{0,5}".prop_map(Value::from), 1 => leaf()], 0..4)
            .prop_map(Value::from);
        let affinity_map = prop::collection::vec(("(brand|tag|priceBand|category|x):[a-z0-9]{0,3}", leaf()), 0..5)
            .prop_map(|entries| Value::Object(entries.into_iter().collect()));
        let visits = maybe_object(&["firstSeenMs", "visits", "orders", "other"], leaf().boxed());
        let field = prop_oneof![leaf().boxed(), list.boxed(), affinity_map.boxed(), visits].boxed();
        maybe_object(&["updatedMs", "affinities", "viewed", "visits", "extra"], field)
    }

    fn list_for_struct_or_map(tree: &Value) -> bool {
        match tree {
            Value::Array(_) => true,
            Value::Object(fields) => {
                ["affinities", "visits"].iter().any(|name| fields.get(*name).is_some_and(Value::is_array))
            }
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn the_hand_reader_reads_what_the_derive_read(tree in v0_tree()) {
            let derived = serde_json::from_value::<DerivedV0>(tree.clone());
            let hand = ProfileV0::from_tree(&tree);
            match (derived, hand) {
                (Ok(d), Ok(h)) => {
                    prop_assert_eq!(h.updated_ms, d.updated_ms);
                    prop_assert_eq!(h.affinities, d.affinities);
                    prop_assert_eq!(h.viewed, d.viewed);
                    prop_assert_eq!(
                        (h.visits.first_seen_ms, h.visits.visits, h.visits.orders),
                        (d.visits.first_seen_ms, d.visits.visits, d.visits.orders)
                    );
                }
                (Err(_), Err(_)) => {}
                // As for the current layout (`profile/tree.rs`): the derive also reads a struct or
                // a map from an array (of fields in order, of key-value pairs), which no version
                // of this library wrote; the hand reader refuses that.
                (Ok(_), Err(_)) if list_for_struct_or_map(&tree) => {}
                (d, h) => prop_assert!(false, "derive {:?}, hand {:?} for {}", d, h, tree),
            }
        }
    }

    #[test]
    fn version_0_keys_parse_by_kind() {
        assert_eq!(key_v0("tag:a:b"), Some(AttributeKey::Tag("a:b".into())));
        assert_eq!(key_v0("priceBand:x"), None);
        assert_eq!(key_v0("brand:"), None);
        assert_eq!(key_v0("nocolon"), None);
    }
}
