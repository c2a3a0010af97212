//! `choose_layout`: order a page's candidate sections, decide which optional ones to show and
//! pick a density, learned from how this shopper engages with each kind of section.
//!
//! ```
//! use shop_personalizer::adapt::{Adapter, AdapterConfig, LayoutOptions, SectionKind, SectionSpec, ShopperState};
//! let mut adapter = Adapter::new(AdapterConfig::default(), 7).unwrap();
//! let sections = vec![
//!     SectionSpec::new("hero-deals", SectionKind::Deals).required().at_positions(0, 0),
//!     SectionSpec::new("for-you", SectionKind::RecommendedForYou),
//!     SectionSpec::new("new", SectionKind::NewArrivals),
//! ];
//! let layout = adapter.choose_layout(&sections, &LayoutOptions::default(), &ShopperState::default()).unwrap();
//! assert_eq!(layout.sections[0].id, "hero-deals");
//! ```

pub mod constraints;
pub mod density;
pub mod sections;

use rand::seq::SliceRandom;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::adapt::bandit::{argmax, sample, sigmoid, Bandit, Posterior};
use crate::adapt::why::{rate_words, DecisionCode, Why};
use crate::catalog::MAX_LABEL_BYTES;
use crate::profile::shopper_state::{ShopperState, CONTEXT_FEATURES};
use constraints::{diagnose, order_sections, select_sections, LayoutError, Slotting, MAX_SECTIONS};
use density::choose_density;
pub use density::Density;
pub use sections::{SectionKind, SectionSpec};

/// Page settings from the shop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct LayoutOptions {
    /// Most sections shown (≥ 1).
    pub max_sections: u32,
    /// The shop's density, used for the holdout and until the density has been learned.
    pub default_density: Density,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions { max_sections: MAX_SECTIONS as u32, default_density: Density::Grid }
    }
}

/// A section placed on the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PlacedSection {
    pub id: String,
    pub kind: SectionKind,
    pub position: u32,
    /// For shoppers: why it is here ("You often look at deals").
    pub reason: String,
    pub code: DecisionCode,
    /// For developers: holdout, exploration, learned rates; never show it to shoppers.
    pub diagnostic: String,
}

/// An optional section left off the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct HiddenSection {
    pub id: String,
    /// For shoppers: why it is not shown.
    pub reason: String,
    pub code: DecisionCode,
    /// For developers: the constraint or the learned rates behind it.
    pub diagnostic: String,
}

/// The page to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LayoutDecision {
    /// Shown sections in page order (`position` 0, 1, 2, ...).
    pub sections: Vec<PlacedSection>,
    pub hidden: Vec<HiddenSection>,
    pub density: Density,
    /// For shoppers: why this density.
    pub density_reason: String,
    pub density_code: DecisionCode,
    /// For developers: the learned engagement per density.
    pub density_diagnostic: String,
    /// Probability the policy had of this exact arrangement and density (for off-policy evaluation).
    pub propensity: f64,
    /// False for the holdout group (shop order and defaults).
    pub personalized: bool,
}

/// Shopper words for what the shop decided.
pub(crate) const SHOP_WORDS: &str = "Arranged by the shop";

/// Tuning of the layout decision, checked by the adapter's config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutTuning {
    /// An optional section is hidden when its sampled engagement is below this share of the
    /// best section's, in (0, 1).
    pub hide_below: f64,
    /// Observations of a section kind (or of the densities) needed before it is hidden
    /// (or the density departs from the shop's).
    pub min_evidence: u32,
}

impl Default for LayoutTuning {
    fn default() -> Self {
        LayoutTuning { hide_below: 0.35, min_evidence: 20 }
    }
}

/// Checks sections and options; returns their slottings and the page's slot count.
fn check_input(sections: &[SectionSpec], options: &LayoutOptions) -> Result<(Vec<Slotting>, usize), LayoutError> {
    if sections.is_empty() {
        return Err(LayoutError::NoSections);
    }
    if sections.len() > MAX_SECTIONS {
        return Err(LayoutError::TooManySections(sections.len()));
    }
    if options.max_sections == 0 {
        return Err(LayoutError::NoSlots);
    }
    let mut slottings = Vec::with_capacity(sections.len());
    for (i, section) in sections.iter().enumerate() {
        if section.id.trim().is_empty() || section.id.len() > MAX_LABEL_BYTES {
            return Err(LayoutError::EmptyId(i));
        }
        if sections[..i].iter().any(|other| other.id == section.id) {
            return Err(LayoutError::DuplicateId(section.id.clone()));
        }
        let min = section.min_position.unwrap_or(0);
        let max = section.max_position.unwrap_or(u32::MAX);
        if min > max {
            return Err(LayoutError::MinAfterMax { id: section.id.clone(), min, max });
        }
        slottings.push(Slotting { required: section.required, min, max });
    }
    Ok((slottings, (options.max_sections as usize).min(sections.len())))
}

/// One draw of the layout policy: a preference order and the optional sections wanted.
struct Draw {
    rank: Vec<usize>,
    order: Vec<usize>,
    wanted: Vec<usize>,
    probabilities: Vec<f64>,
    explored: bool,
}

/// What a layout decision needs from the bandit, looked up once per decision.
struct SectionBeliefs {
    /// One posterior per distinct section kind (arm): sections of one kind share one draw, so
    /// sampling noise never hides one of two sections the shopper treats alike.
    posteriors: Vec<Posterior>,
    /// Index into `posteriors` of each section's kind.
    arm_of: Vec<usize>,
    /// True when the section's kind has been observed at least `minEvidence` times.
    evidenced: Vec<bool>,
    exploration: f64,
    hide_below: f64,
}

impl SectionBeliefs {
    fn new(bandit: &Bandit, sections: &[SectionSpec], x: &[f32; CONTEXT_FEATURES], tuning: &LayoutTuning) -> Self {
        let keys: Vec<String> = sections.iter().map(|s| s.kind.arm_key()).collect();
        let mut arms: Vec<String> = Vec::new();
        let arm_of = keys
            .iter()
            .map(|key| match arms.iter().position(|arm| arm == key) {
                Some(index) => index,
                None => {
                    arms.push(key.clone());
                    arms.len() - 1
                }
            })
            .collect();
        SectionBeliefs {
            posteriors: bandit.posteriors(&arms, x),
            arm_of,
            evidenced: keys.iter().map(|k| bandit.observations(k) >= tuning.min_evidence).collect(),
            exploration: bandit.params().exploration,
            hide_below: tuning.hide_below,
        }
    }
}

fn draw_policy(beliefs: &SectionBeliefs, sections: &[SectionSpec], rng: &mut rand_chacha::ChaCha8Rng) -> Draw {
    let explored = rng.random::<f64>() < beliefs.exploration;
    let arm_logits = sample(&beliefs.posteriors, rng);
    let logits: Vec<f64> = beliefs.arm_of.iter().map(|&arm| arm_logits[arm]).collect();
    let probabilities: Vec<f64> = logits.iter().map(|l| sigmoid(*l)).collect();
    let mut order: Vec<usize> = (0..sections.len()).collect();
    if explored {
        order.shuffle(rng);
    } else {
        crate::ordering::sort_by(&mut order, |&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    }
    let best = probabilities[argmax(&logits)];
    let wanted = order
        .iter()
        .copied()
        .filter(|&i| !sections[i].required)
        .filter(|&i| explored || !beliefs.evidenced[i] || probabilities[i] >= beliefs.hide_below * best)
        .collect();
    let mut rank = vec![0; sections.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    Draw { rank, order, wanted, probabilities, explored }
}

fn arrange(slottings: &[Slotting], slots: usize, draw: &Draw) -> Option<Vec<usize>> {
    let shown = select_sections(slottings, slots, &draw.wanted, &draw.order)?;
    Some(order_sections(slottings, &shown, &draw.rank))
}

/// The holdout's page: the shop's order, every section that fits, the shop's density.
pub(crate) fn shop_default_layout(
    sections: &[SectionSpec],
    options: &LayoutOptions,
) -> Result<LayoutDecision, LayoutError> {
    let (slottings, slots) = check_input(sections, options)?;
    let order: Vec<usize> = (0..sections.len()).collect();
    let draw = Draw { rank: order.clone(), wanted: order.clone(), order, probabilities: Vec::new(), explored: false };
    let placed = arrange(&slottings, slots, &draw).ok_or_else(|| diagnose(&ids(sections), &slottings, slots))?;
    let reason = |_: usize| {
        Why::new(DecisionCode::ShopDefault, SHOP_WORDS, "the shop's order (holdout group: no personalization)".into())
    };
    Ok(assemble(
        sections,
        &slottings,
        slots,
        &placed,
        reason,
        |_| None,
        options.default_density,
        Why::new(DecisionCode::ShopDefault, SHOP_WORDS, "the shop's default density (holdout group)".into()),
        1.0,
        false,
    ))
}

fn ids(sections: &[SectionSpec]) -> Vec<String> {
    sections.iter().map(|s| s.id.clone()).collect()
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    sections: &[SectionSpec],
    slottings: &[Slotting],
    slots: usize,
    placed: &[usize],
    reason: impl Fn(usize) -> Why,
    unwanted: impl Fn(usize) -> Option<Why>,
    density: Density,
    density_why: Why,
    propensity: f64,
    personalized: bool,
) -> LayoutDecision {
    let shown = placed
        .iter()
        .enumerate()
        .map(|(position, &i)| {
            let Why { code, reason, diagnostic } = reason(i);
            PlacedSection {
                id: sections[i].id.clone(),
                kind: sections[i].kind,
                position: position as u32,
                reason,
                code,
                diagnostic,
            }
        })
        .collect();
    let no_room = |diagnostic| Why::new(DecisionCode::NoRoom, "No room on this page", diagnostic);
    let hidden = (0..sections.len())
        .filter(|i| !placed.contains(i))
        .map(|i| {
            let why = if slottings[i].min as usize >= slots {
                no_room(format!("its minPosition {} is beyond the page's {} sections", slottings[i].min, slots))
            } else if let Some(why) = unwanted(i) {
                why
            } else {
                no_room(format!("no room within the page's {slots} sections and the position constraints"))
            };
            HiddenSection { id: sections[i].id.clone(), reason: why.reason, code: why.code, diagnostic: why.diagnostic }
        })
        .collect();
    LayoutDecision {
        sections: shown,
        hidden,
        density,
        density_reason: density_why.reason,
        density_code: density_why.code,
        density_diagnostic: density_why.diagnostic,
        propensity,
        personalized,
    }
}

/// The personalized page: Thompson-sampled section order and visibility under the constraints,
/// plus a density choice; the propensity is estimated by re-drawing the whole policy.
pub(crate) fn personalized_layout(
    bandit: &mut Bandit,
    sections: &[SectionSpec],
    options: &LayoutOptions,
    shopper: &ShopperState,
    tuning: &LayoutTuning,
) -> Result<LayoutDecision, LayoutError> {
    let (slottings, slots) = check_input(sections, options)?;
    let x = shopper.features();
    let mut rng = bandit.next_rng();
    let beliefs = SectionBeliefs::new(bandit, sections, &x, tuning);
    let draw = draw_policy(&beliefs, sections, &mut rng);
    let placed = arrange(&slottings, slots, &draw).ok_or_else(|| diagnose(&ids(sections), &slottings, slots))?;
    let draws = bandit.params().propensity_draws;
    let matches = (0..draws)
        .filter(|_| {
            arrange(&slottings, slots, &draw_policy(&beliefs, sections, &mut rng)).as_deref() == Some(&placed[..])
        })
        .count();
    let layout_propensity = (matches + 1) as f64 / (f64::from(draws) + 1.0);
    let used: Vec<String> = placed.iter().map(|&i| sections[i].kind.arm_key()).collect();
    bandit.touch(&used);
    let (density, density_why, density_propensity) =
        choose_density(bandit, options.default_density, &x, tuning, &mut rng);
    let reason = |i: usize| {
        let section = &sections[i];
        let arm = section.kind.arm_key();
        let (label, seen) = (section.kind.label(), bandit.observations(&arm));
        let rate = rate_words(bandit.mean_probability(&arm, &x), seen);
        if section.required && slottings[i].min == slottings[i].max {
            Why::new(DecisionCode::ShopRule, SHOP_WORDS, format!("pinned to position {} by the shop", slottings[i].min))
        } else if draw.explored {
            let diagnostic = "exploring a new order to learn what this shopper likes".to_string();
            Why::new(DecisionCode::Exploring, "Trying a new order to learn what you like", diagnostic)
        } else if seen < tuning.min_evidence {
            let diagnostic = format!("still learning how this shopper engages with {label} sections ({rate})");
            Why::new(DecisionCode::Learning, SHOP_WORDS, diagnostic)
        } else {
            let sampled = draw.probabilities[i] * 100.0;
            let diagnostic =
                format!("this shopper engages with {label} sections ({rate} of views; sampled {sampled:.0}%)");
            Why::new(DecisionCode::Engages, "Placed by how you use this shop", diagnostic)
        }
    };
    let best = draw.probabilities.iter().copied().fold(0.0, f64::max);
    let unwanted = |i: usize| {
        (!sections[i].required && !draw.wanted.contains(&i)).then(|| {
            let diagnostic = format!(
                "this shopper rarely engages with {} sections (sampled {:.0}% vs {:.0}% for the best; {})",
                sections[i].kind.label(),
                draw.probabilities[i] * 100.0,
                best * 100.0,
                rate_words(
                    bandit.mean_probability(&sections[i].kind.arm_key(), &x),
                    bandit.observations(&sections[i].kind.arm_key())
                )
            );
            Why::new(DecisionCode::RarelyEngages, "Hidden because you rarely look at it", diagnostic)
        })
    };
    Ok(assemble(
        sections,
        &slottings,
        slots,
        &placed,
        reason,
        unwanted,
        density,
        density_why,
        layout_propensity * density_propensity,
        true,
    ))
}

/// How strongly a non-engagement at `position` counts: shoppers rarely see sections far down
/// the page, so silence there is weak evidence (1 / log2(position + 2)).
pub fn examination_weight(position: u32) -> f64 {
    1.0 / (f64::from(position) + 2.0).log2()
}

/// Key of the bandit arm that learns engagement with `kind`.
pub(crate) fn section_arm(kind: SectionKind) -> String {
    kind.arm_key()
}

#[cfg(test)]
mod tests;
