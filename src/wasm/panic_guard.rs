//! A panic, reported as what it is.
//!
//! The package is built with `panic = "abort"`: a panic runs the panic hook and then traps, so
//! the call throws a `WebAssembly.RuntimeError` and nothing of the call is unwound. A trap
//! inside a call leaves that `Personalizer`'s state borrowed (every later call would say "busy")
//! and possibly half-updated. So the hook counts panics, and an instance made before the latest
//! panic throws `code: "internal"` from every later call, telling the page to construct a new
//! `Personalizer`: it reloads the stored profile and works normally.
//!
//! Why a new instance in the same wasm instance is safe to use:
//! - What a trap leaves behind that the new instance does not share is harmless to it: the old
//!   instance's borrow flags and half-updated state (reachable only from the old object, whose
//!   listeners and sync loop stop: they skip a borrowed state), its leaked heap values, and
//!   the trapped frames' shadow-stack space (a few KB per trap of the 1 MiB stack; the stack
//!   lies below the data, so exhausting it traps instead of overwriting anything).
//! - What the new instance shares is consistent: the allocator is the only shared structure
//!   that mutates on every call, and a panic never starts inside it (dlmalloc has no panicking
//!   path; a failed allocation aborts without running the hook, see below), so when the hook
//!   runs no allocation is under way. The async executor drops no task on a trap and runs the
//!   queue again at the next wake. std's panic count stays raised, which nothing here reads;
//!   a second panic runs the hook again (the browser test provokes two).
//! - localStorage is left as after a tab that crashed mid-write: every key is a checksummed
//!   envelope, and the loader backs up what does not verify.
//!
//! Not covered: running out of memory and a stack overflow trap without running any hook, so
//! they are not counted; a later call of the trapped instance then says "busy" (its message
//! names this case). Formally, Rust treats any code running after an abort as undefined
//! (wasm-bindgen#3687): a page that cannot accept that risk reloads instead.
//!
//! The hook chains the hook it replaces (the test runner's, say), and writes the panic to
//! `console.error` when built with the `console_error_panic_hook` feature.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once, PoisonError};

#[cfg(feature = "test-panic")]
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsError;

#[cfg(feature = "test-panic")]
use super::JsPersonalizer;

use super::js_errors::thrown;
use crate::error_code::ErrorCode;

/// Panics since the module was loaded.
static PANICS: AtomicU32 = AtomicU32::new(0);
/// Where the latest panic happened (`src/rank/score.rs:120:9`), for the error message.
static PANIC_AT: Mutex<String> = Mutex::new(String::new());
static INSTALL: Once = Once::new();

/// Whether an instance is still usable: the panics there had been when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    panics_before: u32,
}

impl Health {
    /// The health of an instance made now (installs the hook on first use).
    pub fn at_birth() -> Self {
        INSTALL.call_once(install_hook);
        Health { panics_before: PANICS.load(Ordering::Relaxed) }
    }

    /// True once a panic happened after this instance was made.
    pub fn is_broken(self) -> bool {
        PANICS.load(Ordering::Relaxed) != self.panics_before
    }

    /// `Err` with code `internal` once the instance is broken.
    pub fn check(self) -> Result<(), JsError> {
        if self.is_broken() {
            return Err(internal_error());
        }
        Ok(())
    }
}

fn internal_error() -> JsError {
    let at = PANIC_AT.lock().unwrap_or_else(PoisonError::into_inner);
    let at = if at.is_empty() { "an unknown place" } else { at.as_str() };
    let message = format!(
        "an internal error happened in shop-personalizer (a panic at {at}), so this Personalizer can no longer be \
         used: construct a new Personalizer, which reloads the stored profile (and please report the panic)"
    );
    thrown(ErrorCode::Internal, &message)
}

fn install_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        if let Some(location) = info.location() {
            let mut at = PANIC_AT.lock().unwrap_or_else(PoisonError::into_inner);
            at.clear();
            at.push_str(&location.to_string());
        }
        #[cfg(feature = "console_error_panic_hook")]
        console_error_panic_hook::hook(info);
        previous(info);
    }));
}

#[cfg(feature = "test-panic")]
#[wasm_bindgen(js_class = Personalizer)]
impl JsPersonalizer {
    /// Test builds only (the `test-panic` feature, never in the package): panics while the
    /// engine is borrowed, as a bug in the engine would.
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __panicForTest)]
    pub fn panic_for_test(&self) -> Result<(), JsError> {
        let _engine = self.state()?;
        panic!("a panic provoked by a test");
    }
}
