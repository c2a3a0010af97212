//! Fuzzes the model-file reader (`replay fit --out`, `aggregator --initial-model`): any bytes are
//! refused with a code or accepted as a finite model of the expected dimension, never a panic.
//! Run from the crate root with a nightly toolchain: `cargo +nightly fuzz run load_model_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses part of the shared input rules.
#[allow(dead_code)]
#[path = "../input.rs"]
mod input;

fuzz_target!(|data: &[u8]| input::check_model_file(data));
