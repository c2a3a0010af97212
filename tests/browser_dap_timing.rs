//! The client's proof time in Chromium: DAP-09 reports of a model update of the ranker's
//! dimension, built with the device code (fixed-point encoding, Prio3 sharding with its L2-norm
//! proof, two HPKE seals), timed with `performance.now()`. It prints the median and the slowest
//! time per report and asserts only what the reports are (their size, a fresh id each), never a
//! time: `scripts/bench-browser` runs it in a release build and prints its line next to the page
//! figures (issue 13: at most 30 ms).
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Reflect};
use rand_core06::OsRng;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyParams};
use shop_personalizer::rank::NUM_FEATURES;
use shop_personalizer::sync::dap::report::encoded;
use shop_personalizer::sync::dap::{build_report, report_bound, DapTask, HpkeKeypair, DAP_MAX_NOISE_COHORT};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const REPORTS: usize = 15;

fn now_ms() -> f64 {
    let performance = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).expect("performance");
    let now: Function = Reflect::get(&performance, &JsValue::from_str("now")).expect("now").unchecked_into();
    now.call0(&performance).ok().and_then(|value| value.as_f64()).expect("a time")
}

#[wasm_bindgen_test]
fn model_update_reports_are_built_in_the_browser_and_their_time_is_printed() {
    let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("default privacy");
    let task = DapTask {
        task_id: [3; 32].into(),
        leader_config: HpkeKeypair::generate(1, &mut OsRng).config,
        helper_config: HpkeKeypair::generate(2, &mut OsRng).config,
        dimension: NUM_FEATURES,
        clip_bound: report_bound(&privacy, DAP_MAX_NOISE_COHORT, NUM_FEATURES),
        time_precision_secs: 3_600,
    };
    let update: Vec<f32> = (0..NUM_FEATURES).map(|i| ((i % 7) as f32 - 3.0) * 0.02).collect();
    let mut times = Vec::with_capacity(REPORTS);
    let mut sizes = Vec::with_capacity(REPORTS);
    let mut ids = std::collections::HashSet::new();
    for _ in 0..REPORTS {
        let started = now_ms();
        let report = build_report(&task, &update, 1_700_000_000, &mut OsRng).expect("a report");
        let bytes = encoded(&report).expect("encodes");
        times.push(now_ms() - started);
        sizes.push(bytes.len());
        ids.insert(report.metadata().id().as_ref().to_vec());
    }
    times.sort_by(f64::total_cmp);
    let line = format!(
        "dap-report-timing: {REPORTS} model-update reports of dimension {NUM_FEATURES}: median {:.2} ms, slowest {:.2} ms \
         per report (encode + Prio3 shard and proof + 2 HPKE seals), {} bytes each",
        times[REPORTS / 2],
        times[REPORTS - 1],
        sizes[0]
    );
    web_sys::console::log_1(&JsValue::from_str(&line));
    assert!(sizes.iter().all(|&size| size == sizes[0]), "every report has the same size: {sizes:?}");
    assert!((30_000..=32_768).contains(&sizes[0]), "a report within the 32 KB target: {} bytes", sizes[0]);
    assert_eq!(ids.len(), REPORTS, "every report has its own id");
}
