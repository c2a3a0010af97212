//! What the page asks for: placement, current item or query, how many, business rules, diversity.

use serde::{Deserialize, Serialize};

/// Where the list is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Placement {
    /// Home page or any feed: the session decides.
    #[default]
    Home,
    /// A product page: the item being viewed is never recommended on its own page.
    Product,
    /// The cart: complements of what is in it.
    Cart,
    /// Search results: reordered by the profile, never shortened, the server's relevance kept.
    Search,
}

/// An item pinned to a 0-based position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    pub id: String,
    pub position: u32,
}

/// Rules the shop sets that always hold, whatever the model says.
///
/// - `exclude`: never shown (out of stock). Exclusion beats every other rule.
/// - `pins`: shown exactly at their position; a position past the end of the list puts the item
///   last. A pinned position at or beyond `limit` is not part of the returned top `limit`.
/// - `boost`: every boosted item comes before every item that is not boosted.
/// - `bury`: every buried item comes after every item that is not buried.
///
/// Ids that are not in the candidate set are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct BusinessRules {
    pub pins: Vec<Pin>,
    pub exclude: Vec<String>,
    pub boost: Vec<String>,
    pub bury: Vec<String>,
}

/// Variety against the filter bubble.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct Diversity {
    /// 0 (off) to 1 (maximal variety): the MMR trade-off between relevance and similarity.
    pub strength: f32,
    /// At most this many items per category while other items remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub max_per_category: Option<u32>,
}

/// One ranking request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct RankContext {
    pub placement: Placement,
    /// The item of the page (product page, last cart addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub current_item: Option<String>,
    /// The search query (search placement).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub query: Option<String>,
    /// How many items to return; search returns every result whatever this says.
    pub limit: usize,
    pub rules: BusinessRules,
    pub diversity: Diversity,
    /// Allow exploration (ε-greedy Plackett-Luce) for this request.
    pub explore: bool,
}

impl Default for RankContext {
    fn default() -> Self {
        Self {
            placement: Placement::Home,
            current_item: None,
            query: None,
            limit: 20,
            rules: BusinessRules::default(),
            diversity: Diversity::default(),
            explore: false,
        }
    }
}
