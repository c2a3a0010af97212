//! The short human sentence behind a ranked item ("because you viewed Trail shoes").
//! Built only when the page asks for it, never on the ranking hot path.

use super::candidates::CandidateSet;
use super::context::{Placement, RankContext};
use super::ranker::{RankedItem, Ranker};
use super::reasons::ReasonCode;

impl Ranker {
    /// A display name for a dense id: the title an answer gave it, else its category, else
    /// nothing.
    fn display_name(&self, item: u32, set: &CandidateSet) -> Option<String> {
        if let Some(row) = set.row_of(item) {
            if let Some(title) = set.title(row) {
                return Some(title.to_owned());
            }
        }
        self.memory.title_of(item).map(str::to_owned)
    }

    /// The sentence for `item` of a ranking of `set` made with `context`.
    pub fn explain(&self, set: &CandidateSet, item: &RankedItem, context: &RankContext) -> String {
        let row = item.row as usize;
        let category = set.category(row).map(|c| c.to_string());
        match item.primary {
            Some(ReasonCode::ViewedTogether) => match item.because_of.and_then(|s| self.display_name(s, set)) {
                Some(name) => format!("because you viewed {name}"),
                None => "often viewed with what you looked at".to_owned(),
            },
            Some(ReasonCode::Similar) => "similar to what you viewed".to_owned(),
            Some(ReasonCode::MatchesInterest) => match category {
                Some(c) => format!("matches your interest in {c}"),
                None => "matches your interests".to_owned(),
            },
            Some(ReasonCode::SeenBefore) => "you looked at this before".to_owned(),
            Some(ReasonCode::Popular) => match category {
                Some(c) => format!("popular in {c}"),
                None => "popular right now".to_owned(),
            },
            Some(ReasonCode::Pinned) | Some(ReasonCode::Boosted) => "featured".to_owned(),
            Some(ReasonCode::Explored) => "something new for you".to_owned(),
            Some(ReasonCode::ServerPick) | None => match context.placement {
                Placement::Search => "matches your search".to_owned(),
                Placement::Product => "often viewed with this item".to_owned(),
                Placement::Cart => "goes well with your cart".to_owned(),
                Placement::Home => "recommended by the shop".to_owned(),
            },
        }
    }
}
