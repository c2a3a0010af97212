//! Adaptation on the engine: layout, offer and copy decisions from the real profile, learning
//! from what the shopper then does, the persistent holdout bucket and the private lift counters.
//!
//! Consent rules as for the profile: `none` personalizes nothing (the shop's defaults, with a
//! reason saying so) and keeps nothing; `session` keeps the state in memory only; `full` keeps
//! it under `shop-personalizer:<shop>:adapt` (see `store.rs`), merged with what other tabs of
//! the shop store there (see `tabs.rs`). Bad input is refused before anything is learned or
//! stored.
//!
//! Randomness: `entropy` arguments must come from a crypto random source (the facade uses
//! `crypto.getRandomValues`); one seeds this device's state the first time it is created (its
//! holdout draw included), later ones are unused. Tests pass fixed values.

mod engine_calls;
mod feedback;
mod no_consent;
mod request;
mod store;
use crate::adapt::copy_variants::shop_default_variant;
use crate::adapt::layout::shop_default_layout;
use crate::adapt::offers::parse_offers;
use crate::adapt::{
    Adapter, AdapterConfig, CopyVariant, LayoutDecision, LiftBucket, OfferContext, OfferDecision, OfferSpec,
    SectionSpec, ShopperState, VariantDecision,
};
use crate::catalog::{Item, CATEGORY_SEPARATOR};
use crate::collect::event::TrackEvent;
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::storage::KeyValueStore;

use super::{check_time, Context};
use feedback::{DecisionContext, Feedback, OfferExposure, VariantExposure};
use no_consent::{layout_without_consent, offer_without_consent};
use request::category_text;

pub use request::{AdaptationError, DecisionOutcome, LayoutContext, OfferRequest};
pub use store::{adapt_key, stored_holdout_draw, ADAPT_FORMAT_NAME, ADAPT_FORMAT_VERSION};

/// The diagnostic every decision gives while consent is `none` (never shopper text).
pub const NO_CONSENT_REASON: &str =
    "consent is \"none\": the shop's default, nothing personalized or stored (call setConsent to personalize)";

/// The engine's adaptation part (one field of [`super::Personalizer`]).
#[derive(Debug, Default)]
pub struct Adaptation {
    config: AdapterConfig,
    adapter: Option<Adapter>,
    feedback: Feedback,
    /// Entropy given with `configure_adaptation`, to create the state on a tracked event.
    entropy: Option<u64>,
    /// The stored state was read (or found absent) under the current consent.
    loaded: bool,
    dirty: bool,
    /// An unreadable stored state could not be backed up: never write over it.
    blocked: bool,
    /// What this tab knows of the stored state, to merge other tabs' writes.
    tabs: tabs::AdaptTabs,
}

impl Adaptation {
    /// Forgets everything in memory (`forget()`, consent dropped to `none`); the config stays.
    pub fn wipe(&mut self) {
        *self = Adaptation { config: std::mem::take(&mut self.config), entropy: self.entropy, ..Adaptation::default() };
    }

    /// Stored data was deleted (consent lowered below `full`, or `forget()`).
    pub fn stored_deleted(&mut self) {
        self.blocked = false;
        self.loaded = false;
        self.tabs.clear();
    }

    /// Drops every mention of an item found to be sensitive (attribution, copy waiting for an
    /// outcome); the next save writes the state without it.
    pub fn forget_item(&mut self, item_id: &str) {
        if self.feedback.forget_item(item_id) {
            self.dirty = true;
        }
    }

    /// Consent now allows persisting: the next use reads the stored state, or writes this one.
    pub fn persisting_again(&mut self) {
        self.loaded = false;
        self.dirty = self.adapter.is_some();
    }
}

impl Adaptation {
    /// Sets the shop's adaptation settings (holdout share, bandit and layout tuning; the config's
    /// sensitive categories are always added). Call once after creating the personalizer; with
    /// it, tracked events count for the lift report even before the first decision.
    pub fn configure<S: KeyValueStore>(
        &mut self,
        ctx: &Context<S>,
        config: AdapterConfig,
        entropy: u64,
    ) -> Result<(), AdaptationError> {
        let mut config = config;
        for category in ctx.config.sensitive_categories() {
            if !config.sensitive_categories.iter().any(|c| c.eq_ignore_ascii_case(category)) {
                config.sensitive_categories.push(category.clone());
            }
        }
        config.clone().check()?;
        if let Some(adapter) = &self.adapter {
            let resumed = Adapter::restore(config.clone(), adapter.state().clone())?;
            self.adapter = Some(resumed);
        }
        self.config = config;
        self.entropy = Some(entropy);
        Ok(())
    }

    /// Orders the page's sections under their constraints, picks the optional ones to show and a
    /// density, for `shopper` (the profile as decisions see it). See `LayoutDecision` for the
    /// reasons and the propensity.
    pub fn choose_layout<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        shopper: ShopperState,
        sections: &[SectionSpec],
        context: &LayoutContext,
        entropy: u64,
    ) -> Result<LayoutDecision, AdaptationError> {
        let options = context.options();
        let default = shop_default_layout(sections, &options)?;
        let category = page_category(ctx, context.category.as_deref())?;
        if !self.ready(ctx, Some(entropy)) {
            return Ok(layout_without_consent(default));
        }
        let shopper = on_page(shopper, category);
        let Adaptation { adapter: Some(adapter), feedback, .. } = self else {
            return Ok(layout_without_consent(default));
        };
        feedback.settle_layout(adapter)?;
        let decision = adapter.choose_layout(sections, &options, &shopper)?;
        feedback.replace_layout(adapter, &decision, DecisionContext::of(&shopper))?;
        self.changed(ctx);
        Ok(decision)
    }

    /// Picks at most one of the offers the server allows for this visitor, with its reason.
    pub fn choose_offer<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        shopper: ShopperState,
        offers: &[OfferSpec],
        request: &OfferRequest,
        now_ms: f64,
        entropy: u64,
    ) -> Result<OfferDecision, AdaptationError> {
        let context = OfferContext { now_ms, allow_none: request.allow_none };
        parse_offers(offers, &context)?;
        let category = page_category(ctx, request.category.as_deref())?;
        if !self.ready(ctx, Some(entropy)) {
            return offer_without_consent(offers, &context);
        }
        let shopper = on_page(shopper, category);
        let Adaptation { adapter: Some(adapter), feedback, .. } = self else {
            return offer_without_consent(offers, &context);
        };
        feedback.settle_offer(adapter)?;
        let decision = adapter.choose_offer(offers, &context, &shopper)?;
        let learnable = decision.offer_id.is_some() || (request.allow_none && decision.personalized);
        feedback.offer = learnable.then(|| OfferExposure {
            offer_id: decision.offer_id.clone(),
            converted: false,
            context: DecisionContext::of(&shopper),
        });
        self.changed(ctx);
        Ok(decision)
    }

    /// Picks the text for `item` that speaks to this shopper. Items in a sensitive category get
    /// the shop's first text and leave no trace.
    pub fn choose_variant<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        shopper: ShopperState,
        item: &Item,
        variants: &[CopyVariant],
        entropy: u64,
    ) -> Result<VariantDecision, AdaptationError> {
        let mut default = shop_default_variant(item, variants)?;
        if item.attributes.is_in_any_category(ctx.config.sensitive_categories()) {
            default.diagnostic =
                "the shop's default text: this item is in a sensitive category, so it is never personalized".into();
            return Ok(default);
        }
        if !self.ready(ctx, Some(entropy)) {
            default.diagnostic = NO_CONSENT_REASON.into();
            return Ok(default);
        }
        let Adaptation { adapter: Some(adapter), feedback, .. } = self else {
            return Ok(default);
        };
        feedback.settle_variant(adapter, &item.id)?;
        let decision = adapter.choose_variant(item, variants, &shopper)?;
        let tags = variants.iter().find(|v| v.id == decision.variant_id).map(|v| v.tags.clone()).unwrap_or_default();
        let shown = VariantExposure {
            item_id: item.id.clone(),
            variant_id: decision.variant_id.clone(),
            tags,
            engaged: false,
            context: DecisionContext::of(&shopper),
        };
        feedback.push_variant(adapter, shown)?;
        self.changed(ctx);
        Ok(decision)
    }

    /// Learns from an outcome the page reports for something a decision showed. Returns false
    /// (and learns nothing) while consent is `none`.
    pub fn record_outcome<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        outcome: &DecisionOutcome,
    ) -> Result<bool, AdaptationError> {
        if !self.ready(ctx, None) {
            return Ok(false);
        }
        let Adaptation { adapter: Some(adapter), feedback, .. } = self else {
            return Ok(false);
        };
        match outcome {
            DecisionOutcome::Section { section_id, engaged } => {
                let page = feedback.layout.as_mut();
                let found = page.and_then(|p| p.sections.iter().position(|s| &s.id == section_id).map(|i| (p, i)));
                let Some((page, index)) = found else {
                    return Err(AdaptationError::UnknownSection(section_id.clone()));
                };
                let section = page.sections.remove(index);
                page.engaged |= *engaged;
                adapter.learn_section(section.kind, section.position, *engaged, &page.context.shopper())?;
            }
            DecisionOutcome::Offer { offer_id, taken_up } => {
                let Some(shown) = feedback.offer.take_if(|o| o.offer_id.as_ref() == Some(offer_id)) else {
                    return Err(AdaptationError::UnknownOffer(offer_id.clone()));
                };
                adapter.learn_offer(Some(offer_id), *taken_up, &shown.context.shopper())?;
            }
            DecisionOutcome::Variant { item_id, variant_id, engaged } => {
                let waiting =
                    feedback.variants.iter().position(|v| &v.item_id == item_id && &v.variant_id == variant_id);
                let Some(index) = waiting else {
                    return Err(AdaptationError::UnknownVariant { item: item_id.clone(), variant: variant_id.clone() });
                };
                let shown = feedback.variants.remove(index);
                adapter.learn_variant(&shown.tags, *engaged, &shown.context.shopper())?;
            }
        }
        self.changed(ctx);
        Ok(true)
    }

    /// This device's lift bucket (`None` while consent is `none` or before any adaptation state).
    pub fn lift_bucket<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) -> Option<LiftBucket> {
        self.ready(ctx, None).then(|| self.adapter.as_ref().map(Adapter::bucket)).flatten()
    }

    /// Ends the lift-reporting period: the clipped, noised vector of this device's counts (the
    /// only form in which they may leave the device, through the sync path) and fresh counters.
    /// `noise_seed` must be crypto-random and fresh for every report. `None` without consent or
    /// adaptation state.
    pub fn take_lift_report<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        config: &CheckedReportConfig,
        noise_seed: u64,
    ) -> Option<LiftReport> {
        if !self.ready(ctx, None) {
            return None;
        }
        let report = self.adapter.as_mut()?.take_lift_report(config, noise_seed);
        self.changed(ctx);
        Some(report)
    }

    /// The sync path's lift report: like [`Self::take_lift_report`] from a 256-bit crypto seed,
    /// but only when something was counted since the last report (nothing is due otherwise).
    pub fn take_due_lift_report<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        config: &CheckedReportConfig,
        seed: [u8; 32],
    ) -> Option<LiftReport> {
        if !self.ready(ctx, None) {
            return None;
        }
        let adapter = self.adapter.as_mut()?;
        let lift = &adapter.state().lift;
        if lift.sessions() < 1.0 && lift.placements().is_empty() {
            return None;
        }
        let report = adapter.take_lift_report_seeded(config, seed);
        self.changed(ctx);
        Some(report)
    }

    /// Counts a recorded event for lift and notes engagement with what decisions showed.
    pub fn observe<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, event: &TrackEvent, new_session: bool) {
        if !self.ready(ctx, None) {
            return;
        }
        if let Adaptation { adapter: Some(adapter), feedback, dirty, .. } = self {
            feedback.observe(event, new_session, adapter.lift_counters_mut());
            *dirty = true;
        }
    }

    /// Merges what other tabs stored and writes the adaptation state if it changed (consent `full`
    /// only); problems become warnings.
    pub fn save_or_warn<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) {
        if !ctx.consent.persists() || self.blocked || self.adapter.is_none() {
            return;
        }
        // Another tab may have written since (or dropped this tab's last write): merge it in first.
        self.refresh(ctx);
        if self.blocked || !self.dirty {
            return;
        }
        match self.write(ctx) {
            Ok(()) => self.dirty = false,
            Err(warning) => ctx.warn(warning),
        }
    }

    fn changed<S: KeyValueStore>(&mut self, ctx: &mut Context<S>) {
        self.dirty = true;
        self.save_or_warn(ctx);
    }

    /// Makes the state available: reads it from the store under `full` consent, or creates it
    /// from `entropy` (or the entropy given at configuration). False while consent is `none`
    /// or when there is no state and no entropy to create one.
    fn ready<S: KeyValueStore>(&mut self, ctx: &mut Context<S>, entropy: Option<u64>) -> bool {
        if !ctx.consent.collects() {
            return false;
        }
        if ctx.consent.persists() {
            // Reads the stored state the first time, and whatever other tabs wrote since.
            self.refresh(ctx);
        }
        if self.adapter.is_none() {
            let Some(seed) = entropy.or(self.entropy) else {
                return false;
            };
            // The config was checked when it was set; a failure here leaves adaptation off.
            let Ok(adapter) = Adapter::new(self.config.clone(), seed) else {
                return false;
            };
            self.adapter = Some(adapter);
            self.tabs.created_from = Some(seed);
            self.dirty = true;
        }
        true
    }
}

/// The shopper on a page of `category` (already checked not to be sensitive).
fn on_page(mut shopper: ShopperState, category: Option<String>) -> ShopperState {
    if category.is_some() {
        shopper.current_category = category;
    }
    shopper
}

/// The page's category as a path text; a sensitive one is dropped, never used.
fn page_category<S: KeyValueStore>(
    ctx: &Context<S>,
    path: Option<&[String]>,
) -> Result<Option<String>, AdaptationError> {
    let Some(path) = path else { return Ok(None) };
    let text = category_text(path)?;
    let sensitive = ctx.config.sensitive_categories();
    let is_sensitive =
        text.split(CATEGORY_SEPARATOR).any(|level| sensitive.iter().any(|s| s.trim().eq_ignore_ascii_case(level)));
    Ok((!is_sensitive).then_some(text))
}

pub(super) fn adapt_time(now_ms: f64) -> Result<u64, AdaptationError> {
    check_time(now_ms).map_err(|_| AdaptationError::BadTime(now_ms))
}

mod tabs;

#[cfg(test)]
mod tests;
