//! What the adaptation calls answer while consent is `none`: the shop's defaults, with a reason
//! saying so, and nothing remembered.

use crate::adapt::offers::choice::shop_default_offer;
use crate::adapt::{LayoutDecision, OfferContext, OfferDecision, OfferHistory, OfferSpec, ShopperState};

use super::request::AdaptationError;
use super::NO_CONSENT_REASON;

/// The shop's first offer for a visitor it knows nothing about; no show is remembered.
pub(super) fn offer_without_consent(
    offers: &[OfferSpec],
    context: &OfferContext,
) -> Result<OfferDecision, AdaptationError> {
    let mut unkept = OfferHistory::default();
    let mut decision = shop_default_offer(&mut unkept, offers, context, &ShopperState::default())?;
    decision.reason = format!("{NO_CONSENT_REASON}; offered to a visitor it knows nothing about");
    Ok(decision)
}

pub(super) fn layout_without_consent(mut decision: LayoutDecision) -> LayoutDecision {
    for section in &mut decision.sections {
        section.reason = NO_CONSENT_REASON.into();
    }
    for hidden in &mut decision.hidden {
        hidden.reason = format!("{NO_CONSENT_REASON}; it does not fit the page");
    }
    decision.density_reason = NO_CONSENT_REASON.into();
    decision.personalized = false;
    decision
}
