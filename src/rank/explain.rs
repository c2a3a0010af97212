//! Why a ranked item is shown, in words a shopper reads and in a form a shop translates:
//! `{ code: "interest", interest: { kind: "category", value: "Shoes > Trail" }, text: "…" }`.
//!
//! An explanation names only what added to the item's score: the profile interest with the
//! highest affinity among the item's own attributes (and only one the shopper's profile summary
//! lists, so they can see and remove it), the session item whose answer offered it, or the shop's
//! rule. When no such thing can be named, the sentence names nothing.

use serde::{Deserialize, Serialize};

use super::candidates::CandidateSet;
use super::context::{Placement, RankContext};
use super::ranker::{RankedItem, Ranker};
use super::reasons::ReasonCode;
use crate::catalog::AttributeKey;

/// What an explanation says, a closed set a shop can map to its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ExplanationCode {
    /// The answer about an item viewed this session offered it (`item` names that item).
    ViewedTogether,
    /// Similar to what the shopper viewed.
    Similar,
    /// One of the shopper's interests is an attribute of the item (`interest` names it, when the
    /// profile summary lists it).
    Interest,
    /// The shopper looked at it before.
    SeenBefore,
    /// Popular with shoppers.
    Popular,
    /// The shop pinned or boosted it.
    Featured,
    /// Shown to learn more about the shopper.
    Explored,
    /// The server's order: for a search.
    Search,
    /// The server's order: on a product page.
    Related,
    /// The server's order: for the cart.
    Cart,
    /// The server's order elsewhere.
    ShopPick,
}

/// Every code, in declaration order (bit or index `k` is the `k`-th; the JS facade names them
/// in the same order, see `src/wasm/core/ranked_list.rs`).
pub const EXPLANATION_CODES: [ExplanationCode; 11] = [
    ExplanationCode::ViewedTogether,
    ExplanationCode::Similar,
    ExplanationCode::Interest,
    ExplanationCode::SeenBefore,
    ExplanationCode::Popular,
    ExplanationCode::Featured,
    ExplanationCode::Explored,
    ExplanationCode::Search,
    ExplanationCode::Related,
    ExplanationCode::Cart,
    ExplanationCode::ShopPick,
];

/// Why one item is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub code: ExplanationCode,
    /// For `interest`: the interest that matched, as `profileSummary().topInterests[i].key` names
    /// it (pass it to `removeInterest` to stop it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub interest: Option<AttributeKey>,
    /// For `viewedTogether`: the id of the item viewed this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub item: Option<String>,
    /// A default English sentence for shoppers ("Because you viewed Trail shoes").
    pub text: String,
}

impl Explanation {
    fn plain(code: ExplanationCode, text: &str) -> Self {
        Explanation { code, interest: None, item: None, text: text.to_owned() }
    }
}

impl Ranker {
    /// A display name for a dense id: the title an answer gave it, else nothing.
    fn display_name(&self, item: u32, set: &CandidateSet) -> Option<String> {
        if let Some(row) = set.row_of(item) {
            if let Some(title) = set.title(row) {
                return Some(title.to_owned());
            }
        }
        self.memory.title_of(item).map(str::to_owned)
    }

    /// The interest behind an affinity reason for `row`: among the row's attributes, the one with
    /// the highest affinity in the last ranking (ties: the deeper category) that `nameable` lets
    /// name (the profile summary's interests).
    fn matched_interest(
        &self,
        set: &CandidateSet,
        row: usize,
        nameable: &dyn Fn(&AttributeKey) -> bool,
    ) -> Option<AttributeKey> {
        let mut best: Option<(&AttributeKey, f32)> = None;
        for &k in set.attribute_refs(row) {
            let (Some(key), affinity) = (set.attr_keys.get(k as usize), self.key_affinity(k as usize)) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((b, a)) => affinity > a || (affinity == a && key.category_depth() > b.category_depth()),
            };
            if affinity > 0.0 && better && nameable(key) {
                best = Some((key, affinity));
            }
        }
        best.map(|(key, _)| key.clone())
    }

    /// The explanation of `item` of a ranking of `set` made with `context`. `nameable` says which
    /// interests may be named (those the shopper's profile summary lists).
    pub fn explain(
        &self,
        set: &CandidateSet,
        item: &RankedItem,
        context: &RankContext,
        nameable: &dyn Fn(&AttributeKey) -> bool,
    ) -> Explanation {
        use ExplanationCode as C;
        match item.primary {
            Some(ReasonCode::ViewedTogether) => {
                let viewed =
                    item.because_of.and_then(|s| Some((self.ids.name(s)?.to_owned(), self.display_name(s, set))));
                match viewed {
                    Some((id, name)) => Explanation {
                        code: C::ViewedTogether,
                        interest: None,
                        text: match name {
                            Some(name) => format!("Because you viewed {name}"),
                            None => "Often viewed with something you looked at".to_owned(),
                        },
                        item: Some(id),
                    },
                    None => Explanation::plain(C::ViewedTogether, "Often viewed with what you looked at"),
                }
            }
            Some(ReasonCode::Similar) => Explanation::plain(C::Similar, "Similar to what you viewed"),
            Some(ReasonCode::MatchesInterest) => match self.matched_interest(set, item.row as usize, nameable) {
                Some(key) => Explanation {
                    code: C::Interest,
                    text: match key {
                        AttributeKey::PriceBand(_) => format!("In a price range you often look at ({key})"),
                        _ => format!("Matches your interest in {key}"),
                    },
                    interest: Some(key),
                    item: None,
                },
                None => Explanation::plain(C::Interest, "Matches what you have been looking at"),
            },
            Some(ReasonCode::SeenBefore) => Explanation::plain(C::SeenBefore, "You looked at this before"),
            Some(ReasonCode::Popular) => Explanation::plain(C::Popular, "Popular with other shoppers"),
            Some(ReasonCode::Pinned) | Some(ReasonCode::Boosted) => {
                Explanation::plain(C::Featured, "Featured by the shop")
            }
            Some(ReasonCode::Explored) => Explanation::plain(C::Explored, "Something new for you"),
            Some(ReasonCode::ServerPick) | None => match context.placement {
                Placement::Search => Explanation::plain(C::Search, "Matches your search"),
                Placement::Product => Explanation::plain(C::Related, "Related to this item"),
                Placement::Cart => Explanation::plain(C::Cart, "Goes well with your cart"),
                Placement::Home => Explanation::plain(C::ShopPick, "Picked by the shop"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_listed_in_declaration_order_with_their_js_names() {
        // The same list as EXPLANATION_CODES in src/wasm/core/ranked_list.rs.
        let js_names = [
            "viewedTogether",
            "similar",
            "interest",
            "seenBefore",
            "popular",
            "featured",
            "explored",
            "search",
            "related",
            "cart",
            "shopPick",
        ];
        for (k, (code, name)) in EXPLANATION_CODES.iter().zip(js_names).enumerate() {
            assert_eq!(*code as usize, k);
            assert_eq!(serde_json::to_string(code).expect("serializes"), format!("\"{name}\""));
        }
    }

    #[test]
    fn an_interest_explanation_serializes_with_its_key() {
        let e = Explanation {
            code: ExplanationCode::Interest,
            interest: Some(AttributeKey::Category("Shoes > Trail".into())),
            item: None,
            text: "Matches your interest in Trail".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).expect("serializes"),
            r#"{"code":"interest","interest":{"kind":"category","value":"Shoes > Trail"},"text":"Matches your interest in Trail"}"#
        );
    }
}
