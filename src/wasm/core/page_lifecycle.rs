//! The page events the facade listens to for the shop: `visibilitychange` (to hidden) and
//! `pagehide` flush the profile; `storage` picks up what another tab of the shop wrote.
//! Listeners hold only a weak handle, and are removed when the `Personalizer` is freed.

use std::cell::RefCell;
use std::rc::Weak;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, EventTarget, StorageEvent, VisibilityState};

use super::personalizer::EngineState;
use crate::wasm::long_text;

#[wasm_bindgen]
extern "C" {
    /// A `StorageEvent` whose `oldValue` / `newValue` are read as JS strings (or `null`), for
    /// `long_text`: each is a whole stored profile.
    #[wasm_bindgen(js_name = StorageEvent)]
    type StorageEventText;

    #[wasm_bindgen(method, getter, js_name = oldValue)]
    fn old_value_text(this: &StorageEventText) -> JsValue;

    #[wasm_bindgen(method, getter, js_name = newValue)]
    fn new_value_text(this: &StorageEventText) -> JsValue;
}

type Listener = Closure<dyn FnMut(Event)>;

/// Listeners attached to `window` and `document`; detached on drop.
pub struct PageListeners {
    attached: Vec<(EventTarget, &'static str, Listener)>,
}

impl PageListeners {
    /// Attaches the listeners; outside a browser page (Node, workers) there is nothing to attach to.
    pub fn attach(state: Weak<RefCell<EngineState>>) -> Self {
        let mut listeners = PageListeners { attached: Vec::new() };
        let Some(window) = web_sys::window() else {
            return listeners;
        };
        let document = window.document();

        let flush_state = state.clone();
        listeners.add(window.clone().into(), "pagehide", move |_| flush(&flush_state));

        if let Some(document) = document {
            let visible_state = state.clone();
            let watched = document.clone();
            listeners.add(document.into(), "visibilitychange", move |_| {
                if watched.visibility_state() == VisibilityState::Hidden {
                    flush(&visible_state);
                }
            });
        }

        listeners.add(window.into(), "storage", move |event: Event| {
            let Some(event) = event.dyn_ref::<StorageEvent>() else { return };
            let Some(state) = state.upgrade() else { return };
            // A listener never runs inside another call, but stay safe if it ever does.
            if let Ok(mut state) = state.try_borrow_mut() {
                let text = event.unchecked_ref::<StorageEventText>();
                let (old, new) = (long_text::text(&text.old_value_text()), long_text::text(&text.new_value_text()));
                state.engine.on_storage_event(
                    event.key().as_deref(),
                    old.as_deref(),
                    new.as_deref(),
                    js_sys::Date::now(),
                );
            };
        });
        listeners
    }

    fn add(&mut self, target: EventTarget, kind: &'static str, handler: impl FnMut(Event) + 'static) {
        let listener: Listener = Closure::new(handler);
        if target.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref()).is_ok() {
            self.attached.push((target, kind, listener));
        }
    }
}

fn flush(state: &Weak<RefCell<EngineState>>) {
    let Some(state) = state.upgrade() else { return };
    if let Ok(mut state) = state.try_borrow_mut() {
        state.engine.flush_or_warn(js_sys::Date::now());
    };
}

impl Drop for PageListeners {
    fn drop(&mut self) {
        for (target, kind, listener) in self.attached.drain(..) {
            // Removing can only fail for a detached target; there is nothing more to do then.
            let _ = target.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
    }
}
