//! Ranking for a device in the lift holdout: the server's order, nothing personal.
//!
//! The holdout is the control group of the lift measurement, so its rankings must be what the
//! shop would show without this package: the candidates in the server's order, with the shop's
//! business rules (pins, exclusions, boosts, buries) and the current item left out, no
//! diversity reordering, no items from earlier answers of the session, no profile, no
//! exploration (propensity 1). Its impressions are not handed to the online learner: the
//! holdout never trains the model (and so never sends model updates), while the page's tracked
//! impressions, clicks, carts and orders still count for the lift report.

use crate::catalog::AttributeKey;
use crate::rank::{Diversity, RankContext, SessionItem, ShopperSignals};
use crate::storage::KeyValueStore;

use super::{Extension, Personalizer, RankedList, RankedProduct, RankingError};

/// A shopper the ranker knows nothing about.
struct Unknown;

impl ShopperSignals for Unknown {
    fn session_len(&self) -> usize {
        0
    }
    fn session_item(&self, _index: usize) -> Option<SessionItem<'_>> {
        None
    }
    fn affinity(&self, _key: &AttributeKey) -> f32 {
        0.0
    }
    fn has_purchased(&self, _id: &str) -> bool {
        false
    }
    fn has_dismissed(&self, _id: &str) -> bool {
        false
    }
    fn repeat_interest(&self, _id: &str) -> u32 {
        0
    }
    fn long_term_embedding(&self) -> Option<&[f32]> {
        None
    }
}

impl<S: KeyValueStore, X: Extension> Personalizer<S, X> {
    /// The holdout's ranking of `handle`: the server's order under the shop's rules.
    pub(super) fn rank_server_order(&mut self, handle: u32, context: &RankContext) -> Result<RankedList, RankingError> {
        let set = self.ranking.touch(handle).ok_or(RankingError::UnknownHandle { handle })?;
        let context = RankContext { diversity: Diversity::default(), explore: false, ..context.clone() };
        let ranker = &mut self.ranking.ranker;
        let ranking = ranker.rank(&set, &context, &Unknown)?;
        let items = ranking
            .items
            .iter()
            .filter_map(|item| {
                let id = ranker.ids().name(item.item)?;
                Some(RankedProduct {
                    id: id.to_owned(),
                    score: item.score,
                    reasons: item.reasons.iter().collect(),
                    reason: ranker.explain(&set, item, &context),
                    title: set.title(item.row as usize).map(str::to_owned),
                    from_session: false,
                })
            })
            .collect();
        // Not noted as issued: clicks on these items teach the learner nothing.
        Ok(RankedList {
            items,
            impression: u32::try_from(ranking.impression).unwrap_or(u32::MAX),
            propensity: 1.0,
            explored: false,
        })
    }
}

#[cfg(test)]
#[path = "server_order_tests.rs"]
mod tests;
