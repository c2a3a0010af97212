//! Any web page can make its visitors' browsers upload to a DAP leader (the endpoint answers
//! CORS for the shop's origins, and a report upload needs no credential): `PUT
//! /tasks/{task}/reports` spends the same per-address writes bucket as `/v1/updates`
//! (`--rate-limit-per-minute`), its public GETs the reads bucket, in a leader and in a helper.
//! Before, a DAP process had only a body limit: one address could upload without bound.

mod common;
mod dap_support;

use aggregator::config::ServerConfig;
use aggregator::dap::task_file::DapRole;
use aggregator::start;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{call, get, json, settings};
use dap_support::processes::Task;

fn upload(task_id: &str, body: &[u8]) -> Request<Body> {
    Request::put(format!("/tasks/{task_id}/reports"))
        .header("content-type", "application/dap-report")
        .body(Body::from(body.to_vec()))
        .expect("request")
}

fn refused_as_rate_limited(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS && json(body)["error"] == "rate_limited"
}

#[tokio::test]
async fn one_address_uploads_reports_no_faster_than_the_writes_bucket_allows() {
    let task = Task::generate();
    let task_id = task.device_setup().task_id;
    let dir = tempfile::tempdir().expect("dir");
    let config = ServerConfig {
        dimension: 90,
        rate_limit_per_minute: 3,
        read_rate_limit_per_minute: 5,
        dap_role: Some(DapRole::Leader),
        dap_task: Some(task.file("leader.json")),
        ..settings(dir.path())
    };
    let router = start(config.check().expect("valid")).await.expect("leader starts").router;

    // Three malformed uploads reach the handler (and are refused as DAP messages); the fourth
    // is refused before it is read.
    for _ in 0..3 {
        let (status, _, body) = call(&router, upload(&task_id, b"not a report")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    }
    let (status, _, body) = call(&router, upload(&task_id, b"not a report")).await;
    assert!(refused_as_rate_limited(status, &body), "{status}: {}", String::from_utf8_lossy(&body));
    // The model API shares the bucket: the same address cannot switch endpoints to get more.
    let (status, _, body) = call(&router, common::post(vec![0])).await;
    assert!(refused_as_rate_limited(status, &body), "{status}: {}", String::from_utf8_lossy(&body));
    // Reads have their own bucket, which uploads did not spend.
    let (status, _, _) = call(&router, get("/hpke_config")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_helper_limits_its_public_reads() {
    let task = Task::generate();
    let dir = tempfile::tempdir().expect("dir");
    let config = ServerConfig {
        dimension: 90,
        read_rate_limit_per_minute: 2,
        dap_role: Some(DapRole::Helper),
        dap_task: Some(task.file("helper.json")),
        ..settings(dir.path())
    };
    let router = start(config.check().expect("valid")).await.expect("helper starts").router;
    for _ in 0..2 {
        assert_eq!(call(&router, get("/hpke_config")).await.0, StatusCode::OK);
    }
    let (status, _, body) = call(&router, get("/dap/status")).await;
    assert!(refused_as_rate_limited(status, &body), "{status}: {}", String::from_utf8_lossy(&body));
}
