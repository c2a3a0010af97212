//! The device code against the real server: download and verify the model, build private
//! updates, post them, and pick up the next model once the round closes.

mod common;

use aggregator::{start, ServerConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{call, get, json};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams};
use shop_personalizer::sync::{DeviceSync, ModelInstall, SyncConfig, SyncError, Transport};

use shop_personalizer::rank::{DEFAULT_WEIGHTS, NUM_FEATURES};

const DIMENSION: usize = NUM_FEATURES;

/// A [`Transport`] that calls the router in-process.
struct RouterTransport {
    router: axum::Router,
}

impl RouterTransport {
    async fn post(&self, path: &str, body: &[u8]) -> Result<(), SyncError> {
        let request = Request::post(path).body(Body::from(body.to_vec())).expect("request");
        let (status, _, reply) = call(&self.router, request).await;
        if status.is_success() {
            return Ok(());
        }
        let reply = json(&reply);
        Err(SyncError::Rejected {
            status: status.as_u16(),
            error: reply["error"].as_str().unwrap_or_default().to_owned(),
            message: reply["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

impl Transport for RouterTransport {
    async fn send_update(&self, body: &[u8]) -> Result<(), SyncError> {
        self.post("/v1/updates", body).await
    }

    async fn send_lift_report(&self, body: &[u8]) -> Result<(), SyncError> {
        self.post("/v1/lift-reports", body).await
    }

    /// These devices send plain lift reports; DAP lift reports have their own test (dap_lift).
    async fn send_lift_dap_report(
        &self,
        _bucket: shop_personalizer::adapt::LiftBucket,
        _report: &[u8],
    ) -> Result<(), SyncError> {
        Err(SyncError::Transport { message: "this test runs no DAP lift leader".to_owned() })
    }

    /// These devices send plain updates; secure aggregation has its own test (dap_device_reports).
    async fn send_dap_report(&self, _report: &[u8]) -> Result<(), SyncError> {
        Err(SyncError::Transport { message: "this test runs no DAP leader".to_owned() })
    }

    async fn fetch_model(&self, known_version: Option<u64>) -> Result<Option<Vec<u8>>, SyncError> {
        let mut request = Request::get("/v1/model");
        if let Some(version) = known_version {
            request = request.header(header::IF_NONE_MATCH, format!("\"{version}\""));
        }
        let (status, _, body) = call(&self.router, request.body(Body::empty()).expect("request")).await;
        match status {
            StatusCode::NOT_MODIFIED => Ok(None),
            StatusCode::OK => Ok(Some(body)),
            other => Err(SyncError::Transport { message: format!("status {other}") }),
        }
    }
}

#[tokio::test]
async fn devices_learn_a_shared_direction_through_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        dimension: DIMENSION,
        min_updates_per_round: 40,
        rate_limit_per_minute: 0,
        seed: Some(3),
        ..ServerConfig::default()
    };
    let router = start(config.check().expect("valid")).await.expect("starts").router;
    let transport = RouterTransport { router: router.clone() };
    let (_, _, key) = call(&router, get("/v1/model-key")).await;
    let sync_config = SyncConfig {
        aggregator_url: "http://127.0.0.1:8787".to_owned(),
        model_public_key: json(&key)["publicKey"].as_str().expect("hex").to_owned(),
        max_jitter_ms: 1_000,
    };
    let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");

    // Every device's local learning pushed weight 0 up by 2 (clipped to 1) and nothing else.
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    for device_index in 0..40 {
        let mut device = DeviceSync::new(&sync_config, privacy.clone(), DIMENSION).expect("config");
        assert_eq!(device.refresh_model(&transport).await, Ok(ModelInstall::Installed { version: 1 }));
        let mut local = device.shared_model().expect("installed").weights.clone();
        local[0] += 2.0;
        let mut ledger = PrivacyLedger::default();
        let pending = device
            .prepare_upload(&local, 50, true, 1_700_000_000, &mut ledger, &mut rng)
            .expect("allowed under full consent");
        assert!(pending.jitter_ms <= 1_000);
        let sent = transport.send_update(&pending.body).await;
        assert_eq!(sent, Ok(()), "device {device_index}");
        // The same bytes again (a retry after a lost answer) are a success that counts nothing.
        if device_index == 0 {
            assert_eq!(transport.send_update(&pending.body).await, Ok(()), "a resend is answered as received");
        }
    }

    // The round closes just after the 40th commit; a fresh device picks up version 2.
    let mut device = DeviceSync::new(&sync_config, privacy, DIMENSION).expect("config");
    for _ in 0..500 {
        device.refresh_model(&transport).await.expect("a verified model");
        if device.shared_model().map(|model| model.version) == Some(2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(device.shared_model().map(|model| model.version), Some(2));
    let weights = &device.shared_model().expect("installed").weights;
    // Mean of 40 updates: 1.0 on weight 0 plus noise of std 1/sqrt(40) = 0.16 per weight.
    // The server starts from the ranker's shipped weights.
    assert!(weights[0] - DEFAULT_WEIGHTS[0] > 0.5, "weight 0 moved from {} to {}", DEFAULT_WEIGHTS[0], weights[0]);
    let rest = weights[1..].iter().zip(&DEFAULT_WEIGHTS[1..]).map(|(w, d)| f64::from(w - d).powi(2)).sum::<f64>();
    let rms = (rest / (DIMENSION - 1) as f64).sqrt();
    assert!(rms < 0.3, "the other weights stay near their start (rms change {rms})");
}
