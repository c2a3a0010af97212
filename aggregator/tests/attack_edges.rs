//! Attack suite, issue 14 finding 7 (the server's parts): JSON for every refusal including 413s,
//! rate limits on reads too and proxy-aware only behind `--trusted-proxy`, no helper without a
//! peer token, and junk lift shares that are offered once and then expire.

mod common;

use std::time::Duration;

use aggregator::config::{LiftRole, ServerConfig};
use aggregator::listener::{serve, ConnectionLimits};
use aggregator::store::sqlite::SqliteStore;
use aggregator::store::unix_now;
use aggregator::{start, CheckedConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::shares::shared_length;
use shop_personalizer::measure::NoiseMode;
use shop_personalizer::sync::share_wire::{LiftShareMessage, ShareServer};

fn shared_sums(dir: &std::path::Path, role: LiftRole, helper_port: u16, ttl: u64) -> ServerConfig {
    let mut settings = settings(dir);
    settings.lift_report.noise = NoiseMode::Distributed { min_cohort: 20 };
    ServerConfig {
        lift_role: Some(role),
        lift_helper_url: Some(format!("http://127.0.0.1:{helper_port}")),
        lift_peer_token: Some("test-secret".to_owned()),
        lift_min_reports_per_bucket: 20,
        lift_share_ttl_seconds: ttl,
        ..settings
    }
}

fn request(method: &str, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).expect("request")
}

#[tokio::test]
async fn every_refusal_is_json_including_413s_unknown_paths_and_bad_queries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = start(shared_sums(dir.path(), LiftRole::Helper, 9, 3_600).check().expect("valid"))
        .await
        .expect("starts")
        .router;
    let token = [("authorization", "Bearer test-secret")];
    let huge = vec![b' '; 3 << 20];
    let cases = [
        (request("GET", "/v1/nothing", Vec::new(), &[]), StatusCode::NOT_FOUND, "not_found"),
        (request("DELETE", "/v1/updates", Vec::new(), &[]), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (request("GET", "/v1/lift?confidence=high", Vec::new(), &[]), StatusCode::BAD_REQUEST, "bad_query"),
        (request("POST", "/v1/updates", huge.clone(), &[]), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        (request("POST", "/v1/lift-shares", huge.clone(), &[]), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        // Issue 14: these two answered 413 in plain text.
        (
            request("POST", "/v1/lift-shares/fold", huge.clone(), &token),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (request("POST", "/v1/lift-shares/sums", huge, &token), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        (request("POST", "/v1/lift-shares/fold", b"{".to_vec(), &token), StatusCode::BAD_REQUEST, "bad_peer_request"),
        (request("POST", "/v1/lift-shares/sums", Vec::new(), &[]), StatusCode::UNAUTHORIZED, "peer_unauthorized"),
    ];
    for (request, want_status, want_code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let (status, headers, body) = call(&router, request).await;
        assert_eq!(status, want_status, "{what}: {}", String::from_utf8_lossy(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{what}");
        let body = json(&body);
        assert_eq!(body["error"], want_code, "{what}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
    }
}

#[tokio::test]
async fn reads_are_limited_too_and_forwarded_clients_count_only_behind_a_trusted_proxy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let limited = |trusted: &str| {
        let proxies = if trusted.is_empty() { Vec::new() } else { vec![trusted.parse().expect("range")] };
        let settings = ServerConfig {
            rate_limit_per_minute: 2,
            read_rate_limit_per_minute: 3,
            trusted_proxies: proxies,
            ..settings(dir.path())
        };
        settings.check().expect("valid")
    };
    // Issue 14: GETs (and fold and sums) had no limit.
    let router = start(limited("")).await.expect("starts").router;
    for _ in 0..3 {
        assert_eq!(call(&router, get("/v1/model")).await.0, StatusCode::OK);
    }
    let (status, _, body) = call(&router, get("/v1/rounds/current")).await;
    assert_eq!((status, json(&body)["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));

    // Without --trusted-proxy a forwarded address is the client's own claim: one bucket.
    let forwarded = |id: u64, client: &str| {
        request("POST", "/v1/updates", update(1, 1, id).encode(), &[("x-forwarded-for", client)])
    };
    let statuses = |router: axum::Router, clients: [&'static str; 3], first: u64| async move {
        let mut seen = Vec::new();
        for (offset, client) in clients.into_iter().enumerate() {
            seen.push(call(&router, forwarded(first + offset as u64, client)).await.0.as_u16());
        }
        seen
    };
    let three = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
    assert_eq!(statuses(router.clone(), three, 0).await, vec![202, 202, 429]);
    drop(router);
    // Behind a trusted proxy (the in-process peer is 127.0.0.1) each device has its bucket.
    let router = start(limited("127.0.0.1")).await.expect("starts").router;
    assert_eq!(statuses(router.clone(), three, 10).await, vec![202, 202, 202], "behind a proxy");
    let same = ["198.51.100.9"; 3];
    assert_eq!(statuses(router, same, 20).await, vec![202, 202, 429], "one device is still limited");
}

#[tokio::test]
async fn a_helper_without_a_peer_token_does_not_start() {
    // Issue 14: without --lift-peer-token one outside fold request made every later GET /v1/lift
    // answer 502 (the helper counted reports the leader never received).
    let dir = tempfile::tempdir().expect("temp dir");
    let tokenless = ServerConfig { lift_peer_token: None, ..shared_sums(dir.path(), LiftRole::Helper, 9, 3_600) };
    let refused = tokenless.check().expect_err("refused");
    assert!(refused.to_string().contains("--lift-peer-token"), "{refused}");
}

/// A share only the leader ever receives.
fn junk_share(config: &CheckedConfig, id: u16) -> Vec<u8> {
    let dimension = config.lift.dimension();
    let mut report_id = [0xEE_u8; 16];
    report_id[..2].copy_from_slice(&id.to_le_bytes());
    let share = vec![u64::from(id); shared_length(dimension)];
    let message = LiftShareMessage {
        server: ShareServer::Leader,
        bucket: LiftBucket::Holdout,
        dimension,
        fingerprint: config.lift.fingerprint(),
        report_id,
        share,
    };
    message.encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_shares_are_offered_to_the_helper_once_and_then_expire() {
    let (helper_dir, leader_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("address").port();
    let ttl = 3;
    let helper = start(shared_sums(helper_dir.path(), LiftRole::Helper, port, ttl).check().expect("valid"))
        .await
        .expect("helper starts");
    let limits = ConnectionLimits { max_connections: 16, read_timeout: Duration::from_secs(5) };
    tokio::spawn(serve(listener, helper.router, limits, std::future::pending()));
    let config = shared_sums(leader_dir.path(), LiftRole::Leader, port, ttl).check().expect("valid");
    let leader = start(config.clone()).await.expect("leader starts").router;
    for id in 0..20 {
        let (status, _, body) = call(&leader, request("POST", "/v1/lift-shares", junk_share(&config, id), &[])).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    }
    let store = SqliteStore::open(&leader_dir.path().join("aggregator.sqlite3")).expect("opens");
    let fingerprint = config.lift.fingerprint();
    assert_eq!(store.due_share_ids(fingerprint, unix_now()).expect("reads").len(), 20);
    let (status, _, body) = call(&leader, get("/v1/lift")).await;
    assert_eq!((status, json(&body)["status"].as_str()), (StatusCode::OK, Some("notEnoughReports")));
    // Issue 14: every GET /v1/lift re-folded every pending share; now the helper was asked
    // once and the next GETs offer nothing until the retry is due.
    assert_eq!(store.due_share_ids(fingerprint, unix_now()).expect("reads"), Vec::new());
    // Issue 14: junk shares never expired.
    tokio::time::sleep(Duration::from_secs(ttl + 1)).await;
    assert_eq!(call(&leader, get("/v1/lift")).await.0, StatusCode::OK);
    assert_eq!(store.pending_share_count(fingerprint).expect("counts"), 0);
}
