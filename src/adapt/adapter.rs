//! The adapter: one shopper's persisted adaptation state (bandit, offer history, lift bucket)
//! and the decision calls that read it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::bandit::{Bandit, BanditError, BanditParams, CheckedBanditParams};
use super::holdout::{HoldoutDraw, LiftBucket, DEFAULT_HOLDOUT_SHARE};
use super::layout::{
    density_arm, examination_weight, personalized_layout, section_arm, shop_default_layout, Density, LayoutDecision,
    LayoutOptions, LayoutTuning, SectionKind, SectionSpec,
};
use super::layout_constraints::LayoutError;
use super::shopper::ShopperState;

/// Format version of [`AdaptState`].
pub const ADAPT_STATE_VERSION: u32 = 1;

/// Why the adapter's configuration or stored state was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AdaptError {
    #[error(transparent)]
    Bandit(#[from] BanditError),
    #[error("holdoutShare {0} is not in [0, 1]: use e.g. 0.1 for a 10% holdout")]
    BadHoldoutShare(f64),
    #[error("layout.hideBelow {0} is not in (0, 1): use e.g. 0.35")]
    BadHideBelow(f64),
    #[error("stored adaptation state has version {found}; this library reads up to {ADAPT_STATE_VERSION}: update the library or start fresh")]
    FutureVersion { found: u32 },
    #[error("stored holdout draw {0} is not in [0, 1): the stored state is corrupt; start fresh")]
    BadStoredDraw(f64),
}

/// Everything the shop can tune about adaptation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct AdapterConfig {
    pub bandit: BanditParams,
    /// Share of devices in the holdout, in [0, 1]. Default 0.1.
    #[serde(default = "default_share")]
    pub holdout_share: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(type = "{ hideBelow: number; minEvidence: number }"))]
    pub layout: LayoutTuning,
}

fn default_share() -> f64 {
    DEFAULT_HOLDOUT_SHARE
}

/// An [`AdapterConfig`] that passed its checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedAdapterConfig {
    bandit: CheckedBanditParams,
    holdout_share: f64,
    layout: LayoutTuning,
}

impl AdapterConfig {
    pub fn check(self) -> Result<CheckedAdapterConfig, AdaptError> {
        let bandit = self.bandit.check()?;
        if !(0.0..=1.0).contains(&self.holdout_share) {
            return Err(AdaptError::BadHoldoutShare(self.holdout_share));
        }
        if !(self.layout.hide_below > 0.0 && self.layout.hide_below < 1.0) {
            return Err(AdaptError::BadHideBelow(self.layout.hide_below));
        }
        Ok(CheckedAdapterConfig { bandit, holdout_share: self.holdout_share, layout: self.layout })
    }
}

/// The persisted part: goes into the profile's envelope; bounded by the bandit's `maxArms` and
/// the offer history's caps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdaptState {
    pub version: u32,
    pub bandit: Bandit,
    pub holdout: HoldoutDraw,
}

/// One shopper's adaptation decisions.
#[derive(Debug, Clone)]
pub struct Adapter {
    config: CheckedAdapterConfig,
    state: AdaptState,
}

impl Adapter {
    /// A fresh adapter; `seed` seeds the bandit and the holdout draw (take it from a crypto
    /// random source once, when the profile is created).
    pub fn new(config: AdapterConfig, seed: u64) -> Result<Adapter, AdaptError> {
        let config = config.check()?;
        let bandit = Bandit::new(config.bandit, seed);
        let state = AdaptState { version: ADAPT_STATE_VERSION, bandit, holdout: HoldoutDraw::from_seed(seed) };
        Ok(Adapter { config, state })
    }

    /// Resumes from a stored state, checking it. The config's bandit parameters replace the
    /// stored ones only in what they bound (the learned arms are kept).
    pub fn restore(config: AdapterConfig, state: AdaptState) -> Result<Adapter, AdaptError> {
        let config = config.check()?;
        if state.version > ADAPT_STATE_VERSION {
            return Err(AdaptError::FutureVersion { found: state.version });
        }
        state.bandit.validate()?;
        if HoldoutDraw::from_stored(state.holdout.value()).is_none() {
            return Err(AdaptError::BadStoredDraw(state.holdout.value()));
        }
        Ok(Adapter { config, state })
    }

    pub fn state(&self) -> &AdaptState {
        &self.state
    }

    /// This device's lift bucket under the configured holdout share.
    pub fn bucket(&self) -> LiftBucket {
        self.state.holdout.bucket(self.config.holdout_share)
    }

    /// Orders the page's sections, chooses the optional ones to show and the density.
    /// The holdout gets the shop's order (repaired only where it breaks a constraint) and density.
    pub fn choose_layout(
        &mut self,
        sections: &[SectionSpec],
        options: &LayoutOptions,
        shopper: &ShopperState,
    ) -> Result<LayoutDecision, LayoutError> {
        match self.bucket() {
            LiftBucket::Holdout => shop_default_layout(sections, options),
            LiftBucket::Personalized => {
                personalized_layout(&mut self.state.bandit, sections, options, shopper, &self.config.layout)
            }
        }
    }

    /// Learns whether the shopper engaged (clicked into) a section of `kind` shown at `position`.
    /// Silence far down the page counts less (see [`examination_weight`]).
    pub fn learn_section(&mut self, kind: SectionKind, position: u32, engaged: bool, shopper: &ShopperState) -> Result<(), BanditError> {
        let weight = if engaged { 1.0 } else { examination_weight(position) };
        self.state.bandit.learn(&section_arm(kind), &shopper.features(), f64::from(u8::from(engaged)), weight)
    }

    /// Learns whether a page shown with `density` was engaged with.
    pub fn learn_density(&mut self, density: Density, engaged: bool, shopper: &ShopperState) -> Result<(), BanditError> {
        self.state.bandit.learn(density_arm(density), &shopper.features(), f64::from(u8::from(engaged)), 1.0)
    }
}
