//! Replays every input in `fuzz/regressions/` through the loader checks the fuzz target uses, and
//! runs the same checks on random inputs, so the guarantees hold on the stable toolchain too.

use proptest::prelude::*;

#[path = "../fuzz/input.rs"]
mod input;

/// Replays every file in `fuzz/<dir>` through `check`; returns how many there were.
fn replay_regressions(dir: &str, check: fn(&[u8])) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the regression directory exists") {
        let path = entry.expect("a readable directory entry").path();
        let bytes = std::fs::read(&path).expect("a readable regression input");
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "regression input {} failed", path.display());
        replayed += 1;
    }
    replayed
}

#[test]
fn every_regression_input_loads_safely() {
    let replayed = replay_regressions("regressions", input::check_loader);
    assert!(replayed >= 10, "expected the checked-in regression inputs, found {replayed}");
}

#[test]
fn every_regression_input_parses_as_serde_json_parses_it() {
    let mut replayed = 0;
    for dir in ["regressions", "regressions_other_state"] {
        replayed += replay_regressions(dir, input::check_json_parser);
    }
    assert!(replayed >= 16, "expected the checked-in regression inputs, found {replayed}");
}

#[test]
fn every_other_state_regression_input_loads_safely() {
    let replayed = replay_regressions("regressions_other_state", input::check_other_state);
    assert!(replayed >= 6, "expected the checked-in regression inputs, found {replayed}");
}

#[test]
fn every_model_file_regression_input_reads_safely() {
    let replayed = replay_regressions("regressions_model_file", input::check_model_file);
    assert!(replayed >= 6, "expected the checked-in regression inputs, found {replayed}");
}

#[test]
fn odd_first_bytes_wrap_a_model_file_around_the_rest() {
    let (file, expected) = input::model_file_value(&[0x03, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64]);
    assert_eq!(expected, 3);
    let model = shop_personalizer::sync::SharedModel::decode_file(&file, 3).expect("a wrapped file is valid");
    assert_eq!(model.weights, vec![1.0, 2.0, 3.0]);
    assert_eq!(input::model_file_value(b"\x02SPMD"), (b"SPMD".to_vec(), 2));
}

#[test]
fn the_first_byte_picks_the_state_and_odd_ones_wrap_it() {
    let (name, raw) = input::other_state_value(b"\x03{}");
    assert_eq!(name, "adapt");
    assert!(
        raw.starts_with(r#"{"format":"shop-personalizer/adapt","version":0,"#) && raw.ends_with(r#""payload":{}}"#)
    );
    assert_eq!(input::other_state_value(b"\x04x"), ("sync", "x".to_owned()));
}

#[test]
fn odd_first_bytes_wrap_the_rest_in_a_valid_envelope() {
    let stored = input::stored_value(b"\x03{}");
    assert!(stored.contains("\"version\":1") && stored.ends_with("\"payload\":{}}"));
    assert_eq!(input::stored_value(b"\x02{}"), "\u{2}{}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_load_safely(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        input::check_loader(&data);
    }

    #[test]
    fn random_json_payloads_load_safely(mode in 0u8..6, payload in r#"\{("[a-zA-Z]{1,12}":(\[[0-9,{}"a-z:]{0,40}\]|[0-9]{1,5}|"[a-z]{0,5}"|\{[^\\]{0,40}\}),?){0,6}\}"#) {
        let mut data = vec![mode * 2 + 1];
        data.extend_from_slice(payload.as_bytes());
        input::check_loader(&data);
    }

    #[test]
    fn random_model_files_read_safely(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        input::check_model_file(&data);
    }

    #[test]
    fn random_other_states_load_safely(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        input::check_other_state(&data);
    }

    #[test]
    fn random_other_state_payloads_load_safely(mode in 0u8..18, payload in r#"\{("[a-zA-Z]{1,12}":(\[[0-9,{}"a-z:.-]{0,40}\]|[0-9]{1,5}|"[a-z0-9]{0,5}"|\{[^\\]{0,40}\}),?){0,6}\}"#) {
        let mut data = vec![mode * 2 + 1];
        data.extend_from_slice(payload.as_bytes());
        input::check_other_state(&data);
    }
}
