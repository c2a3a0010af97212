//! The PostgreSQL store against a real server started on 127.0.0.1: replicas sharing one
//! database lose no update, reject each other's replays, and close each round exactly once.

mod common;

use std::sync::Arc;

use aggregator::aggregation::{trimmed_mean, Contribution};
use aggregator::config::{RoundRule, ServerConfig};
use aggregator::rounds::{next_model, publish};
use aggregator::start_with;
use aggregator::store::postgres::PostgresStore;
use aggregator::store::{BatchOutcome, Fate, Store};
use axum::http::StatusCode;
use common::postgres_server::PostgresServer;
use common::*;
use ed25519_dalek::SigningKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_from_two_replicas_lose_no_update() {
    let Some(server) = PostgresServer::start() else { return };
    let first = Arc::new(PostgresStore::connect(&server.url).await.expect("connects"));
    let second = Arc::new(PostgresStore::connect(&server.url).await.expect("connects"));
    let key = SigningKey::from_bytes(&[8; 32]);
    first.ensure_initial_model(publish(1, vec![0.0; DIMENSION], &key)).await.expect("initial model");
    second.ensure_initial_model(publish(1, vec![9.0; DIMENSION], &key)).await.expect("no second initial model");

    let mut tasks = Vec::new();
    for task in 0..8_u64 {
        let store = if task % 2 == 0 { Arc::clone(&first) } else { Arc::clone(&second) };
        tasks.push(tokio::spawn(async move {
            for batch in 0..25_u64 {
                let updates =
                    (0..4).map(|i| update(1, ((task + i) % 7) as i8 + 1, task * 1_000 + batch * 10 + i)).collect();
                let outcome = store.commit_batch(1, DIMENSION, updates, true).await.expect("commits");
                assert!(matches!(outcome, BatchOutcome::Committed { ref fates, .. } if fates.iter().all(|f| *f == Fate::Added)));
            }
        }));
    }
    for task in tasks {
        task.await.expect("task finished");
    }
    let mut members = Vec::new();
    for task in 0..8_u64 {
        for batch in 0..25_u64 {
            for i in 0..4 {
                let sent = update(1, ((task + i) % 7) as i8 + 1, task * 1_000 + batch * 10 + i);
                members.push(Contribution::of(&sent).expect("fits"));
            }
        }
    }
    let state = first.current().await.expect("reads");
    assert_eq!(state.round_updates, 800);
    assert_eq!(state.model.weights, vec![0.0; DIMENSION], "the first initial model won");

    // A replay through the other replica is refused and not added.
    let replay = second.commit_batch(1, DIMENSION, vec![update(1, 5, 0)], true).await.expect("commits");
    assert_eq!(replay, BatchOutcome::Committed { fates: vec![Fate::Replayed], round_updates: 800 });

    // Both replicas race to close: exactly one closes, and the model is the exact trimmed mean
    // of the 800 kept updates (values 1..=7 in coordinate 0, 80 trimmed per side).
    let trimmed = RoundRule::TrimmedMean { trim_fraction: 0.1 };
    let config = ServerConfig { round_rule: trimmed, ..settings(std::path::Path::new("unused")) }.check().expect("ok");
    let (a, b) = tokio::join!(
        first.close_round(1, DIMENSION, 20, next_model(&config, key.clone(), 1, 0)),
        second.close_round(1, DIMENSION, 20, next_model(&config, key.clone(), 1, 0)),
    );
    assert_eq!(a.expect("ok") as u8 + b.expect("ok") as u8, 1, "exactly one replica closed the round");
    let published = second.current().await.expect("reads");
    assert_eq!(published.model.version, 2);
    assert_eq!(published.last_closed, Some((1, 800)));
    let mean = trimmed_mean(&members, DIMENSION, 0.1).expect("members")[0];
    let plain = members.iter().map(|m| f64::from(m.values[0])).sum::<f64>() * 0.01 / 800.0;
    assert!((mean - plain).abs() > 1e-4, "the trimmed mean {mean} differs from the plain mean {plain}");
    assert!((f64::from(published.model.weights[0]) - mean).abs() < 1e-6);
    let late = first.commit_batch(1, DIMENSION, vec![update(1, 1, 77)], true).await.expect("ok");
    assert_eq!(late, BatchOutcome::Stale);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_aggregator_replicas_serve_one_shared_state() {
    let Some(server) = PostgresServer::start() else { return };
    let dir_a = tempfile::tempdir().expect("temp dir");
    let dir_b = tempfile::tempdir().expect("temp dir");
    let replica_a = start_with(PostgresStore::connect(&server.url).await.expect("connects"), config(dir_a.path()))
        .await
        .expect("replica A starts");
    let replica_b = start_with(PostgresStore::connect(&server.url).await.expect("connects"), config(dir_b.path()))
        .await
        .expect("replica B starts");
    assert_eq!(replica_a.public_key_hex, replica_b.public_key_hex, "replicas share one signing key");

    for id in 0..19_u64 {
        let router = if id % 2 == 0 { &replica_a.router } else { &replica_b.router };
        let (status, _, body) = call(router, post(update(1, 40, id).encode())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    }
    let (status, _, body) = call(&replica_b.router, post(update(1, 40, 0).encode())).await;
    assert_eq!(status, StatusCode::OK, "replica B knows replica A's nonce");
    assert_eq!(json(&body)["status"], "alreadyReceived");

    let (status, _, _) = call(&replica_a.router, post(update(1, 40, 19).encode())).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Replica B learns of version 2 within its refresh interval.
    let mut served = Vec::new();
    for router in [&replica_a.router, &replica_b.router] {
        for _ in 0..300 {
            let (status, _, body) = call(router, get("/v1/model")).await;
            if status == StatusCode::OK && body.get(5) == Some(&2) {
                served.push(body);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    assert_eq!(served.len(), 2, "both replicas serve version 2");
    assert_eq!(served[0], served[1], "the same signed bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lift_reports_from_two_replicas_add_up_and_replays_are_refused() {
    use aggregator::store::LiftEntry;
    use shop_personalizer::adapt::LiftBucket;
    let Some(server) = PostgresServer::start() else { return };
    let first = Arc::new(PostgresStore::connect(&server.url).await.expect("connects"));
    let second = Arc::new(PostgresStore::connect(&server.url).await.expect("connects"));
    let entry = |id: u64| LiftEntry {
        fingerprint: [3; 8],
        bucket: if id % 3 == 0 { LiftBucket::Holdout } else { LiftBucket::Personalized },
        nonce: {
            let mut nonce = [0_u8; 16];
            nonce[..8].copy_from_slice(&id.to_le_bytes());
            nonce
        },
        values: vec![1.0, id as f64, 2.0],
    };
    let mut tasks = Vec::new();
    for task in 0..4_u64 {
        let store = if task % 2 == 0 { Arc::clone(&first) } else { Arc::clone(&second) };
        tasks.push(tokio::spawn(async move {
            for i in 0..15_u64 {
                assert!(store.add_lift_report(entry(task * 100 + i)).await.expect("stores"), "fresh nonce");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task finished");
    }
    assert!(!second.add_lift_report(entry(0)).await.expect("ok"), "replica B refuses replica A's nonce");
    let (personalized, holdout) = first.lift_sums([3; 8], 3).await.expect("reads");
    let ids: Vec<u64> = (0..4).flat_map(|task| (0..15).map(move |i| task * 100 + i)).collect();
    let holdout_ids = ids.iter().filter(|id| *id % 3 == 0).count() as u64;
    assert_eq!((personalized.reports(), holdout.reports()), (60 - holdout_ids, holdout_ids), "no report lost");
    let (other, _) = first.lift_sums([4; 8], 3).await.expect("reads");
    assert_eq!(other.reports(), 0, "sums are kept per configuration");
}
