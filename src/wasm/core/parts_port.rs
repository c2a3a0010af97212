//! How the core module reaches the on-demand parts: an `OnDemandParts` instance of the on-demand
//! module ([`PartsHandle`]), loaded the first time the page needs it, and the engine's
//! [`PartsPort`] over it ([`JsPartsPort`]). Values cross as JSON text, strings, numbers and
//! `Float32Array`s; nothing shares memory. The parts reach back only for the ranker's shared
//! weights, through the two functions of a [`CorePort`].

use std::cell::RefCell;
use std::rc::Weak;

use js_sys::{Float32Array, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::collect::event::TrackEvent;
use crate::consent::ConsentMode;
use crate::personalizer::{PartsPort, WeightsChange};
use crate::storage::json_text::JsonText;

use super::personalizer::EngineState;

#[wasm_bindgen]
extern "C" {
    /// An `OnDemandParts` instance of the on-demand module (`src/wasm/on_demand`).
    #[derive(Debug, Clone)]
    pub type PartsHandle;

    #[wasm_bindgen(method, catch)]
    fn observe(this: &PartsHandle, event: &str, new_session: bool, labelled: f64) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = inHoldout)]
    fn in_holdout(this: &PartsHandle) -> Result<bool, JsValue>;
    #[wasm_bindgen(method, catch, js_name = consentChanged)]
    fn consent_changed(this: &PartsHandle, from: &str, to: &str, weights: &Float32Array) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn forgotten(this: &PartsHandle, weights: &Float32Array) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = otherTabForgot)]
    fn other_tab_forgot(this: &PartsHandle) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = forgetItem)]
    fn forget_item(this: &PartsHandle, item_id: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn flush(this: &PartsHandle) -> Result<(), JsValue>;

    #[wasm_bindgen(method, catch)]
    pub fn warnings(this: &PartsHandle) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = takeWarnings)]
    pub fn take_warnings(this: &PartsHandle) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = configureAdaptation)]
    pub fn configure_adaptation(this: &PartsHandle, config: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = chooseLayout)]
    pub fn choose_layout(
        this: &PartsHandle,
        sections: &JsValue,
        context: &JsValue,
        shopper: &str,
        now_ms: f64,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = chooseOffer)]
    pub fn choose_offer(
        this: &PartsHandle,
        offers: &JsValue,
        context: &JsValue,
        shopper: &str,
        now_ms: f64,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = chooseVariant)]
    pub fn choose_variant(
        this: &PartsHandle,
        item: &JsValue,
        variants: &JsValue,
        shopper: &str,
        now_ms: f64,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = recordDecisionOutcome)]
    pub fn record_decision_outcome(this: &PartsHandle, outcome: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(method, catch, js_name = liftBucket)]
    pub fn lift_bucket(this: &PartsHandle) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = configureSync)]
    pub fn configure_sync(this: &PartsHandle, setup: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_name = syncNow)]
    pub fn sync_now(this: &PartsHandle) -> Promise;
    #[wasm_bindgen(method, catch, js_name = privacyLedger)]
    pub fn privacy_ledger(this: &PartsHandle) -> Result<JsValue, JsValue>;
}

/// The engine's port on the parts. A call that throws (the on-demand module trapped) turns the
/// parts off for the page: later calls do nothing, and [`JsPartsPort::failure`] says why.
#[derive(Debug)]
pub struct JsPartsPort {
    handle: PartsHandle,
    failure: Option<String>,
}

impl JsPartsPort {
    pub fn new(handle: PartsHandle) -> Self {
        JsPartsPort { handle, failure: None }
    }

    /// Why the parts were turned off, if they were.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn call<R: Default>(&mut self, f: impl FnOnce(&PartsHandle) -> Result<R, JsValue>) -> R {
        if self.failure.is_some() {
            return R::default();
        }
        f(&self.handle).unwrap_or_else(|error| {
            let reason = Reflect::get(&error, &"message".into()).ok().and_then(|m| m.as_string());
            self.failure = Some(reason.unwrap_or_else(|| "an unknown error".to_owned()));
            R::default()
        })
    }
}

/// A weights change as the parts return it: `{ weights: Float32Array, save: boolean }` or nothing.
fn weights_change(value: JsValue) -> Option<WeightsChange> {
    let weights = Reflect::get(&value, &"weights".into()).ok()?.dyn_into::<Float32Array>().ok()?;
    let save = Reflect::get(&value, &"save".into()).ok()?.as_bool()?;
    Some(WeightsChange { weights: weights.to_vec(), save })
}

impl PartsPort for JsPartsPort {
    fn observe(&mut self, event: &TrackEvent, new_session: bool, labelled: u64) {
        let event = event.json_text();
        self.call(|parts| parts.observe(&event, new_session, labelled as f64));
    }

    fn in_holdout(&mut self) -> bool {
        self.call(PartsHandle::in_holdout)
    }

    fn consent_changed(&mut self, weights: Vec<f32>, from: ConsentMode, to: ConsentMode) -> Option<WeightsChange> {
        let weights = Float32Array::from(&weights[..]);
        let change = self.call(|parts| parts.consent_changed(from.as_str(), to.as_str(), &weights).map(Some));
        change.and_then(weights_change)
    }

    fn forgotten(&mut self, weights: Vec<f32>) -> Option<WeightsChange> {
        let weights = Float32Array::from(&weights[..]);
        self.call(|parts| parts.forgotten(&weights).map(Some)).and_then(weights_change)
    }

    fn other_tab_forgot(&mut self) {
        self.call(PartsHandle::other_tab_forgot);
    }

    fn forget_item(&mut self, item_id: &str) {
        self.call(|parts| parts.forget_item(item_id));
    }

    fn flush(&mut self) {
        self.call(PartsHandle::flush);
    }
}

/// What the parts may ask of the core: the ranker's shared weights, and setting them. Each
/// function answers `undefined`/`false` while the core is busy or gone.
pub struct CorePort {
    pub object: Object,
    _get: Closure<dyn Fn() -> JsValue>,
    _set: Closure<dyn Fn(Float32Array, bool) -> bool>,
}

impl CorePort {
    pub fn new(state: Weak<RefCell<EngineState>>) -> Self {
        let read = state.clone();
        let get: Closure<dyn Fn() -> JsValue> = Closure::new(move || {
            let Some(state) = read.upgrade() else { return JsValue::UNDEFINED };
            let Ok(state) = state.try_borrow() else { return JsValue::UNDEFINED };
            Float32Array::from(&state.engine.shared_weights()[..]).into()
        });
        let set: Closure<dyn Fn(Float32Array, bool) -> bool> = Closure::new(move |weights: Float32Array, save| {
            let Some(state) = state.upgrade() else { return false };
            let Ok(mut state) = state.try_borrow_mut() else { return false };
            // No model is larger (checked before anything is copied).
            if weights.length() as usize > crate::sync::model_wire::MAX_MODEL_DIMENSION {
                return false;
            }
            state.engine.apply_weights_change(Some(WeightsChange { weights: weights.to_vec(), save }));
            true
        });
        let object = Object::new();
        let _ = Reflect::set(&object, &"sharedWeights".into(), get.as_ref());
        let _ = Reflect::set(&object, &"setSharedWeights".into(), set.as_ref());
        CorePort { object, _get: get, _set: set }
    }
}

#[cfg(not(feature = "on-demand-module"))]
// The on-demand module sits beside this module's glue (scripts/build folds this snippet into
// it). Browsers and bundlers fetch its .wasm by URL; Node, which cannot fetch `file:` URLs, reads it.
#[wasm_bindgen(inline_js = "export async function importOnDemandParts() {
  const parts = await import('./shop_personalizer_on_demand.js');
  const wasm = new URL('./shop_personalizer_on_demand_bg.wasm', import.meta.url);
  if (wasm.protocol === 'file:') {
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
    await parts.default({ module_or_path: await readFile(wasm) });
  } else {
    await parts.default({ module_or_path: wasm });
  }
  return parts.OnDemandParts;
}")]
extern "C" {
    /// Loads and starts the on-demand module; resolves to its `OnDemandParts` class.
    #[wasm_bindgen(js_name = importOnDemandParts)]
    fn import_on_demand_parts() -> Promise;
}

/// Loads the on-demand module (the split package) and makes its parts for `config_json`.
#[cfg(not(feature = "on-demand-module"))]
pub async fn make_parts(config_json: &str, core: &CorePort) -> Result<PartsHandle, JsValue> {
    let class = wasm_bindgen_futures::JsFuture::from(import_on_demand_parts()).await?;
    let class: js_sys::Function = class.dyn_into()?;
    let arguments = js_sys::Array::of2(&config_json.into(), &core.object);
    Ok(Reflect::construct(&class, &arguments)?.unchecked_into())
}

/// Makes the parts in this very module (the one-module build).
#[cfg(feature = "on-demand-module")]
pub async fn make_parts(config_json: &str, core: &CorePort) -> Result<PartsHandle, JsValue> {
    let parts = crate::wasm::JsOnDemandParts::new(config_json.into(), core.object.clone()).map_err(JsValue::from)?;
    Ok(JsValue::from(parts).unchecked_into())
}
