//! The ranker: session memory, model, and every scratch buffer of the hot path, kept together so
//! that ranking the same set again allocates nothing.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::candidates::{CandidateInput, CandidateOrigin, CandidateSet, CandidateSetBuilder};
use super::context::{Placement, RankContext};
use super::extract::{dot, FeatureExtractor};
use super::features::*;
use super::feedback::ImpressionLog;
use super::ids::ItemIds;
use super::model::RankModel;
use super::params::RankConfig;
use super::reasons::{ReasonCode, ReasonSet};
use super::select::{plackett_luce_log_prob, DiversitySettings, Selector};
use super::session::SessionMemory;
use super::shopper::ShopperSignals;
use super::sources::{absent_value, put_after_answer, scoring_weights};
use super::RankError;

mod rules;

const NONE: u32 = u32::MAX;
/// A family counts as a reason when it adds at least this much to the score.
const REASON_THRESHOLD: f32 = 0.05;

/// One ranked item. `row` indexes the candidate set that was ranked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankedItem {
    pub row: u32,
    /// Dense item id ([`Ranker::ids`] turns it back into the shop's id).
    pub item: u32,
    pub score: f32,
    pub reasons: ReasonSet,
    /// The strongest reason, used for the human sentence.
    pub primary: Option<ReasonCode>,
    /// The session item behind a "viewed together" reason.
    pub because_of: Option<u32>,
}

/// The result of one ranking; reuse it with [`Ranker::rank_into`] to avoid allocating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranking {
    pub items: Vec<RankedItem>,
    /// Id to report feedback against ([`Ranker::feedback`]).
    pub impression: u64,
    /// Probability that the policy showed exactly this order (1 without exploration).
    pub propensity: f64,
    pub explored: bool,
}

/// Ranks candidate sets for one shopper.
#[derive(Debug, Clone)]
pub struct Ranker {
    pub(crate) config: RankConfig,
    pub(crate) ids: ItemIds,
    pub(crate) memory: SessionMemory,
    pub(crate) model: RankModel,
    extractor: FeatureExtractor,
    selector: Selector,
    rng: ChaCha8Rng,
    pub(crate) impressions: ImpressionLog,
    scores: Vec<f32>,
    /// The weights the last ranking scored with (the model's, some masked; see `score_rows`).
    active_weights: Vec<f32>,
    /// The features whose active weight is not 0.
    weighted: Vec<usize>,
    /// Whether the last ranking kept the server's order because nothing personal fired.
    server_only: bool,
    tier: Vec<i8>,
    excluded: Vec<bool>,
    pinned: Vec<bool>,
    row_index: Vec<u32>,
    pins: Vec<(u32, u32)>,
    tier_rows: Vec<u32>,
    greedy: Vec<u32>,
    sampled: Vec<u32>,
    tier_bounds: Vec<(i8, usize, usize, usize, usize)>,
    merged: Vec<u32>,
}

impl Ranker {
    pub fn new(config: RankConfig) -> Self {
        let memory = SessionMemory::new(config.params().memory_answers);
        let rng = ChaCha8Rng::seed_from_u64(u64::from(config.params().seed));
        Self {
            config,
            ids: ItemIds::new(),
            memory,
            model: RankModel::default(),
            extractor: FeatureExtractor::default(),
            selector: Selector::default(),
            rng,
            impressions: ImpressionLog::default(),
            scores: Vec::new(),
            active_weights: Vec::new(),
            weighted: Vec::new(),
            server_only: false,
            tier: Vec::new(),
            excluded: Vec::new(),
            pinned: Vec::new(),
            row_index: Vec::new(),
            pins: Vec::new(),
            tier_rows: Vec::new(),
            greedy: Vec::new(),
            sampled: Vec::new(),
            tier_bounds: Vec::new(),
            merged: Vec::new(),
        }
    }

    pub fn config(&self) -> &RankConfig {
        &self.config
    }

    pub fn ids(&self) -> &ItemIds {
        &self.ids
    }

    pub fn model(&self) -> &RankModel {
        &self.model
    }

    pub fn model_mut(&mut self) -> &mut RankModel {
        &mut self.model
    }

    pub fn memory(&self) -> &SessionMemory {
        &self.memory
    }

    /// Converts a server answer given as rows.
    pub fn register(&mut self, inputs: &[CandidateInput]) -> Result<CandidateSet, RankError> {
        CandidateSet::from_inputs(inputs, &mut self.ids)
    }

    /// A builder for a server answer given as columns or borrowed rows.
    pub fn builder(&mut self) -> CandidateSetBuilder<'_> {
        CandidateSetBuilder::new(&mut self.ids)
    }

    /// Computes the feature matrix of `set` without ranking (for offline training).
    pub fn extract_features(&mut self, set: &CandidateSet, shopper: &dyn ShopperSignals) -> &[f32] {
        self.extractor.extract(set, shopper, &self.memory, &self.ids, &self.config);
        self.extractor.matrix()
    }

    /// Ranks `set` for `context`.
    pub fn rank(
        &mut self,
        set: &CandidateSet,
        context: &RankContext,
        shopper: &dyn ShopperSignals,
    ) -> Result<Ranking, RankError> {
        let mut ranking = Ranking::default();
        self.rank_into(set, context, shopper, &mut ranking)?;
        Ok(ranking)
    }

    /// Ranks `set` into `out`, reusing its storage. An empty set gives an empty ranking.
    pub fn rank_into(
        &mut self,
        set: &CandidateSet,
        context: &RankContext,
        shopper: &dyn ShopperSignals,
        out: &mut Ranking,
    ) -> Result<(), RankError> {
        let strength = context.diversity.strength;
        if !(0.0..=1.0).contains(&strength) {
            return Err(RankError::BadParam {
                name: "diversity.strength",
                value: strength.into(),
                rule: "between 0 and 1",
            });
        }
        out.items.clear();
        out.explored = false;
        out.propensity = 1.0;
        let n = set.len();
        self.extractor.extract(set, shopper, &self.memory, &self.ids, &self.config);
        self.score_rows(set, context);
        self.apply_rules(set, context)?;
        let available = self.excluded.iter().filter(|e| !**e).count();
        let needed = if context.placement == Placement::Search { available } else { context.limit.min(available) };
        let epsilon = self.config.params().exploration_epsilon;
        let may_explore = context.explore && epsilon > 0.0 && needed > 0;
        let explore = may_explore && self.rng.random::<f32>() < epsilon;
        let diversity = DiversitySettings { strength, max_per_category: context.diversity.max_per_category };
        self.select_in_tiers(set, needed, diversity, explore);
        if may_explore {
            let t = self.config.params().exploration_temperature;
            let mut log_prob = 0.0;
            for i in 0..self.tier_bounds.len() {
                let (tier, greedy_start, greedy_end, sampled_start, sampled_end) = self.tier_bounds[i];
                self.tier_rows.clear();
                for r in 0..n {
                    if !self.excluded[r] && !self.pinned[r] && self.tier[r] == tier {
                        self.tier_rows.push(r as u32);
                    }
                }
                let part = if explore {
                    self.sampled.get(sampled_start..sampled_end)
                } else {
                    self.greedy.get(greedy_start..greedy_end)
                };
                let part = part.unwrap_or_default();
                log_prob += plackett_luce_log_prob(&self.scores, &self.tier_rows, part, t);
            }
            let is_greedy = !explore || self.sampled == self.greedy;
            let epsilon = f64::from(epsilon);
            out.propensity = epsilon * log_prob.exp() + if is_greedy { 1.0 - epsilon } else { 0.0 };
            out.explored = explore;
        }
        self.merge_pins(needed, explore);
        self.write_items(set, out);
        out.impression =
            self.impressions.record(&self.merged, &set.ids, self.extractor.matrix(), out.propensity, out.explored);
        Ok(())
    }

    /// Scores every row. With no personal signal firing (a new shopper, or a profile that says
    /// nothing about these candidates), only the server's features count: the server's order,
    /// exactly. Search leaves out shop-wide signals (popularity) the server's relevance already
    /// holds, so results the profile says nothing about keep their relative order.
    fn score_rows(&mut self, set: &CandidateSet, context: &RankContext) {
        let search = context.placement == Placement::Search;
        self.server_only = !self.extractor.any_personal();
        scoring_weights(self.model.weights(), search, self.server_only, &mut self.active_weights);
        let relevance = if search { self.config.params().search_relevance_weight } else { 0.0 };
        self.scores.clear();
        // Without a personal signal only a few weights are left: sum just those.
        self.weighted.clear();
        self.weighted.extend((0..NUM_FEATURES).filter(|&f| self.active_weights[f] != 0.0));
        let sparse = self.weighted.len() * 4 <= NUM_FEATURES;
        for row in 0..set.len() {
            let x = self.extractor.row(row);
            let mut s = if sparse {
                self.weighted.iter().map(|&f| self.active_weights[f] * x[f]).sum()
            } else {
                // In lanes: a serial sum over every feature was a third of ranking time.
                dot(&self.active_weights, x)
            };
            s += relevance * (x[SERVER_SCORE] + x[SERVER_RANK]);
            self.scores.push(if s.is_finite() { s } else { f32::MIN });
        }
        if self.server_only {
            // Rows earlier answers added are not the server's picks for this page: after its answer.
            put_after_answer(&mut self.scores, |r| set.origins[r] == CandidateOrigin::CurrentAnswer);
        }
    }

    /// Fills `greedy` (and `sampled` when exploring) tier by tier: boosted, normal, buried.
    fn select_in_tiers(&mut self, set: &CandidateSet, needed: usize, diversity: DiversitySettings, explore: bool) {
        self.greedy.clear();
        self.sampled.clear();
        self.tier_bounds.clear();
        let t = self.config.params().exploration_temperature;
        for tier in [1i8, 0, -1] {
            let remaining = needed.saturating_sub(self.greedy.len());
            if remaining == 0 {
                break;
            }
            self.tier_rows.clear();
            for r in 0..set.len() {
                if !self.excluded[r] && !self.pinned[r] && self.tier[r] == tier {
                    self.tier_rows.push(r as u32);
                }
            }
            if self.tier_rows.is_empty() {
                continue;
            }
            let greedy_start = self.greedy.len();
            self.selector.greedy(
                set,
                &self.scores,
                self.extractor.server_order(),
                &self.tier_rows,
                remaining,
                diversity,
                &mut self.greedy,
            );
            let sampled_start = self.sampled.len();
            if explore {
                self.selector.sample(&self.scores, &self.tier_rows, remaining, t, &mut self.rng, &mut self.sampled);
            }
            self.tier_bounds.push((tier, greedy_start, self.greedy.len(), sampled_start, self.sampled.len()));
        }
    }

    /// The shopper's affinity for attribute key `k` of the set last ranked (for explanations).
    pub(crate) fn key_affinity(&self, k: usize) -> f32 {
        self.extractor.key_affinity(k)
    }

    fn write_items(&mut self, set: &CandidateSet, out: &mut Ranking) {
        let weights = &self.active_weights;
        for &row in &self.merged {
            let r = row as usize;
            let x = self.extractor.row(r);
            let mut reasons = ReasonSet::default();
            let mut primary: Option<(ReasonCode, f32)> = None;
            for family in Family::ALL {
                let contribution: f32 = family.features().iter().map(|&f| weights[f] * (x[f] - absent_value(f))).sum();
                if let Some(code) = ReasonCode::of_family(family).filter(|_| contribution > REASON_THRESHOLD) {
                    reasons.insert(code);
                    if primary.is_none_or(|(_, c)| contribution > c) {
                        primary = Some((code, contribution));
                    }
                }
            }
            let mut primary = primary.map(|(code, _)| code);
            if self.server_only {
                reasons.insert(ReasonCode::ServerPick);
                primary = Some(ReasonCode::ServerPick);
            }
            if self.tier[r] == 1 {
                reasons.insert(ReasonCode::Boosted);
            }
            if out.explored {
                reasons.insert(ReasonCode::Explored);
            }
            if self.pinned[r] {
                reasons.insert(ReasonCode::Pinned);
                primary = Some(ReasonCode::Pinned);
            }
            let because_of =
                if reasons.contains(ReasonCode::ViewedTogether) { self.extractor.best_source(r) } else { None };
            out.items.push(RankedItem { row, item: set.ids[r], score: self.scores[r], reasons, primary, because_of });
        }
    }
}
