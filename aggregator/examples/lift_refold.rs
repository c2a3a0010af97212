//! What `GET /v1/lift` on a shared-sums leader costs with many junk pending shares (reports
//! only the leader ever received). Before issue 14's fix every GET offered all of them to the
//! helper again; now the first GET after they arrive does (GET 1 below), and later ones offer
//! none until their retry is due.
//!
//! `cargo run --release -p aggregator --example lift_refold -- [PENDING] [DATA_DIR]`
//! (DATA_DIR defaults to a temporary folder; put it on tmpfs, e.g. /dev/shm, to fill it fast).

use std::time::{Duration, Instant};

use aggregator::config::{LiftRole, ServerConfig};
use aggregator::listener::{serve, ConnectionLimits};
use aggregator::{start, CheckedConfig};
use axum::body::Body;
use axum::http::Request;
use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::shares::shared_length;
use shop_personalizer::measure::NoiseMode;
use shop_personalizer::sync::share_wire::{LiftShareMessage, ShareServer};
use tower::ServiceExt;

fn settings(dir: &std::path::Path, role: LiftRole, helper_port: u16) -> ServerConfig {
    let mut settings = ServerConfig {
        data_dir: dir.to_path_buf(),
        rate_limit_per_minute: 0,
        read_rate_limit_per_minute: 0,
        lift_role: Some(role),
        lift_helper_url: Some(format!("http://127.0.0.1:{helper_port}")),
        lift_peer_token: Some("bench-secret".to_owned()),
        lift_min_reports_per_bucket: 100,
        ..ServerConfig::default()
    };
    settings.lift_report.noise = NoiseMode::Distributed { min_cohort: 100 };
    settings
}

fn junk(config: &CheckedConfig, id: u32) -> Vec<u8> {
    let dimension = config.lift.dimension();
    let mut report_id = [0xAB_u8; 16];
    report_id[..4].copy_from_slice(&id.to_le_bytes());
    let share = vec![u64::from(id); shared_length(dimension)];
    let bucket = if id % 2 == 0 { LiftBucket::Holdout } else { LiftBucket::Personalized };
    let fingerprint = config.lift.fingerprint();
    LiftShareMessage { server: ShareServer::Leader, bucket, dimension, fingerprint, report_id, share }.encode()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let pending: u32 = args.next().map_or(Ok(1_200), |n| n.parse())?;
    let folder = match args.next() {
        Some(path) => tempfile::tempdir_in(path)?,
        None => tempfile::tempdir()?,
    };
    let (helper_dir, leader_dir) = (folder.path().join("helper"), folder.path().join("leader"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let helper = start(settings(&helper_dir, LiftRole::Helper, port).check()?).await?;
    let limits = ConnectionLimits { max_connections: 64, read_timeout: Duration::from_secs(10) };
    tokio::spawn(serve(listener, helper.router, limits, std::future::pending()));
    let config = settings(&leader_dir, LiftRole::Leader, port).check()?;
    let leader = start(config.clone()).await?.router;
    for id in 0..pending {
        let request = Request::post("/v1/lift-shares").body(Body::from(junk(&config, id)))?;
        let status = leader.clone().oneshot(request).await?.status();
        if status.as_u16() != 202 {
            return Err(format!("share {id} got {status}").into());
        }
    }
    let mut timings = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let status = leader.clone().oneshot(Request::get("/v1/lift").body(Body::empty())?).await?.status();
        timings.push(format!("{:.1} ms ({status})", started.elapsed().as_secs_f64() * 1e3));
    }
    println!("{pending} junk pending shares: GET /v1/lift 1: {}, 2: {}, 3: {}", timings[0], timings[1], timings[2]);
    Ok(())
}
