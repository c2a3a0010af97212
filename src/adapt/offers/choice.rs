//! Deciding among eligible offers: the shop's first eligible offer for the holdout, a
//! Thompson-sampled pick (with the audience's specificity as prior) for everyone else.

use super::history::OfferHistory;
use super::{parse_offers, OfferContext, OfferDecision, OfferError, OfferSpec, ParsedOffer, SkippedOffer};
use crate::adapt::bandit::Bandit;
use crate::adapt::why::{rate_words, DecisionCode, MIN_RATE_EVIDENCE};
use crate::profile::shopper_state::ShopperState;

/// Logit added per unit of audience specificity before any engagement is learned.
const SPECIFICITY_PRIOR: f64 = 0.5;

/// Key of the bandit arm that learns redemptions of `offer_id`.
pub(crate) fn offer_arm(offer_id: &str) -> String {
    format!("offer:{offer_id}")
}

const NO_OFFER_ARM: &str = "offer:(none)";

/// Shopper words when no offer is shown, and for the shop's own pick.
pub(crate) const NO_OFFER_WORDS: &str = "No offer right now";
pub(crate) const SHOP_OFFER_WORDS: &str = "The shop's current offer";

/// Why `offer` may not be shown now, or `None` when it may.
fn ineligibility(offer: &ParsedOffer, history: &OfferHistory, now_ms: f64, shopper: &ShopperState) -> Option<String> {
    if let Some(miss) = offer.audience.iter().find(|a| !a.matches(shopper)) {
        return Some(format!("audience not met: needs {}", miss.describe()));
    }
    let id = &offer.spec.id;
    if let Some(cap) = offer.spec.limits.frequency_cap {
        let shown = history.shows_within(id, now_ms, cap.window_hours);
        if shown >= cap.max_shows as usize {
            return Some(format!("frequency cap: shown {shown} times in the last {} hours", cap.window_hours));
        }
    }
    if let (Some(cooldown), Some(since)) = (offer.spec.limits.cooldown_hours, history.hours_since_shown(id, now_ms)) {
        if since < cooldown {
            return Some(format!("cooling down: shown {since:.1} hours ago, cooldown is {cooldown} hours"));
        }
    }
    None
}

fn split_eligible<'a>(
    parsed: Vec<ParsedOffer<'a>>,
    history: &OfferHistory,
    context: &OfferContext,
    shopper: &ShopperState,
) -> (Vec<ParsedOffer<'a>>, Vec<SkippedOffer>) {
    let mut eligible = Vec::new();
    let mut skipped = Vec::new();
    for offer in parsed {
        match ineligibility(&offer, history, context.now_ms, shopper) {
            Some(diagnostic) => skipped.push(SkippedOffer { id: offer.spec.id.clone(), diagnostic }),
            None => eligible.push(offer),
        }
    }
    (eligible, skipped)
}

fn nothing_eligible(skipped: Vec<SkippedOffer>, personalized: bool) -> OfferDecision {
    OfferDecision {
        offer_id: None,
        reason: NO_OFFER_WORDS.into(),
        code: DecisionCode::NoOffer,
        diagnostic: "no offer is eligible now (see skipped)".into(),
        skipped,
        propensity: 1.0,
        personalized,
    }
}

/// The holdout's choice: the first eligible offer in the shop's order. Records the show.
pub(crate) fn shop_default_offer(
    history: &mut OfferHistory,
    offers: &[OfferSpec],
    context: &OfferContext,
    shopper: &ShopperState,
) -> Result<OfferDecision, OfferError> {
    let parsed = parse_offers(offers, context)?;
    let (eligible, skipped) = split_eligible(parsed, history, context, shopper);
    let Some(first) = eligible.first() else {
        return Ok(nothing_eligible(skipped, false));
    };
    history.record(&first.spec.id, context.now_ms);
    Ok(OfferDecision {
        offer_id: Some(first.spec.id.clone()),
        reason: SHOP_OFFER_WORDS.into(),
        code: DecisionCode::ShopDefault,
        diagnostic: format!("the shop's first eligible offer (holdout group): {}", first.describe()),
        skipped,
        propensity: 1.0,
        personalized: false,
    })
}

/// The personalized choice among eligible offers (and "no offer" when `allowNone`).
/// Records the show of the chosen offer.
pub(crate) fn personalized_offer(
    bandit: &mut Bandit,
    history: &mut OfferHistory,
    offers: &[OfferSpec],
    context: &OfferContext,
    shopper: &ShopperState,
) -> Result<OfferDecision, OfferError> {
    let parsed = parse_offers(offers, context)?;
    let (eligible, skipped) = split_eligible(parsed, history, context, shopper);
    if eligible.is_empty() {
        return Ok(nothing_eligible(skipped, true));
    }
    let mut keys: Vec<String> = eligible.iter().map(|o| offer_arm(&o.spec.id)).collect();
    let mut offsets: Vec<f64> = eligible.iter().map(|o| SPECIFICITY_PRIOR * o.specificity()).collect();
    if context.allow_none {
        keys.push(NO_OFFER_ARM.to_string());
        offsets.push(0.0);
    }
    let x = shopper.features();
    let pick = bandit.choose_with_offsets(&keys, &x, &offsets)?;
    let Some(chosen) = eligible.get(pick.index) else {
        return Ok(OfferDecision {
            offer_id: None,
            reason: NO_OFFER_WORDS.into(),
            code: DecisionCode::NoOffer,
            diagnostic: if pick.explored {
                "exploring: showing no offer this time".into()
            } else {
                "this shopper engages as well without an offer".into()
            },
            skipped,
            propensity: pick.propensity,
            personalized: true,
        });
    };
    let key = &keys[pick.index];
    let seen = bandit.observations(key);
    let diagnostic = if pick.explored {
        format!("exploring among eligible offers; eligible because {}", chosen.describe())
    } else if seen == 0 {
        format!("{} (the most specific match while this shopper's response is learned)", chosen.describe())
    } else {
        let rate = rate_words(bandit.mean_probability(key, &x), seen);
        format!("{}; this shopper's take-up: {rate}", chosen.describe())
    };
    let code = match (pick.explored, chosen.audience.is_empty(), seen >= MIN_RATE_EVIDENCE) {
        (true, _, _) => DecisionCode::Exploring,
        (false, false, _) => DecisionCode::Audience,
        (false, true, true) => DecisionCode::Engages,
        (false, true, false) => DecisionCode::Learning,
    };
    history.record(&chosen.spec.id, context.now_ms);
    Ok(OfferDecision {
        offer_id: Some(chosen.spec.id.clone()),
        reason: chosen.shopper_words(),
        code,
        diagnostic,
        skipped,
        propensity: pick.propensity,
        personalized: true,
    })
}

/// Key of the arm that learns "no offer shown".
pub(crate) fn no_offer_arm() -> &'static str {
    NO_OFFER_ARM
}
