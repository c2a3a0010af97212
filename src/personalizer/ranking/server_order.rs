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
                let explanation = ranker.explain(&set, item, &context, &|_| false);
                Some(RankedProduct {
                    id: id.to_owned(),
                    score: item.score,
                    reasons: item.reasons.iter().collect(),
                    reason: explanation.text.clone(),
                    explanation,
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
mod tests {
    //! The holdout gets the server's order, teaches the learner nothing, and still counts for lift.

    use super::*;
    use crate::adapt::{AdapterConfig, LiftBucket};
    use crate::catalog::ItemAttributes;
    use crate::collect::event::TrackEvent;
    use crate::config::PersonalizerConfig;
    use crate::consent::ConsentMode;
    use crate::measure::{LiftReportConfig, NoiseMode};
    use crate::personalizer::{AnswerColumns, Environment};
    use crate::rank::Placement;
    use crate::storage::MemoryStore;

    const T0: f64 = 1_700_000_000_000.0;
    const N: usize = 10;

    fn ids() -> Vec<String> {
        (0..N).map(|i| format!("sku-{i}")).collect()
    }

    fn attributes() -> Vec<ItemAttributes> {
        (0..N)
            .map(|i| ItemAttributes {
                category_path: vec![if i % 2 == 0 { "Shoes" } else { "Coffee" }.into()],
                brand: Some(format!("Brand {}", i % 3)),
                price: Some(10.0 + i as f64),
                tags: vec![],
            })
            .collect()
    }

    /// A shopper who viewed and clicked Coffee items, in bucket `holdout_share` ∈ {0, 1}.
    fn coffee_lover(holdout_share: f64) -> (Personalizer<MemoryStore>, u32) {
        let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
        let mut p = Personalizer::open(MemoryStore::new(), config, Environment::default()).expect("valid");
        p.set_consent(ConsentMode::Full, true);
        p.configure_adaptation(AdapterConfig { holdout_share, ..AdapterConfig::default() }, 11).expect("valid");
        let attributes = attributes();
        for (step, i) in [7, 9, 5, 7, 9].iter().enumerate() {
            let view = TrackEvent::View { item_id: format!("sku-{i}"), item: Some(attributes[*i].clone()) };
            p.track(view, T0 + step as f64 * 20_000.0, 0).expect("recorded");
        }
        let (ids, scores): (Vec<String>, Vec<f32>) = (ids(), (0..N).map(|i| 1.0 - i as f32 / N as f32).collect());
        let answer = AnswerColumns {
            ids: &ids,
            scores: Some(&scores),
            attributes: Some(&attributes),
            ..AnswerColumns::default()
        };
        let handle = p.register_candidates(&answer).expect("valid answer");
        (p, handle)
    }

    fn context() -> RankContext {
        RankContext { placement: Placement::Home, limit: N, explore: true, ..RankContext::default() }
    }

    fn order(list: &RankedList) -> Vec<String> {
        list.items.iter().map(|item| item.id.clone()).collect()
    }

    #[test]
    fn the_holdout_gets_exactly_the_servers_order_without_exploration() {
        let (mut personalized, handle) = coffee_lover(0.0);
        assert_eq!(personalized.lift_bucket(), Some(LiftBucket::Personalized));
        let mine = personalized.rank(handle, &context(), T0 + 200_000.0).expect("ranked");
        assert_ne!(order(&mine), ids(), "the profile reorders a personalized device's list");

        let (mut held_out, handle) = coffee_lover(1.0);
        assert_eq!(held_out.lift_bucket(), Some(LiftBucket::Holdout));
        for step in 0..30 {
            let list = held_out.rank(handle, &context(), T0 + 200_000.0 + f64::from(step)).expect("ranked");
            assert_eq!(order(&list), ids(), "the server's order, every time");
            assert_eq!((list.propensity, list.explored), (1.0, false), "no exploration in the holdout");
            assert!(list.items.iter().all(|item| !item.from_session && item.reason == "Picked by the shop"));
        }
        let product =
            RankContext { placement: Placement::Product, current_item: Some("sku-0".into()), limit: 3, ..context() };
        let list = held_out.rank(handle, &product, T0 + 300_000.0).expect("ranked");
        assert_eq!(order(&list), ["sku-1", "sku-2", "sku-3"], "the page's item left out, the limit kept");
    }

    #[test]
    fn holdout_clicks_teach_nothing_but_count_for_lift() {
        for (share, learns) in [(1.0, false), (0.0, true)] {
            let (mut p, handle) = coffee_lover(share);
            for step in 0..5 {
                let at = T0 + 300_000.0 + f64::from(step) * 10_000.0;
                let list = p.rank(handle, &context(), at).expect("ranked");
                let impression =
                    TrackEvent::Impression { placement: "home".into(), item_ids: order(&list), positions: None };
                p.track(impression, at + 1.0, 0).expect("recorded");
                let click = TrackEvent::Click {
                    item_id: list.items[9].id.clone(),
                    placement: Some("home".into()),
                    position: Some(9),
                    item: None,
                };
                p.track(click, at + 2.0, 0).expect("recorded");
            }
            assert_eq!(p.rank_learning_steps() > 0, learns, "holdout share {share}");
            assert_eq!(p.labelled_since_sync() > 0, learns, "no model update is ever due from the holdout");
            // Noise ≈ 0: the report is the counts. No placement broken out: block 0 is "(other)";
            // "home" held no recommendation section, so its items count as not recommended.
            let quiet = LiftReportConfig {
                epsilon: 64.0,
                noise: NoiseMode::Distributed { min_cohort: 10_000_000 },
                ..LiftReportConfig::default()
            };
            let report = p.take_lift_report(&quiet.check().expect("valid"), 3).expect("adaptation state");
            assert_eq!(report.bucket, if learns { LiftBucket::Personalized } else { LiftBucket::Holdout });
            let (impressions, clicks) = (report.values[1 + 5], report.values[1 + 5 + 1]);
            assert!((impressions - 50.0).abs() < 0.5 && (clicks - 5.0).abs() < 0.5, "{impressions} {clicks}");
        }
    }
}
