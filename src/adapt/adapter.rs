//! The adapter: one shopper's persisted adaptation state (bandit, offer history, lift bucket)
//! and the decision calls that read it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::bandit::{Bandit, BanditError, BanditParams, CheckedBanditParams};
use super::copy_variants::{
    personalized_variant, shop_default_variant, variant_arms, CopyVariant, VariantDecision, VariantError,
};
use super::layout::constraints::LayoutError;
use super::layout::density::density_arm;
use super::layout::{
    examination_weight, personalized_layout, section_arm, shop_default_layout, Density, LayoutDecision, LayoutOptions,
    LayoutTuning, SectionKind, SectionSpec,
};
use super::offers::choice::{no_offer_arm, offer_arm, personalized_offer, shop_default_offer};
use super::offers::history::OfferHistory;
use super::offers::{OfferContext, OfferDecision, OfferError, OfferSpec};
use crate::catalog::Item;
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;
use crate::measure::holdout::{HoldoutDraw, LiftBucket, DEFAULT_HOLDOUT_SHARE};
use crate::measure::{noised_report, CheckedReportConfig, LiftCounters, LiftReport};
use crate::profile::shopper_state::ShopperState;

/// Format version of [`AdaptState`].
pub const ADAPT_STATE_VERSION: u32 = 1;

/// Why the adapter's configuration or stored state was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AdaptError {
    #[error(transparent)]
    Bandit(#[from] BanditError),
    #[error("holdoutShare {} is not in [0, 1]: use e.g. 0.1 for a 10% holdout", Decimal(*.0))]
    BadHoldoutShare(f64),
    #[error("layout.hideBelow {} is not in (0, 1): use e.g. 0.35", Decimal(*.0))]
    BadHideBelow(f64),
    #[error("stored adaptation state has version {found}; this library reads up to {ADAPT_STATE_VERSION}: update the library or start fresh")]
    FutureVersion { found: u32 },
    #[error("stored holdout draw {} is not in [0, 1): the stored state is corrupt; start fresh", Decimal(*.0))]
    BadStoredDraw(f64),
    #[error("stored offer history is over its bounds or holds bad times: the stored state is corrupt; start fresh")]
    BadOfferHistory,
    #[error(
        "stored lift counters are negative, not finite or over their bounds: the stored state is corrupt; start fresh"
    )]
    BadLiftCounters,
}

impl Coded for AdaptError {
    fn code(&self) -> ErrorCode {
        match self {
            AdaptError::Bandit(error) => error.code(),
            AdaptError::BadHoldoutShare(_) | AdaptError::BadHideBelow(_) => ErrorCode::InvalidConfig,
            AdaptError::FutureVersion { .. }
            | AdaptError::BadStoredDraw(_)
            | AdaptError::BadOfferHistory
            | AdaptError::BadLiftCounters => ErrorCode::UnreadableState,
        }
    }
}

/// Everything the shop can tune about adaptation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct AdapterConfig {
    pub bandit: BanditParams,
    /// Share of devices in the holdout, in [0, 1]. Default 0.1.
    pub holdout_share: f64,
    #[cfg_attr(target_arch = "wasm32", tsify(type = "{ hideBelow: number; minEvidence: number }"))]
    pub layout: LayoutTuning,
    /// The merchant's sensitive categories: interests and the current category under them are
    /// dropped from every decision's input (a second guard; the profile never stores them).
    pub sensitive_categories: Vec<String>,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        AdapterConfig {
            bandit: BanditParams::default(),
            holdout_share: DEFAULT_HOLDOUT_SHARE,
            layout: LayoutTuning::default(),
            sensitive_categories: Vec::new(),
        }
    }
}

/// An [`AdapterConfig`] that passed its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedAdapterConfig {
    bandit: CheckedBanditParams,
    holdout_share: f64,
    layout: LayoutTuning,
    sensitive_categories: Vec<String>,
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
        Ok(CheckedAdapterConfig {
            bandit,
            holdout_share: self.holdout_share,
            layout: self.layout,
            sensitive_categories: self.sensitive_categories,
        })
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
    #[serde(default)]
    pub offer_history: OfferHistory,
    /// Lift counts since the last report.
    #[serde(default)]
    pub lift: LiftCounters,
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
        let state = AdaptState {
            version: ADAPT_STATE_VERSION,
            bandit,
            holdout: HoldoutDraw::from_seed(seed),
            offer_history: OfferHistory::default(),
            lift: LiftCounters::default(),
        };
        Ok(Adapter { config, state })
    }

    /// Resumes from a stored state, checking it. The config's bandit parameters replace the
    /// stored ones only in what they bound (the learned arms are kept).
    pub fn restore(config: AdapterConfig, mut state: AdaptState) -> Result<Adapter, AdaptError> {
        let config = config.check()?;
        if state.version > ADAPT_STATE_VERSION {
            return Err(AdaptError::FutureVersion { found: state.version });
        }
        state.bandit.validate()?;
        if HoldoutDraw::from_stored(state.holdout.value()).is_none() {
            return Err(AdaptError::BadStoredDraw(state.holdout.value()));
        }
        if !state.offer_history.is_valid() {
            return Err(AdaptError::BadOfferHistory);
        }
        state.lift.validate().map_err(|_| AdaptError::BadLiftCounters)?;
        state.bandit.reconfigure(config.bandit);
        Ok(Adapter { config, state })
    }

    /// The shopper without anything under the merchant's sensitive categories.
    fn clean(&self, shopper: &ShopperState) -> ShopperState {
        shopper.without_sensitive(&self.config.sensitive_categories)
    }

    pub fn state(&self) -> &AdaptState {
        &self.state
    }

    /// This device's lift bucket under the configured holdout share.
    pub fn bucket(&self) -> LiftBucket {
        self.config.holdout_share_bucket(&self.state.holdout)
    }

    /// Orders the page's sections, chooses the optional ones to show and the density.
    /// The holdout gets the shop's order (repaired only where it breaks a constraint) and density.
    pub fn choose_layout(
        &mut self,
        sections: &[SectionSpec],
        options: &LayoutOptions,
        shopper: &ShopperState,
    ) -> Result<LayoutDecision, LayoutError> {
        let shopper = &self.clean(shopper);
        match self.bucket() {
            LiftBucket::Holdout => shop_default_layout(sections, options),
            LiftBucket::Personalized => {
                personalized_layout(&mut self.state.bandit, sections, options, shopper, &self.config.layout)
            }
        }
    }

    /// Learns whether the shopper engaged (clicked into) a section of `kind` shown at `position`.
    /// Silence far down the page counts less (see [`examination_weight`]).
    pub fn learn_section(
        &mut self,
        kind: SectionKind,
        position: u32,
        engaged: bool,
        shopper: &ShopperState,
    ) -> Result<(), BanditError> {
        let shopper = &self.clean(shopper);
        let weight = if engaged { 1.0 } else { examination_weight(position) };
        self.state.bandit.learn(&section_arm(kind), &shopper.features(), f64::from(u8::from(engaged)), weight)
    }

    /// Learns whether a page shown with `density` was engaged with.
    pub fn learn_density(
        &mut self,
        density: Density,
        engaged: bool,
        shopper: &ShopperState,
    ) -> Result<(), BanditError> {
        let shopper = &self.clean(shopper);
        self.state.bandit.learn(density_arm(density), &shopper.features(), f64::from(u8::from(engaged)), 1.0)
    }

    /// Picks at most one of `offers` (all of which the server allows) and records it as shown.
    /// The holdout gets the first eligible offer in the shop's order.
    pub fn choose_offer(
        &mut self,
        offers: &[OfferSpec],
        context: &OfferContext,
        shopper: &ShopperState,
    ) -> Result<OfferDecision, OfferError> {
        let shopper = &self.clean(shopper);
        let state = &mut self.state;
        match self.config.holdout_share_bucket(&state.holdout) {
            LiftBucket::Holdout => shop_default_offer(&mut state.offer_history, offers, context, shopper),
            LiftBucket::Personalized => {
                personalized_offer(&mut state.bandit, &mut state.offer_history, offers, context, shopper)
            }
        }
    }

    /// Learns whether the shopper took up the offer shown (`None`: no offer was shown and
    /// `converted` says whether they bought anyway; counts only where `allowNone` is used).
    pub fn learn_offer(
        &mut self,
        offer_id: Option<&str>,
        taken_up: bool,
        shopper: &ShopperState,
    ) -> Result<(), BanditError> {
        let shopper = &self.clean(shopper);
        let key = offer_id.map_or_else(|| no_offer_arm().to_string(), offer_arm);
        self.state.bandit.learn(&key, &shopper.features(), f64::from(u8::from(taken_up)), 1.0)
    }

    /// Picks the text for `item` that speaks to this shopper; the holdout gets the first.
    pub fn choose_variant(
        &mut self,
        item: &Item,
        variants: &[CopyVariant],
        shopper: &ShopperState,
    ) -> Result<VariantDecision, VariantError> {
        let shopper = &self.clean(shopper);
        match self.bucket() {
            LiftBucket::Holdout => shop_default_variant(item, variants),
            LiftBucket::Personalized => personalized_variant(&mut self.state.bandit, item, variants, shopper),
        }
    }

    /// Learns whether the shopper engaged (clicked, carted) after reading the variant with `tags`.
    /// Each tag gets an equal share of the evidence.
    pub fn learn_variant(&mut self, tags: &[String], engaged: bool, shopper: &ShopperState) -> Result<(), BanditError> {
        let shopper = &self.clean(shopper);
        let arms = variant_arms(tags);
        let weight = 1.0 / arms.len() as f64;
        for arm in &arms {
            self.state.bandit.learn(arm, &shopper.features(), f64::from(u8::from(engaged)), weight)?;
        }
        Ok(())
    }

    /// The lift counters, to record impressions, clicks, carts, orders and sessions.
    pub fn lift_counters_mut(&mut self) -> &mut LiftCounters {
        &mut self.state.lift
    }

    /// Ends the reporting period: returns the clipped, noised report of this device's counts
    /// (tagged with its bucket) and resets the counters. `noise_seed` must come from a crypto
    /// random source, fresh for every report.
    pub fn take_lift_report(&mut self, config: &CheckedReportConfig, noise_seed: u64) -> LiftReport {
        self.take_lift_report_with(config, &mut crate::measure::gaussian::decision_rng(noise_seed, 0))
    }

    /// [`Self::take_lift_report`] from a full 256-bit seed (what the sync path uses).
    pub fn take_lift_report_seeded(&mut self, config: &CheckedReportConfig, noise_seed: [u8; 32]) -> LiftReport {
        use rand::SeedableRng;
        self.take_lift_report_with(config, &mut rand_chacha::ChaCha8Rng::from_seed(noise_seed))
    }

    fn take_lift_report_with(&mut self, config: &CheckedReportConfig, rng: &mut rand_chacha::ChaCha8Rng) -> LiftReport {
        let report = noised_report(&self.state.lift, self.bucket(), config, rng);
        self.state.lift.reset();
        report
    }
}

impl CheckedAdapterConfig {
    fn holdout_share_bucket(&self, draw: &HoldoutDraw) -> LiftBucket {
        draw.bucket(self.holdout_share)
    }
}

#[cfg(test)]
#[path = "adapter_tests.rs"]
mod tests;
