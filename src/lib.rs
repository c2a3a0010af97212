//! # shop-personalizer
//!
//! On-device personalization for online shops. The core (everything but [`wasm`]) is plain Rust
//! with no browser imports: it collects a shopper's events into a private profile, ranks the
//! candidates a shop's server sends, and prepares differentially private model updates.
//! The `wasm` module is a thin facade that converts JS values and calls the core.

pub mod adapt;
pub mod catalog;
pub mod collect;
pub mod config;
pub mod consent;
pub mod error_code;
pub mod float_text;
pub mod measure;
pub mod off_policy;
pub mod ordering;
pub mod personalizer;
pub mod privacy;
pub mod profile;
pub mod rank;
pub mod storage;
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
