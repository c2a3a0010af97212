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

use serde::{Deserialize, Serialize};

use crate::catalog::AttributeKey;
use crate::profile::Profile;
use crate::storage::json_reading::read_json;

/// Migrates a payload of `version` (older than the current one) to a current profile.
pub fn to_current(version: u64, payload: &str) -> Result<Profile, String> {
    match version {
        0 => {
            let v0: ProfileV0 = read_json(payload)?;
            Profile::from_tree(&v0_to_v1(v0)).map_err(|e| e.to_string())
        }
        _ => <super::format::ProfileFormat as crate::storage::StoredKind>::read_current(payload),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileV0 {
    #[serde(default)]
    updated_ms: u64,
    #[serde(default)]
    affinities: LiteMap<String, f64>,
    #[serde(default)]
    viewed: Vec<String>,
    #[serde(default)]
    visits: VisitsV0,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct VisitsV0 {
    first_seen_ms: u64,
    visits: u32,
    orders: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AffinityV1 {
    key: AttributeKey,
    value: f64,
    updated_ms: u64,
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

fn v0_to_v1(v0: ProfileV0) -> serde_json::Value {
    let at = v0.updated_ms;
    let affinities: Vec<AffinityV1> = v0
        .affinities
        .into_iter()
        .filter(|(_, value)| value.is_finite())
        .filter_map(|(key, value)| key_v0(&key).map(|key| AffinityV1 { key, value, updated_ms: at }))
        .collect();
    let viewed: Vec<serde_json::Value> =
        v0.viewed.iter().map(|id| serde_json::json!({ "itemId": id, "atMs": at })).collect();
    serde_json::json!({
        "affinities": affinities,
        "history": { "viewed": viewed },
        "visits": {
            "firstSeenMs": v0.visits.first_seen_ms,
            "lastSeenMs": at.max(v0.visits.first_seen_ms),
            "visits": v0.visits.visits,
            // Version 0 did not tell sessions from visits.
            "sessions": v0.visits.visits,
            "orders": v0.visits.orders,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::stored::{decode, encode, FORMAT_NAME};

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
    fn version_0_keys_parse_by_kind() {
        assert_eq!(key_v0("tag:a:b"), Some(AttributeKey::Tag("a:b".into())));
        assert_eq!(key_v0("priceBand:x"), None);
        assert_eq!(key_v0("brand:"), None);
        assert_eq!(key_v0("nocolon"), None);
    }
}
