//! The sections a shop offers for a page, as it describes them to `choose_layout`.

use serde::{Deserialize, Serialize};

/// What a section shows; the bandit learns engagement per kind, so it carries across pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum SectionKind {
    RecommendedForYou,
    ContinueShopping,
    Deals,
    NewArrivals,
    BecauseYouViewed,
    TopInCategory,
}

impl SectionKind {
    pub(crate) fn arm_key(self) -> String {
        format!("section:{}", self.label())
    }

    /// Words for reasons.
    pub fn label(self) -> &'static str {
        match self {
            SectionKind::RecommendedForYou => "recommended for you",
            SectionKind::ContinueShopping => "continue shopping",
            SectionKind::Deals => "deals",
            SectionKind::NewArrivals => "new arrivals",
            SectionKind::BecauseYouViewed => "because you viewed",
            SectionKind::TopInCategory => "top in category",
        }
    }
}

/// A candidate section and its constraints. Positions are 0-based among the shown sections.
/// A section that is not `required` is optional: the device may hide it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SectionSpec {
    pub id: String,
    pub kind: SectionKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub min_position: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub max_position: Option<u32>,
}

impl SectionSpec {
    pub fn new(id: &str, kind: SectionKind) -> SectionSpec {
        SectionSpec { id: id.to_string(), kind, required: false, min_position: None, max_position: None }
    }

    pub fn required(mut self) -> SectionSpec {
        self.required = true;
        self
    }

    pub fn at_positions(mut self, min: u32, max: u32) -> SectionSpec {
        self.min_position = Some(min);
        self.max_position = Some(max);
        self
    }
}
