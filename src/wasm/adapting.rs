//! The `Personalizer` class's adaptation calls: layout, offers, copy variants, engagement hours,
//! decision outcomes and the lift bucket. Converts, calls the engine (see
//! `crate::personalizer::adapting`), converts back; refused input throws an `Error`.

use tsify::Ts;
use wasm_bindgen::prelude::*;

use crate::adapt::{
    AdapterConfig, CopyVariant, HoursParams, LayoutDecision, LiftBucket, OfferDecision, OfferSpec, PreferredHours,
    SectionSpec, ShopperState, VariantDecision,
};
use crate::catalog::Item;
use crate::error_code::ErrorCode;
use crate::personalizer::{DecisionOutcome, LayoutContext, OfferRequest};

use super::js_errors::{coded, thrown};
use super::js_values::{from_js, from_js_strict, to_js};
use super::personalizer::JsPersonalizer;

/// A crypto-random seed (`crypto.getRandomValues`) for the engine's first draw and its noise.
fn entropy() -> Result<u64, JsError> {
    getrandom::u64().map_err(|e| {
        thrown(ErrorCode::Unsupported, &format!("crypto.getRandomValues is unavailable ({e}); adaptation needs it"))
    })
}

/// Reads a JS array argument item by item, naming the bad entry.
fn list<T>(values: &[Ts<T>], what: &str) -> Result<Vec<T>, JsError>
where
    T: tsify::Tsify + serde::de::DeserializeOwned + serde::Serialize,
{
    let read = |(index, value)| from_js_strict(value, ErrorCode::InvalidArgument, &format!("{what} {index}"));
    values.iter().enumerate().map(read).collect()
}

#[wasm_bindgen(js_class = Personalizer)]
impl JsPersonalizer {
    /// Sets how adaptation behaves: the holdout share (default 0.1: one device in ten sees the
    /// shop's defaults everywhere, so the lift can be measured), bandit and layout tuning.
    /// Call once after `new Personalizer(...)`; from then on tracked events also count for the
    /// private lift report. Throws on an invalid setting.
    ///
    /// ```js
    /// p.configureAdaptation({ holdoutShare: 0.1, bandit: { exploration: 0.05 } });
    /// ```
    #[wasm_bindgen(js_name = configureAdaptation)]
    pub fn configure_adaptation(&self, config: Option<Ts<AdapterConfig>>) -> Result<(), JsError> {
        self.health.check()?;
        let config = match config {
            Some(config) => from_js_strict(&config, ErrorCode::InvalidConfig, "adaptation config")?,
            None => AdapterConfig::default(),
        };
        let seed = entropy()?;
        self.state()?.engine.configure_adaptation(config, seed).map_err(coded)
    }

    /// Orders the page's candidate sections, picks which optional ones to show and a density
    /// (`grid` or `list`), learned from how this shopper engages with each kind of section.
    /// Constraints always hold: required sections are shown, each within its
    /// `minPosition`..`maxPosition`. Use each section's `id` as the `placement` of its
    /// impressions and clicks, so engagement and lift are counted for it. Throws on empty or
    /// duplicate sections, unknown kinds and constraints no page can meet.
    ///
    /// ```js
    /// const page = p.chooseLayout([
    ///   { id: "hero", kind: "deals", required: true, minPosition: 0, maxPosition: 0 },
    ///   { id: "for-you", kind: "recommendedForYou", required: true },
    ///   { id: "new", kind: "newArrivals" },
    /// ], { maxSections: 3 });
    /// for (const s of page.sections) render(s.id, page.density); // s.reason explains the place
    /// ```
    #[wasm_bindgen(js_name = chooseLayout)]
    pub fn choose_layout(
        &self,
        sections: Vec<Ts<SectionSpec>>,
        context: Option<Ts<LayoutContext>>,
    ) -> Result<Ts<LayoutDecision>, JsError> {
        self.health.check()?;
        let sections = list(&sections, "section")?;
        let context = match context {
            Some(context) => from_js_strict(&context, ErrorCode::InvalidArgument, "layout context")?,
            None => LayoutContext::default(),
        };
        let seed = entropy()?;
        let decision =
            self.state()?.engine.choose_layout(&sections, &context, js_sys::Date::now(), seed).map_err(coded)?;
        to_js(&decision)
    }

    /// Picks at most one of the offers the server allows for this visitor (prices and terms
    /// stay the server's), from visit statistics and cart state, within each offer's frequency
    /// cap and cooldown. Every answer has a `reason`; `skipped` says why the others were not
    /// shown. Throws on empty lists, duplicate ids, unknown audience kinds and bad limits.
    ///
    /// ```js
    /// const { offerId, reason } = p.chooseOffer([
    ///   { id: "welcome-10", audience: [{ kind: "firstVisit" }] },
    ///   { id: "cart-back", audience: [{ kind: "cartAbandoned" }], limits: { cooldownHours: 24 } },
    ///   { id: "free-shipping", audience: [{ kind: "loyal", minOrders: 3 }] },
    /// ]);
    /// if (offerId) showBanner(offerId, reason);
    /// ```
    #[wasm_bindgen(js_name = chooseOffer)]
    pub fn choose_offer(
        &self,
        offers: Vec<Ts<OfferSpec>>,
        context: Option<Ts<OfferRequest>>,
    ) -> Result<Ts<OfferDecision>, JsError> {
        self.health.check()?;
        let offers = list(&offers, "offer")?;
        let request = match context {
            Some(context) => from_js_strict(&context, ErrorCode::InvalidArgument, "offer context")?,
            None => OfferRequest::default(),
        };
        let seed = entropy()?;
        let decision =
            self.state()?.engine.choose_offer(&offers, &request, js_sys::Date::now(), seed).map_err(coded)?;
        to_js(&decision)
    }

    /// Picks the text for an item that speaks to this shopper's interests or uses, with a
    /// reason, and learns from later clicks, carts and orders of the item. Tags are free text;
    /// a tag no interest mentions simply matches nothing. Throws on an invalid item, no
    /// variants, duplicate ids or empty tags.
    ///
    /// ```js
    /// const { variantId, reason } = p.chooseVariant(
    ///   { id: "jacket-1", categoryPath: ["Outdoor", "Jackets"], tags: ["waterproof"] },
    ///   [{ id: "city", text: "Stays dry on the way to work", tags: ["commute"] },
    ///    { id: "hills", text: "Built for muddy trails", tags: ["trail"] }],
    /// );
    /// ```
    #[wasm_bindgen(js_name = chooseVariant)]
    pub fn choose_variant(
        &self,
        item: Ts<Item>,
        variants: Vec<Ts<CopyVariant>>,
    ) -> Result<Ts<VariantDecision>, JsError> {
        self.health.check()?;
        let item: Item = from_js(&item, ErrorCode::InvalidItem, "item")?;
        let variants = list(&variants, "variant")?;
        let seed = entropy()?;
        let decision =
            self.state()?.engine.choose_variant(&item, &variants, js_sys::Date::now(), seed).map_err(coded)?;
        to_js(&decision)
    }

    /// The hours of the week this shopper is usually active (local time), for the shop's own
    /// on-device reminders; `{ status: "notEnoughData", ... }` until enough activity was seen.
    /// Computed from the local hour-of-week histogram and never synced.
    ///
    /// ```js
    /// const hours = p.preferredHours();
    /// if (hours.status === "ready") scheduleReminderAt(hours.hoursOfDay[0]);
    /// ```
    #[wasm_bindgen(js_name = preferredHours)]
    pub fn preferred_hours(&self, params: Option<Ts<HoursParams>>) -> Result<Ts<PreferredHours>, JsError> {
        self.health.check()?;
        let params = match params {
            Some(params) => from_js_strict(&params, ErrorCode::InvalidArgument, "hours params")?,
            None => HoursParams::default(),
        };
        let hours = self.state()?.engine.preferred_hours(&params).map_err(coded)?;
        to_js(&hours)
    }

    /// Reports how the shopper reacted to something a decision showed, for what `track` cannot
    /// see (an offer code applied, a section closed). Clicks, carts and orders tracked with a
    /// section's id as placement are learned from by themselves. Returns false while consent is
    /// `"none"`; throws when nothing of that id is waiting for an outcome.
    ///
    /// ```js
    /// p.recordDecisionOutcome({ kind: "offer", offerId: "welcome-10", takenUp: true });
    /// p.recordDecisionOutcome({ kind: "section", sectionId: "new", engaged: false });
    /// ```
    #[wasm_bindgen(js_name = recordDecisionOutcome)]
    pub fn record_decision_outcome(&self, outcome: Ts<DecisionOutcome>) -> Result<bool, JsError> {
        self.health.check()?;
        let outcome: DecisionOutcome = from_js_strict(&outcome, ErrorCode::InvalidArgument, "decision outcome")?;
        self.state()?.engine.record_decision_outcome(&outcome).map_err(coded)
    }

    /// This device's lift bucket: `"personalized"`, `"holdout"` (the shop's defaults
    /// everywhere), or `undefined` while consent is `"none"` or before adaptation was used.
    ///
    /// ```js
    /// if (p.liftBucket() === "holdout") console.info("this device helps measure the lift");
    /// ```
    #[wasm_bindgen(js_name = liftBucket)]
    pub fn lift_bucket(&self) -> Result<Option<Ts<LiftBucket>>, JsError> {
        let bucket = self.state()?.engine.lift_bucket();
        bucket.as_ref().map(to_js).transpose()
    }

    /// The shopper as the decisions see them now: segment, visits, orders, cart, the category
    /// being browsed, top interests, activity by hour of the week. Built from the profile on
    /// the device, never stored separately or sent; for a "why am I seeing this" panel.
    ///
    /// ```js
    /// const { segment, cartAbandoned, topInterests } = p.shopperState();
    /// ```
    #[wasm_bindgen(js_name = shopperState)]
    pub fn shopper_state(&self) -> Result<Ts<ShopperState>, JsError> {
        let shopper = self.state()?.engine.shopper_state(js_sys::Date::now());
        to_js(&shopper)
    }
}
