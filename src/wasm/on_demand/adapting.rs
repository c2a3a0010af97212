//! The adaptation calls of `OnDemandParts`: the page's values (forwarded unchanged by the core)
//! are read and checked here, the shopper comes from the core as JSON. Refused input throws an
//! `Error` with a code, as every call of the package does.

use js_sys::JsString;
use tsify::Ts;
use wasm_bindgen::prelude::*;

use crate::adapt::copy_variants::MAX_VARIANTS;
use crate::adapt::layout::constraints::MAX_SECTIONS;
use crate::adapt::offers::MAX_OFFERS;
use crate::adapt::{
    AdapterConfig, CopyVariant, LayoutError, OfferError, OfferSpec, SectionSpec, ShopperState, VariantError,
};
use crate::catalog::Item;
use crate::error_code::ErrorCode;
use crate::personalizer::{AdaptationError, DecisionOutcome, LayoutContext, OfferRequest};
use crate::wasm::input_limits::{checked_array, checked_text, MAX_JSON_CHARS};
use crate::wasm::js_errors::{coded, thrown};
use crate::wasm::js_values::{entries, from_js, from_js_strict, to_js};

use super::JsOnDemandParts;

/// A crypto-random seed (`crypto.getRandomValues`) for the engine's first draw and its noise.
fn entropy() -> Result<u64, JsError> {
    getrandom::u64().map_err(|e| {
        thrown(ErrorCode::Unsupported, &format!("crypto.getRandomValues is unavailable ({e}); adaptation needs it"))
    })
}

/// Reads a JS array argument of at most `max` entries (`too_long` otherwise, before any entry is
/// read) entry by entry, naming the bad entry.
fn list<T>(
    value: &JsValue,
    max: usize,
    too_long: impl FnOnce(usize) -> AdaptationError,
    what: &str,
) -> Result<Vec<T>, JsError>
where
    T: tsify::Tsify + serde::de::DeserializeOwned + serde::Serialize,
{
    let too_long = |len| coded(too_long(len));
    let array = checked_array(value, max, too_long, ErrorCode::InvalidArgument, &format!("{what}s"))?;
    let read = |(index, entry)| from_js_strict(&entry, ErrorCode::InvalidArgument, &format!("{what} {index}"));
    entries(&array).enumerate().map(read).collect()
}

/// An optional object argument, or its default.
fn optional<T>(value: &JsValue, what: &str) -> Result<T, JsError>
where
    T: tsify::Tsify + serde::de::DeserializeOwned + serde::Serialize + Default,
{
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    from_js_strict(&Ts::new_unchecked(value.clone()), ErrorCode::InvalidArgument, what)
}

/// The shopper the core built for this decision.
fn shopper(json: &JsString) -> Result<ShopperState, JsError> {
    let json = checked_text(json, MAX_JSON_CHARS, ErrorCode::InvalidArgument, "shopper")?;
    crate::storage::json_reading::read_json(&json)
        .map_err(|e| thrown(ErrorCode::Internal, &format!("the core sent an unreadable shopper: {e}")))
}

#[wasm_bindgen(js_class = OnDemandParts)]
impl JsOnDemandParts {
    #[wasm_bindgen(js_name = configureAdaptation)]
    pub fn configure_adaptation(&self, config: JsValue) -> Result<(), JsError> {
        self.health.check()?;
        let config: AdapterConfig = if config.is_undefined() || config.is_null() {
            AdapterConfig::default()
        } else {
            from_js_strict(&Ts::new_unchecked(config), ErrorCode::InvalidConfig, "adaptation config")?
        };
        let seed = entropy()?;
        self.state()?.parts.0.configure_adaptation(config, seed).map_err(coded)
    }

    #[wasm_bindgen(js_name = chooseLayout)]
    pub fn choose_layout(
        &self,
        sections: JsValue,
        context: JsValue,
        shopper_json: JsString,
        _now_ms: f64,
    ) -> Result<JsValue, JsError> {
        self.health.check()?;
        let sections: Vec<SectionSpec> =
            list(&sections, MAX_SECTIONS, |n| LayoutError::TooManySections(n).into(), "section")?;
        let context: LayoutContext = optional(&context, "layout context")?;
        let (shopper, seed) = (shopper(&shopper_json)?, entropy()?);
        let decision = self.state()?.parts.0.choose_layout(shopper, &sections, &context, seed).map_err(coded)?;
        Ok(to_js(&decision)?.js_value())
    }

    #[wasm_bindgen(js_name = chooseOffer)]
    pub fn choose_offer(
        &self,
        offers: JsValue,
        context: JsValue,
        shopper_json: JsString,
        now_ms: f64,
    ) -> Result<JsValue, JsError> {
        self.health.check()?;
        let offers: Vec<OfferSpec> = list(&offers, MAX_OFFERS, |n| OfferError::TooManyOffers(n).into(), "offer")?;
        let request: OfferRequest = optional(&context, "offer context")?;
        let (shopper, seed) = (shopper(&shopper_json)?, entropy()?);
        let decision = self.state()?.parts.0.choose_offer(shopper, &offers, &request, now_ms, seed).map_err(coded)?;
        Ok(to_js(&decision)?.js_value())
    }

    #[wasm_bindgen(js_name = chooseVariant)]
    pub fn choose_variant(
        &self,
        item: JsValue,
        variants: JsValue,
        shopper_json: JsString,
        _now_ms: f64,
    ) -> Result<JsValue, JsError> {
        self.health.check()?;
        let item: Item = from_js(&Ts::new_unchecked(item), ErrorCode::InvalidItem, "item")?;
        let variants: Vec<CopyVariant> =
            list(&variants, MAX_VARIANTS, |n| VariantError::TooManyVariants(n).into(), "variant")?;
        let (shopper, seed) = (shopper(&shopper_json)?, entropy()?);
        let decision = self.state()?.parts.0.choose_variant(shopper, &item, &variants, seed).map_err(coded)?;
        Ok(to_js(&decision)?.js_value())
    }

    #[wasm_bindgen(js_name = recordDecisionOutcome)]
    pub fn record_decision_outcome(&self, outcome: JsValue) -> Result<bool, JsError> {
        self.health.check()?;
        let outcome: DecisionOutcome =
            from_js_strict(&Ts::new_unchecked(outcome), ErrorCode::InvalidArgument, "decision outcome")?;
        self.state()?.parts.0.record_decision_outcome(&outcome).map_err(coded)
    }

    /// `"personalized"`, `"holdout"`, or `undefined`.
    #[wasm_bindgen(js_name = liftBucket)]
    pub fn lift_bucket(&self) -> Result<JsValue, JsError> {
        let bucket = self.state()?.parts.0.lift_bucket();
        Ok(bucket.as_ref().map(to_js).transpose()?.map_or(JsValue::UNDEFINED, |b| b.js_value()))
    }
}
