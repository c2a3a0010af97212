//! The `Personalizer` JS class: the page's handle on the on-device profile.
//!
//! It converts JS values to the core's types, passes the browser's clock, local hour, automation
//! and Global Privacy Control flags, and calls [`crate::personalizer::Personalizer`] over
//! localStorage. Errors are thrown as `Error`s carrying the core's message and code (see `js_errors`).

use std::cell::{RefCell, RefMut};
use std::rc::Rc;

use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use crate::catalog::AttributeKey;
use crate::collect::event::TrackEvent;
use crate::config::PersonalizerConfig;
use crate::consent::{ConsentDecision, ConsentError, ConsentMode};
use crate::error_code::ErrorCode;
use crate::personalizer::{
    Environment, FlushReport, Personalizer, PersonalizerError, Remote, TrackOutcome, MAX_UPSERT_ITEMS,
};
use crate::profile::ProfileSummary;
use crate::storage::{StorageWarning, WarningCode};

use super::event_input::read_event;
use super::input_reading::{read_config, read_consent_options, read_interest_key, read_items};
use super::json_results::to_js;
use super::page_lifecycle::PageListeners;
use super::parts_port::JsPartsPort;
use super::parts_slot::PartsSlot;
use crate::wasm::environment;
use crate::wasm::input_limits::{check_size, checked_array};
use crate::wasm::js_errors::{coded, thrown};
use crate::wasm::local_storage::BrowserStore;
use crate::wasm::panic_guard::Health;

/// Options of `setConsent`.
#[derive(Debug, Clone, Default, Tsify)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsentOptions {
    /// The shopper explicitly opted in (e.g. clicked "Remember me"), which overrides the
    /// `session` cap that Global Privacy Control sets. Default false.
    #[tsify(optional)]
    pub explicit_opt_in: bool,
}

/// The engine the class wraps: the core, with its on-demand parts in the on-demand module.
pub type Engine = Personalizer<BrowserStore, Remote<BrowserStore, JsPartsPort>>;

/// The engine, shared with the page listeners and the on-demand parts' port.
pub struct EngineState {
    pub engine: Engine,
}

impl EngineState {
    /// The engine's warnings (the parts' follow, from their module).
    pub(super) fn all_warnings(&mut self) -> Vec<StorageWarning> {
        let mut warnings = self.engine.warnings();
        warnings.extend(self.parts_failure());
        warnings
    }

    /// Returns the engine's warnings and clears them.
    fn take_all_warnings(&mut self) -> Vec<StorageWarning> {
        let mut warnings = self.engine.take_warnings();
        warnings.extend(self.parts_failure());
        warnings
    }

    /// A warning when the on-demand parts stopped working in this page.
    fn parts_failure(&mut self) -> Option<StorageWarning> {
        let reason = self.engine.parts()?.failure()?;
        let message = format!("adaptation and sync stopped for this page after an internal error ({reason})");
        Some(StorageWarning::new(WarningCode::StorageUnavailable, message))
    }
}

/// On-device personalization for one shop. Collects the shopper's behaviour (with consent) into a
/// private profile in localStorage; nothing leaves the device.
///
/// ```js
/// import init, { Personalizer } from "shop-personalizer";
/// await init();
/// const p = new Personalizer({ shop: "acme", sensitiveCategories: ["Health"] });
/// p.setConsent("full", { explicitOptIn: true });
/// p.track({ type: "view", itemId: "sku-1", item: { categoryPath: ["Shoes", "Running"], price: 89 } });
/// ```
#[wasm_bindgen(js_name = Personalizer)]
pub struct JsPersonalizer {
    pub(super) state: Rc<RefCell<EngineState>>,
    /// Broken once a panic happened after this instance was made (see `panic_guard`).
    pub(super) health: Health,
    _listeners: PageListeners,
    /// The on-demand parts, once loaded (see `parts_slot`).
    pub(super) parts: PartsSlot,
}

#[wasm_bindgen(js_class = Personalizer)]
impl JsPersonalizer {
    /// Creates the personalizer. Every config field is optional except `shop`, the storage
    /// namespace. Consent starts at `"none"`: nothing is read, collected or stored until
    /// `setConsent`. Flushes on `pagehide`/`visibilitychange` and merges other tabs' writes on
    /// `storage` events by itself. Throws on an invalid config (`code: "invalidConfig"`).
    /// After an internal error (`code: "internal"`) a new instance is how to carry on.
    ///
    /// ```js
    /// const p = new Personalizer({
    ///   shop: "acme",
    ///   sensitiveCategories: ["Health", "Adult"],
    ///   noise: { botHeuristic: !isTestRun },
    /// });
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(config: Ts<PersonalizerConfig>) -> Result<JsPersonalizer, JsError> {
        let health = Health::at_birth();
        let config = read_config(&config.js_value())?;
        let env = Environment {
            webdriver: environment::is_automated(),
            global_privacy_control: environment::global_privacy_control(),
            device: environment::device_class(),
        };
        let store = BrowserStore::open();
        let remote = Remote::new(store.clone(), &config.shop);
        let engine = Personalizer::open_with(store, config, env, remote).map_err(coded)?;
        let state = Rc::new(RefCell::new(EngineState { engine }));
        let listeners = PageListeners::attach(Rc::downgrade(&state));
        Ok(JsPersonalizer { state, health, _listeners: listeners, parts: PartsSlot::default() })
    }

    /// The engine, unless a panic broke this instance or a call of it is under way.
    pub(crate) fn state(&self) -> Result<RefMut<'_, EngineState>, JsError> {
        self.health.check()?;
        self.state.try_borrow_mut().map_err(|_| {
            let message = "the Personalizer is busy: do not call it from inside one of its own calls (if an earlier \
                           call threw a WebAssembly.RuntimeError, this instance cannot be used any more: construct a \
                           new Personalizer)";
            thrown(ErrorCode::Busy, message)
        })
    }

    /// Sets the shopper's consent: `"none"` (collect nothing), `"session"` (memory only) or `"full"`
    /// (persisted). When the browser sends Global Privacy Control, `"full"` is capped at
    /// `"session"` unless `explicitOptIn` is true. Raising to `"full"` loads the stored profile;
    /// lowering deletes what the new mode may not keep. Returns what applies now.
    ///
    /// ```js
    /// const { effective, cappedByGlobalPrivacyControl } = p.setConsent("full", { explicitOptIn: false });
    /// ```
    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(
        &self,
        mode: Ts<ConsentMode>,
        options: Option<Ts<ConsentOptions>>,
    ) -> Result<Ts<ConsentDecision>, JsError> {
        self.health.check()?;
        check_size(&mode.js_value(), ErrorCode::InvalidArgument, "consent mode")?;
        let mode: ConsentMode = match mode.js_value().as_string() {
            Some(text) => text.parse().map_err(|e: ConsentError| coded(e))?,
            None => {
                let message = "consent mode must be a string: \"none\", \"session\" or \"full\"";
                return Err(thrown(ErrorCode::InvalidArgument, message));
            }
        };
        let options = match options {
            Some(options) => read_consent_options(&options.js_value())?,
            None => ConsentOptions::default(),
        };
        let decision = self.state()?.engine.set_consent(mode, options.explicit_opt_in);
        self.load_parts_if_stored();
        to_js(&decision)
    }

    /// The consent that applies now.
    ///
    /// ```js
    /// if (p.consent === "none") showConsentBanner();
    /// ```
    #[wasm_bindgen(getter, js_name = consent)]
    pub fn consent(&self) -> Result<Ts<ConsentMode>, JsError> {
        let mode = self.state()?.engine.consent();
        to_js(&mode)
    }

    /// Records something the shopper did. A malformed event throws (nothing of it is stored); a
    /// valid one may still be dropped as noise, a bot, a sensitive item or for lack of consent,
    /// which the returned outcome says.
    ///
    /// ```js
    /// p.track({ type: "addToCart", itemId: "sku-1", quantity: 1 }); // → { status: "recorded", newSession: false }
    /// p.track({ type: "impression", placement: "home", itemIds: ["sku-1", "sku-2"] });
    /// ```
    #[wasm_bindgen(js_name = track)]
    pub fn track(&self, event: Ts<TrackEvent>) -> Result<Ts<TrackOutcome>, JsError> {
        self.health.check()?;
        let event = read_event(&event.js_value())?;
        let hour = u32::from(environment::local_hour_of_week());
        let outcome = self.state()?.engine.track(event, js_sys::Date::now(), hour).map_err(coded)?;
        to_js(&outcome)
    }

    /// Tells the personalizer about items, so events can carry just an id. All or nothing: one
    /// invalid item rejects the whole call. Items in a sensitive category are never kept. Returns
    /// how many items were kept (at most 1000 per call).
    ///
    /// ```js
    /// p.upsertItems([{ id: "sku-1", categoryPath: ["Shoes", "Running"], brand: "Acme", price: 89, tags: ["trail"] }]);
    /// ```
    #[wasm_bindgen(js_name = upsertItems)]
    pub fn upsert_items(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Item[]")] items: JsValue,
    ) -> Result<usize, JsError> {
        self.health.check()?;
        let too_many = |len| coded(PersonalizerError::TooManyItems(len));
        let items = checked_array(&items, MAX_UPSERT_ITEMS, too_many, ErrorCode::InvalidItem, "items")?;
        let items = read_items(&items)?;
        self.state()?.engine.upsert_items(&items).map_err(coded)
    }

    /// Writes unsaved changes now (it also happens on `pagehide`, when the page is hidden, and
    /// every 20 changes). Does nothing unless consent is `"full"`. Throws if the profile cannot be
    /// saved even after compacting it.
    ///
    /// ```js
    /// const { written, storedBytes } = p.flush();
    /// ```
    #[wasm_bindgen(js_name = flush)]
    pub fn flush(&self) -> Result<Ts<FlushReport>, JsError> {
        let report = self.state()?.engine.flush(js_sys::Date::now()).map_err(coded)?;
        to_js(&report)
    }

    /// Removes every localStorage key this library wrote for the shop (profile and backups) and
    /// everything in memory. Consent stays as it is. Returns how many keys were removed.
    ///
    /// ```js
    /// forgetButton.onclick = () => p.forget();
    /// ```
    #[wasm_bindgen(js_name = forget)]
    pub fn forget(&self) -> Result<usize, JsError> {
        self.state()?.engine.forget().map_err(coded)
    }

    /// Everything stored, as human-readable JSON with an explanation of each part.
    ///
    /// ```js
    /// const blob = new Blob([p.exportProfile()], { type: "application/json" });
    /// ```
    #[wasm_bindgen(js_name = exportProfile)]
    pub fn export_profile(&self) -> Result<String, JsError> {
        Ok(self.state()?.engine.export_profile(js_sys::Date::now()))
    }

    /// Top interests with weights (1 = strongest), avoided attributes, visit statistics, the
    /// segment (new / returning / loyal) and counts of what is kept: a "what this shop knows
    /// about you" panel.
    ///
    /// ```js
    /// const { topInterests, visits, segment, kept } = p.profileSummary();
    /// for (const { label, weight } of topInterests) console.log(label, weight.toFixed(2));
    /// ```
    #[wasm_bindgen(js_name = profileSummary)]
    pub fn profile_summary(&self) -> Result<Ts<ProfileSummary>, JsError> {
        let summary = self.state()?.engine.profile_summary(js_sys::Date::now());
        let summary = to_js(&summary)?;
        self.parts.add_privacy_ledger(&summary.js_value());
        Ok(summary)
    }

    /// Deletes one interest (a category also loses its subcategories) and saves at once.
    /// Returns whether it existed.
    ///
    /// ```js
    /// p.removeInterest({ kind: "brand", value: "Acme" });
    /// ```
    #[wasm_bindgen(js_name = removeInterest)]
    pub fn remove_interest(&self, key: Ts<AttributeKey>) -> Result<bool, JsError> {
        self.health.check()?;
        let key = read_interest_key(&key.js_value())?;
        Ok(self.state()?.engine.remove_interest(&key, js_sys::Date::now()))
    }

    /// Problems that did not stop the personalizer, oldest first: unreadable stored data (and the
    /// backup key it was kept under), migrations, a full or unavailable storage.
    ///
    /// ```js
    /// for (const w of p.warnings()) console.warn(w.code, w.message, w.backupKey ?? "");
    /// ```
    #[wasm_bindgen(js_name = warnings, unchecked_return_type = "StorageWarning[]")]
    pub fn warnings(&self) -> Result<js_sys::Array, JsError> {
        let warnings = self.state()?.all_warnings();
        self.parts.with_parts_warnings(&warnings, false)
    }

    /// Returns the warnings and clears them, for logging each once.
    ///
    /// ```js
    /// for (const w of p.takeWarnings()) reportToShopLog(w.code);
    /// ```
    #[wasm_bindgen(js_name = takeWarnings, unchecked_return_type = "StorageWarning[]")]
    pub fn take_warnings(&self) -> Result<js_sys::Array, JsError> {
        let warnings = self.state()?.take_all_warnings();
        self.parts.with_parts_warnings(&warnings, true)
    }

    /// True when tracked changes are waiting to be written (consent `"full"` only).
    ///
    /// ```js
    /// if (p.hasUnsavedChanges()) p.flush();
    /// ```
    #[wasm_bindgen(js_name = hasUnsavedChanges)]
    pub fn has_unsaved_changes(&self) -> Result<bool, JsError> {
        Ok(self.state()?.engine.has_unsaved_changes())
    }
}
