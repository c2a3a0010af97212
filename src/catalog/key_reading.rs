//! Reading an [`AttributeKey`] (`{ "kind": "brand", "value": "Acme" }`) in one pass.
//!
//! serde's derive of an adjacently tagged enum buffers `value` in its private `Content` when it
//! comes before `kind`, which brings that whole machinery into the package. Here a `value` that
//! comes first is kept as the one scalar it can be and read once `kind` is known, through serde's
//! own scalar deserializers, so the errors are the derive's: `unknown variant `mood`, expected one
//! of ...`, `invalid type: integer `3`, expected a string`, `missing field `value``.

use serde::de::value::{BoolDeserializer, F64Deserializer, I64Deserializer, StringDeserializer, U64Deserializer};
use serde::de::{Deserializer, Error, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::AttributeKey;

/// The `kind` of an [`AttributeKey`] (its unknown-variant error lists these).
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kind {
    Category,
    Brand,
    PriceBand,
    Tag,
}

/// A `value` read before its `kind`: a string or a number (anything else is refused at once).
enum Early {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
}

struct EarlyVisitor;

impl Visitor<'_> for EarlyVisitor {
    type Value = Early;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<Early, E> {
        Ok(Early::Text(v.to_owned()))
    }
    fn visit_string<E: Error>(self, v: String) -> Result<Early, E> {
        Ok(Early::Text(v))
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<Early, E> {
        Ok(Early::Unsigned(v))
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<Early, E> {
        Ok(Early::Signed(v))
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<Early, E> {
        Ok(Early::Float(v))
    }
    fn visit_bool<E: Error>(self, v: bool) -> Result<Early, E> {
        Ok(Early::Bool(v))
    }
}

impl<'de> Deserialize<'de> for Early {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EarlyVisitor)
    }
}

impl Early {
    /// The value as `T`, with the error serde gives for this scalar.
    fn read<T: for<'a> Deserialize<'a>, E: Error>(self) -> Result<T, E> {
        match self {
            Early::Text(v) => T::deserialize(StringDeserializer::<E>::new(v)),
            Early::Unsigned(v) => T::deserialize(U64Deserializer::<E>::new(v)),
            Early::Signed(v) => T::deserialize(I64Deserializer::<E>::new(v)),
            Early::Float(v) => T::deserialize(F64Deserializer::<E>::new(v)),
            Early::Bool(v) => T::deserialize(BoolDeserializer::<E>::new(v)),
        }
    }
}

/// The value, read as the kind's type.
enum Value {
    Text(String),
    Band(u8),
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = AttributeKey;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an attribute key `{ kind, value }`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttributeKey, A::Error> {
        let mut kind: Option<Kind> = None;
        let mut early: Option<Early> = None;
        let mut value: Option<Value> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "kind" if kind.is_some() => return Err(Error::duplicate_field("kind")),
                "kind" => kind = Some(map.next_value()?),
                "value" if value.is_some() || early.is_some() => return Err(Error::duplicate_field("value")),
                "value" => match kind {
                    Some(Kind::PriceBand) => value = Some(Value::Band(map.next_value()?)),
                    Some(_) => value = Some(Value::Text(map.next_value()?)),
                    None => early = Some(map.next_value()?),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| Error::missing_field("kind"))?;
        let value = match (value, early, kind) {
            (Some(value), ..) => value,
            (None, Some(early), Kind::PriceBand) => Value::Band(early.read()?),
            (None, Some(early), _) => Value::Text(early.read()?),
            (None, None, _) => return Err(Error::missing_field("value")),
        };
        Ok(match (kind, value) {
            (Kind::Category, Value::Text(v)) => AttributeKey::Category(v),
            (Kind::Brand, Value::Text(v)) => AttributeKey::Brand(v),
            (Kind::Tag, Value::Text(v)) => AttributeKey::Tag(v),
            (Kind::PriceBand, Value::Band(v)) => AttributeKey::PriceBand(v),
            // Each kind's value was read as that kind's type above.
            _ => return Err(Error::custom("the value does not match the kind")),
        })
    }
}

impl<'de> Deserialize<'de> for AttributeKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::AttributeKey;

    #[test]
    fn reads_as_the_adjacently_tagged_derive_did_in_either_order() {
        #[derive(Debug, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "value", rename_all = "camelCase")]
        enum Derived {
            Category(String),
            Brand(String),
            PriceBand(u8),
            Tag(String),
        }
        let cases = [
            r#"{"kind":"category","value":"Shoes > Running"}"#,
            r#"{"value":"Acme","kind":"brand"}"#,
            r#"{"kind":"priceBand","value":3}"#,
            r#"{"value":3,"kind":"priceBand"}"#,
            r#"{"kind":"tag","value":"trail","colour":1}"#,
            r#"{"kind":"priceBand","value":300}"#,
            r#"{"value":300,"kind":"priceBand"}"#,
            r#"{"value":-1,"kind":"priceBand"}"#,
            r#"{"value":2.5,"kind":"priceBand"}"#,
            r#"{"value":"3","kind":"priceBand"}"#,
            r#"{"kind":"brand","value":3}"#,
            r#"{"value":3,"kind":"brand"}"#,
            r#"{"value":true,"kind":"tag"}"#,
            r#"{"kind":"mood","value":"happy"}"#,
            r#"{"kind":"brand"}"#,
            r#"{"value":"Acme"}"#,
            r#"{"kind":"brand","value":null}"#,
            r#"{"kind":"brand","kind":"tag","value":"x"}"#,
            r#"{"kind":"brand","value":"a","value":"b"}"#,
        ];
        let message = |e: serde_json::Error| e.to_string().split(" at line ").next().unwrap_or_default().to_string();
        for json in cases {
            let by_hand = serde_json::from_str::<AttributeKey>(json).map(|k| serde_json::to_value(k).unwrap());
            let derived = serde_json::from_str::<Derived>(json).map(|k| serde_json::to_value(k).unwrap());
            assert_eq!(by_hand.map_err(message), derived.map_err(message), "{json}");
        }
    }
}
