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
    pub reason: String,
    /// The interests that matched the chosen variant's tags, strongest first.
    pub matched_interests: Vec<String>,
    pub propensity: f64,
    pub personalized: bool,
}

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
        reason: "the shop's default text (holdout group)".into(),
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
    let reason = if pick.explored {
        "exploring another text to learn what this shopper responds to".to_string()
    } else if !matched.is_empty() && seen == 0 {
        format!("speaks to {} (an interest at {:.0}% of the strongest)", matched.join(", "), strength * 100.0)
    } else if !matched.is_empty() {
        format!("speaks to {}; engagement with this angle ≈ {:.0}%", matched.join(", "), rate() * 100.0)
    } else if seen > 0 {
        format!("no interest matches; this shopper engages with such copy ≈ {:.0}%", rate() * 100.0)
    } else {
        "no interest matches any variant yet; trying this one to learn".to_string()
    };
    bandit.touch(&arms[pick.index]);
    Ok(VariantDecision {
        variant_id: chosen.id.clone(),
        reason,
        matched_interests: matched,
        propensity: pick.propensity,
        personalized: true,
    })
}

#[cfg(test)]
#[path = "copy_variants_tests.rs"]
mod tests;
