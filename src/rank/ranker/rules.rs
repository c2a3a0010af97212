//! The shop's business rules over a ranking: exclusions (and the item being viewed on a product
//! page), boosted and buried tiers, and pins at fixed positions.

use super::super::candidates::CandidateSet;
use super::super::context::{Placement, RankContext};
use super::super::ids::ItemIds;
use super::super::RankError;
use super::{Ranker, NONE};

impl Ranker {
    /// Marks each row excluded, pinned or tiered by `context.rules`.
    pub(super) fn apply_rules(&mut self, set: &CandidateSet, context: &RankContext) -> Result<(), RankError> {
        let n = set.len();
        self.tier.clear();
        self.tier.resize(n, 0);
        self.excluded.clear();
        self.excluded.resize(n, false);
        self.pinned.clear();
        self.pinned.resize(n, false);
        self.pins.clear();
        if self.row_index.len() < self.ids.len() {
            self.row_index.resize(self.ids.len(), NONE);
        }
        for (row, &id) in set.ids.iter().enumerate() {
            self.row_index[id as usize] = row as u32;
        }
        let rules = &context.rules;
        let row_of =
            |ids: &ItemIds, index: &[u32], id: &str| ids.get(id).map(|d| index[d as usize]).filter(|&r| r != NONE);
        for id in &rules.exclude {
            if let Some(r) = row_of(&self.ids, &self.row_index, id) {
                self.excluded[r as usize] = true;
            }
        }
        if context.placement == Placement::Product {
            if let Some(r) = context.current_item.as_deref().and_then(|id| row_of(&self.ids, &self.row_index, id)) {
                self.excluded[r as usize] = true;
            }
        }
        for id in &rules.boost {
            if let Some(r) = row_of(&self.ids, &self.row_index, id) {
                self.tier[r as usize] = 1;
            }
        }
        for id in &rules.bury {
            if let Some(r) = row_of(&self.ids, &self.row_index, id) {
                self.tier[r as usize] = -1;
            }
        }
        let mut result = Ok(());
        for pin in &rules.pins {
            if self.pins.iter().any(|&(p, _)| p == pin.position) {
                result = Err(RankError::ConflictingPins { position: pin.position });
                break;
            }
            if let Some(r) = row_of(&self.ids, &self.row_index, &pin.id) {
                if self.pinned[r as usize] {
                    result = Err(RankError::DuplicatePin { id: pin.id.clone() });
                    break;
                }
                if !self.excluded[r as usize] {
                    self.pinned[r as usize] = true;
                    self.pins.push((pin.position, r));
                }
            }
        }
        for &id in &set.ids {
            self.row_index[id as usize] = NONE;
        }
        crate::ordering::sort(&mut self.pins);
        result
    }

    /// Places pinned rows at their positions among the selected order, into `merged`.
    pub(super) fn merge_pins(&mut self, needed: usize, explore: bool) {
        let order = if explore { &self.sampled } else { &self.greedy };
        self.merged.clear();
        let mut next = 0;
        let mut pins = self.pins.iter().peekable();
        while self.merged.len() < needed {
            let slot = self.merged.len() as u32;
            if let Some(&&(position, row)) = pins.peek() {
                if position <= slot || next >= order.len() {
                    self.merged.push(row);
                    pins.next();
                    continue;
                }
            }
            match order.get(next) {
                Some(&row) => {
                    self.merged.push(row);
                    next += 1;
                }
                None => break,
            }
        }
    }
}
