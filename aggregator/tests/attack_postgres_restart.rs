//! Attack suite, issue 14 finding 4: a PostgreSQL restart is not permanent. The aggregator over
//! a real PostgreSQL server on 127.0.0.1; the database stops and starts again; `/healthz` says
//! so meanwhile, and updates are accepted again within a bounded time, losing nothing.

mod common;

use std::time::{Duration, Instant};

use aggregator::start_with;
use aggregator::store::postgres::PostgresStore;
use axum::http::StatusCode;
use common::postgres_server::PostgresServer;
use common::*;

/// Polls `check` every 50 ms until it holds; panics after `limit`.
async fn within(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} did not happen within {} s", limit.as_secs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_accepted_again_after_the_database_restarts() {
    let Some(database) = PostgresServer::start() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = PostgresStore::connect(&database.url).await.expect("connects");
    let router = start_with(store, config(dir.path())).await.expect("starts").router;
    for id in 0..5 {
        let (status, _, body) = call(&router, post(update(1, 10, id).encode())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    }

    database.stop();
    let (status, _, body) = call(&router, post(update(1, 10, 100).encode())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(&body)["error"], "storage_unavailable");
    // Issue 14: `/healthz` kept answering 200 while every update got 503.
    within(Duration::from_secs(10), "/healthz reporting the store", async || {
        let (status, _, body) = call(&router, get("/healthz")).await;
        status == StatusCode::SERVICE_UNAVAILABLE && json(&body)["error"] == "storage_unavailable"
    })
    .await;

    database.run_again();
    let mut next_id = 200;
    let took = within(Duration::from_secs(30), "an update accepted after the restart", async || {
        next_id += 1;
        call(&router, post(update(1, 10, next_id).encode())).await.0 == StatusCode::ACCEPTED
    })
    .await;
    eprintln!("first update accepted {:.1} s after the database was back", took.as_secs_f64());
    let (status, _, _) = call(&router, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = call(&router, get("/v1/rounds/current")).await;
    assert_eq!(json(&body)["updatesReceived"], 6, "the five before and the one after, nothing lost or doubled");
    let (status, _, body) = call(&router, post(update(1, 10, 0).encode())).await;
    assert_eq!((status, json(&body)["status"].as_str()), (StatusCode::OK, Some("alreadyReceived")));
}
