//! Why a layout, offer or text was chosen, three ways: a code from a closed set (a shop renders it
//! in its own words), a default English `reason` for shoppers, and a `diagnostic` for developers
//! (consent, holdout, bandit estimates). Shopper words never mention consent modes, groups or
//! method names, and never quote a rate; a diagnostic quotes one only from
//! [`MIN_RATE_EVIDENCE`] observations on.

use serde::{Deserialize, Serialize};

/// Observations of an arm needed before a diagnostic quotes its rate ("about 40% of views"):
/// below it the rate is mostly the prior, and "69%" after one order says nothing.
pub const MIN_RATE_EVIDENCE: u32 = 10;

/// What a decision's reason says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum DecisionCode {
    /// The shop's own choice: nothing personal went into it (no consent, the comparison group, or
    /// an item in a sensitive category).
    ShopDefault,
    /// The shop fixed it (a section pinned to its position).
    ShopRule,
    /// Shown to learn what this shopper likes.
    Exploring,
    /// Not enough seen of this shopper yet: the shop's preferences decide.
    Learning,
    /// This shopper engages with it (a section kind, a density, a kind of text, an offer).
    Engages,
    /// Hidden: this shopper rarely engages with it.
    RarelyEngages,
    /// Hidden: it does not fit the page.
    NoRoom,
    /// A text written for one of the shopper's interests (`matchedInterests` names them).
    Interest,
    /// An offer for shoppers in the situation this one is in (first visit, cart left, …).
    Audience,
    /// No offer is shown.
    NoOffer,
}

/// One reason three ways, as the deciding code hands it to the decision it builds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Why {
    pub code: DecisionCode,
    pub reason: String,
    pub diagnostic: String,
}

impl Why {
    pub fn new(code: DecisionCode, reason: &str, diagnostic: String) -> Why {
        Why { code, reason: reason.to_owned(), diagnostic }
    }
}

/// An arm's rate for a diagnostic: the percentage from [`MIN_RATE_EVIDENCE`] observations on,
/// else how few there are.
pub fn rate_words(rate: f64, observations: u32) -> String {
    if observations >= MIN_RATE_EVIDENCE {
        format!("about {:.0}% over {observations} observations", rate * 100.0)
    } else {
        format!("{observations} observations, too few to quote a rate")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_quoted_only_from_enough_observations() {
        assert_eq!(rate_words(0.69, 1), "1 observations, too few to quote a rate");
        assert_eq!(rate_words(0.42, 25), "about 42% over 25 observations");
    }
}
