//! Helpers shared by the aggregator's integration tests.
#![allow(dead_code)]

pub mod postgres_server;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use aggregator::{CheckedConfig, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use shop_personalizer::sync::UpdateMessage;
use tower::ServiceExt;

pub const DIMENSION: usize = 8;

/// A checked config over `data_dir` with the floor round size (20) and no rate limit.
pub fn config(data_dir: &std::path::Path) -> CheckedConfig {
    settings(data_dir).check().expect("valid test config")
}

/// The settings behind [`config`], to change before checking.
pub fn settings(data_dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        data_dir: data_dir.to_path_buf(),
        dimension: DIMENSION,
        min_updates_per_round: 20,
        rate_limit_per_minute: 0,
        seed: Some(1),
        ..ServerConfig::default()
    }
}

/// An admissible update against `version`: coordinate 0 is `value`, the rest 0, nonce from `id`.
pub fn update(version: u64, value: i8, id: u64) -> UpdateMessage {
    let mut values = vec![0_i8; DIMENSION];
    values[0] = value;
    let mut nonce = [0_u8; 16];
    nonce[..8].copy_from_slice(&id.to_le_bytes());
    nonce[8] = 0xA5;
    UpdateMessage {
        model_version: version,
        clip_bound: 1.0,
        noise_multiplier: 1.0,
        quantization_scale: 0.01,
        nonce,
        values,
    }
}

/// Sends one request through the router without a socket; returns status, headers and body.
pub async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, headers, body)
}

pub fn post(body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/updates").body(Body::from(body)).expect("request")
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

pub fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}

/// A minimal HTTP/1.1 exchange over a real socket: returns status and body.
pub fn http(address: SocketAddr, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    exchange(address, method, path, &[], body)
}

/// [`http`] with extra request headers. Reads wait up to 60 s (a DAP leader may be waiting on
/// its helper).
pub fn exchange(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let status_line = String::from_utf8_lossy(&response[..split]).lines().next().unwrap_or_default().to_owned();
    let status = status_line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let mut payload = response.get(split + 4..).unwrap_or_default().to_vec();
    if String::from_utf8_lossy(&response[..split]).to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    Ok((status, payload))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = data.get(start + size + 2..).unwrap_or_default();
    }
    out
}

/// Waits until the server on `address` answers `/healthz` (about 6 s at most).
pub fn wait_healthy(address: SocketAddr) {
    for _ in 0..300 {
        if matches!(http(address, "GET", "/healthz", b""), Ok((200, _))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no server became healthy on {address}");
}

/// A real device engine's booked lift report (one body, or a share pair with `sharedSums`):
/// full consent, adaptation in the holdout or not, sync configured by `setup` (JSON as the page
/// passes it), and a session of `clicks` clicks at "home".
pub fn device_lift_report(setup: serde_json::Value, holdout: bool, clicks: usize, seed: u8) -> Vec<u8> {
    use shop_personalizer::adapt::AdapterConfig;
    use shop_personalizer::collect::event::TrackEvent;
    use shop_personalizer::config::PersonalizerConfig;
    use shop_personalizer::consent::ConsentMode;
    use shop_personalizer::personalizer::{Environment, Personalizer, SyncEngine, SyncPlan, SyncSetup};
    use shop_personalizer::storage::MemoryStore;

    const T0: f64 = 1_700_000_000_000.0;
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(MemoryStore::new(), config, Environment::default()).expect("valid config");
    p.set_consent(ConsentMode::Full, true);
    let share = if holdout { 1.0 } else { 0.0 };
    p.configure_adaptation(AdapterConfig { holdout_share: share, ..AdapterConfig::default() }, u64::from(seed))
        .expect("valid adaptation");
    let setup: SyncSetup = serde_json::from_value(setup).expect("a valid setup");
    p.configure_sync(setup).expect("valid sync setup");
    for n in 0..clicks {
        let ids: Vec<String> = (0..4).map(|i| format!("sku-{i}")).collect();
        let impression = TrackEvent::Impression { placement: "home".into(), item_ids: ids, positions: None };
        p.track(impression, T0 + n as f64 * 20_000.0, 0).expect("recorded");
        let click = TrackEvent::Click {
            item_id: format!("sku-{n}"),
            placement: Some("home".into()),
            position: None,
            item: None,
        };
        p.track(click, T0 + n as f64 * 20_000.0 + 5_000.0, 0).expect("recorded");
    }
    match p.sync_engine().prepare_lift_report(T0 + 600_000.0, [seed; 32]) {
        SyncPlan::Send { body, .. } => body,
        SyncPlan::Done(outcome) => panic!("a report is due: {outcome:?}"),
    }
}
