//! The on-demand module's `OnDemandParts` class: the adaptation and syncing parts
//! ([`OnDevice`] over localStorage, with a context of their own), answering the core module's
//! `Personalizer` (see `src/wasm/core/parts_port.rs` for the other end). The page never calls it
//! directly; the core loads it the first time a page needs it.
//!
//! The ranker's shared weights stay in the core: a call that needs them gets a copy as an
//! argument and returns the change (`{ weights, save }`), and a sync step asks the core for a
//! copy through the two functions of its port, then hands the change back the same way.

mod adapting;
pub mod fetch_transport;
#[cfg(feature = "secure-aggregation")]
mod secure_aggregation;
mod syncing;

use std::cell::{RefCell, RefMut};
use std::rc::Rc;

use js_sys::{Array, Float32Array, JsString, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::collect::event::TrackEvent;
use crate::config::PersonalizerConfig;
use crate::consent::{ConsentError, ConsentMode};
use crate::error_code::ErrorCode;
use crate::personalizer::{Detached, Environment, Extension, OnDevice, WeightsChange};
use crate::storage::json_reading::read_json;
use crate::sync::model_wire::MAX_MODEL_DIMENSION;

use super::environment;
use super::input_limits::{checked_text, checked_weights, MAX_JSON_CHARS, MAX_STRING_CHARS};
use super::js_errors::{coded, thrown};
use super::js_values::to_js;
use super::local_storage::BrowserStore;
use super::panic_guard::Health;

/// The core's port: copies of the ranker's shared weights, and setting them.
#[derive(Clone)]
pub struct CoreWeights(Object);

impl CoreWeights {
    /// A copy of the shared weights; `None` while the core is busy or gone.
    pub fn get(&self) -> Option<Vec<f32>> {
        let read: js_sys::Function = Reflect::get(&self.0, &"sharedWeights".into()).ok()?.dyn_into().ok()?;
        let weights: Float32Array = read.call0(&JsValue::UNDEFINED).ok()?.dyn_into().ok()?;
        checked_weights(&weights, MAX_MODEL_DIMENSION).ok()
    }

    /// Hands a change back to the core's ranker; false when the core could not take it.
    pub fn set(&self, change: WeightsChange) -> bool {
        let Some(write) = Reflect::get(&self.0, &"setSharedWeights".into()).ok() else { return false };
        let Ok(write) = write.dyn_into::<js_sys::Function>() else { return false };
        let weights = Float32Array::from(&change.weights[..]);
        write.call2(&JsValue::UNDEFINED, &weights, &change.save.into()).is_ok_and(|taken| taken.is_truthy())
    }
}

/// A change as the core's port reads it: `{ weights: Float32Array, save: boolean }`, or `undefined`.
fn change_to_js(change: Option<WeightsChange>) -> JsValue {
    let Some(change) = change else { return JsValue::UNDEFINED };
    let object = Object::new();
    let _ = Reflect::set(&object, &"weights".into(), &Float32Array::from(&change.weights[..]));
    let _ = Reflect::set(&object, &"save".into(), &change.save.into());
    object.into()
}

fn consent_mode(text: &JsString) -> Result<ConsentMode, JsError> {
    let text = checked_text(text, MAX_STRING_CHARS, ErrorCode::InvalidArgument, "consent mode")?;
    text.parse().map_err(|e: ConsentError| coded(e))
}

/// The parts and their sync runtime, shared with the runtime's timers and listeners.
pub struct PartsState {
    pub parts: Detached<BrowserStore>,
}

/// The adaptation and syncing parts of one `Personalizer` (see the module docs).
#[wasm_bindgen(js_name = OnDemandParts)]
pub struct JsOnDemandParts {
    pub(super) state: Rc<RefCell<PartsState>>,
    pub(super) core: CoreWeights,
    pub(super) health: Health,
    /// Sync's transport, timer and page-hide listeners, once `configureSync` was called.
    pub(super) sync: syncing::SyncSlot,
}

#[wasm_bindgen(js_class = OnDemandParts)]
impl JsOnDemandParts {
    /// The parts for the core's checked config (as JSON) and its weights port.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: JsString, core: Object) -> Result<JsOnDemandParts, JsError> {
        let health = Health::at_birth();
        let config_json = checked_text(&config_json, MAX_JSON_CHARS, ErrorCode::InvalidConfig, "config")?;
        let config: PersonalizerConfig =
            read_json(&config_json).map_err(|e| thrown(ErrorCode::InvalidConfig, &format!("invalid config: {e}")))?;
        let config = config.validate().map_err(coded)?;
        let env = Environment {
            webdriver: environment::is_automated(),
            global_privacy_control: environment::global_privacy_control(),
            device: environment::device_class(),
        };
        let parts = Detached(OnDevice::new(BrowserStore::open(), config, env));
        let state = Rc::new(RefCell::new(PartsState { parts }));
        Ok(JsOnDemandParts { state, core: CoreWeights(core), health, sync: Default::default() })
    }

    pub(super) fn state(&self) -> Result<RefMut<'_, PartsState>, JsError> {
        self.health.check()?;
        self.state.try_borrow_mut().map_err(|_| thrown(ErrorCode::Busy, "the on-demand part is busy"))
    }

    /// A recorded event (as the core wrote it) and the learning steps it gave the ranker.
    pub fn observe(&self, event: JsString, new_session: bool, labelled: f64) -> Result<(), JsError> {
        let event = checked_text(&event, MAX_JSON_CHARS, ErrorCode::InvalidEvent, "event")?;
        let event: TrackEvent = read_json(&event)
            .map_err(|e| thrown(ErrorCode::Internal, &format!("the core sent an unreadable event: {e}")))?;
        self.state()?.parts.0.observe(&event, new_session, labelled as u64);
        Ok(())
    }

    #[wasm_bindgen(js_name = inHoldout)]
    pub fn in_holdout(&self) -> Result<bool, JsError> {
        Ok(self.state()?.parts.0.in_holdout())
    }

    #[wasm_bindgen(js_name = consentChanged)]
    pub fn consent_changed(&self, from: JsString, to: JsString, weights: Float32Array) -> Result<JsValue, JsError> {
        let (from, to) = (consent_mode(&from)?, consent_mode(&to)?);
        let weights = checked_weights(&weights, MAX_MODEL_DIMENSION)?;
        let mut state = self.state()?;
        let (_, change) = state.parts.with_weights(weights, |parts, ranker| parts.consent_changed(ranker, from, to));
        Ok(change_to_js(change))
    }

    pub fn forgotten(&self, weights: Float32Array) -> Result<JsValue, JsError> {
        let weights = checked_weights(&weights, MAX_MODEL_DIMENSION)?;
        let mut state = self.state()?;
        let (_, change) = state.parts.with_weights(weights, |parts, ranker| parts.forgotten(ranker));
        Ok(change_to_js(change))
    }

    #[wasm_bindgen(js_name = otherTabForgot)]
    pub fn other_tab_forgot(&self) -> Result<(), JsError> {
        self.state()?.parts.0.other_tab_forgot();
        Ok(())
    }

    #[wasm_bindgen(js_name = forgetItem)]
    pub fn forget_item(&self, item_id: JsString) -> Result<(), JsError> {
        let item_id = checked_text(&item_id, MAX_STRING_CHARS, ErrorCode::InvalidArgument, "item id")?;
        self.state()?.parts.0.forget_item(&item_id);
        Ok(())
    }

    pub fn flush(&self) -> Result<(), JsError> {
        self.state()?.parts.0.flush();
        Ok(())
    }

    /// The parts' warnings, oldest first.
    #[wasm_bindgen(unchecked_return_type = "StorageWarning[]")]
    pub fn warnings(&self) -> Result<Array, JsError> {
        let state = self.state()?;
        state.parts.0.warnings().iter().map(|w| to_js(w).map(|w| w.js_value())).collect()
    }

    /// The parts' warnings, cleared.
    #[wasm_bindgen(js_name = takeWarnings, unchecked_return_type = "StorageWarning[]")]
    pub fn take_warnings(&self) -> Result<Array, JsError> {
        let taken = self.state()?.parts.0.take_warnings();
        taken.iter().map(|w| to_js(w).map(|w| w.js_value())).collect()
    }
}
