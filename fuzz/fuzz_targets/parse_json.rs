//! Fuzzes the stored-state JSON parser against serde_json: the same tree or both refuse, never a
//! panic. Run from the crate root with a nightly toolchain: `cargo +nightly fuzz run parse_json`
//! (seed it with `fuzz/regressions*`: every stored value starts as JSON text).
#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses part of the shared input rules.
#[allow(dead_code)]
#[path = "../input.rs"]
mod input;

fuzz_target!(|data: &[u8]| input::check_json_parser(data));
