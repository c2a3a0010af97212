//! The JS facade: converts values, calls the core, converts back. Nothing else lives here.

#[cfg(not(feature = "core-only"))]
mod adapting;
mod answer_json;
mod environment;
#[cfg(not(feature = "core-only"))]
pub mod fetch_transport;
mod js_errors;
mod js_values;
mod local_storage;
mod page_lifecycle;
mod panic_guard;
mod personalizer;
mod ranked_list;
mod ranking;
#[cfg(not(feature = "core-only"))]
mod syncing;

pub use local_storage::BrowserStore;
pub use personalizer::{ConsentOptions, JsPersonalizer};
pub use ranking::{CandidateAnswer, NeighbourAnswer};
