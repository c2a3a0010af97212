//! The core module's `Personalizer` class: collect, profile, ranking, storage and consent in
//! this module; adaptation and sync forwarded to the on-demand module (`on_demand_calls`,
//! `parts_port`, `parts_slot`).

mod answer_json;
mod answer_limits;
mod event_input;
mod input_reading;
mod json_results;
mod on_demand_calls;
mod page_lifecycle;
mod parts_port;
mod parts_slot;
mod personalizer;
mod ranked_list;
mod ranking;

pub use personalizer::{ConsentOptions, JsPersonalizer};
pub use ranking::{CandidateAnswer, NeighbourAnswer};
