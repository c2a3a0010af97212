//! The engine's adaptation calls: the shopper as decisions see it, built from the profile, then
//! one call into the adaptation part.

use crate::adapt::{
    preferred_hours, AdapterConfig, CopyVariant, HoursParams, LayoutDecision, LiftBucket, OfferDecision, OfferSpec,
    PreferredHours, SectionSpec, ShopperState, VariantDecision,
};
use crate::catalog::Item;
use crate::measure::{CheckedReportConfig, LiftReport};
use crate::personalizer::Personalizer;
use crate::profile::ShopperClock;
use crate::storage::KeyValueStore;

use super::{adapt_time, AdaptationError, DecisionOutcome, LayoutContext, OfferRequest};

/// The engine's adaptation calls: the shopper from the profile, then one call into the part.
impl<S: KeyValueStore> Personalizer<S> {
    /// Sets the shop's adaptation settings. See [`Adaptation::configure`].
    ///
    /// ```js
    /// p.configureAdaptation({ holdoutShare: 0.1 });
    /// ```
    pub fn configure_adaptation(&mut self, config: AdapterConfig, entropy: u64) -> Result<(), AdaptationError> {
        self.extension.adaptation.configure(&self.ctx, config, entropy)
    }

    /// The shopper as the decisions see them now (built from the profile; never stored or sent).
    pub fn shopper_state(&self, now_ms: f64) -> ShopperState {
        self.decision_shopper(crate::personalizer::view_time(now_ms))
    }

    /// See [`Adaptation::choose_layout`].
    pub fn choose_layout(
        &mut self,
        sections: &[SectionSpec],
        context: &LayoutContext,
        now_ms: f64,
        entropy: u64,
    ) -> Result<LayoutDecision, AdaptationError> {
        let shopper = self.decision_shopper(adapt_time(now_ms)?);
        self.extension.adaptation.choose_layout(&mut self.ctx, shopper, sections, context, entropy)
    }

    /// See [`Adaptation::choose_offer`].
    pub fn choose_offer(
        &mut self,
        offers: &[OfferSpec],
        request: &OfferRequest,
        now_ms: f64,
        entropy: u64,
    ) -> Result<OfferDecision, AdaptationError> {
        let shopper = self.decision_shopper(adapt_time(now_ms)?);
        self.extension.adaptation.choose_offer(&mut self.ctx, shopper, offers, request, now_ms, entropy)
    }

    /// See [`Adaptation::choose_variant`].
    pub fn choose_variant(
        &mut self,
        item: &Item,
        variants: &[CopyVariant],
        now_ms: f64,
        entropy: u64,
    ) -> Result<VariantDecision, AdaptationError> {
        let shopper = self.decision_shopper(adapt_time(now_ms)?);
        self.extension.adaptation.choose_variant(&mut self.ctx, shopper, item, variants, entropy)
    }

    /// The hours of the week this shopper is usually active, from the local hour-of-week
    /// histogram. Computed on the device, never stored apart from the profile, never synced.
    pub fn preferred_hours(&self, params: &HoursParams) -> Result<PreferredHours, AdaptationError> {
        let histogram: Vec<f32> = self.profile.hour_of_week().buckets().iter().map(|&n| n as f32).collect();
        Ok(preferred_hours(&histogram, params)?)
    }

    /// See [`Adaptation::record_outcome`].
    pub fn record_decision_outcome(&mut self, outcome: &DecisionOutcome) -> Result<bool, AdaptationError> {
        self.extension.adaptation.record_outcome(&mut self.ctx, outcome)
    }

    /// See [`Adaptation::lift_bucket`].
    pub fn lift_bucket(&mut self) -> Option<LiftBucket> {
        self.extension.adaptation.lift_bucket(&mut self.ctx)
    }

    /// See [`Adaptation::take_lift_report`].
    pub fn take_lift_report(&mut self, config: &CheckedReportConfig, noise_seed: u64) -> Option<LiftReport> {
        self.extension.adaptation.take_lift_report(&mut self.ctx, config, noise_seed)
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
