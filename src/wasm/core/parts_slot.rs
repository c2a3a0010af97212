//! Where a `Personalizer` keeps its on-demand parts: not loaded, loading (one promise that every
//! caller awaits), or loaded and attached to the engine. Loading starts when the page first calls
//! `configureAdaptation` or `configureSync`, or, under consent `full`, as soon as this device has
//! state of the parts stored (a page of the shop used them before: events must reach them).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::error_code::ErrorCode;
use crate::storage::json_text::JsonText;
use crate::storage::StorageWarning;
use crate::wasm::js_errors::thrown;

use super::json_results::to_js;
use super::parts_port::{make_parts, CorePort, JsPartsPort, PartsHandle};
use super::personalizer::EngineState;

#[derive(Default)]
struct Slot {
    handle: Option<PartsHandle>,
    loading: Option<Promise>,
    /// Kept alive with the parts: the functions they call for the ranker's weights.
    core_port: Option<CorePort>,
    adaptation_configured: bool,
}

/// The parts of one `Personalizer` (see the module docs). Clones share the slot.
#[derive(Default, Clone)]
pub struct PartsSlot(Rc<RefCell<Slot>>);

impl PartsSlot {
    /// The loaded parts, if any.
    pub fn handle(&self) -> Option<PartsHandle> {
        self.0.borrow().handle.clone()
    }

    /// The loaded parts once `configureAdaptation` was called, else a `notConfigured` error.
    pub fn adaptation(&self) -> Result<PartsHandle, JsError> {
        let slot = self.0.borrow();
        match (&slot.handle, slot.adaptation_configured) {
            (Some(handle), true) => Ok(handle.clone()),
            _ => Err(thrown(
                ErrorCode::NotConfigured,
                "adaptation loads on demand: call `await p.configureAdaptation()` once before its other calls",
            )),
        }
    }

    /// The loaded parts, else a `notConfigured` error naming `call`.
    pub fn loaded(&self, call: &str) -> Result<PartsHandle, JsError> {
        self.handle().ok_or_else(|| {
            let message =
                format!("{call} needs the on-demand part: call `await p.configureSync(...)` or `await p.configureAdaptation()` first");
            thrown(ErrorCode::NotConfigured, &message)
        })
    }

    pub fn set_adaptation_configured(&self) {
        self.0.borrow_mut().adaptation_configured = true;
    }

    /// Loads the parts once and attaches them to the engine; resolves to the [`PartsHandle`].
    /// A failed load rejects with `code: "network"` and may be tried again.
    pub fn load(&self, state: &Rc<RefCell<EngineState>>) -> Promise {
        if let Some(loading) = self.0.borrow().loading.clone() {
            return loading;
        }
        let config_json = match state.try_borrow() {
            Ok(state) => state.engine.config().as_config().json_text(),
            Err(_) => return Promise::reject(&thrown(ErrorCode::Busy, "the Personalizer is busy").into()),
        };
        let (slot, weak) = (self.clone(), Rc::downgrade(state));
        let loading = future_to_promise(async move {
            let core_port = CorePort::new(weak.clone());
            match make_parts(&config_json, &core_port).await {
                Ok(handle) => slot.attach(&weak, handle, core_port),
                Err(error) => {
                    slot.0.borrow_mut().loading = None;
                    let reason = Reflect::get(&error, &"message".into()).ok().and_then(|m| m.as_string());
                    let message = format!(
                        "the on-demand module could not be loaded ({}); try again later",
                        reason.unwrap_or_else(|| "unknown reason".into())
                    );
                    Err(thrown(ErrorCode::Network, &message).into())
                }
            }
        });
        self.0.borrow_mut().loading = Some(loading.clone());
        loading
    }

    fn attach(
        &self,
        state: &Weak<RefCell<EngineState>>,
        handle: PartsHandle,
        core_port: CorePort,
    ) -> Result<JsValue, JsValue> {
        let state =
            state.upgrade().ok_or_else(|| JsValue::from(thrown(ErrorCode::Busy, "the Personalizer was freed")))?;
        let mut state = state
            .try_borrow_mut()
            .map_err(|_| JsValue::from(thrown(ErrorCode::Busy, "the Personalizer is busy; try again")))?;
        state.engine.attach_parts(JsPartsPort::new(handle.clone()));
        let mut slot = self.0.borrow_mut();
        slot.handle = Some(handle.clone());
        slot.core_port = Some(core_port);
        Ok(handle.into())
    }

    /// Starts loading in the background (a failure stays silent: the next `configure*` retries).
    pub fn load_in_background(&self, state: &Rc<RefCell<EngineState>>) {
        let loading = self.load(state);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(loading).await;
        });
    }

    /// Adds the parts' privacy ledger to a profile summary, once they are loaded.
    pub fn add_privacy_ledger(&self, summary: &JsValue) {
        if let Some(ledger) = self.handle().and_then(|parts| parts.privacy_ledger().ok()) {
            let _ = Reflect::set(summary, &"privacyLedger".into(), &ledger);
        }
    }

    /// `warnings` as JS values, then the parts' own (taken when `take`).
    pub fn with_parts_warnings(&self, warnings: &[StorageWarning], take: bool) -> Result<Array, JsError> {
        let all = Array::new();
        for warning in warnings {
            all.push(&to_js(warning)?.js_value());
        }
        if let Some(parts) = self.handle() {
            let theirs = if take { parts.take_warnings() } else { parts.warnings() };
            if let Ok(theirs) = theirs.and_then(|v| v.dyn_into::<Array>()) {
                for warning in theirs.iter() {
                    all.push(&warning);
                }
            }
        }
        Ok(all)
    }
}
