//! Fuzzes the profile loader: any stored value must load or be backed up, never panic or vanish.
//! Run from the crate root with a nightly toolchain: `cargo +nightly fuzz run load_profile`.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses part of the shared input rules.
#[allow(dead_code)]
#[path = "../input.rs"]
mod input;

fuzz_target!(|data: &[u8]| input::check_loader(data));
