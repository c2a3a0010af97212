//! The profile as a [`StoredKind`]: format `shop-personalizer/profile`, version 1, with a
//! migration from the pre-release version 0 (see `migrate.rs`). Hand-edited payloads are cleaned
//! on load ([`Profile::enforce_bounds`]).

use crate::profile::Profile;

use crate::storage::{envelope_overhead, open, seal, LoadError, Opened, StoredKind};

use super::migrate;

/// The `format` field of a stored profile.
pub const FORMAT_NAME: &str = "shop-personalizer/profile";
/// The profile layout version this library writes. Version 0 is the pre-release layout.
pub const CURRENT_VERSION: u64 = 1;

/// The stored profile's kind.
pub struct ProfileFormat;

impl StoredKind for ProfileFormat {
    const FORMAT: &'static str = FORMAT_NAME;
    const VERSION: u64 = CURRENT_VERSION;
    const NOUN: &'static str = "profile";
    const AFTER_BACKUP: &'static str = "a fresh profile started";
    type Payload = Profile;

    fn read_current(payload: &str) -> Result<Profile, String> {
        let tree = crate::storage::json_reading::parse(payload).map_err(|e| e.to_string())?;
        Profile::from_tree(&tree).map_err(|e| e.to_string())
    }

    fn migrate(version: u64, payload: &str) -> Result<Profile, String> {
        migrate::to_current(version, payload)
    }
}

/// A profile read from storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub profile: Profile,
    /// The version it was stored in, when it was migrated from an older one.
    pub migrated_from: Option<u64>,
    /// Ids of the values it was merged onto, newest first.
    pub lineage: Vec<u32>,
    /// The text of its `recent` member (see the envelope).
    pub recent: Option<String>,
}

/// The profile as a stored envelope without lineage.
pub fn encode(profile: &Profile) -> Result<String, serde_json::Error> {
    encode_with_lineage(profile, &[])
}

/// The profile as a stored envelope merged onto the values in `lineage` (newest first).
pub fn encode_with_lineage(profile: &Profile, lineage: &[u32]) -> Result<String, serde_json::Error> {
    seal::<ProfileFormat>(profile, lineage)
}

/// Bytes the profile's envelope adds around its payload, at most.
pub fn profile_envelope_overhead() -> usize {
    envelope_overhead::<ProfileFormat>()
}

/// Reads a stored profile of at most `max_bytes`, migrating older versions.
pub fn decode(raw: &str, max_bytes: usize) -> Result<Decoded, LoadError> {
    let mut opened = open::<ProfileFormat>(raw, max_bytes)?;
    let (migrated_from, lineage, recent) = (opened.migrated_from, opened.lineage.clone(), opened.recent.take());
    Ok(Decoded { profile: cleaned(opened), migrated_from, lineage, recent })
}

/// The opened profile with hand-edited values cleaned.
pub(super) fn cleaned(opened: Opened<Profile>) -> Profile {
    let mut profile = opened.payload;
    profile.enforce_bounds();
    profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemAttributes;
    use crate::collect::event::TrackEvent;
    use crate::config::ValidConfig;
    use crate::profile::{ProfileChange, RecordedEvent};
    use crate::storage::MAX_LINEAGE;
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 20;

    fn sample(views: usize) -> Profile {
        let mut profile = Profile::default();
        for i in 0..views {
            let attrs = ItemAttributes {
                category_path: vec!["Shoes".into(), format!("Kind {}", i % 3)],
                brand: Some(format!("Brand \"{i}\" ü")),
                price: Some(i as f64 * 3.7),
                tags: vec![],
            };
            let change = ProfileChange::Record(RecordedEvent {
                event: TrackEvent::View { item_id: format!("id-{i}"), item: None },
                at_ms: 1_700_000_000_000 + i as u64 * 1_000,
                hour_of_week: (i % 168) as u8,
                attributes: vec![(format!("id-{i}"), attrs)],
                visit_device: None,
            });
            profile.apply(&change, &ValidConfig::default());
        }
        profile
    }

    #[test]
    fn round_trips_with_a_checksum_over_the_payload() {
        let profile = sample(5);
        let raw = encode(&profile).unwrap();
        assert!(raw.starts_with(r#"{"format":"shop-personalizer/profile","version":1,"checksum":"#));
        let decoded = decode(&raw, LIMIT).unwrap();
        assert_eq!(decoded.migrated_from, None);
        assert!(decoded.lineage.is_empty());
        assert_eq!(encode(&decoded.profile).unwrap(), raw);
        let with_lineage = encode_with_lineage(&profile, &[7, 3]).unwrap();
        assert!(with_lineage.contains(r#""lineage":[7,3],"payload""#));
        assert_eq!(decode(&with_lineage, LIMIT).unwrap().lineage, [7, 3]);
        let too_long: Vec<u32> = (0..MAX_LINEAGE as u32 + 24).collect();
        let capped = encode_with_lineage(&profile, &too_long).unwrap();
        assert_eq!(decode(&capped, LIMIT).unwrap().lineage.len(), MAX_LINEAGE);
        assert!(capped.len() <= serde_json::to_string(&profile).unwrap().len() + profile_envelope_overhead());
        assert!(raw.len() <= serde_json::to_string(&profile).unwrap().len() + profile_envelope_overhead());
    }

    #[test]
    fn profiles_written_before_the_shared_envelope_read_back_to_the_same_bytes() {
        let plain = include_str!("../../../tests/fixtures/stored/profile_v1.json");
        let merged = include_str!("../../../tests/fixtures/stored/profile_lineage_v1.json");
        let decoded = decode(plain, LIMIT).unwrap();
        assert_eq!(decoded.migrated_from, None);
        assert!(decoded.lineage.is_empty());
        assert_eq!(decoded.profile.session().items.len(), 5);
        assert_eq!(encode(&decoded.profile).unwrap(), plain);
        let decoded = decode(merged, LIMIT).unwrap();
        assert_eq!(decoded.lineage, [3_390_504_137, 1_459_486_601]);
        assert_eq!(encode_with_lineage(&decoded.profile, &decoded.lineage).unwrap(), merged);
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let raw = encode(&sample(2)).unwrap();
        assert!(matches!(decode(&raw, 10), Err(LoadError::Oversized { limit: 10, .. })));
        assert!(matches!(decode(&raw[..raw.len() - 3], LIMIT), Err(LoadError::CorruptJson { .. })));
        assert!(matches!(decode("[1,2]", LIMIT), Err(LoadError::NotAnEnvelope { .. })));
        let other = raw.replace(FORMAT_NAME, "someone-else");
        assert_eq!(
            decode(&other, LIMIT),
            Err(LoadError::UnknownFormat { expected: FORMAT_NAME, found: "someone-else".into() })
        );
        let tampered = raw.replace("\"Shoes\"", "\"Shoez\"");
        assert!(matches!(decode(&tampered, LIMIT), Err(LoadError::ChecksumMismatch { .. })));
        let future = raw.replace("\"version\":1,", "\"version\":7,");
        assert_eq!(decode(&future, LIMIT), Err(LoadError::FutureVersion { what: "profile", found: 7, supported: 1 }));
        let payload = r#"{"visits":"many"}"#;
        let wrong = format!(
            r#"{{"format":"{FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert!(matches!(decode(&wrong, LIMIT), Err(LoadError::InvalidPayload { version: 1, .. })));
        assert!(decode(&future, LIMIT).unwrap_err().to_string().contains("update the library"));
    }

    #[test]
    fn an_empty_payload_object_is_an_empty_profile() {
        let payload = "{}";
        let raw = format!(
            r#"{{"format":"{FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        assert_eq!(decode(&raw, LIMIT).unwrap().profile, Profile::default());
    }

    #[test]
    fn hand_edited_payloads_are_cleaned_on_load() {
        let payload = r#"{"catalog":{"":{"brand":"A","lastUsedMs":1},"a":{"price":-5,"lastUsedMs":1},"c":{"categoryPath":["X"],"lastUsedMs":1}},"visits":{"revenue":-3}}"#;
        let raw = format!(
            r#"{{"format":"{FORMAT_NAME}","version":1,"checksum":{},"payload":{payload}}}"#,
            crc32fast::hash(payload.as_bytes())
        );
        let profile = decode(&raw, LIMIT).unwrap().profile;
        let ids: Vec<_> = profile.catalog().iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["c"]);
        assert!(profile.visits().revenue.abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encode_decode_round_trips(views in 0usize..60) {
            let profile = sample(views);
            let raw = encode(&profile).unwrap();
            let decoded = decode(&raw, LIMIT).unwrap().profile;
            // Stored affinities are rounded to 4 decimals; everything else is exact.
            prop_assert_eq!(decoded.affinities().len(), profile.affinities().len());
            for ((k1, a1), (k2, a2)) in decoded.affinities().iter().zip(profile.affinities().iter()) {
                prop_assert_eq!(k1, k2);
                prop_assert!((a1.value - a2.value).abs() <= 5e-5);
                prop_assert_eq!(a1.updated_ms, a2.updated_ms);
            }
            prop_assert_eq!(decoded.history(), profile.history());
            prop_assert_eq!(decoded.visits(), profile.visits());
            prop_assert_eq!(decoded.catalog(), profile.catalog());
            prop_assert_eq!(decoded.hour_of_week(), profile.hour_of_week());
            prop_assert_eq!(encode(&decoded).unwrap(), raw);
        }

        #[test]
        fn any_string_decodes_or_errors_without_panicking(raw in ".{0,400}") {
            let _ = decode(&raw, LIMIT);
        }

        #[test]
        fn any_byte_flip_is_caught_or_harmless(index in 0usize..400, byte in any::<u8>()) {
            let raw = encode(&sample(3)).unwrap();
            let mut bytes = raw.into_bytes();
            let i = index % bytes.len();
            bytes[i] = byte;
            let damaged = String::from_utf8_lossy(&bytes);
            let _ = decode(&damaged, LIMIT);
        }
    }
}
