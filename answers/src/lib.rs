//! The shop's half of the protocol (README "Server protocol"): candidate answers built from the
//! shop's session logs and catalogue, served over HTTP (`serve`), exported as static files
//! (`export`).
//!
//! The candidate code (`candidates`, `covisit`, `recency`, `transitions`, `vmis`, `embedding`) has no I/O and no heavy
//! dependency: the replay tool uses it with `default-features = false`. Everything else needs
//! the `service` feature (tantivy, axum).

pub mod candidates;
pub mod covisit;
pub mod embedding;
pub mod next_item;
pub mod recency;
pub mod transitions;
mod two_hop;
pub mod vmis;

pub use candidates::{CandidateIndex, EmbeddingSource, NeighbourSource, ServerConfig};
pub use next_item::NextItemConfig;
pub use recency::{HalfLife, HalfLifeError, Recency};
pub use vmis::VmisConfig;
pub mod input;
pub mod sessions;
pub mod synthetic;

#[cfg(feature = "service")]
pub mod answer;
#[cfg(feature = "service")]
pub mod catalogue;
#[cfg(feature = "service")]
pub mod cli;
#[cfg(feature = "service")]
pub mod encode;
#[cfg(feature = "service")]
pub mod export;
#[cfg(feature = "service")]
pub mod http;
#[cfg(feature = "service")]
pub mod index;
#[cfg(feature = "service")]
pub mod search;
