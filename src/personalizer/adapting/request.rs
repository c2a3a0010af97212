//! The plain data of the adaptation calls: what the page passes besides its sections, offers and
//! variants, the outcomes it reports, and everything those calls can refuse.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::adapt::{
    AdaptError, BanditError, Density, HoursError, LayoutError, LayoutOptions, OfferError, VariantError,
};
use crate::catalog::{CATEGORY_SEPARATOR, MAX_CATEGORY_DEPTH, MAX_LABEL_BYTES};
use crate::error_code::{Coded, ErrorCode};

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
    #[error("nowMs is {0}: pass Date.now(), a non-negative number of milliseconds since 1970")]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    fn malformed_categories_are_refused() {
        assert_eq!(category_text(&[]), Err(AdaptationError::BadCategory));
        assert_eq!(category_text(&["Shoes".into(), " ".into()]), Err(AdaptationError::BadCategory));
        let deep: Vec<String> = (0..=MAX_CATEGORY_DEPTH).map(|i| format!("L{i}")).collect();
        assert_eq!(category_text(&deep), Err(AdaptationError::BadCategory));
        assert!(AdaptationError::BadCategory.to_string().contains("[\"Shoes\", \"Running\"]"));
    }
}
