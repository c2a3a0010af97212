//! Learning on the device: the last rankings are kept with their features and propensities, and a
//! click, cart addition or purchase on a shown item becomes one listwise softmax SGD step.

use serde::{Deserialize, Serialize};

use super::features::NUM_FEATURES;
use super::ranker::Ranker;
use super::RankError;

/// Rankings kept for feedback.
pub const IMPRESSIONS_KEPT: usize = 16;

/// What the shopper did with a shown item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Click,
    AddToCart,
    Purchase,
}

impl Outcome {
    /// How much stronger than a click the outcome counts as a learning signal.
    pub fn gain(self) -> f32 {
        match self {
            Outcome::Click => 1.0,
            Outcome::AddToCart => 2.0,
            Outcome::Purchase => 4.0,
        }
    }
}

/// One shown order with the features it was ranked on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impression {
    pub id: u64,
    /// Dense ids of the shown items, in shown order.
    pub shown: Vec<u32>,
    /// `shown.len() × NUM_FEATURES` features, row-major.
    features: Vec<f32>,
    /// Probability that the policy showed exactly this order.
    pub propensity: f64,
    pub explored: bool,
}

/// A ring of the last [`IMPRESSIONS_KEPT`] impressions whose buffers are reused.
#[derive(Debug, Clone, Default)]
pub struct ImpressionLog {
    slots: Vec<Impression>,
    next_id: u64,
    rows: Vec<usize>,
    gains: Vec<f32>,
}

impl ImpressionLog {
    /// Records the shown rows of a ranking (features taken from `matrix`) and returns its id (≥ 1).
    pub fn record(
        &mut self,
        shown_rows: &[u32],
        item_ids: &[u32],
        matrix: &[f32],
        propensity: f64,
        explored: bool,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let index = (id as usize) % IMPRESSIONS_KEPT;
        if self.slots.len() < IMPRESSIONS_KEPT {
            self.slots.resize(IMPRESSIONS_KEPT, Impression::default());
        }
        let slot = &mut self.slots[index];
        slot.id = id;
        slot.propensity = propensity;
        slot.explored = explored;
        slot.shown.clear();
        slot.features.clear();
        // Rows come from the ranker of the same set; a row without features or id is skipped
        // whole, so `shown` and `features` stay aligned (checked access: no panic on this path).
        for &row in shown_rows {
            let r = row as usize;
            let features = matrix.get(r * NUM_FEATURES..(r + 1) * NUM_FEATURES);
            if let (Some(features), Some(&item)) = (features, item_ids.get(r)) {
                slot.features.extend_from_slice(features);
                slot.shown.push(item);
            }
        }
        id
    }

    pub fn get(&self, id: u64) -> Option<&Impression> {
        self.slots.get((id as usize) % IMPRESSIONS_KEPT).filter(|s| s.id == id && id != 0)
    }
}

impl Ranker {
    /// The impression a ranking returned, while it is among the last [`IMPRESSIONS_KEPT`].
    pub fn impression(&self, id: u64) -> Option<&Impression> {
        self.impressions.get(id)
    }

    /// Learns from the shopper acting on `item_id` in impression `impression`: one listwise
    /// softmax step over the shown items with the outcome's gain as step multiplier. Updates the
    /// shared weights (sent as deltas by federated sync) and the personal adjustment.
    pub fn feedback(&mut self, impression: u64, item_id: &str, outcome: Outcome) -> Result<(), RankError> {
        let item = self.ids.get(item_id);
        let record = self.impressions.get(impression).ok_or(RankError::UnknownImpression(impression))?;
        let position = item
            .and_then(|item| record.shown.iter().position(|&s| s == item))
            .ok_or_else(|| RankError::NotShown { id: item_id.to_owned(), impression })?;
        let shown = record.shown.len();
        let params = self.config.params();
        let gain = outcome.gain();
        let (lr_shared, lr_personal, l2) =
            (params.learning_rate * gain, params.personal_learning_rate * gain, params.personal_l2);
        let log = &mut self.impressions;
        log.rows.clear();
        log.rows.extend(0..shown);
        log.gains.clear();
        log.gains.extend((0..shown).map(|i| if i == position { 1.0 } else { 0.0 }));
        let record = log.slots.iter().find(|s| s.id == impression).ok_or(RankError::UnknownImpression(impression))?;
        self.model.softmax_step(&record.features, &log.rows, &log.gains, lr_shared, lr_personal, l2);
        Ok(())
    }
}
