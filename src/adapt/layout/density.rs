//! The density half of the layout decision: grid or list, the shop's default until this
//! shopper's preference has been seen `minEvidence` times, then Thompson sampling between the two.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::LayoutTuning;
use crate::adapt::bandit::{argmax, Bandit};
use crate::adapt::why::{rate_words, DecisionCode, Why};
use crate::profile::shopper_state::CONTEXT_FEATURES;

/// Grid of tiles or a list of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Density {
    #[default]
    Grid,
    List,
}

impl Density {
    pub(crate) fn arm_key(self) -> &'static str {
        match self {
            Density::Grid => "density:grid",
            Density::List => "density:list",
        }
    }
}

/// Key of the bandit arm that learns engagement with `density`.
pub(crate) fn density_arm(density: Density) -> &'static str {
    density.arm_key()
}

pub(crate) fn choose_density(
    bandit: &Bandit,
    default: Density,
    x: &[f32; CONTEXT_FEATURES],
    tuning: &LayoutTuning,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> (Density, Why, f64) {
    let other = other_of(default);
    let epsilon = bandit.params().exploration;
    let evidence = bandit.observations(default.arm_key()) + bandit.observations(other.arm_key());
    let exploring = || Why::new(DecisionCode::Exploring, "Trying another view", "exploring the other density".into());
    if evidence < tuning.min_evidence {
        return if rng.random::<f64>() < epsilon {
            (other, exploring(), epsilon)
        } else {
            let diagnostic = format!(
                "the shop's default density until this shopper's preference is known ({evidence} observations)"
            );
            (default, Why::new(DecisionCode::Learning, super::SHOP_WORDS, diagnostic), 1.0 - epsilon)
        };
    }
    let keys = [default.arm_key().to_string(), other.arm_key().to_string()];
    let sample = |rng: &mut rand_chacha::ChaCha8Rng| argmax(&bandit.sample_logits(&keys, x, rng));
    let explored = rng.random::<f64>() < epsilon;
    let index = if explored { rng.random_range(0..2) } else { sample(rng) };
    let draws = bandit.params().propensity_draws;
    let wins = (0..draws).filter(|_| sample(rng) == index).count() + usize::from(!explored);
    let total = f64::from(draws) + if explored { 0.0 } else { 1.0 };
    let propensity = epsilon / 2.0 + (1.0 - epsilon) * wins as f64 / total;
    let density = if index == 0 { default } else { other };
    let label = |d: Density| rate_words(bandit.mean_probability(d.arm_key(), x), bandit.observations(d.arm_key()));
    let why = if explored {
        exploring()
    } else {
        let diagnostic = format!(
            "engagement with {:?}: {} vs {:?}: {}",
            density,
            label(density),
            other_of(density),
            label(other_of(density))
        );
        Why::new(DecisionCode::Engages, "Shown the way you tend to browse", diagnostic)
    };
    (density, why, propensity)
}

fn other_of(density: Density) -> Density {
    match density {
        Density::Grid => Density::List,
        Density::List => Density::Grid,
    }
}
