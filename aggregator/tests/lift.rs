//! Lift reports end to end: real device engines report through the real server binary on
//! 127.0.0.1, `GET /v1/lift` releases nothing below the threshold and an estimate above it,
//! accepted reports survive `kill -9`, and every bad report gets a 4xx and stores nothing.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use aggregator::{start, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use rand::SeedableRng;
use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::{noised_report, ItemClass, LiftCounters, LiftMetric, LiftReportConfig};
use shop_personalizer::sync::lift_wire::LiftReportMessage;

fn spawn_server(data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aggregator"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-limit-per-minute", "0"])
        .args(["--lift-min-reports-per-bucket", "20"])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the aggregator binary starts")
}

/// One device: full consent, adaptation in `bucket`, sync configured against the server's key,
/// a session with `clicks` clicks at "home"; returns the lift report body the engine prepared.
fn device_report(key_hex: &str, holdout: bool, clicks: usize, seed: u8) -> Vec<u8> {
    let setup =
        serde_json::json!({ "aggregatorUrl": "http://127.0.0.1:8787", "modelPublicKey": key_hex, "autoSync": false });
    device_lift_report(setup, holdout, clicks, seed)
}

fn lift_status(address: SocketAddr) -> serde_json::Value {
    let (status, body) = http(address, "GET", "/v1/lift", b"").expect("GET /v1/lift");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    json(&body)
}

#[test]
fn devices_report_through_the_real_server_and_the_sums_survive_kill_dash_nine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = spawn_server(dir.path(), port);
    wait_healthy(address);
    let (_, key) = http(address, "GET", "/v1/model-key", b"").expect("key");
    let key = json(&key)["publicKey"].as_str().expect("hex").to_owned();

    let mut first = Vec::new();
    for device in 0..20_u8 {
        let body = device_report(&key, false, 3, device);
        assert_eq!(body.len(), 80, "the documented default layout");
        let (status, reply) = http(address, "POST", "/v1/lift-reports", &body).expect("POST");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&reply));
        first.push(body);
    }
    let early = lift_status(address);
    assert_eq!(early["status"], "notEnoughReports", "{early}");
    assert_eq!((early["personalizedReports"].as_u64(), early["holdoutReports"].as_u64()), (Some(20), Some(0)));
    assert!(early.get("estimate").is_none() && early["message"].as_str().unwrap_or_default().contains("not enough"));

    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    let mut restarted = spawn_server(dir.path(), port);
    wait_healthy(address);
    assert_eq!(lift_status(address)["personalizedReports"].as_u64(), Some(20), "accepted reports survived");
    let (status, reply) = http(address, "POST", "/v1/lift-reports", &first[0]).expect("POST");
    assert_eq!(status, 200, "the resend is still recognised: {}", String::from_utf8_lossy(&reply));
    assert!(String::from_utf8_lossy(&reply).contains("alreadyReceived"));
    assert_eq!(lift_status(address)["personalizedReports"].as_u64(), Some(20), "and not counted again");

    for device in 100..120_u8 {
        let body = device_report(&key, true, 2, device);
        assert_eq!(body[5], 1, "holdout bucket");
        let (status, reply) = http(address, "POST", "/v1/lift-reports", &body).expect("POST");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&reply));
    }
    let ready = lift_status(address);
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["estimate"]["personalizedReports"], 20);
    assert_eq!(ready["estimate"]["holdoutReports"], 20);
    let metrics = ready["estimate"]["metrics"].as_array().expect("metrics");
    assert!(metrics.iter().any(|m| m["metric"] == "click-through (clicks / impressions)"));
    assert!(ready["settings"]["releaseRule"].as_str().unwrap_or_default().contains("k-anonymity"));
    restarted.kill().expect("SIGKILL");
    restarted.wait().expect("reaped");
}

fn post_lift(body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/lift-reports").body(Body::from(body)).expect("request")
}

/// An honest report made under `config` with a nonce from `id`.
fn honest(config: &aggregator::CheckedConfig, bucket: LiftBucket, id: u8) -> LiftReportMessage {
    let mut counters = LiftCounters::default();
    counters.record_session();
    counters.record("home", ItemClass::Recommended, LiftMetric::Clicks, 2.0).expect("valid");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(id));
    let report = noised_report(&counters, bucket, &config.lift, &mut rng);
    LiftReportMessage::from_report(&report, &config.lift, [id; 16])
}

async fn reports(router: &axum::Router) -> (u64, u64) {
    let (status, _, body) = call(router, get("/v1/lift")).await;
    assert_eq!(status, StatusCode::OK);
    let answer = json(&body);
    (answer["personalizedReports"].as_u64().expect("count"), answer["holdoutReports"].as_u64().expect("count"))
}

#[tokio::test]
async fn every_bad_lift_report_gets_a_clear_4xx_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig { lift_min_reports_per_bucket: 20, ..settings(dir.path()) }.check().expect("valid");
    let router = start(config.clone()).await.expect("starts").router;
    let good = honest(&config, LiftBucket::Holdout, 1);
    let (status, _, reply) = call(&router, post_lift(good.encode())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(reports(&router).await, (0, 1));

    let mut version = good.encode();
    version[4] = 9;
    let mut short = honest(&config, LiftBucket::Personalized, 2);
    short.values.pop();
    let mut nan = good.encode();
    nan[36..40].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let mut other_config = honest(&config, LiftBucket::Personalized, 3);
    let other =
        LiftReportConfig { placements: vec!["home".into()], ..LiftReportConfig::default() }.check().expect("valid");
    other_config.fingerprint = other.fingerprint();
    let mut inflated = honest(&config, LiftBucket::Personalized, 4);
    inflated.values[0] = 1e6;
    let mut oversized = honest(&config, LiftBucket::Personalized, 5).encode();
    oversized.extend_from_slice(&[0; 400]);
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"not a report".to_vec(), StatusCode::BAD_REQUEST, "malformed_lift_report"),
        (version, StatusCode::BAD_REQUEST, "malformed_lift_report"),
        (nan, StatusCode::BAD_REQUEST, "malformed_lift_report"),
        (short.encode(), StatusCode::UNPROCESSABLE_ENTITY, "wrong_dimension"),
        (other_config.encode(), StatusCode::UNPROCESSABLE_ENTITY, "config_mismatch"),
        (inflated.encode(), StatusCode::UNPROCESSABLE_ENTITY, "value_out_of_range"),
        (oversized, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    // A resend of the counted report is answered as received and changes nothing.
    let (status, _, reply) = call(&router, post_lift(good.encode())).await;
    assert_eq!((status, json(&reply)["status"].as_str()), (StatusCode::OK, Some("alreadyReceived")));
    for (body, expected, code) in cases {
        let (status, _, reply) = call(&router, post_lift(body)).await;
        assert_eq!(status, expected, "{code}: {}", String::from_utf8_lossy(&reply));
        let reply = json(&reply);
        assert_eq!(reply["error"], code);
        assert!(!reply["message"].as_str().unwrap_or_default().is_empty());
    }
    assert_eq!(reports(&router).await, (0, 1), "nothing of a refused report was stored");
    let (status, _, reply) = call(&router, get("/v1/lift?confidence=2")).await;
    assert_eq!((status, json(&reply)["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_confidence")));
}

#[tokio::test]
async fn lift_reports_are_rate_limited_like_updates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig { rate_limit_per_minute: 2, ..settings(dir.path()) }.check().expect("valid");
    let router = start(config.clone()).await.expect("starts").router;
    let mut statuses = Vec::new();
    for id in 0..4 {
        let (status, _, _) = call(&router, post_lift(honest(&config, LiftBucket::Personalized, id).encode())).await;
        statuses.push(status);
    }
    assert_eq!(statuses[..2], [StatusCode::ACCEPTED, StatusCode::ACCEPTED]);
    assert!(statuses[2..].contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}
