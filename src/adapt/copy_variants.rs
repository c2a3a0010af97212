//! `choose_variant`: pick the description of an item that speaks to this shopper, from
//! alternatives the shop wrote and tagged with interests or uses ("commute", "trail", "gift").
//!
//! A variant's score is its best interest match (a tag equal to an interest's tag, brand or any
//! level of an interest's category, case-insensitively, weighted by the interest's share of the
//! strongest interest) plus a Thompson draw of how this shopper engages with copy carrying its
//! tags. Tags are free text: a tag no interest mentions ("unknown" to the profile) simply adds
//! no match and is still learned from engagement, so the shop can introduce new angles freely.
//!
//! ```
//! use shop_personalizer::adapt::{Adapter, AdapterConfig, CopyVariant, Interest, ShopperState};
//! use shop_personalizer::catalog::{AttributeKey, Item, ItemAttributes};
//! let mut adapter = Adapter::new(AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }, 7).unwrap();
//! let item = Item { id: "jacket-1".into(), attributes: ItemAttributes::default() };
//! let variants = vec![CopyVariant::new("city", "Stays dry on the way to work", &["commute"]),
//!                     CopyVariant::new("hills", "Built for muddy trails", &["trail"])];
//! let shopper = ShopperState {
//!     top_interests: vec![Interest { key: AttributeKey::Tag("trail".into()), weight: 4.0 }],
//!     ..ShopperState::default()
//! };
//! let choice = adapter.choose_variant(&item, &variants, &shopper).unwrap();
//! assert_eq!(choice.variant_id, "hills");
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::bandit::{sample, Bandit, BanditError, Posterior};
use super::why::{rate_words, DecisionCode, Why, MIN_RATE_EVIDENCE};
use crate::catalog::{AttributeKey, CatalogError, Item, CATEGORY_SEPARATOR, MAX_LABEL_BYTES};
use crate::error_code::{Coded, ErrorCode};
use crate::profile::shopper_state::{Interest, ShopperState};

/// Most variants accepted for one item.
pub const MAX_VARIANTS: usize = 16;
/// Most tags on one variant.
pub const MAX_VARIANT_TAGS: usize = 8;
/// Logit weight of a full interest match (the strongest interest matching a tag).
const AFFINITY_WEIGHT: f64 = 3.0;
const UNTAGGED_ARM: &str = "copy:(untagged)";

/// Why a variant list was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum VariantError {
    #[error("no variants given: pass at least one text for the item")]
    NoVariants,
    #[error("{0} variants given; the limit is {MAX_VARIANTS}")]
    TooManyVariants(usize),
    #[error("variant #{0} has an empty or over-long id: give every variant a unique id")]
    BadId(usize),
    #[error("variant id \"{0}\" appears twice: variant ids must be unique")]
    DuplicateId(String),
    #[error(
        "variant \"{variant}\" has an empty or over-long tag: drop empty tags, keep tags under {MAX_LABEL_BYTES} bytes"
    )]
    BadTag { variant: String },
    #[error("variant \"{variant}\" has {count} tags; the limit is {MAX_VARIANT_TAGS}")]
    TooManyTags { variant: String, count: usize },
    #[error("the item is invalid: {0}")]
    Item(#[from] CatalogError),
    #[error(transparent)]
    Bandit(#[from] BanditError),
}

impl Coded for VariantError {
    fn code(&self) -> ErrorCode {
        match self {
            VariantError::NoVariants
            | VariantError::TooManyVariants(_)
            | VariantError::BadId(_)
            | VariantError::DuplicateId(_)
            | VariantError::BadTag { .. }
            | VariantError::TooManyTags { .. } => ErrorCode::InvalidArgument,
            VariantError::Item(error) => error.code(),
            VariantError::Bandit(error) => error.code(),
        }
    }
}

/// One alternative text for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct CopyVariant {
    pub id: String,
    pub text: String,
    /// Interests or uses the text speaks to.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl CopyVariant {
    pub fn new(id: &str, text: &str, tags: &[&str]) -> CopyVariant {
        CopyVariant { id: id.into(), text: text.into(), tags: tags.iter().map(|t| t.to_string()).collect() }
    }
}

/// The variant to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct VariantDecision {
    pub variant_id: String,
    /// For shoppers: why this text ("Written for your interest in Trail").
    pub reason: String,
    pub code: DecisionCode,
    /// For developers: consent, holdout, exploration, learned engagement; never show it to shoppers.
    pub diagnostic: String,
    /// The interests that matched the chosen variant's tags, strongest first.
    pub matched_interests: Vec<String>,
    pub propensity: f64,
    pub personalized: bool,
}

/// Shopper words for the shop's own text.
pub(crate) const SHOP_TEXT_WORDS: &str = "The shop's description";

/// The bandit arms that learn engagement with copy carrying `tags`.
pub(crate) fn variant_arms(tags: &[String]) -> Vec<String> {
    if tags.is_empty() {
        return vec![UNTAGGED_ARM.to_string()];
    }
    tags.iter().map(|t| format!("copy:{}", t.trim().to_lowercase())).collect()
}

fn check(item: &Item, variants: &[CopyVariant]) -> Result<(), VariantError> {
    item.validate()?;
    if variants.is_empty() {
        return Err(VariantError::NoVariants);
    }
    if variants.len() > MAX_VARIANTS {
        return Err(VariantError::TooManyVariants(variants.len()));
    }
    for (i, v) in variants.iter().enumerate() {
        if v.id.trim().is_empty() || v.id.len() > MAX_LABEL_BYTES {
            return Err(VariantError::BadId(i));
        }
        if variants[..i].iter().any(|o| o.id == v.id) {
            return Err(VariantError::DuplicateId(v.id.clone()));
        }
        if v.tags.len() > MAX_VARIANT_TAGS {
            return Err(VariantError::TooManyTags { variant: v.id.clone(), count: v.tags.len() });
        }
        if v.tags.iter().any(|t| t.trim().is_empty() || t.len() > MAX_LABEL_BYTES) {
            return Err(VariantError::BadTag { variant: v.id.clone() });
        }
    }
    Ok(())
}

/// True when `key` names the interest or use `tag` (case-insensitive).
fn speaks_to(key: &AttributeKey, tag: &str) -> bool {
    let tag = tag.trim();
    match key {
        AttributeKey::Tag(t) | AttributeKey::Brand(t) => t.trim().eq_ignore_ascii_case(tag),
        AttributeKey::Category(path) => {
            path.split(CATEGORY_SEPARATOR).any(|level| level.trim().eq_ignore_ascii_case(tag))
        }
        AttributeKey::PriceBand(_) => false,
    }
}

/// The variant's interest match in [0, 1] and the matching interests, strongest first.
fn affinity(variant: &CopyVariant, interests: &[Interest]) -> (f64, Vec<String>) {
    let strongest = interests.iter().map(|i| f64::from(i.weight)).fold(0.0, f64::max);
    if strongest <= 0.0 {
        return (0.0, Vec::new());
    }
    let mut matched: Vec<&Interest> =
        interests.iter().filter(|i| i.weight > 0.0 && variant.tags.iter().any(|t| speaks_to(&i.key, t))).collect();
    crate::ordering::sort_by(&mut matched, |a, b| b.weight.total_cmp(&a.weight));
    let best = matched.first().map_or(0.0, |i| f64::from(i.weight) / strongest);
    (best, matched.iter().map(|i| i.key.to_string()).collect())
}

/// The holdout's choice: the shop's first variant.
pub(crate) fn shop_default_variant(item: &Item, variants: &[CopyVariant]) -> Result<VariantDecision, VariantError> {
    check(item, variants)?;
    Ok(VariantDecision {
        variant_id: variants[0].id.clone(),
        reason: SHOP_TEXT_WORDS.into(),
        code: DecisionCode::ShopDefault,
        diagnostic: "the shop's default text (holdout group)".into(),
        matched_interests: Vec::new(),
        propensity: 1.0,
        personalized: false,
    })
}

fn mean_sampled_logit(posteriors: &[Posterior], rng: &mut rand_chacha::ChaCha8Rng) -> f64 {
    let logits = sample(posteriors, rng);
    logits.iter().sum::<f64>() / logits.len() as f64
}

/// The personalized choice: interest match plus learned engagement per tag.
pub(crate) fn personalized_variant(
    bandit: &mut Bandit,
    item: &Item,
    variants: &[CopyVariant],
    shopper: &ShopperState,
) -> Result<VariantDecision, VariantError> {
    check(item, variants)?;
    let x = shopper.features();
    let arms: Vec<Vec<String>> = variants.iter().map(|v| variant_arms(&v.tags)).collect();
    let matches: Vec<(f64, Vec<String>)> = variants.iter().map(|v| affinity(v, &shopper.top_interests)).collect();
    let posteriors: Vec<Vec<Posterior>> = arms.iter().map(|a| bandit.posteriors(a, &x)).collect();
    let pick = bandit.choose_by(variants.len(), |_, rng| {
        posteriors.iter().zip(&matches).map(|(p, (m, _))| AFFINITY_WEIGHT * m + mean_sampled_logit(p, rng)).collect()
    })?;
    let chosen = &variants[pick.index];
    let (strength, matched) = matches[pick.index].clone();
    let seen: u32 = arms[pick.index].iter().map(|a| bandit.observations(a)).sum();
    // The chosen angle's mean engagement, over the arms of its tags.
    let rate = || {
        let chosen_arms = &arms[pick.index];
        chosen_arms.iter().map(|a| bandit.mean_probability(a, &x)).sum::<f64>() / chosen_arms.len() as f64
    };
    let interests = matched.join(", ");
    let why = if pick.explored {
        let diagnostic = "exploring another text to learn what this shopper responds to".to_string();
        Why::new(DecisionCode::Exploring, "Trying another description to learn what you like", diagnostic)
    } else if !matched.is_empty() {
        let diagnostic = format!(
            "speaks to {interests} (an interest at {:.0}% of the strongest); engagement with this angle: {}",
            strength * 100.0,
            rate_words(rate(), seen)
        );
        Why { code: DecisionCode::Interest, reason: format!("Written for your interest in {interests}"), diagnostic }
    } else if seen >= MIN_RATE_EVIDENCE {
        let diagnostic = format!("no interest matches; engagement with such copy: {}", rate_words(rate(), seen));
        Why::new(DecisionCode::Engages, "Chosen from the descriptions you respond to", diagnostic)
    } else {
        let diagnostic = format!("no interest matches any variant; trying this one to learn ({seen} observations)");
        Why::new(DecisionCode::Learning, SHOP_TEXT_WORDS, diagnostic)
    };
    bandit.touch(&arms[pick.index]);
    Ok(VariantDecision {
        variant_id: chosen.id.clone(),
        reason: why.reason,
        code: why.code,
        diagnostic: why.diagnostic,
        matched_interests: matched,
        propensity: pick.propensity,
        personalized: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::adapter::{Adapter, AdapterConfig};
    use crate::catalog::ItemAttributes;
    use proptest::prelude::*;

    fn item() -> Item {
        Item { id: "jacket-1".into(), attributes: ItemAttributes::default() }
    }

    fn variants() -> Vec<CopyVariant> {
        vec![
            CopyVariant::new("city", "Stays dry on the way to work", &["commute"]),
            CopyVariant::new("hills", "Built for muddy trails", &["Trail", "outdoor"]),
            CopyVariant::new("present", "A gift they will wear", &["gift"]),
        ]
    }

    fn interest(key: AttributeKey, weight: f32) -> Interest {
        Interest { key, weight }
    }

    fn trail_runner() -> ShopperState {
        ShopperState {
            top_interests: vec![
                interest(AttributeKey::Category("Shoes > Trail".into()), 5.0),
                interest(AttributeKey::Brand("Acme".into()), 2.0),
                interest(AttributeKey::Tag("commute".into()), 1.0),
            ],
            ..ShopperState::default()
        }
    }

    fn adapter(seed: u64, holdout: bool) -> Adapter {
        Adapter::new(AdapterConfig { holdout_share: if holdout { 1.0 } else { 0.0 }, ..AdapterConfig::default() }, seed)
            .unwrap()
    }

    #[test]
    fn affinity_is_the_best_match_relative_to_the_strongest_interest() {
        let interests = trail_runner().top_interests;
        let (hills, matched) = affinity(&variants()[1], &interests);
        assert!((hills - 1.0).abs() < 1e-9);
        assert_eq!(matched, vec!["Trail".to_string()]);
        let (city, _) = affinity(&variants()[0], &interests);
        assert!((city - 0.2).abs() < 1e-6, "commute at 1/5 of the strongest: {city}");
        let (gift, matched) = affinity(&variants()[2], &interests);
        assert_eq!((gift, matched.len()), (0.0, 0));
        assert_eq!(affinity(&variants()[1], &[]).0, 0.0);
    }

    #[test]
    fn the_matching_text_is_chosen_with_a_reason() {
        let mut hits = 0;
        for seed in 0..50 {
            let d = adapter(seed, false).choose_variant(&item(), &variants(), &trail_runner()).unwrap();
            if d.variant_id == "hills" {
                hits += 1;
                assert!(d.reason.contains("Trail") || d.reason.contains("exploring"), "{}", d.reason);
            }
            assert!(d.propensity > 0.0 && d.propensity <= 1.0);
        }
        // Affinity gap 3 logits against a prior draw sd of √2 per arm (≈ 2 for the difference).
        assert!(hits >= 38, "hills chosen {hits}/50");
    }

    #[test]
    fn engagement_overrides_a_weak_match() {
        let mut a = adapter(3, false);
        let me = trail_runner();
        for _ in 0..100 {
            a.learn_variant(&["gift".into()], true, &me).unwrap();
            a.learn_variant(&["Trail".into(), "outdoor".into()], false, &me).unwrap();
        }
        let d = a.choose_variant(&item(), &variants(), &me).unwrap();
        assert_eq!(d.variant_id, "present");
        assert_eq!(d.code, DecisionCode::Engages);
        assert!(d.diagnostic.contains("engagement with such copy: about"), "{}", d.diagnostic);
        assert_eq!(d.reason, "Chosen from the descriptions you respond to");
    }

    #[test]
    fn unknown_tags_are_harmless_and_untagged_text_works() {
        let mut a = adapter(4, false);
        let odd = vec![CopyVariant::new("a", "x", &["zz-unknown-angle"]), CopyVariant::new("b", "y", &[])];
        let d = a.choose_variant(&item(), &odd, &trail_runner()).unwrap();
        assert!(d.matched_interests.is_empty());
        assert!(["a", "b"].contains(&d.variant_id.as_str()));
        a.learn_variant(&[], true, &trail_runner()).unwrap();
        a.learn_variant(&["zz-unknown-angle".into()], false, &trail_runner()).unwrap();
    }

    #[test]
    fn holdout_reads_the_shop_default() {
        let d = adapter(5, true).choose_variant(&item(), &variants(), &trail_runner()).unwrap();
        assert_eq!(d.variant_id, "city");
        assert!(!d.personalized);
    }

    #[test]
    fn bad_variant_lists_are_refused() {
        let mut a = adapter(6, false);
        let me = trail_runner();
        assert_eq!(a.choose_variant(&item(), &[], &me), Err(VariantError::NoVariants));
        let dup = vec![CopyVariant::new("a", "x", &[]), CopyVariant::new("a", "y", &[])];
        assert_eq!(a.choose_variant(&item(), &dup, &me), Err(VariantError::DuplicateId("a".into())));
        let empty_tag = vec![CopyVariant::new("a", "x", &[" "])];
        assert!(a.choose_variant(&item(), &empty_tag, &me).unwrap_err().to_string().contains("drop empty tags"));
        let many_tags = vec![CopyVariant::new("a", "x", &["t"; 9])];
        assert!(matches!(a.choose_variant(&item(), &many_tags, &me), Err(VariantError::TooManyTags { count: 9, .. })));
        let bad_item = Item { id: String::new(), attributes: ItemAttributes::default() };
        assert!(matches!(a.choose_variant(&bad_item, &variants(), &me), Err(VariantError::Item(_))));
        assert_eq!(a.choose_variant(&item(), &[CopyVariant::new("", "x", &[])], &me), Err(VariantError::BadId(0)));
    }

    proptest! {
        #[test]
        fn same_seed_same_variant(seed in any::<u64>(), weights in proptest::collection::vec(0.0f32..10.0, 0..4)) {
            let tags = ["commute", "trail", "gift", "outdoor"];
            let shopper = ShopperState {
                top_interests: weights.iter().zip(tags).map(|(w, t)| interest(AttributeKey::Tag(t.into()), *w)).collect(),
                ..ShopperState::default()
            };
            let run = || adapter(seed, false).choose_variant(&item(), &variants(), &shopper);
            let first = run();
            prop_assert!(first.is_ok());
            prop_assert_eq!(first, run());
        }
    }
}
