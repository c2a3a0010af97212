//! Items and their attributes: what the shop tells the device about a product.
//!
//! Items arrive either inside an event (`view` with its attributes) or in bulk through
//! `upsertItems`. Every field is checked here once, so the rest of the core can trust them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

mod key_reading;

/// Longest accepted item id, category name, brand or tag, in bytes.
pub const MAX_LABEL_BYTES: usize = 128;
/// Deepest accepted category path.
pub const MAX_CATEGORY_DEPTH: usize = 8;
/// Most tags accepted on one item.
pub const MAX_TAGS: usize = 32;

/// Why an item or one of its attributes was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CatalogError {
    #[error("item id is empty: pass the shop's product id as a non-empty string")]
    EmptyId,
    #[error("{field} is {len} bytes long; the limit is {max}: shorten it or pass an id instead")]
    TooLong { field: &'static str, len: usize, max: usize },
    #[error("{field} has {len} entries; the limit is {max}")]
    TooMany { field: &'static str, len: usize, max: usize },
    #[error("{field} contains an empty string: drop empty entries")]
    EmptyLabel { field: &'static str },
    #[error("price {} is not a finite, non-negative number", Decimal(*.0))]
    BadPrice(f64),
}

impl Coded for CatalogError {
    /// `invalidItem`; errors that carry a catalog error for an event or an answer give their own code.
    fn code(&self) -> ErrorCode {
        match self {
            CatalogError::EmptyId
            | CatalogError::TooLong { .. }
            | CatalogError::TooMany { .. }
            | CatalogError::EmptyLabel { .. }
            | CatalogError::BadPrice(_) => ErrorCode::InvalidItem,
        }
    }
}

/// A product's descriptive attributes. All optional: an item with none still works.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ItemAttributes {
    /// From the broadest category to the narrowest, e.g. `["Shoes", "Running", "Trail"]`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub category_path: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub brand: Option<String>,
    /// Unit price in the shop's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub price: Option<f64>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub tags: Vec<String>,
}

/// An item as the shop describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    #[serde(flatten)]
    pub attributes: ItemAttributes,
}

/// An [`Item`] as it is read: its fields side by side, as `flatten` reads them (unknown ones
/// ignored) but in one pass; the derive of `flatten` buffers the object in serde's `Content`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlatItem {
    id: String,
    #[serde(default)]
    category_path: Vec<String>,
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    price: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let FlatItem { id, category_path, brand, price, tags } = FlatItem::deserialize(deserializer)?;
        Ok(Item { id, attributes: ItemAttributes { category_path, brand, price, tags } })
    }
}

/// Checks an item id: non-empty and of bounded length.
pub fn validate_item_id(id: &str) -> Result<(), CatalogError> {
    if id.is_empty() {
        return Err(CatalogError::EmptyId);
    }
    check_len("item id", id)
}

fn check_len(field: &'static str, value: &str) -> Result<(), CatalogError> {
    if value.len() > MAX_LABEL_BYTES {
        return Err(CatalogError::TooLong { field, len: value.len(), max: MAX_LABEL_BYTES });
    }
    Ok(())
}

fn check_labels(field: &'static str, values: &[String], max: usize) -> Result<(), CatalogError> {
    if values.len() > max {
        return Err(CatalogError::TooMany { field, len: values.len(), max });
    }
    for value in values {
        if value.trim().is_empty() {
            return Err(CatalogError::EmptyLabel { field });
        }
        check_len(field, value)?;
    }
    Ok(())
}

/// Upper bounds of the price bands, in the shop's currency; a price at or above the last bound
/// falls in the last band. Bands are roughly logarithmic so that "cheap" and "premium" separate
/// in every price range a shop may have.
pub const PRICE_BAND_BOUNDS: [f64; 7] = [10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

/// The band (0..=7) a price falls in.
pub fn price_band(price: f64) -> u8 {
    PRICE_BAND_BOUNDS.iter().take_while(|bound| price >= **bound).count() as u8
}

/// One attribute value a shopper can have an affinity for.
///
/// A category is identified by its whole path down to that level (`"Shoes > Running"`), so
/// "Running" under "Shoes" and under "Books" stay apart. Serialized as a tagged object:
/// `{ "kind": "category", "value": "Shoes > Running" }`.
// Read by hand in one pass (`catalog/key_reading.rs`); the `serde` attributes describe the same
// format for `Serialize` and the TypeScript types.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
pub enum AttributeKey {
    Category(String),
    Brand(String),
    PriceBand(u8),
    Tag(String),
}

/// Separator between category levels in [`AttributeKey::Category`].
pub const CATEGORY_SEPARATOR: &str = " > ";

impl AttributeKey {
    /// Depth of a category key (1 for a top-level category); 0 for other kinds.
    pub fn category_depth(&self) -> usize {
        match self {
            AttributeKey::Category(path) => path.split(CATEGORY_SEPARATOR).count(),
            _ => 0,
        }
    }
}

impl std::fmt::Display for AttributeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttributeKey::Category(path) => f.write_str(path.rsplit(CATEGORY_SEPARATOR).next().unwrap_or(path)),
            AttributeKey::Brand(brand) => f.write_str(brand),
            AttributeKey::PriceBand(band) => {
                let band = usize::from(*band);
                match (band.checked_sub(1).map(|i| PRICE_BAND_BOUNDS[i]), PRICE_BAND_BOUNDS.get(band)) {
                    (None, Some(hi)) => write!(f, "under {}", Decimal(*hi)),
                    (Some(lo), Some(hi)) => write!(f, "{} to {}", Decimal(lo), Decimal(*hi)),
                    (Some(lo), None) => write!(f, "{} and up", Decimal(lo)),
                    (None, None) => f.write_str("any price"),
                }
            }
            AttributeKey::Tag(tag) => f.write_str(tag),
        }
    }
}

impl ItemAttributes {
    /// Every attribute key of this item: each level of the category path, the brand, the price
    /// band and each tag.
    pub fn keys(&self) -> Vec<AttributeKey> {
        let mut keys = Vec::with_capacity(self.category_path.len() + self.tags.len() + 2);
        let mut path = String::new();
        for level in &self.category_path {
            if !path.is_empty() {
                path.push_str(CATEGORY_SEPARATOR);
            }
            path.push_str(level);
            keys.push(AttributeKey::Category(path.clone()));
        }
        keys.extend(self.brand.iter().map(|b| AttributeKey::Brand(b.clone())));
        keys.extend(self.price.map(|p| AttributeKey::PriceBand(price_band(p))));
        keys.extend(self.tags.iter().map(|t| AttributeKey::Tag(t.clone())));
        keys
    }

    /// Checks every attribute; the first problem found is returned.
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_labels("categoryPath", &self.category_path, MAX_CATEGORY_DEPTH)?;
        check_labels("tags", &self.tags, MAX_TAGS)?;
        if let Some(brand) = &self.brand {
            if brand.trim().is_empty() {
                return Err(CatalogError::EmptyLabel { field: "brand" });
            }
            check_len("brand", brand)?;
        }
        if let Some(price) = self.price {
            if !price.is_finite() || price < 0.0 {
                return Err(CatalogError::BadPrice(price));
            }
        }
        Ok(())
    }

    /// True when nothing is known about the item.
    pub fn is_empty(&self) -> bool {
        self.category_path.is_empty() && self.brand.is_none() && self.price.is_none() && self.tags.is_empty()
    }

    /// True when any level of the category path is one of `sensitive` (compared case-insensitively),
    /// which makes the item and everything below that category sensitive.
    pub fn is_in_any_category(&self, sensitive: &[String]) -> bool {
        self.category_path.iter().any(|level| sensitive.iter().any(|s| s.eq_ignore_ascii_case(level)))
    }
}

impl Item {
    pub fn validate(&self) -> Result<(), CatalogError> {
        validate_item_id(&self.id)?;
        self.attributes.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shoe() -> ItemAttributes {
        ItemAttributes {
            category_path: vec!["Shoes".into(), "Running".into()],
            brand: Some("Acme".into()),
            price: Some(89.0),
            tags: vec!["trail".into()],
        }
    }

    #[test]
    fn accepts_a_plain_item() {
        assert_eq!(Item { id: "sku-1".into(), attributes: shoe() }.validate(), Ok(()));
    }

    #[test]
    fn rejects_each_bad_field() {
        assert_eq!(validate_item_id(""), Err(CatalogError::EmptyId));
        let long = "x".repeat(MAX_LABEL_BYTES + 1);
        assert!(matches!(validate_item_id(&long), Err(CatalogError::TooLong { .. })));
        for price in [f64::NAN, -1.0, f64::INFINITY] {
            let attrs = ItemAttributes { price: Some(price), ..shoe() };
            assert!(matches!(attrs.validate(), Err(CatalogError::BadPrice(_))));
        }
        let attrs = ItemAttributes { tags: vec![" ".into()], ..shoe() };
        assert_eq!(attrs.validate(), Err(CatalogError::EmptyLabel { field: "tags" }));
        let attrs = ItemAttributes { category_path: vec!["a".into(); MAX_CATEGORY_DEPTH + 1], ..shoe() };
        assert!(matches!(attrs.validate(), Err(CatalogError::TooMany { .. })));
    }

    #[test]
    fn sensitivity_covers_descendants() {
        let attrs = ItemAttributes { category_path: vec!["Health".into(), "Pregnancy tests".into()], ..shoe() };
        assert!(attrs.is_in_any_category(&["health".into()]));
        assert!(!shoe().is_in_any_category(&["health".into()]));
    }

    #[test]
    fn keys_cover_every_category_level() {
        let keys = shoe().keys();
        assert_eq!(
            keys,
            vec![
                AttributeKey::Category("Shoes".into()),
                AttributeKey::Category("Shoes > Running".into()),
                AttributeKey::Brand("Acme".into()),
                AttributeKey::PriceBand(3),
                AttributeKey::Tag("trail".into()),
            ]
        );
        assert_eq!(keys[1].to_string(), "Running");
        assert_eq!(keys[1].category_depth(), 2);
        assert_eq!(AttributeKey::PriceBand(3).to_string(), "50 to 100");
        assert_eq!(AttributeKey::PriceBand(0).to_string(), "under 10");
        assert_eq!(AttributeKey::PriceBand(7).to_string(), "1000 and up");
        assert_eq!(price_band(0.0), 0);
        assert_eq!(price_band(10.0), 1);
        assert_eq!(price_band(5000.0), 7);
        assert_eq!(
            serde_json::to_string(&AttributeKey::Brand("Acme".into())).unwrap(),
            r#"{"kind":"brand","value":"Acme"}"#
        );
    }

    #[test]
    fn reads_an_item_as_the_flatten_derive_did() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Derived {
            id: String,
            #[serde(flatten)]
            attributes: ItemAttributes,
        }
        let cases = [
            r#"{"id":"a"}"#,
            r#"{"categoryPath":["Shoes","Trail"],"id":"a","brand":"Acme","price":3,"tags":["x"],"colour":"red"}"#,
            r#"{"id":"a","brand":null,"price":null}"#,
            r#"{"brand":"Acme"}"#,
            r#"{"id":7}"#,
            r#"{"id":"a","price":"cheap"}"#,
            r#"{"id":"a","categoryPath":"Shoes"}"#,
            r#"{"id":"a","tags":null}"#,
        ];
        let message = |e: serde_json::Error| e.to_string().split(" at line ").next().unwrap_or_default().to_string();
        for json in cases {
            let by_hand = serde_json::from_str::<Item>(json).map(|i| (i.id, i.attributes)).map_err(message);
            let derived = serde_json::from_str::<Derived>(json).map(|d| (d.id, d.attributes)).map_err(message);
            assert_eq!(by_hand, derived, "{json}");
        }
    }

    #[test]
    fn reads_camel_case_json() {
        let item: Item =
            serde_json::from_str(r#"{"id":"a","categoryPath":["Shoes"],"brand":"Acme","price":3.5,"tags":[]}"#)
                .unwrap();
        assert_eq!(item.attributes.category_path, vec!["Shoes".to_string()]);
        assert!(serde_json::from_str::<Item>(r#"{"id":"a","price":"cheap"}"#).is_err());
    }
}
