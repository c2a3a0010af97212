//! The adaptation calls: on the on-demand parts ([`OnDevice`]) they take the shopper as an
//! argument; on the engine they build the shopper from the profile, then call the parts.

use crate::adapt::{
    preferred_hours, AdapterConfig, CopyVariant, HoursParams, LayoutDecision, LiftBucket, OfferDecision, OfferSpec,
    PreferredHours, SectionSpec, ShopperState, VariantDecision,
};
use crate::catalog::Item;
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::personalizer::{OnDevice, Personalizer};
use crate::profile::ShopperClock;
use crate::storage::KeyValueStore;

use super::{adapt_time, AdaptationError, DecisionOutcome, LayoutContext, OfferRequest};

/// The parts' adaptation calls: one call into the adaptation part with the parts' context.
impl<S: KeyValueStore> OnDevice<S> {
    /// Sets the shop's adaptation settings. See [`super::Adaptation::configure`].
    pub fn configure_adaptation(&mut self, config: AdapterConfig, entropy: u64) -> Result<(), AdaptationError> {
        self.adaptation.configure(&self.ctx, config, entropy)
    }

    /// See [`super::Adaptation::choose_layout`].
    pub fn choose_layout(
        &mut self,
        shopper: ShopperState,
        sections: &[SectionSpec],
        context: &LayoutContext,
        entropy: u64,
    ) -> Result<LayoutDecision, AdaptationError> {
        self.adaptation.choose_layout(&mut self.ctx, shopper, sections, context, entropy)
    }

    /// See [`super::Adaptation::choose_offer`].
    pub fn choose_offer(
        &mut self,
        shopper: ShopperState,
        offers: &[OfferSpec],
        request: &OfferRequest,
        now_ms: f64,
        entropy: u64,
    ) -> Result<OfferDecision, AdaptationError> {
        adapt_time(now_ms)?;
        self.adaptation.choose_offer(&mut self.ctx, shopper, offers, request, now_ms, entropy)
    }

    /// See [`super::Adaptation::choose_variant`].
    pub fn choose_variant(
        &mut self,
        shopper: ShopperState,
        item: &Item,
        variants: &[CopyVariant],
        entropy: u64,
    ) -> Result<VariantDecision, AdaptationError> {
        self.adaptation.choose_variant(&mut self.ctx, shopper, item, variants, entropy)
    }

    /// See [`super::Adaptation::record_outcome`].
    pub fn record_decision_outcome(&mut self, outcome: &DecisionOutcome) -> Result<bool, AdaptationError> {
        self.adaptation.record_outcome(&mut self.ctx, outcome)
    }

    /// See [`super::Adaptation::lift_bucket`].
    pub fn lift_bucket(&mut self) -> Option<LiftBucket> {
        self.adaptation.lift_bucket(&mut self.ctx)
    }

    /// See [`super::Adaptation::take_lift_report`].
    pub fn take_lift_report(&mut self, config: &CheckedReportConfig, noise_seed: u64) -> Option<LiftReport> {
        self.adaptation.take_lift_report(&mut self.ctx, config, noise_seed)
    }
}

/// The engine's adaptation calls: the shopper from the profile, then one call into the parts.
impl<S: KeyValueStore> Personalizer<S> {
    /// See [`OnDevice::configure_adaptation`].
    ///
    /// ```js
    /// p.configureAdaptation({ holdoutShare: 0.1 });
    /// ```
    pub fn configure_adaptation(&mut self, config: AdapterConfig, entropy: u64) -> Result<(), AdaptationError> {
        self.extension.configure_adaptation(config, entropy)
    }

    /// See [`OnDevice::choose_layout`].
    pub fn choose_layout(
        &mut self,
        sections: &[SectionSpec],
        context: &LayoutContext,
        now_ms: f64,
        entropy: u64,
    ) -> Result<LayoutDecision, AdaptationError> {
        let shopper = self.decision_shopper(adapt_time(now_ms)?);
        self.extension.choose_layout(shopper, sections, context, entropy)
    }

    /// See [`OnDevice::choose_offer`].
    pub fn choose_offer(
        &mut self,
        offers: &[OfferSpec],
        request: &OfferRequest,
        now_ms: f64,
        entropy: u64,
    ) -> Result<OfferDecision, AdaptationError> {
        let shopper = self.decision_shopper(adapt_time(now_ms)?);
        self.extension.choose_offer(shopper, offers, request, now_ms, entropy)
    }

    /// See [`OnDevice::choose_variant`].
    pub fn choose_variant(
        &mut self,
        item: &Item,
        variants: &[CopyVariant],
        now_ms: f64,
        entropy: u64,
    ) -> Result<VariantDecision, AdaptationError> {
        let shopper = self.decision_shopper(adapt_time(now_ms)?);
        self.extension.choose_variant(shopper, item, variants, entropy)
    }

    /// See [`OnDevice::record_decision_outcome`].
    pub fn record_decision_outcome(&mut self, outcome: &DecisionOutcome) -> Result<bool, AdaptationError> {
        self.extension.record_decision_outcome(outcome)
    }

    /// See [`OnDevice::lift_bucket`].
    pub fn lift_bucket(&mut self) -> Option<LiftBucket> {
        self.extension.lift_bucket()
    }

    /// See [`OnDevice::take_lift_report`].
    pub fn take_lift_report(&mut self, config: &CheckedReportConfig, noise_seed: u64) -> Option<LiftReport> {
        self.extension.take_lift_report(config, noise_seed)
    }
}

/// The shopper as the decisions see them: core calls, with or without the on-demand parts.
impl<S: KeyValueStore, X: crate::personalizer::Extension> Personalizer<S, X> {
    /// The shopper as the decisions see them now (built from the profile; never stored or sent).
    pub fn shopper_state(&self, now_ms: f64) -> ShopperState {
        self.decision_shopper(crate::personalizer::view_time(now_ms))
    }

    /// The shopper for a decision at `now_ms` (what [`OnDevice`]'s decisions take), refusing a bad clock.
    pub fn shopper_for_decisions(&self, now_ms: f64) -> Result<ShopperState, AdaptationError> {
        Ok(self.decision_shopper(adapt_time(now_ms)?))
    }

    /// The hours of the week this shopper is usually active, from the local hour-of-week
    /// histogram. Computed on the device, never stored apart from the profile, never synced.
    pub fn preferred_hours(&self, params: &HoursParams) -> Result<PreferredHours, AdaptationError> {
        let histogram: Vec<f32> = self.profile.hour_of_week().buckets().iter().map(|&n| n as f32).collect();
        Ok(preferred_hours(&histogram, params)?)
    }

    /// The profile as decisions see it at `now_ms`, without anything sensitive.
    fn decision_shopper(&self, now_ms: u64) -> ShopperState {
        let clock = ShopperClock {
            now_ms,
            half_life_ms: self.ctx.config.affinity_half_life_ms(),
            session_timeout_ms: self.ctx.config.noise().session_timeout_ms,
            visit_counted: self.visit_counted,
        };
        self.profile.shopper_state(&clock).without_sensitive(self.ctx.config.sensitive_categories())
    }
}
