//! The profile's maps in the stored text: written as JSON objects, read back without a sort
//! compiled per map type.

use litemap::LiteMap;
use serde::{Deserialize, Serialize};

/// Writes a profile map as a JSON object even when it is empty (a `LiteMap` on its own writes an
/// empty map as `[]`): the stored format keeps the objects `BTreeMap` wrote.
pub(crate) fn serialize_as_object<K: Serialize, V: Serialize, S: serde::Serializer>(
    map: &LiteMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.iter())
}

/// Builds a profile map from entries that mostly come in key order (the stored text is written
/// sorted): each is appended, and one out of order is inserted (of equal keys the last wins).
/// LiteMap's own reader and `collect` sort with a stable sort compiled once per map type, which
/// was ~20 KB of the core module.
pub(crate) fn map_from_entries<K: Ord, V>(entries: impl IntoIterator<Item = (K, V)>) -> LiteMap<K, V> {
    let mut map = LiteMap::new();
    for (key, value) in entries {
        if let Some((key, value)) = map.try_append(key, value) {
            map.insert(key, value);
        }
    }
    map
}

/// Reads a profile map written by [`serialize_as_object`], through [`map_from_entries`].
pub(crate) fn deserialize_object<'de, V: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<LiteMap<String, V>, D::Error> {
    struct Entries<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
        type Value = LiteMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
            while let Some(entry) = access.next_entry::<String, V>()? {
                entries.push(entry);
            }
            Ok(map_from_entries(entries))
        }
    }
    deserializer.deserialize_map(Entries(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Whatever the order, the map is the one a `BTreeMap` builds (the last of equal keys wins).
        #[test]
        fn entries_in_any_order_build_the_sorted_map(entries in proptest::collection::vec((0u8..40, any::<u16>()), 0..80)) {
            let expected: Vec<(u8, u16)> = entries.iter().copied().collect::<BTreeMap<_, _>>().into_iter().collect();
            let built: Vec<(u8, u16)> = map_from_entries(entries).iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(built, expected);
        }
    }

    #[test]
    fn an_object_reads_back_as_written_and_empty_stays_an_object() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Holder(
            #[serde(serialize_with = "serialize_as_object", deserialize_with = "deserialize_object")]
            LiteMap<String, u32>,
        );
        let json = r#"{"b":2,"a":1,"c":3,"a":4}"#;
        let read: Holder = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), r#"{"a":4,"b":2,"c":3}"#);
        assert_eq!(serde_json::to_string(&Holder(LiteMap::new())).unwrap(), "{}");
        assert!(serde_json::from_str::<Holder>("[1]").is_err());
    }
}
