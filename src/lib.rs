//! # shop-personalizer
//!
//! On-device personalization for online shops. The core (everything but [`wasm`]) is plain Rust
//! with no browser imports: it collects a shopper's events into a private profile, ranks the
//! candidates a shop's server sends, and prepares differentially private model updates.
//! The `wasm` module is a thin facade that converts JS values and calls the core.

pub mod catalog;
pub mod adapt;
pub mod collect;
pub mod config;
pub mod consent;
pub mod personalizer;
pub mod profile;
pub mod storage;
pub mod privacy;
pub mod sync;
pub mod rank;
pub mod measure;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
