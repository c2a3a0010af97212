//! What the adaptation calls answer while consent is `none`: the shop's defaults, with shopper
//! words that say the shop chose, a diagnostic that says why, and nothing remembered.

use crate::adapt::offers::choice::shop_default_offer;
use crate::adapt::{DecisionCode, LayoutDecision, OfferContext, OfferDecision, OfferHistory, OfferSpec, ShopperState};

use super::request::AdaptationError;
use super::NO_CONSENT_REASON;

/// The shop's first offer for a visitor it knows nothing about; no show is remembered.
pub(super) fn offer_without_consent(
    offers: &[OfferSpec],
    context: &OfferContext,
) -> Result<OfferDecision, AdaptationError> {
    let mut unkept = OfferHistory::default();
    let mut decision = shop_default_offer(&mut unkept, offers, context, &ShopperState::default())?;
    if decision.offer_id.is_some() {
        decision.code = DecisionCode::ShopDefault;
        decision.reason = "The shop's current offer".into();
    }
    decision.diagnostic = format!("{NO_CONSENT_REASON}; offered to a visitor it knows nothing about");
    Ok(decision)
}

pub(super) fn layout_without_consent(mut decision: LayoutDecision) -> LayoutDecision {
    for section in &mut decision.sections {
        section.code = DecisionCode::ShopDefault;
        section.diagnostic = NO_CONSENT_REASON.into();
    }
    for hidden in &mut decision.hidden {
        hidden.diagnostic = format!("{NO_CONSENT_REASON}; {}", hidden.diagnostic);
    }
    decision.density_code = DecisionCode::ShopDefault;
    decision.density_diagnostic = NO_CONSENT_REASON.into();
    decision.personalized = false;
    decision
}
