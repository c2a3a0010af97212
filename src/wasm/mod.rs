//! The JS facade: converts values, calls the engine, converts back. Nothing else lives here.
//!
//! The package is two modules built from this crate (see README "How the package loads"):
//! - `core/` (feature `core-module`): the `Personalizer` class over the core engine (collect,
//!   profile, ranking, storage, consent), whose on-demand parts live in the other module and are
//!   reached through the page (`core/parts_port.rs`);
//! - `on_demand/` (feature `on-demand-module`): the `OnDemandParts` class, adaptation and sync
//!   over their own stored envelopes, loaded the first time a page needs them.
//!
//! With both features (the default, used by the browser tests) one module holds both, and the
//! core reaches the parts through the very same JS calls.

mod environment;
mod input_limits;
mod js_errors;
#[cfg(feature = "core-module")]
mod js_reading;
mod js_values;
mod local_storage;
mod long_text;
mod panic_guard;

#[cfg(feature = "core-module")]
mod core;
#[cfg(feature = "on-demand-module")]
mod on_demand;

#[cfg(feature = "core-module")]
pub use self::core::{CandidateAnswer, ConsentOptions, JsPersonalizer, NeighbourAnswer};
pub use local_storage::BrowserStore;
#[cfg(feature = "on-demand-module")]
pub use on_demand::{fetch_transport, JsOnDemandParts};
