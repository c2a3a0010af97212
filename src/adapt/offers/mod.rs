//! `choose_offer`: pick at most one of the offers the server already allows for this visitor,
//! from the profile's visit stats and cart state, within each offer's frequency cap and cooldown.
//!
//! Prices and terms are the server's: the device never computes a price, it only picks an id.
//! Sensitive categories never reach this code (see [`ShopperState::without_sensitive`]).
//!
//! ```
//! use shop_personalizer::adapt::{Adapter, AdapterConfig, AudienceSpec, OfferContext, OfferSpec, ShopperState};
//! let mut adapter = Adapter::new(AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }, 7).unwrap();
//! let offers = vec![OfferSpec::new("welcome-10", vec![AudienceSpec::first_visit()])];
//! let picked = adapter.choose_offer(&offers, &OfferContext { now_ms: 0.0, allow_none: false }, &ShopperState::default()).unwrap();
//! assert_eq!(picked.offer_id.as_deref(), Some("welcome-10"));
//! ```

pub mod choice;
pub mod history;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::adapt::bandit::BanditError;
use crate::adapt::why::DecisionCode;
use crate::catalog::{CATEGORY_SEPARATOR, MAX_LABEL_BYTES};
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::profile::shopper_state::{ShopperState, VisitSegment};
use history::MAX_SHOWS_KEPT;

/// Most offers accepted in one call.
pub const MAX_OFFERS: usize = 64;

/// The audience kinds the device understands, for error messages.
pub const AUDIENCE_KINDS: &str =
    "firstVisit, returning, loyal (with minOrders), cartAbandoned, browsingCategory (with category)";

/// Why an offer list was refused. Messages say what to fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OfferError {
    #[error("no offers given: pass the offers this visitor is eligible for, or skip chooseOffer")]
    NoOffers,
    #[error("{0} offers given; the limit is {MAX_OFFERS}: pre-filter on the server")]
    TooManyOffers(usize),
    #[error("offer #{0} has an empty or over-long id: give every offer a unique id up to {MAX_LABEL_BYTES} bytes")]
    BadId(usize),
    #[error("offer id \"{0}\" appears twice: offer ids must be unique")]
    DuplicateId(String),
    #[error("offer \"{offer}\" has unknown audience \"{kind}\": use one of {AUDIENCE_KINDS}")]
    UnknownAudience { offer: String, kind: String },
    #[error("offer \"{offer}\": audience \"{kind}\" needs {field}: add it, e.g. {example}")]
    MissingAudienceField { offer: String, kind: &'static str, field: &'static str, example: &'static str },
    #[error("offer \"{offer}\": {field} = {} is out of range: expected {expected}", Decimal(*.value))]
    BadLimit { offer: String, field: &'static str, value: f64, expected: &'static str },
    #[error("nowMs {} is not a finite, non-negative time: pass Date.now()", Decimal(*.0))]
    BadNow(f64),
    #[error(transparent)]
    Bandit(#[from] BanditError),
}

impl Coded for OfferError {
    fn code(&self) -> ErrorCode {
        match self {
            OfferError::NoOffers
            | OfferError::TooManyOffers(_)
            | OfferError::BadId(_)
            | OfferError::DuplicateId(_)
            | OfferError::UnknownAudience { .. }
            | OfferError::MissingAudienceField { .. }
            | OfferError::BadLimit { .. } => ErrorCode::InvalidArgument,
            OfferError::BadNow(_) => ErrorCode::BadTime,
            OfferError::Bandit(error) => error.code(),
        }
    }
}

/// An audience tag as the shop sends it; the device checks it against the shopper. `kind` is one
/// of `firstVisit`, `returning`, `cartAbandoned`, `loyal` (with `minOrders`, the orders needed,
/// ≥ 1) and `browsingCategory` (with `category`, the category path such as `"Shoes > Running"`;
/// subcategories match too). Any other kind, or a missing `minOrders` / `category`, is an error
/// that says what to add; the TypeScript type says so too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[cfg_attr(
    target_arch = "wasm32",
    tsify(
        type = "{ kind: \"firstVisit\" | \"returning\" | \"cartAbandoned\" } | { kind: \"loyal\"; minOrders: number } | { kind: \"browsingCategory\"; category: string }"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AudienceSpec {
    /// One of `firstVisit`, `returning`, `loyal`, `cartAbandoned`, `browsingCategory`.
    pub kind: String,
    /// For `loyal`: orders needed (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub min_orders: Option<u32>,
    /// For `browsingCategory`: the category path (`"Shoes > Running"`); subcategories match too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub category: Option<String>,
}

impl AudienceSpec {
    fn plain(kind: &str) -> AudienceSpec {
        AudienceSpec { kind: kind.to_string(), min_orders: None, category: None }
    }
    pub fn first_visit() -> AudienceSpec {
        Self::plain("firstVisit")
    }
    pub fn returning() -> AudienceSpec {
        Self::plain("returning")
    }
    pub fn cart_abandoned() -> AudienceSpec {
        Self::plain("cartAbandoned")
    }
    pub fn loyal(min_orders: u32) -> AudienceSpec {
        AudienceSpec { min_orders: Some(min_orders), ..Self::plain("loyal") }
    }
    pub fn browsing(category: &str) -> AudienceSpec {
        AudienceSpec { category: Some(category.to_string()), ..Self::plain("browsingCategory") }
    }
}

/// A parsed audience.
#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    FirstVisit,
    /// Any visit after the first (loyal shoppers included).
    Returning,
    Loyal {
        min_orders: u32,
    },
    CartAbandoned,
    BrowsingCategory(String),
}

impl Audience {
    fn parse(offer: &str, spec: &AudienceSpec) -> Result<Audience, OfferError> {
        let missing =
            |kind, field, example| OfferError::MissingAudienceField { offer: offer.to_string(), kind, field, example };
        match spec.kind.as_str() {
            "firstVisit" => Ok(Audience::FirstVisit),
            "returning" => Ok(Audience::Returning),
            "cartAbandoned" => Ok(Audience::CartAbandoned),
            "loyal" => match spec.min_orders {
                Some(n) if n >= 1 => Ok(Audience::Loyal { min_orders: n }),
                _ => Err(missing("loyal", "minOrders ≥ 1", "{ kind: \"loyal\", minOrders: 3 }")),
            },
            "browsingCategory" => match spec.category.as_deref().map(str::trim) {
                Some(c) if !c.is_empty() => Ok(Audience::BrowsingCategory(c.to_string())),
                _ => {
                    Err(missing("browsingCategory", "category", "{ kind: \"browsingCategory\", category: \"Shoes\" }"))
                }
            },
            other => Err(OfferError::UnknownAudience { offer: offer.to_string(), kind: other.to_string() }),
        }
    }

    /// Does the shopper belong to this audience?
    pub fn matches(&self, shopper: &ShopperState) -> bool {
        match self {
            Audience::FirstVisit => shopper.segment == VisitSegment::New && shopper.visits <= 1,
            Audience::Returning => shopper.segment != VisitSegment::New || shopper.visits > 1,
            Audience::Loyal { min_orders } => shopper.orders >= *min_orders,
            Audience::CartAbandoned => shopper.cart_abandoned,
            Audience::BrowsingCategory(category) => {
                shopper.current_category.as_deref().is_some_and(|current| within(current, category))
            }
        }
    }

    /// How narrowly the audience targets (a shop-side prior: narrower offers fit better).
    pub fn specificity(&self) -> f64 {
        match self {
            Audience::Returning => 1.0,
            Audience::FirstVisit | Audience::Loyal { .. } => 2.0,
            Audience::BrowsingCategory(_) => 3.0,
            Audience::CartAbandoned => 4.0,
        }
    }

    /// Words for shoppers: why an offer for this audience is shown to them.
    pub fn shopper_words(&self) -> String {
        match self {
            Audience::FirstVisit => "A welcome offer for your first visit".into(),
            Audience::Returning => "An offer for returning shoppers".into(),
            Audience::Loyal { .. } => "A thank-you for shopping with us again".into(),
            Audience::CartAbandoned => "For the items you left in your cart".into(),
            Audience::BrowsingCategory(c) => {
                format!("An offer on {}", c.rsplit(CATEGORY_SEPARATOR).next().unwrap_or(c).trim())
            }
        }
    }

    /// Words for the diagnostic.
    pub fn describe(&self) -> String {
        match self {
            Audience::FirstVisit => "this is a first visit".into(),
            Audience::Returning => "a returning shopper".into(),
            Audience::Loyal { min_orders } => format!("loyal: at least {min_orders} orders"),
            Audience::CartAbandoned => "a cart was left without purchase earlier".into(),
            Audience::BrowsingCategory(c) => format!("browsing {c}"),
        }
    }
}

/// True when category path `current` is `category` or lies below it (case-insensitive).
fn within(current: &str, category: &str) -> bool {
    let mut levels = current.split(CATEGORY_SEPARATOR);
    category
        .split(CATEGORY_SEPARATOR)
        .all(|want| levels.next().is_some_and(|have| have.trim().eq_ignore_ascii_case(want.trim())))
}

/// At most `maxShows` shows within `windowHours`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct FrequencyCap {
    pub max_shows: u32,
    pub window_hours: f64,
}

/// Limits on how often the device may show an offer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct OfferLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub frequency_cap: Option<FrequencyCap>,
    /// Hours to wait after a show before showing it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub cooldown_hours: Option<f64>,
}

/// An offer the server allows for this visitor. Every audience entry must match (an empty
/// list matches everyone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct OfferSpec {
    pub id: String,
    #[serde(default)]
    pub audience: Vec<AudienceSpec>,
    #[serde(default)]
    pub limits: OfferLimits,
}

impl OfferSpec {
    pub fn new(id: &str, audience: Vec<AudienceSpec>) -> OfferSpec {
        OfferSpec { id: id.to_string(), audience, limits: OfferLimits::default() }
    }
}

/// The moment of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct OfferContext {
    /// `Date.now()`.
    pub now_ms: f64,
    /// Let the device learn whether showing no offer works better for this shopper.
    #[serde(default)]
    pub allow_none: bool,
}

/// An offer left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SkippedOffer {
    pub id: String,
    /// For developers: the audience not met, the frequency cap or the cooldown.
    pub diagnostic: String,
}

/// The offer to show, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct OfferDecision {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub offer_id: Option<String>,
    /// For shoppers: why this offer ("A welcome offer for your first visit").
    pub reason: String,
    pub code: DecisionCode,
    /// For developers: consent, holdout, exploration and the learned rate; never show it to shoppers.
    pub diagnostic: String,
    /// Offers not eligible now, with the reason (audience, cap, cooldown).
    pub skipped: Vec<SkippedOffer>,
    /// Probability of this choice under the policy (1 when at most one option existed).
    pub propensity: f64,
    pub personalized: bool,
}

/// A validated offer and its parsed audience.
pub(crate) struct ParsedOffer<'a> {
    pub spec: &'a OfferSpec,
    pub audience: Vec<Audience>,
}

impl ParsedOffer<'_> {
    pub fn specificity(&self) -> f64 {
        self.audience.iter().map(Audience::specificity).sum()
    }

    /// The shopper words of the most specific audience entry.
    pub fn shopper_words(&self) -> String {
        let best = self.audience.iter().fold(None::<&Audience>, |best, a| match best {
            Some(b) if b.specificity() >= a.specificity() => Some(b),
            _ => Some(a),
        });
        best.map_or_else(|| "An offer for every visitor".into(), Audience::shopper_words)
    }

    pub fn describe(&self) -> String {
        if self.audience.is_empty() {
            "open to every visitor".into()
        } else {
            self.audience.iter().map(Audience::describe).collect::<Vec<_>>().join(" and ")
        }
    }
}

/// Checks the list and parses every audience; the first problem is returned.
pub(crate) fn parse_offers<'a>(
    offers: &'a [OfferSpec],
    context: &OfferContext,
) -> Result<Vec<ParsedOffer<'a>>, OfferError> {
    if !context.now_ms.is_finite() || context.now_ms < 0.0 {
        return Err(OfferError::BadNow(context.now_ms));
    }
    if offers.is_empty() {
        return Err(OfferError::NoOffers);
    }
    if offers.len() > MAX_OFFERS {
        return Err(OfferError::TooManyOffers(offers.len()));
    }
    let mut parsed = Vec::with_capacity(offers.len());
    for (i, spec) in offers.iter().enumerate() {
        if spec.id.trim().is_empty() || spec.id.len() > MAX_LABEL_BYTES {
            return Err(OfferError::BadId(i));
        }
        if offers[..i].iter().any(|o| o.id == spec.id) {
            return Err(OfferError::DuplicateId(spec.id.clone()));
        }
        let bad = |field, value, expected| OfferError::BadLimit { offer: spec.id.clone(), field, value, expected };
        if let Some(cap) = spec.limits.frequency_cap {
            if !(1..=MAX_SHOWS_KEPT as u32).contains(&cap.max_shows) {
                return Err(bad("frequencyCap.maxShows", f64::from(cap.max_shows), "1..=16"));
            }
            if !(cap.window_hours.is_finite() && cap.window_hours > 0.0) {
                return Err(bad("frequencyCap.windowHours", cap.window_hours, "hours > 0"));
            }
        }
        if let Some(cooldown) = spec.limits.cooldown_hours {
            if !(cooldown.is_finite() && cooldown >= 0.0) {
                return Err(bad("cooldownHours", cooldown, "hours ≥ 0"));
            }
        }
        let audience = spec.audience.iter().map(|a| Audience::parse(&spec.id, a)).collect::<Result<_, _>>()?;
        parsed.push(ParsedOffer { spec, audience });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
