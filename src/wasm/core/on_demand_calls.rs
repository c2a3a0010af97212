//! The `Personalizer` calls served by the on-demand module: adaptation (layout, offers, copy
//! variants, decision outcomes, the lift bucket) and sync. `configureAdaptation` and
//! `configureSync` load the module the first time and resolve once it is ready; the other calls
//! forward the page's values unchanged (the on-demand module reads and checks them) with the
//! shopper as decisions see them, built here from the profile. Also the two shopper views the
//! core answers itself: `shopperState` and `preferredHours`.

use js_sys::Promise;
use tsify::Ts;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::adapt::{
    AdapterConfig, HoursParams, LayoutDecision, LiftBucket, OfferDecision, PreferredHours, ShopperState,
    VariantDecision,
};
use crate::catalog::Item;
use crate::personalizer::{DecisionOutcome, LayoutContext, OfferRequest, SyncSetup};
use crate::privacy::LedgerSummary;
use crate::storage::json_text::JsonText;
use crate::wasm::js_errors::coded;

use super::input_reading::read_hours_params;
use super::json_results::to_js;
use super::parts_port::PartsHandle;
use super::personalizer::JsPersonalizer;

impl JsPersonalizer {
    /// Under consent `full`, loads the parts at once when this device has state of theirs stored.
    pub(super) fn load_parts_if_stored(&self) {
        if self.parts.handle().is_some() {
            return;
        }
        let due = self.state.try_borrow().is_ok_and(|s| s.engine.consent().persists() && s.engine.parts_state_stored());
        if due {
            self.parts.load_in_background(&self.state);
        }
    }

    /// The shopper for a decision now, as JSON for the on-demand module.
    fn decision_shopper(&self, now_ms: f64) -> Result<String, JsError> {
        let shopper = self.state()?.engine.shopper_for_decisions(now_ms).map_err(coded)?;
        Ok(shopper.json_text())
    }

    /// Loads the parts, then runs `configure` on them; resolves to `undefined`.
    fn configure_parts(&self, configure: impl FnOnce(&PartsHandle) -> Result<(), JsValue> + 'static) -> Promise {
        if let Err(error) = self.health.check() {
            return Promise::reject(&error.into());
        }
        let loading = self.parts.load(&self.state);
        future_to_promise(async move {
            let parts: PartsHandle = JsFuture::from(loading).await?.unchecked_into();
            configure(&parts)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The typed result of a call the on-demand module answered.
fn answered<T: tsify::Tsify>(value: Result<JsValue, JsValue>) -> Result<Ts<T>, JsValue> {
    value.map(Ts::new_unchecked)
}

// The on-demand module adds this field to the ledger it hands the core (which passes it through
// unchanged, so the core's own serializer does not grow); TypeScript merges the declaration with
// the generated `LedgerSummary`. Types only: nothing of it reaches the .wasm or the JS glue.
#[wasm_bindgen(typescript_custom_section)]
const LEDGER_COLLUSION_FIGURE: &str = r#"
export interface LedgerSummary {
    /**
     * With `secureAggregation`: ε of one update if the leader and the helper collude and see it
     * with only this device's share of the noise (K times the booked ρ). Absent without.
     */
    epsilonPerUpdateIfAggregatorsCollude?: number;
    /**
     * With `liftReport.noise` `secureAggregation`: ε of one lift report if the lift task's leader
     * and helper collude and see it with only this device's share of the noise (K times the
     * booked ρ). Absent without.
     */
    epsilonPerLiftReportIfAggregatorsCollude?: number;
}
"#;

#[wasm_bindgen(js_class = Personalizer)]
impl JsPersonalizer {
    /// Sets how adaptation behaves: the holdout share (default 0.1: one device in ten sees the
    /// shop's defaults everywhere, so the lift can be measured), bandit and layout tuning. The
    /// first call loads the on-demand module; call it (and `await` it) once after
    /// `new Personalizer(...)`, before the other adaptation calls. From then on tracked events also
    /// count for the private lift report. Rejects on an invalid setting (`invalidConfig`) or when
    /// the module cannot be loaded (`network`).
    ///
    /// ```js
    /// await p.configureAdaptation({ holdoutShare: 0.1, bandit: { exploration: 0.05 } });
    /// ```
    #[wasm_bindgen(js_name = configureAdaptation, unchecked_return_type = "Promise<void>")]
    pub fn configure_adaptation(&self, config: Option<Ts<AdapterConfig>>) -> Promise {
        let config = config.map_or(JsValue::UNDEFINED, |c| c.js_value());
        let slot = self.parts.clone();
        self.configure_parts(move |parts| {
            parts.configure_adaptation(&config)?;
            slot.set_adaptation_configured();
            Ok(())
        })
    }

    /// Orders the page's candidate sections, picks which optional ones to show and a density
    /// (`grid` or `list`), learned from how this shopper engages with each kind of section.
    /// Constraints always hold: required sections are shown, each within its
    /// `minPosition`..`maxPosition`. Use each section's `id` as the `placement` of its
    /// impressions and clicks, so engagement and lift are counted for it. Throws on empty or
    /// duplicate sections, unknown kinds and constraints no page can meet, and
    /// (`notConfigured`) before `configureAdaptation` resolved.
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
        #[wasm_bindgen(unchecked_param_type = "SectionSpec[]")] sections: JsValue,
        context: Option<Ts<LayoutContext>>,
    ) -> Result<Ts<LayoutDecision>, JsValue> {
        self.health.check()?;
        let parts = self.parts.adaptation()?;
        let now = js_sys::Date::now();
        let shopper = self.decision_shopper(now)?;
        let context = context.map_or(JsValue::UNDEFINED, |c| c.js_value());
        answered(parts.choose_layout(&sections, &context, &shopper, now))
    }

    /// Picks at most one of the offers the server allows for this visitor (prices and terms
    /// stay the server's), from visit statistics and cart state, within each offer's frequency
    /// cap and cooldown. Every answer has a `reason`; `skipped` says why the others were not
    /// shown. Throws on empty lists, duplicate ids, unknown audience kinds and bad limits, and
    /// (`notConfigured`) before `configureAdaptation` resolved.
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
        #[wasm_bindgen(unchecked_param_type = "OfferSpec[]")] offers: JsValue,
        context: Option<Ts<OfferRequest>>,
    ) -> Result<Ts<OfferDecision>, JsValue> {
        self.health.check()?;
        let parts = self.parts.adaptation()?;
        let now = js_sys::Date::now();
        let shopper = self.decision_shopper(now)?;
        let context = context.map_or(JsValue::UNDEFINED, |c| c.js_value());
        answered(parts.choose_offer(&offers, &context, &shopper, now))
    }

    /// Picks the text for an item that speaks to this shopper's interests or uses, with a
    /// reason, and learns from later clicks, carts and orders of the item. Tags are free text;
    /// a tag no interest mentions simply matches nothing. Throws on an invalid item, no
    /// variants, duplicate ids or empty tags, and (`notConfigured`) before
    /// `configureAdaptation` resolved.
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
        #[wasm_bindgen(unchecked_param_type = "CopyVariant[]")] variants: JsValue,
    ) -> Result<Ts<VariantDecision>, JsValue> {
        self.health.check()?;
        let parts = self.parts.adaptation()?;
        let now = js_sys::Date::now();
        let shopper = self.decision_shopper(now)?;
        answered(parts.choose_variant(&item.js_value(), &variants, &shopper, now))
    }

    /// Reports how the shopper reacted to something a decision showed, for what `track` cannot
    /// see (an offer code applied, a section closed). Clicks, carts and orders tracked with a
    /// section's id as placement are learned from by themselves. Returns false while consent is
    /// `"none"`; throws when nothing of that id is waiting for an outcome, and
    /// (`notConfigured`) before `configureAdaptation` resolved.
    ///
    /// ```js
    /// p.recordDecisionOutcome({ kind: "offer", offerId: "welcome-10", takenUp: true });
    /// p.recordDecisionOutcome({ kind: "section", sectionId: "new", engaged: false });
    /// ```
    #[wasm_bindgen(js_name = recordDecisionOutcome)]
    pub fn record_decision_outcome(&self, outcome: Ts<DecisionOutcome>) -> Result<bool, JsValue> {
        self.health.check()?;
        self.parts.adaptation()?.record_decision_outcome(&outcome.js_value())
    }

    /// This device's lift bucket: `"personalized"`, `"holdout"` (the shop's defaults
    /// everywhere), or `undefined` while consent is `"none"` or before adaptation was used.
    ///
    /// ```js
    /// if (p.liftBucket() === "holdout") console.info("this device helps measure the lift");
    /// ```
    #[wasm_bindgen(js_name = liftBucket)]
    pub fn lift_bucket(&self) -> Result<Option<Ts<LiftBucket>>, JsValue> {
        self.health.check()?;
        if let Some(parts) = self.parts.handle() {
            let bucket = parts.lift_bucket()?;
            return Ok((!bucket.is_undefined() && !bucket.is_null()).then(|| Ts::new_unchecked(bucket)));
        }
        let bucket = self.state()?.engine.stored_lift_bucket();
        Ok(bucket.as_ref().map(to_js).transpose()?)
    }

    /// Turns on federated learning: where the aggregator is, the key its models are signed with
    /// (pass it in code: it is what makes a model trustworthy), and the privacy settings. The
    /// first call loads the on-demand module. With `autoSync` (default) the page downloads the
    /// shared model now and every `modelRefreshMs`, and every `checkIntervalMs` sends one
    /// clipped, noised update when the policy allows (consent `"full"`, enough labelled
    /// impressions, at most one a day and ε ≤ 8 a day by default), after a random delay of up
    /// to `maxJitterMs`, and one noised lift report a day (ε = 2 by default, booked in the same
    /// ledger; `liftReport` settings must match the aggregator's). On page hide a booked update
    /// leaves with a keepalive request. Nothing else is ever sent. Rejects on an invalid URL,
    /// key or privacy setting (`invalidConfig`) or when the module cannot be loaded (`network`).
    ///
    /// ```js
    /// await p.configureSync({ aggregatorUrl: "https://agg.example", modelPublicKey: MODEL_KEY, maxJitterMs: 30000 });
    /// ```
    #[wasm_bindgen(js_name = configureSync, unchecked_return_type = "Promise<void>")]
    pub fn configure_sync(&self, setup: Ts<SyncSetup>) -> Promise {
        let setup = setup.js_value();
        self.configure_parts(move |parts| parts.configure_sync(&setup))
    }

    /// Syncs now: downloads and verifies the shared model, then sends one update if the policy
    /// allows, after the random delay (`maxJitterMs`), then this period's lift report if one is
    /// due. Resolves to what happened to the update: `sent`, `skipped` with a `reason`
    /// (`notConfigured` before `configureSync`), or `refusedByLedger` when this period's
    /// privacy budget is spent. Never rejects, except after an internal error (`code: "internal"`).
    ///
    /// ```js
    /// const outcome = await p.syncNow();
    /// if (outcome.status === "skipped") console.info(outcome.reason, outcome.message);
    /// ```
    #[wasm_bindgen(js_name = syncNow, unchecked_return_type = "Promise<SyncOutcome>")]
    pub fn sync_now(&self) -> Promise {
        if let Err(error) = self.health.check() {
            return Promise::reject(&error.into());
        }
        match self.parts.handle() {
            Some(parts) => parts.sync_now(),
            None => {
                let outcome = crate::personalizer::SyncOutcome::skipped(
                    crate::personalizer::SkipReason::NotConfigured,
                    "sync is not configured: call configureSync() first",
                );
                match to_js(&outcome) {
                    Ok(outcome) => Promise::resolve(&outcome.js_value()),
                    Err(error) => Promise::reject(&error.into()),
                }
            }
        }
    }

    /// The privacy ledger: ε spent this period and in total, the budget, the noise settings and
    /// how the spend is counted (also in `profileSummary().privacyLedger`). Throws
    /// (`notConfigured`) until `configureSync` or `configureAdaptation` loaded the on-demand part.
    ///
    /// ```js
    /// const { currentPeriodEpsilon, periodBudgetEpsilon } = p.privacyLedger();
    /// ```
    #[wasm_bindgen(js_name = privacyLedger)]
    pub fn privacy_ledger(&self) -> Result<Ts<LedgerSummary>, JsValue> {
        self.health.check()?;
        answered(self.parts.loaded("privacyLedger")?.privacy_ledger())
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
            Some(params) => read_hours_params(&params.js_value())?,
            None => HoursParams::default(),
        };
        let hours = self.state()?.engine.preferred_hours(&params).map_err(coded)?;
        to_js(&hours)
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
