//! What the engine remembers between a decision and the shopper's reaction: the sections,
//! offer and copy variants last shown (so the bandits learn once whether they were engaged
//! with), which placements held recommendations, and where a clicked item came from (so carts
//! and orders are counted for the placement and item class that earned them).
//!
//! Everything here is bounded and stays on the device with the rest of the adaptation state.

use serde::{Deserialize, Serialize};

use crate::adapt::{Adapter, BanditError, Density, LayoutDecision, SectionKind, ShopperState, VisitSegment};
use crate::collect::event::TrackEvent;
use crate::measure::{ItemClass, LiftCounters, LiftMetric, OTHER_PLACEMENT};
use crate::profile::shopper_state::DeviceClass;

/// Most copy-variant decisions waiting for a reaction.
pub const MAX_PENDING_VARIANTS: usize = 16;
/// Most clicked items whose placement is remembered for cart and order attribution.
pub const MAX_ATTRIBUTIONS: usize = 64;
/// Most placements remembered as holding recommendations.
pub const MAX_RECOMMENDED_PLACEMENTS: usize = 32;
/// Stands in for the browsed category when replaying a decision's context (its text is not kept).
const BROWSING_MARKER: &str = "(browsing)";

/// The context features a decision saw, kept without any category text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionContext {
    segment: VisitSegment,
    cart_items: u32,
    cart_abandoned: bool,
    browsing: bool,
    device: DeviceClass,
}

impl DecisionContext {
    pub fn of(shopper: &ShopperState) -> DecisionContext {
        DecisionContext {
            segment: shopper.segment,
            cart_items: shopper.cart_items,
            cart_abandoned: shopper.cart_abandoned,
            browsing: shopper.current_category.is_some(),
            device: shopper.device,
        }
    }

    /// A shopper with the same bandit features as the one the decision saw.
    pub fn shopper(&self) -> ShopperState {
        ShopperState {
            segment: self.segment,
            cart_items: self.cart_items,
            cart_abandoned: self.cart_abandoned,
            current_category: self.browsing.then(|| BROWSING_MARKER.to_string()),
            device: self.device,
            ..ShopperState::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShownSection {
    pub id: String,
    pub kind: SectionKind,
    pub position: u32,
    pub engaged: bool,
}

/// The page last laid out by `choose_layout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutExposure {
    /// Sections not yet learned from.
    pub sections: Vec<ShownSection>,
    pub density: Density,
    /// Any section on the page was engaged with (also those already learned from).
    pub engaged: bool,
    pub context: DecisionContext,
}

/// The offer decision last made (`offer_id` is `None` when no offer was shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferExposure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    /// Taken up, or (lacking an explicit outcome) followed by an order.
    pub converted: bool,
    pub context: DecisionContext,
}

/// A copy variant shown for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantExposure {
    pub item_id: String,
    pub variant_id: String,
    pub tags: Vec<String>,
    pub engaged: bool,
    pub context: DecisionContext,
}

/// Where a clicked item was shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    pub item_id: String,
    pub placement: String,
    pub class: ItemClass,
}

/// Decisions waiting for a reaction, and attribution for lift counting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Feedback {
    pub layout: Option<LayoutExposure>,
    pub offer: Option<OfferExposure>,
    pub variants: Vec<VariantExposure>,
    /// Section ids (used as impression placements) that hold recommendations.
    pub recommended_placements: Vec<String>,
    /// Newest last.
    pub attributions: Vec<Attribution>,
}

/// Section kinds whose items the device put there for this shopper.
fn shows_recommendations(kind: SectionKind) -> bool {
    matches!(kind, SectionKind::RecommendedForYou | SectionKind::BecauseYouViewed | SectionKind::ContinueShopping)
}

impl Feedback {
    /// Clamps every list to its bound (a stored value may have been edited by hand).
    pub fn enforce_bounds(&mut self) {
        let keep_last = |len: usize, max: usize| len.saturating_sub(max);
        self.variants.drain(..keep_last(self.variants.len(), MAX_PENDING_VARIANTS));
        self.attributions.drain(..keep_last(self.attributions.len(), MAX_ATTRIBUTIONS));
        self.recommended_placements.truncate(MAX_RECOMMENDED_PLACEMENTS);
        if let Some(layout) = &mut self.layout {
            layout.sections.truncate(crate::adapt::layout::constraints::MAX_SECTIONS);
        }
    }

    /// Removes every mention of `item_id`; returns whether there was one.
    pub fn forget_item(&mut self, item_id: &str) -> bool {
        let before = self.attributions.len() + self.variants.len();
        self.attributions.retain(|a| a.item_id != item_id);
        self.variants.retain(|v| v.item_id != item_id);
        before != self.attributions.len() + self.variants.len()
    }

    /// The item class of what is shown at `placement`.
    pub fn class_of(&self, placement: &str) -> ItemClass {
        if self.recommended_placements.iter().any(|p| p == placement) {
            ItemClass::Recommended
        } else {
            ItemClass::NotRecommended
        }
    }

    /// Learns from the previous page (every section not yet learned from, and the density),
    /// then remembers `decision` as the page now shown.
    pub fn replace_layout(
        &mut self,
        adapter: &mut Adapter,
        decision: &LayoutDecision,
        context: DecisionContext,
    ) -> Result<(), BanditError> {
        self.settle_layout(adapter)?;
        let sections: Vec<ShownSection> = decision
            .sections
            .iter()
            .map(|s| ShownSection { id: s.id.clone(), kind: s.kind, position: s.position, engaged: false })
            .collect();
        self.recommended_placements =
            sections.iter().filter(|s| shows_recommendations(s.kind)).map(|s| s.id.clone()).collect();
        self.layout = Some(LayoutExposure { sections, density: decision.density, engaged: false, context });
        Ok(())
    }

    pub fn settle_layout(&mut self, adapter: &mut Adapter) -> Result<(), BanditError> {
        if let Some(page) = self.layout.take() {
            let shopper = page.context.shopper();
            for section in &page.sections {
                adapter.learn_section(section.kind, section.position, section.engaged, &shopper)?;
            }
            adapter.learn_density(page.density, page.engaged, &shopper)?;
        }
        Ok(())
    }

    pub fn settle_offer(&mut self, adapter: &mut Adapter) -> Result<(), BanditError> {
        if let Some(shown) = self.offer.take() {
            adapter.learn_offer(shown.offer_id.as_deref(), shown.converted, &shown.context.shopper())?;
        }
        Ok(())
    }

    /// Learns from the variant shown for `item_id`, if one is waiting.
    pub fn settle_variant(&mut self, adapter: &mut Adapter, item_id: &str) -> Result<(), BanditError> {
        if let Some(index) = self.variants.iter().position(|v| v.item_id == item_id) {
            let shown = self.variants.remove(index);
            adapter.learn_variant(&shown.tags, shown.engaged, &shown.context.shopper())?;
        }
        Ok(())
    }

    /// Remembers a variant shown for an item; the oldest waiting one is learned from when full.
    pub fn push_variant(&mut self, adapter: &mut Adapter, shown: VariantExposure) -> Result<(), BanditError> {
        self.settle_variant(adapter, &shown.item_id)?;
        if self.variants.len() >= MAX_PENDING_VARIANTS {
            let oldest = self.variants[0].item_id.clone();
            self.settle_variant(adapter, &oldest)?;
        }
        self.variants.push(shown);
        Ok(())
    }

    fn attribute(&mut self, item_id: &str, placement: &str, class: ItemClass) {
        self.attributions.retain(|a| a.item_id != item_id);
        if self.attributions.len() >= MAX_ATTRIBUTIONS {
            self.attributions.remove(0);
        }
        self.attributions.push(Attribution { item_id: item_id.into(), placement: placement.into(), class });
    }

    /// Where `item_id` was last clicked; unclicked items count as not recommended, elsewhere.
    fn source_of(&self, item_id: &str) -> (String, ItemClass) {
        self.attributions
            .iter()
            .rev()
            .find(|a| a.item_id == item_id)
            .map_or((OTHER_PLACEMENT.to_string(), ItemClass::NotRecommended), |a| (a.placement.clone(), a.class))
    }

    fn mark_item_engaged(&mut self, item_id: &str) {
        for shown in self.variants.iter_mut().filter(|v| v.item_id == item_id) {
            shown.engaged = true;
        }
    }

    /// Updates engagement flags and the lift counters from one recorded event.
    pub fn observe(&mut self, event: &TrackEvent, new_session: bool, counters: &mut LiftCounters) {
        if new_session {
            counters.record_session();
        }
        // Event fields were validated by `track`; a refused count (it cannot happen for a
        // validated event) is dropped rather than failing the event.
        match event {
            TrackEvent::Impression { placement, item_ids, .. } => {
                let class = self.class_of(placement);
                let _ = counters.record(placement, class, LiftMetric::Impressions, item_ids.len() as f64);
            }
            TrackEvent::Click { item_id, placement, .. } => {
                let placement = placement.as_deref().unwrap_or(OTHER_PLACEMENT);
                let class = self.class_of(placement);
                let _ = counters.record(placement, class, LiftMetric::Clicks, 1.0);
                self.attribute(item_id, placement, class);
                self.mark_item_engaged(item_id);
                if let Some(page) = &mut self.layout {
                    if let Some(section) = page.sections.iter_mut().find(|s| s.id == placement) {
                        section.engaged = true;
                        page.engaged = true;
                    }
                }
            }
            TrackEvent::AddToCart { item_id, .. } => {
                let (placement, class) = self.source_of(item_id);
                let _ = counters.record(&placement, class, LiftMetric::AddToCarts, 1.0);
                self.mark_item_engaged(item_id);
            }
            TrackEvent::Purchase { items, value } => {
                self.count_order(items, *value, counters);
                if let Some(offer) = &mut self.offer {
                    offer.converted = true;
                }
            }
            _ => {}
        }
    }

    /// One order per (placement, class) the purchased items came from, with their revenue:
    /// a line's `price × quantity`, or an even share of `value` when the line has no price.
    fn count_order(&mut self, items: &[crate::collect::event::PurchaseLine], value: f64, counters: &mut LiftCounters) {
        let even_share = if items.is_empty() { 0.0 } else { value / items.len() as f64 };
        let mut groups: Vec<(String, ItemClass, f64)> = Vec::new();
        for line in items {
            let revenue = line.price.map_or(even_share, |p| p * f64::from(line.quantity));
            let (placement, class) = self.source_of(&line.item_id);
            self.mark_item_engaged(&line.item_id);
            match groups.iter_mut().find(|(p, c, _)| *p == placement && *c == class) {
                Some(group) => group.2 += revenue,
                None => groups.push((placement, class, revenue)),
            }
        }
        for (placement, class, revenue) in groups {
            let _ = counters.record_order(&placement, class, revenue.max(0.0));
        }
    }
}

#[cfg(test)]
#[path = "feedback_tests.rs"]
mod tests;
