//! Sync in the on-demand module: `configureSync`, `syncNow`, `privacyLedger`, the automatic
//! loop (model refresh, then an update when the policy allows, after a random delay) and the
//! keepalive send on page hide.
//!
//! The parts are never borrowed across an `await`: each step borrows them with a copy of the
//! core's shared weights, takes or hands over bytes, gives the core what changed, and lets go
//! before the network call (see `crate::personalizer::SyncRun`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::{Event, EventTarget, VisibilityState};

use tsify::Ts;

use crate::error_code::ErrorCode;
use crate::personalizer::{
    drive, OnDevice, SkipReason, SyncEngine, SyncHost, SyncOutcome, SyncPlan, SyncRun, SyncSchedule, SyncSetup,
    WeightsSnapshot,
};
use crate::wasm::js_errors::coded;
use crate::wasm::js_values::{from_js_strict, to_js};
use crate::wasm::local_storage::BrowserStore;

use super::fetch_transport::FetchTransport;
use super::{CoreWeights, JsOnDemandParts, PartsState};

/// A listener attached to `window` or `document`, removed when the runtime goes.
type PageListener = (EventTarget, &'static str, Closure<dyn FnMut(Event)>);

/// The sync runtime of one `Personalizer`: transport, schedule, timer and page-hide listeners.
pub struct SyncRuntime {
    transport: FetchTransport,
    schedule: SyncSchedule,
    timer: Option<(i32, Closure<dyn FnMut()>)>,
    listeners: Vec<PageListener>,
}

/// Where a `Personalizer` keeps its sync runtime (empty until `configureSync`).
pub type SyncSlot = Rc<RefCell<Option<SyncRuntime>>>;

impl Drop for SyncRuntime {
    fn drop(&mut self) {
        if let (Some(window), Some((handle, _))) = (web_sys::window(), self.timer.as_ref()) {
            window.clear_interval_with_handle(*handle);
        }
        for (target, kind, listener) in self.listeners.drain(..) {
            let _ = target.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
    }
}

/// 32 bytes from the browser's cryptographic generator: the noise must not be predictable.
fn crypto_seed() -> Result<[u8; 32], String> {
    let mut seed = [0_u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no cryptographic randomness ({e}); nothing is sent"))?;
    Ok(seed)
}

async fn sleep(ms: u32) {
    if ms == 0 {
        return;
    }
    let promise = Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        } else {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = JsFuture::from(promise).await;
}

fn skipped(reason: SkipReason, message: &str) -> SyncOutcome {
    SyncOutcome::Skipped { reason, message: message.to_owned() }
}

/// The browser's host for the sync driver: the parts are borrowed for one step at a time, never
/// across a request or a timer, with a copy of the core's shared weights.
struct BrowserHost<'a> {
    state: &'a Rc<RefCell<PartsState>>,
    core: &'a CoreWeights,
}

impl BrowserHost<'_> {
    /// Runs `f` on the parts and a copy of the core's weights, then hands the core what changed;
    /// `None` while the parts or the core are busy.
    fn with_parts<R>(&self, f: impl FnOnce(&mut OnDevice<BrowserStore>, &mut WeightsSnapshot) -> R) -> Option<R> {
        let weights = self.core.get()?;
        let mut state = self.state.try_borrow_mut().ok()?;
        let (result, change) = state.parts.with_weights(weights, f);
        if let Some(change) = change {
            // The core takes weights as long as it exists; a freed core has no ranker to update.
            self.core.set(change);
        }
        Some(result)
    }
}

impl SyncHost for BrowserHost<'_> {
    fn with_engine<R>(&self, f: impl FnOnce(&mut dyn SyncEngine) -> R) -> Option<R> {
        self.with_parts(|parts, ranker| f(&mut parts.attached(ranker)))
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    async fn sleep(&self, ms: u32) {
        sleep(ms).await
    }
}

/// One sync run of the core's driver ([`SyncRun`]) when the schedule allows; `forced` (`syncNow`)
/// always refreshes the model.
async fn run_sync(
    state: Weak<RefCell<PartsState>>,
    core: CoreWeights,
    slot: Weak<RefCell<Option<SyncRuntime>>>,
    forced: bool,
) -> SyncOutcome {
    let (Some(state), Some(slot)) = (state.upgrade(), slot.upgrade()) else {
        return skipped(SkipReason::NotConfigured, "the Personalizer was freed");
    };
    let started = match slot.try_borrow_mut().ok().as_deref_mut().and_then(Option::as_mut) {
        Some(runtime) => {
            let refresh =
                if forced { runtime.schedule.start_now() } else { runtime.schedule.start(js_sys::Date::now()) };
            refresh.map(|refresh| (refresh, runtime.transport.clone()))
        }
        None => return skipped(SkipReason::NotConfigured, "sync is not configured: call configureSync() first"),
    };
    let Some((refresh, transport)) = started else {
        return skipped(SkipReason::Busy, "a sync is already running");
    };
    let (mut run, outcome) = match (crypto_seed(), crypto_seed()) {
        (Ok(update_seed), Ok(lift_seed)) => {
            let mut run = SyncRun::new(refresh, update_seed, lift_seed);
            let outcome = drive(&BrowserHost { state: &state, core: &core }, &transport, &mut run).await;
            (Some(run), outcome)
        }
        (Err(message), _) | (_, Err(message)) => (None, skipped(SkipReason::Invalid, &message)),
    };
    if let Some(runtime) = slot.try_borrow_mut().ok().as_deref_mut().and_then(Option::as_mut) {
        runtime.schedule.finished(run.as_mut().and_then(|run| run.model_refreshed()), js_sys::Date::now());
    }
    outcome
}

/// On page hide: sends the booked update, or one the policy allows now, with a keepalive fetch.
fn send_on_hide(state: &Weak<RefCell<PartsState>>, core: &CoreWeights, slot: &Weak<RefCell<Option<SyncRuntime>>>) {
    let (Some(state), Some(slot)) = (state.upgrade(), slot.upgrade()) else { return };
    let Ok(runtime) = slot.try_borrow() else { return };
    let Some(runtime) = runtime.as_ref() else { return };
    let host = BrowserHost { state: &state, core };
    let body = host.with_parts(|parts, ranker| {
        let body = match parts.pending_upload() {
            Some(body) => body.to_vec(),
            None => match crypto_seed().map(|seed| parts.attached(ranker).prepare_sync(js_sys::Date::now(), seed)) {
                Ok(SyncPlan::Send { body, .. }) => body,
                _ => return None,
            },
        };
        parts.attached(ranker).may_send(&body).then_some(body)
    });
    let Some(Some(body)) = body else { return };
    // The outcome is unknown once the page is gone: the bytes stay booked, and the next page
    // resends them (the aggregator answers `200 alreadyReceived` if they had arrived: done).
    if !runtime.transport.send_on_page_hide(&body) {
        runtime.transport.send_beacon(&body);
    }
}

fn start_runtime(personalizer: &JsOnDemandParts, setup: &SyncSetup, urls: (Option<String>, Option<[String; 2]>)) {
    let state = Rc::downgrade(&personalizer.state);
    let core = personalizer.core.clone();
    let slot = Rc::downgrade(&personalizer.sync);
    let mut runtime = SyncRuntime {
        transport: FetchTransport::new(&setup.aggregator_url, urls.0.as_deref(), urls.1),
        schedule: SyncSchedule::new(f64::from(setup.check_interval_ms), f64::from(setup.model_refresh_ms)),
        timer: None,
        listeners: Vec::new(),
    };
    let Some(window) = web_sys::window() else {
        *personalizer.sync.borrow_mut() = Some(runtime);
        return;
    };
    let (hide_state, hide_core, hide_slot) = (state.clone(), core.clone(), slot.clone());
    let on_hide: Closure<dyn FnMut(Event)> =
        Closure::new(move |_: Event| send_on_hide(&hide_state, &hide_core, &hide_slot));
    let target: EventTarget = window.clone().into();
    if target.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref()).is_ok() {
        runtime.listeners.push((target, "pagehide", on_hide));
    }
    if let Some(document) = window.document() {
        let (hidden_state, hidden_core, hidden_slot, watched) =
            (state.clone(), core.clone(), slot.clone(), document.clone());
        let on_hidden: Closure<dyn FnMut(Event)> = Closure::new(move |_: Event| {
            if watched.visibility_state() == VisibilityState::Hidden {
                send_on_hide(&hidden_state, &hidden_core, &hidden_slot);
            }
        });
        let target: EventTarget = document.into();
        if target.add_event_listener_with_callback("visibilitychange", on_hidden.as_ref().unchecked_ref()).is_ok() {
            runtime.listeners.push((target, "visibilitychange", on_hidden));
        }
    }
    if setup.auto_sync {
        let (tick_state, tick_core, tick_slot) = (state.clone(), core.clone(), slot.clone());
        let tick: Closure<dyn FnMut()> = Closure::new(move || {
            let (state, core, slot) = (tick_state.clone(), tick_core.clone(), tick_slot.clone());
            spawn_local(async move {
                run_sync(state, core, slot, false).await;
            });
        });
        let interval = setup.check_interval_ms as i32;
        if let Ok(handle) =
            window.set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), interval)
        {
            runtime.timer = Some((handle, tick));
        }
        spawn_local(async move {
            run_sync(state, core, slot, false).await;
        });
    }
    *personalizer.sync.borrow_mut() = Some(runtime);
}

#[wasm_bindgen(js_class = OnDemandParts)]
impl JsOnDemandParts {
    /// `configureSync` of the page's `Personalizer` (documented there).
    #[wasm_bindgen(js_name = configureSync)]
    pub fn configure_sync(&self, setup: JsValue) -> Result<(), JsError> {
        self.health.check()?;
        let setup: SyncSetup = from_js_strict(&Ts::new_unchecked(setup), ErrorCode::InvalidConfig, "sync setup")?;
        let urls = {
            let mut state = self.state()?;
            let parts = &mut state.parts.0;
            parts.configure_sync(setup.clone()).map_err(coded)?;
            (parts.dap_reports_url().map(str::to_owned), parts.lift_dap_reports_urls())
        };
        // Replacing the runtime drops the old timer and listeners.
        self.sync.borrow_mut().take();
        start_runtime(self, &setup, urls);
        Ok(())
    }

    /// `syncNow` of the page's `Personalizer` (documented there).
    #[wasm_bindgen(js_name = syncNow, unchecked_return_type = "Promise<SyncOutcome>")]
    pub fn sync_now(&self) -> Promise {
        let (state, slot) = (Rc::downgrade(&self.state), Rc::downgrade(&self.sync));
        let core = self.core.clone();
        let health = self.health.check().map_err(JsValue::from);
        future_to_promise(async move {
            health?;
            let outcome = run_sync(state, core, slot, true).await;
            to_js(&outcome).map(JsValue::from).map_err(JsValue::from)
        })
    }

    /// `privacyLedger` of the page's `Personalizer` (documented there).
    #[wasm_bindgen(js_name = privacyLedger)]
    pub fn privacy_ledger(&self) -> Result<JsValue, JsError> {
        let state = self.state()?;
        let parts = &state.parts.0;
        let summary = to_js(&parts.sync_ledger_summary(js_sys::Date::now()))?.js_value();
        let collusion = [
            ("epsilonPerUpdateIfAggregatorsCollude", parts.collusion_epsilon_per_update()),
            ("epsilonPerLiftReportIfAggregatorsCollude", parts.collusion_epsilon_per_lift_report()),
        ];
        for (key, epsilon) in collusion {
            if let Some(epsilon) = epsilon {
                // Setting a property of a fresh plain object cannot fail.
                let _ = js_sys::Reflect::set(&summary, &JsValue::from_str(key), &JsValue::from_f64(epsilon));
            }
        }
        Ok(summary)
    }
}
