//! The HTTP API end to end through the router, over SQLite in a temporary folder.

mod common;

use aggregator::{start, ServerConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use shop_personalizer::sync::{verifying_key_from_hex, SharedModel};

async fn started(dir: &tempfile::TempDir) -> axum::Router {
    start(config(dir.path())).await.expect("server starts").router
}

async fn round_updates(router: &axum::Router) -> u64 {
    let (status, _, body) = call(router, get("/v1/rounds/current")).await;
    assert_eq!(status, StatusCode::OK);
    json(&body)["updatesReceived"].as_u64().expect("count")
}

async fn wait_for_version(router: &axum::Router, version: u64) {
    for _ in 0..500 {
        let (_, _, body) = call(router, get("/v1/rounds/current")).await;
        if json(&body)["modelVersion"].as_u64() == Some(version) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("model version {version} was never published");
}

#[tokio::test]
async fn a_valid_update_is_counted_once_and_a_resend_is_answered_as_already_received() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = started(&dir).await;
    let body = update(1, 50, 1).encode();
    let (status, _, reply) = call(&router, post(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(round_updates(&router).await, 1);
    let (status, _, reply) = call(&router, post(body)).await;
    assert_eq!(status, StatusCode::OK, "a resend is a success (no 409 in the browser's console)");
    assert_eq!(json(&reply)["status"], "alreadyReceived");
    assert_eq!(round_updates(&router).await, 1, "and is not counted again");
}

#[tokio::test]
async fn every_invalid_update_gets_a_clear_4xx_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = started(&dir).await;
    let mut wrong_dimension = update(1, 1, 2);
    wrong_dimension.values.pop();
    let mut loud = update(1, 1, 3);
    loud.clip_bound = 5.0;
    let mut huge_norm = update(1, 127, 4);
    huge_norm.quantization_scale = 1.0;
    let oversized = {
        let mut bytes = update(1, 1, 5).encode();
        bytes.extend_from_slice(&[0; 64]);
        bytes
    };
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (update(7, 1, 1).encode(), StatusCode::CONFLICT, "wrong_model_version"),
        (wrong_dimension.encode(), StatusCode::UNPROCESSABLE_ENTITY, "wrong_dimension"),
        (loud.encode(), StatusCode::UNPROCESSABLE_ENTITY, "parameter_mismatch"),
        (huge_norm.encode(), StatusCode::UNPROCESSABLE_ENTITY, "norm_too_large"),
        (oversized, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        (b"hello".to_vec(), StatusCode::BAD_REQUEST, "malformed_update"),
        (Vec::new(), StatusCode::BAD_REQUEST, "malformed_update"),
    ];
    for (body, want_status, want_code) in cases {
        let (status, headers, reply) = call(&router, post(body)).await;
        assert_eq!(status, want_status, "{want_code}: {}", String::from_utf8_lossy(&reply));
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let reply = json(&reply);
        assert_eq!(reply["error"], want_code);
        assert!(reply["message"].as_str().is_some_and(|m| m.len() > 20), "{reply}");
    }
    assert_eq!(round_updates(&router).await, 0);
}

#[tokio::test]
async fn a_full_round_publishes_the_signed_fedavg_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = started(&dir).await;
    let (_, _, key) = call(&router, get("/v1/model-key")).await;
    let key = verifying_key_from_hex(json(&key)["publicKey"].as_str().expect("hex")).expect("valid key");
    let on_disk = std::fs::read_to_string(dir.path().join("model-key.hex")).expect("key file");
    assert_eq!(verifying_key_from_hex(&on_disk), Ok(key));

    // 10 updates of +0.5 and 10 of +0.1 on coordinate 0: mean 0.3 (learning rate 1).
    for id in 0..20_u64 {
        let value = if id < 10 { 50 } else { 10 };
        let (status, _, reply) = call(&router, post(update(1, value, id).encode())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&reply));
    }
    // The round closes right after the 20th commit; wait for the writer to publish.
    wait_for_version(&router, 2).await;
    let (status, headers, body) = call(&router, get("/v1/model")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ETAG], "\"2\"");
    assert!(headers[header::CACHE_CONTROL].to_str().expect("ascii").contains("max-age=30"));
    let model = SharedModel::decode_verified(&body, &key).expect("signed by the served key");
    assert_eq!(model.version, 2);
    assert!((model.weights[0] - 0.3).abs() < 1e-5, "{:?}", model.weights);
    assert!(model.weights[1..].iter().all(|w| w.abs() < 1e-9));

    let (_, _, round) = call(&router, get("/v1/rounds/current")).await;
    let round = json(&round);
    assert_eq!(round["modelVersion"], 2);
    assert_eq!(round["updatesReceived"], 0);
    assert_eq!(round["lastClosedRound"]["version"], 1);
    assert_eq!(round["lastClosedRound"]["updates"], 20);
    let per_device = round["privacy"]["perDeviceEpsilon"].as_f64().expect("epsilon");
    assert!((per_device - 5.756_522).abs() < 1e-5);
    // Updates against the old version are now refused.
    let (status, _, reply) = call(&router, post(update(1, 1, 99).encode())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json(&reply)["error"], "wrong_model_version");
}

#[tokio::test]
async fn the_model_answers_304_to_its_own_etag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = started(&dir).await;
    let conditional =
        |tag: &str| Request::get("/v1/model").header(header::IF_NONE_MATCH, tag).body(Body::empty()).expect("request");
    let (status, headers, body) = call(&router, conditional("\"1\"")).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG], "\"1\"");
    assert!(body.is_empty());
    let (status, _, body) = call(&router, conditional("W/\"0\", \"5\"")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.is_empty());
}

#[tokio::test]
async fn cors_admits_the_configured_storefront_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = started(&dir).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/updates")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .expect("request")
    };
    let (_, headers, _) = call(&router, preflight("http://127.0.0.1:8080")).await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none(), "no cookies, ever");
    let (_, headers, _) = call(&router, preflight("http://evil.test")).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn the_rate_limit_answers_429_past_the_burst() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig { rate_limit_per_minute: 3, ..settings(dir.path()) }.check().expect("valid");
    let router = start(config).await.expect("starts").router;
    for id in 0..3 {
        let (status, _, _) = call(&router, post(update(1, 1, id).encode())).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, _, reply) = call(&router, post(update(1, 1, 3).encode())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(&reply)["error"], "rate_limited");
    assert_eq!(round_updates(&router).await, 3);
}

#[tokio::test]
async fn health_and_state_survive_a_restart_on_the_same_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = started(&dir).await;
    let (status, _, body) = call(&first, get("/healthz")).await;
    assert_eq!((status, json(&body)["status"].as_str()), (StatusCode::OK, Some("ok")));
    for id in 0..5 {
        call(&first, post(update(1, 20, id).encode())).await;
    }
    let (_, _, key_before) = call(&first, get("/v1/model-key")).await;
    drop(first);
    let second = started(&dir).await;
    assert_eq!(round_updates(&second).await, 5);
    let (_, _, key_after) = call(&second, get("/v1/model-key")).await;
    assert_eq!(key_before, key_after, "the signing key is kept");
    let (status, _, reply) = call(&second, post(update(1, 20, 0).encode())).await;
    assert_eq!(
        (status, json(&reply)["status"].as_str()),
        (StatusCode::OK, Some("alreadyReceived")),
        "nonces are durable too"
    );
    assert_eq!(round_updates(&second).await, 5, "a resend after the restart is not counted again");
}
