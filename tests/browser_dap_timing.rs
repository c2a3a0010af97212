//! The client's proof time in Chromium, timed with `performance.now()` over reports built with the
//! device code: DAP-09 reports of a model update of the ranker's dimension (fixed-point encoding,
//! Prio3 sharding with its L2-norm proof, two HPKE seals), and lift reports (the noised
//! measurement of the clipped counts and their products, Prio3SumVec sharding with its range
//! proof, two HPKE seals). Each test prints the median and the slowest time per report and
//! asserts only what the reports are (their size, a fresh id each), never a time:
//! `scripts/bench-browser` runs them in a release build and prints their lines next to the page
//! figures (issue 13: at most 30 ms for a model update).
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Reflect};
use rand_core06::OsRng;
use shop_personalizer::measure::{LiftReportConfig, NoiseMode};
use shop_personalizer::privacy::{PrivacyConfig, PrivacyParams};
use shop_personalizer::rank::NUM_FEATURES;
use shop_personalizer::sync::dap::report::encoded;
use shop_personalizer::sync::dap::{
    build_lift_report, build_report, report_bound, DapTask, HpkeKeypair, LiftEncoding, DAP_MAX_NOISE_COHORT,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const REPORTS: usize = 15;

fn now_ms() -> f64 {
    let performance = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).expect("performance");
    let now: Function = Reflect::get(&performance, &JsValue::from_str("now")).expect("now").unchecked_into();
    now.call0(&performance).ok().and_then(|value| value.as_f64()).expect("a time")
}

/// What [`time_reports`] measured: times in ms, sorted, and the encoded sizes.
struct Timed {
    times: Vec<f64>,
    sizes: Vec<usize>,
}

impl Timed {
    fn median(&self) -> f64 {
        self.times[self.times.len() / 2]
    }

    fn slowest(&self) -> f64 {
        self.times[self.times.len() - 1]
    }
}

/// Builds and encodes [`REPORTS`] reports with `build`, timing each, and checks every report has
/// its own id and all have one size.
fn time_reports(mut build: impl FnMut() -> janus_messages::Report) -> Timed {
    let mut times = Vec::with_capacity(REPORTS);
    let mut sizes = Vec::with_capacity(REPORTS);
    let mut ids = std::collections::HashSet::new();
    for _ in 0..REPORTS {
        let started = now_ms();
        let report = build();
        let bytes = encoded(&report).expect("encodes");
        times.push(now_ms() - started);
        sizes.push(bytes.len());
        ids.insert(report.metadata().id().as_ref().to_vec());
    }
    times.sort_by(f64::total_cmp);
    assert!(sizes.iter().all(|&size| size == sizes[0]), "every report has the same size: {sizes:?}");
    assert_eq!(ids.len(), REPORTS, "every report has its own id");
    Timed { times, sizes }
}

fn task(dimension: usize, clip_bound: f64) -> DapTask {
    DapTask {
        task_id: [3; 32].into(),
        leader_config: HpkeKeypair::generate(1, &mut OsRng).config,
        helper_config: HpkeKeypair::generate(2, &mut OsRng).config,
        dimension,
        clip_bound,
        time_precision_secs: 3_600,
    }
}

#[wasm_bindgen_test]
fn model_update_reports_are_built_in_the_browser_and_their_time_is_printed() {
    let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("default privacy");
    let task = task(NUM_FEATURES, report_bound(&privacy, DAP_MAX_NOISE_COHORT, NUM_FEATURES));
    let update: Vec<f32> = (0..NUM_FEATURES).map(|i| ((i % 7) as f32 - 3.0) * 0.02).collect();
    let timed = time_reports(|| build_report(&task, &update, 1_700_000_000, &mut OsRng).expect("a report"));
    let line = format!(
        "dap-report-timing: {REPORTS} model-update reports of dimension {NUM_FEATURES}: median {:.2} ms, slowest {:.2} ms \
         per report (encode + Prio3 shard and proof + 2 HPKE seals), {} bytes each",
        timed.median(),
        timed.slowest(),
        timed.sizes[0]
    );
    web_sys::console::log_1(&JsValue::from_str(&line));
    assert!((30_000..=32_768).contains(&timed.sizes[0]), "a report within the 32 KB target: {} bytes", timed.sizes[0]);
}

#[wasm_bindgen_test]
fn lift_reports_are_built_in_the_browser_and_their_time_is_printed() {
    let config = LiftReportConfig { noise: NoiseMode::Local, ..LiftReportConfig::default() }.check().expect("config");
    let cohort = 1_000;
    let encoding = LiftEncoding::new(&config, cohort).expect("the default lift encoding");
    let task = task(encoding.length(), 1.0);
    // The 11 metrics of the default report (sessions, impressions, clicks, ...), within their caps.
    let values: Vec<f64> = (0..11).map(|index| index as f64 * 0.7).collect();
    let mut measuring = Vec::with_capacity(REPORTS);
    let timed = time_reports(|| {
        let started = now_ms();
        let measurement = encoding.measurement(&values, &mut OsRng).expect("a measurement");
        measuring.push(now_ms() - started);
        build_lift_report(&task, &encoding, &measurement, 1_700_000_000, &mut OsRng).expect("a report")
    });
    let line = format!(
        "dap-report-timing: {REPORTS} lift reports of {} entries of {} bits (cohort {cohort}): median {:.2} ms, \
         slowest {:.2} ms per report (noised measurement, median {:.2} ms, + Prio3SumVec shard and proof + 2 HPKE \
         seals), {} bytes each",
        encoding.length(),
        encoding.bits(),
        timed.median(),
        timed.slowest(),
        {
            measuring.sort_by(f64::total_cmp);
            measuring[REPORTS / 2]
        },
        timed.sizes[0]
    );
    web_sys::console::log_1(&JsValue::from_str(&line));
    assert_eq!(encoding.length(), 77, "the default measurement: one bucket's 11 values and 66 products");
}
