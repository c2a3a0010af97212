//! Attack suite, issue 14 finding 1: no single request, and no minority of requests, can move
//! the published model beyond what honest updates produce. Through the real router over SQLite.

mod common;

use aggregator::policy::{max_scale, norm_bound};
use aggregator::start;
use axum::http::StatusCode;
use common::*;
use shop_personalizer::sync::{verifying_key_from_hex, SharedModel, UpdateMessage};

/// An honest-looking update: coordinate `i` is `((id + i) % 11 − 5) · 0.01`, within ±0.05.
fn honest(id: u64) -> UpdateMessage {
    let mut message = update(1, 0, id);
    for (index, value) in message.values.iter_mut().enumerate() {
        *value = ((id as usize + index) % 11) as i8 - 5;
    }
    message
}

async fn published(router: &axum::Router, version: u64) -> SharedModel {
    let (_, _, key) = call(router, get("/v1/model-key")).await;
    let key = verifying_key_from_hex(json(&key)["publicKey"].as_str().expect("hex")).expect("valid key");
    for _ in 0..500 {
        let (status, _, body) = call(router, get("/v1/model")).await;
        if status == StatusCode::OK && body.get(5) == Some(&(version as u8)) {
            return SharedModel::decode_verified(&body, &key).expect("a signed model");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("model version {version} was never published");
}

async fn post_status(router: &axum::Router, message: &UpdateMessage) -> (StatusCode, String) {
    let (status, _, body) = call(router, post(message.encode())).await;
    let code = serde_json::from_slice::<serde_json::Value>(&body).map_or(String::new(), |v| v["error"].to_string());
    (status, code)
}

#[tokio::test]
async fn a_declared_huge_scale_is_refused_and_the_model_stays_put() {
    // Issue 14: 19 honest updates plus one whose values are all ±1 with s = 1e6 all got 202, and
    // every weight of the next model moved by about 50,000.
    let dir = tempfile::tempdir().expect("temp dir");
    let router = start(config(dir.path())).await.expect("starts").router;
    for id in 0..19 {
        assert_eq!(post_status(&router, &honest(id)).await.0, StatusCode::ACCEPTED);
    }
    for (id, scale) in [(100, 1e6_f32), (101, 3e38)] {
        let mut poison = update(1, 1, id);
        poison.values = (0..DIMENSION).map(|i| if i % 2 == 0 { 1 } else { -1 }).collect();
        poison.quantization_scale = scale;
        let (status, code) = post_status(&router, &poison).await;
        assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "\"norm_too_large\""), "s = {scale}");
    }
    assert_eq!(post_status(&router, &honest(19)).await.0, StatusCode::ACCEPTED);
    let model = published(&router, 2).await;
    assert!(model.weights.iter().all(|w| w.abs() <= 0.05 + 1e-6), "{:?}", model.weights);
}

#[tokio::test]
async fn a_saturating_scale_sent_twice_never_reaches_the_sum() {
    // Issue 14: with s = 3e38 the fixed-point accumulation saturated and, sent twice, wrapped.
    let dir = tempfile::tempdir().expect("temp dir");
    let router = start(config(dir.path())).await.expect("starts").router;
    for id in 0..2 {
        let mut poison = update(1, 0, 200 + id);
        poison.quantization_scale = 3e38;
        let (status, code) = post_status(&router, &poison).await;
        assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "\"scale_out_of_range\""));
    }
    let (_, _, body) = call(&router, get("/v1/rounds/current")).await;
    assert_eq!(json(&body)["updatesReceived"], 0);
}

#[tokio::test]
async fn ten_percent_of_worst_admissible_updates_stay_within_the_honest_range() {
    // The worst update the checks still allow: its whole norm budget on two coordinates, the
    // first at the largest honest coordinate (127 steps of the largest honest scale).
    let dir = tempfile::tempdir().expect("temp dir");
    let router = start(config(dir.path())).await.expect("starts").router;
    // d = 8, C = z = 1: s_max = (1 + sqrt(2 ln 16e9)) / 127 · 1.00001 = 0.0618514 and the norm
    // bound is 1 + sqrt(8) + 6.437898 + 0.0618514 · sqrt(8) = 10.441267 = 168.8 steps: 127
    // steps on coordinate 0 leave sqrt(168.8² − 127²) = 111.2 steps for coordinate 1.
    let scale = 0.061_851_4_f32;
    assert!((max_scale(1.0, 1.0, DIMENSION) - f64::from(scale)).abs() < 1e-7);
    assert!((norm_bound(1.0, 1.0, DIMENSION) - 10.441_267).abs() < 1e-5);
    let second = 111;
    for id in 0..18 {
        assert_eq!(post_status(&router, &honest(id)).await.0, StatusCode::ACCEPTED);
    }
    for id in 0..2 {
        let mut hostile = update(1, 127, 300 + id);
        hostile.values[1] = second;
        hostile.quantization_scale = scale;
        assert_eq!(post_status(&router, &hostile).await.0, StatusCode::ACCEPTED, "the checks allow it");
    }
    let model = published(&router, 2).await;
    // A plain mean would move coordinate 0 by 2 · 127 · s / 20 ≈ 0.79.
    assert!(model.weights.iter().all(|w| w.abs() <= 0.05 + 1e-6), "{:?}", model.weights);
}
