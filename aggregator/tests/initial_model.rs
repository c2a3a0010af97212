//! `--initial-model`: a model file (as `replay fit` writes it) becomes the first shared model,
//! signed with the server's key, and a device installs it as it is.

mod common;

use aggregator::start;
use axum::http::StatusCode;
use common::*;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyParams};
use shop_personalizer::sync::{DeviceSync, ModelInstall, SharedModel, SyncConfig};

#[tokio::test]
async fn the_served_first_model_is_the_files_weights_and_a_device_installs_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Within the ranker's monotone constraint, as `replay fit` writes them (a file's weights
    // outside it are served projected: the config's tests).
    let mut weights: Vec<f32> = (0..DIMENSION).map(|i| 0.75 - i as f32 * 0.5).collect();
    shop_personalizer::rank::project_monotone(&mut weights);
    assert!(weights.iter().any(|&w| w < 0.0), "the other weights keep their sign");
    let file = dir.path().join("model.bin");
    std::fs::write(&file, SharedModel { version: 1, weights: weights.clone() }.encode_file()).expect("write");
    let checked = aggregator::ServerConfig { initial_model: Some(file), ..settings(&dir.path().join("data")) }
        .check()
        .expect("valid config");
    let started = start(checked).await.expect("server starts");
    assert_eq!(started.model_version, 1);

    let (status, _, body) = call(&started.router, get("/v1/model")).await;
    assert_eq!(status, StatusCode::OK);
    let config = SyncConfig {
        aggregator_url: "http://127.0.0.1:8787".to_owned(),
        model_public_key: started.public_key_hex.clone(),
        max_jitter_ms: 0,
    };
    let mut device =
        DeviceSync::new(&config, PrivacyParams::new(PrivacyConfig::default()).expect("default privacy"), DIMENSION)
            .expect("device config");
    assert_eq!(device.install_model(&body), Ok(ModelInstall::Installed { version: 1 }));
    let installed = device.shared_model().expect("installed");
    assert_eq!(installed.weights, weights, "bit for bit the file's weights");

    // The served body is the file's envelope (at the served version) plus the signature.
    let file_bytes = SharedModel { version: 1, weights }.encode_file();
    assert_eq!(&body[..file_bytes.len()], file_bytes.as_slice());
    assert_eq!(body.len(), file_bytes.len() + 64);
}
