//! The plain data of the adaptation calls: what the page passes besides its sections, offers and
//! variants, the outcomes it reports, and everything those calls can refuse.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::adapt::{
    AdaptError, BanditError, Density, HoursError, LayoutError, LayoutOptions, OfferError, VariantError,
};
use crate::catalog::{CATEGORY_SEPARATOR, MAX_CATEGORY_DEPTH, MAX_LABEL_BYTES};
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

/// Why an adaptation call was refused. Nothing of a refused call is stored or learned.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AdaptationError {
    #[error("invalid adaptation config: {0}")]
    Config(#[from] AdaptError),
    #[error("chooseLayout: {0}")]
    Layout(#[from] LayoutError),
    #[error("chooseOffer: {0}")]
    Offer(#[from] OfferError),
    #[error("chooseVariant: {0}")]
    Variant(#[from] VariantError),
    #[error("preferredHours: {0}")]
    Hours(#[from] HoursError),
    #[error("nowMs is {}: pass Date.now(), a non-negative number of milliseconds since 1970", Decimal(*.0))]
    BadTime(f64),
    #[error("category must be a path of 1 to {MAX_CATEGORY_DEPTH} non-empty names of at most {MAX_LABEL_BYTES} bytes, broadest first, e.g. [\"Shoes\", \"Running\"]")]
    BadCategory,
    #[error(
        "section \"{0}\" is not waiting for an outcome: pass the id of a section the last chooseLayout placed, once"
    )]
    UnknownSection(String),
    #[error("offer \"{0}\" is not waiting for an outcome: pass the offerId the last chooseOffer returned, once")]
    UnknownOffer(String),
    #[error("variant \"{variant}\" of item \"{item}\" is not waiting for an outcome: pass the itemId and variantId of a chooseVariant call, once")]
    UnknownVariant { item: String, variant: String },
    #[error("learning failed: {0}")]
    Bandit(#[from] BanditError),
}

impl Coded for AdaptationError {
    fn code(&self) -> ErrorCode {
        match self {
            AdaptationError::Config(error) => error.code(),
            AdaptationError::Layout(error) => error.code(),
            AdaptationError::Offer(error) => error.code(),
            AdaptationError::Variant(error) => error.code(),
            AdaptationError::Hours(error) => error.code(),
            AdaptationError::Bandit(error) => error.code(),
            AdaptationError::BadTime(_) => ErrorCode::BadTime,
            AdaptationError::BadCategory => ErrorCode::InvalidArgument,
            AdaptationError::UnknownSection(_)
            | AdaptationError::UnknownOffer(_)
            | AdaptationError::UnknownVariant { .. } => ErrorCode::UnknownDecision,
        }
    }
}

/// What the page tells `chooseLayout` besides its sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct LayoutContext {
    /// Most sections shown (≥ 1). Default: every section that fits (at most 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub max_sections: Option<u32>,
    /// The shop's density, used for the holdout and until this shopper's is learned. Default `grid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub default_density: Option<Density>,
    /// The category the page shows, broadest first (e.g. `["Shoes", "Running"]`). Default: the
    /// category of what the shopper looked at last in this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub category: Option<Vec<String>>,
}

impl LayoutContext {
    pub fn options(&self) -> LayoutOptions {
        let defaults = LayoutOptions::default();
        LayoutOptions {
            max_sections: self.max_sections.unwrap_or(defaults.max_sections),
            default_density: self.default_density.unwrap_or(defaults.default_density),
        }
    }
}

/// What the page tells `chooseOffer` besides the offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct OfferRequest {
    /// Let the device learn whether showing no offer works better for this shopper. Default false.
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub allow_none: bool,
    /// The category the page shows, broadest first; default as in `chooseLayout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub category: Option<Vec<String>>,
}

/// How the shopper reacted to something a decision showed. Clicks, carts and orders tracked with
/// `track` are learned from by themselves; this reports what `track` cannot see (an offer's code
/// applied, a section dismissed) or settles a decision at once.
// Read by hand in one pass (below); the `serde` attributes describe the same format for
// `Serialize` and the TypeScript types.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum DecisionOutcome {
    /// A section of the last `chooseLayout` page was (or was not) engaged with.
    Section { section_id: String, engaged: bool },
    /// The offer the last `chooseOffer` showed was (or was not) taken up.
    Offer { offer_id: String, taken_up: bool },
    /// The text `chooseVariant` picked for an item led (or did not lead) to engagement.
    Variant { item_id: String, variant_id: String, engaged: bool },
}

/// The `kind` of a [`DecisionOutcome`] (its unknown-variant error lists these).
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum OutcomeKind {
    Section,
    Offer,
    Variant,
}

impl OutcomeKind {
    fn has(self, field: &str) -> bool {
        match self {
            OutcomeKind::Section => matches!(field, "sectionId" | "engaged"),
            OutcomeKind::Offer => matches!(field, "offerId" | "takenUp"),
            OutcomeKind::Variant => matches!(field, "itemId" | "variantId" | "engaged"),
        }
    }
}

/// Reads `{ kind, ...fields }` in one pass, as the derive of an internally tagged enum does but
/// without buffering the object in serde's `Content`. Unknown fields are skipped, as by the derive.
struct OutcomeVisitor;

impl<'de> serde::de::Visitor<'de> for OutcomeVisitor {
    type Value = DecisionOutcome;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a decision outcome with a `kind`")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<DecisionOutcome, A::Error> {
        use serde::de::Error;
        let mut kind: Option<OutcomeKind> = None;
        let (mut ids, mut flags): ([Option<String>; 4], [Option<bool>; 2]) = Default::default();
        while let Some(key) = map.next_key::<String>()? {
            let slot = ["sectionId", "offerId", "itemId", "variantId"].iter().position(|name| *name == key);
            let flag = ["engaged", "takenUp"].iter().position(|name| *name == key);
            let foreign = kind.is_some_and(|kind| !kind.has(&key));
            match (key.as_str(), slot, flag) {
                ("kind", ..) if kind.is_some() => return Err(Error::duplicate_field("kind")),
                ("kind", ..) => kind = Some(map.next_value()?),
                (_, Some(i), _) if !foreign => ids[i] = Some(map.next_value()?),
                (_, _, Some(i)) if !foreign => flags[i] = Some(map.next_value()?),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let [section_id, offer_id, item_id, variant_id] = ids;
        let [engaged, taken_up] = flags;
        let need = |value: Option<String>, name| value.ok_or_else(|| Error::missing_field(name));
        let flag = |value: Option<bool>, name| value.ok_or_else(|| Error::missing_field(name));
        Ok(match kind.ok_or_else(|| Error::missing_field("kind"))? {
            OutcomeKind::Section => DecisionOutcome::Section {
                section_id: need(section_id, "sectionId")?,
                engaged: flag(engaged, "engaged")?,
            },
            OutcomeKind::Offer => {
                DecisionOutcome::Offer { offer_id: need(offer_id, "offerId")?, taken_up: flag(taken_up, "takenUp")? }
            }
            OutcomeKind::Variant => DecisionOutcome::Variant {
                item_id: need(item_id, "itemId")?,
                variant_id: need(variant_id, "variantId")?,
                engaged: flag(engaged, "engaged")?,
            },
        })
    }
}

impl<'de> Deserialize<'de> for DecisionOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OutcomeVisitor)
    }
}

/// Joins a page's category path, refusing malformed ones.
pub fn category_text(path: &[String]) -> Result<String, AdaptationError> {
    let well_formed = (1..=MAX_CATEGORY_DEPTH).contains(&path.len())
        && path.iter().all(|level| !level.trim().is_empty() && level.len() <= MAX_LABEL_BYTES);
    if !well_formed {
        return Err(AdaptationError::BadCategory);
    }
    Ok(path.iter().map(|level| level.trim()).collect::<Vec<_>>().join(CATEGORY_SEPARATOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_read_camel_case_with_defaults() {
        let context: LayoutContext =
            serde_json::from_str(r#"{"maxSections":3,"category":["Shoes","Running"]}"#).unwrap();
        assert_eq!(context.options(), LayoutOptions { max_sections: 3, default_density: Density::Grid });
        assert_eq!(category_text(context.category.as_deref().unwrap()).unwrap(), "Shoes > Running");
        assert_eq!(serde_json::from_str::<OfferRequest>("{}").unwrap(), OfferRequest::default());
    }

    #[test]
    fn outcomes_have_the_js_shape() {
        let outcome: DecisionOutcome =
            serde_json::from_str(r#"{"kind":"offer","offerId":"welcome","takenUp":true}"#).unwrap();
        assert_eq!(outcome, DecisionOutcome::Offer { offer_id: "welcome".into(), taken_up: true });
        let unknown = serde_json::from_str::<DecisionOutcome>(r#"{"kind":"banner","engaged":true}"#);
        assert!(unknown.unwrap_err().to_string().contains("unknown variant `banner`"));
    }

    #[test]
    fn outcomes_read_as_the_tagged_derive_did() {
        #[derive(Debug, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
        enum Derived {
            Section { section_id: String, engaged: bool },
            Offer { offer_id: String, taken_up: bool },
            Variant { item_id: String, variant_id: String, engaged: bool },
        }
        let cases = [
            r#"{"kind":"section","sectionId":"new","engaged":false}"#,
            r#"{"engaged":true,"sectionId":"new","kind":"section","colour":1}"#,
            r#"{"kind":"offer","offerId":"w","takenUp":true,"engaged":"ignored"}"#,
            r#"{"kind":"variant","itemId":"a","variantId":"b","engaged":true}"#,
            r#"{"kind":"variant","itemId":"a","engaged":true}"#,
            r#"{"kind":"offer","offerId":"w"}"#,
            r#"{"kind":"offer","offerId":7,"takenUp":true}"#,
            r#"{"kind":"section","sectionId":"s","engaged":null}"#,
            r#"{"kind":"banner"}"#,
            r#"{"offerId":"w","takenUp":true}"#,
            r#"{"kind":"offer","kind":"offer","offerId":"w","takenUp":true}"#,
        ];
        let message = |e: serde_json::Error| e.to_string().split(" at line ").next().unwrap_or_default().to_string();
        for json in cases {
            let by_hand = serde_json::from_str::<DecisionOutcome>(json).map(|o| serde_json::to_value(o).unwrap());
            let derived = serde_json::from_str::<Derived>(json).map(|o| serde_json::to_value(o).unwrap());
            assert_eq!(by_hand.map_err(message), derived.map_err(message), "{json}");
        }
    }

    #[test]
    fn malformed_categories_are_refused() {
        assert_eq!(category_text(&[]), Err(AdaptationError::BadCategory));
        assert_eq!(category_text(&["Shoes".into(), " ".into()]), Err(AdaptationError::BadCategory));
        let deep: Vec<String> = (0..=MAX_CATEGORY_DEPTH).map(|i| format!("L{i}")).collect();
        assert_eq!(category_text(&deep), Err(AdaptationError::BadCategory));
        assert!(AdaptationError::BadCategory.to_string().contains("[\"Shoes\", \"Running\"]"));
    }
}
