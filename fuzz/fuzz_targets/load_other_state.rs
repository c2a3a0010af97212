//! Fuzzes the loaders of the rank model, the adaptation state and the sync ledger (one shared
//! envelope, see `storage::envelope`): any stored value must load or be backed up, never panic or
//! vanish. Run from the crate root with a nightly toolchain: `cargo +nightly fuzz run load_other_state`.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses part of the shared input rules.
#[allow(dead_code)]
#[path = "../input.rs"]
mod input;

fuzz_target!(|data: &[u8]| input::check_other_state(data));
