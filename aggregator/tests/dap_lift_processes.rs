//! The two lift tasks (one per bucket) between TWO real processes of the built binary
//! (`--dap-role leader|helper` on task files from `aggregator dap-task-pair --lift-min-cohort
//! 100`; each process runs both tasks, the holdout one in its own store), fed lift reports made
//! by the device code: `kill -9` of the leader mid-batch and of the helper mid-aggregation-job,
//! each restarted, loses no accepted report and counts none twice: the personalized task's
//! collected sums are exactly the sum of its 200 measurements, in two batches of 100, the
//! holdout task's of its 100, and `GET /v1/lift` counts every report once, in its bucket; on
//! SQLite and on PostgreSQL (the holdout task in its own schema).

mod common;
mod dap_support;

use std::sync::Arc;
use std::time::Duration;

use prio::codec::{Decode, Encode};
use rand_core06::OsRng;
use shop_personalizer::adapt::LiftBucket;
use shop_personalizer::measure::{LiftReportConfig, NoiseMode};
use shop_personalizer::sync::dap::{build_lift_report, LiftDapDevice};
use shop_personalizer::sync::LiftTasks;

use common::free_port;
use common::postgres_server::PostgresServer;
use dap_support::processes::*;

/// Personalized reports (two batches) and holdout reports (one batch).
const N: usize = 200;
const HOLDOUT: usize = 100;

#[test]
fn kill_dash_nine_of_either_lift_aggregator_loses_no_report_and_counts_none_twice() {
    kill_dash_nine_test(None, None);
}

#[test]
fn kill_dash_nine_of_the_lift_pair_on_postgresql_too() {
    let Some(leader_db) = PostgresServer::start() else {
        eprintln!("SKIPPED: PostgreSQL is not installed; the lift pair was killed on SQLite only");
        return;
    };
    let helper_db = PostgresServer::start().expect("a second server");
    kill_dash_nine_test(Some(leader_db.url.clone()), Some(helper_db.url.clone()));
}

/// The lift leader and helper over SQLite (`None`) or each over its own PostgreSQL database (the
/// holdout task in its own schema there).
fn kill_dash_nine_test(leader_db: Option<String>, helper_db: Option<String>) {
    let dir = tempfile::tempdir().expect("dir");
    let (leader_port, helper_port) = (free_port(), free_port());
    let out = dir.path().to_str().expect("utf-8 path").to_owned();
    let (leader_url, helper_url) =
        (format!("http://127.0.0.1:{leader_port}"), format!("http://127.0.0.1:{helper_port}"));
    let (ok, stderr) = run(&[
        "dap-task-pair",
        "--out-dir",
        &out,
        "--leader-url",
        &leader_url,
        "--helper-url",
        &helper_url,
        "--lift-min-cohort",
        "100",
        "--lift-min-reports-per-bucket",
        "100",
    ]);
    assert!(ok, "dap-task-pair: {stderr}");
    let task = Task { dir, leader_port, helper_port };
    let mut helper = Aggregator::start_on("helper", &task.file("helper.json"), task.helper_port, helper_db);
    let mut leader = Aggregator::start_on("leader", &task.file("leader.json"), task.leader_port, leader_db);

    // The page's liftReport, as device.json gives it: its two tasks, and the device's encoding.
    let device: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(task.file("device.json")).expect("device.json")).expect("json");
    let tasks: LiftTasks = serde_json::from_value(device["noise"]["tasks"].clone()).expect("two tasks");
    let noise = NoiseMode::SecureAggregation { min_cohort: 100, tasks: Box::new(tasks.clone()) };
    let config = LiftReportConfig { noise, ..LiftReportConfig::default() }.check().expect("valid");
    let lift = LiftDapDevice::new(&tasks, &config, 100).expect("the device accepts the tasks");
    let encoding = lift.encoding();
    let make = |bucket: LiftBucket, count: usize, total: &mut Vec<u128>| -> Vec<MadeReport> {
        (0..count)
            .map(|i| {
                let values: Vec<f64> = (0..11).map(|j| ((i * 7 + j * 3) % 6) as f64).collect();
                let measurement = encoding.measurement(&values, &mut OsRng).expect("measurement");
                for (sum, entry) in total.iter_mut().zip(&measurement) {
                    *sum += entry;
                }
                let report = build_lift_report(lift.task(bucket), encoding, &measurement, 1_700_000_000, &mut OsRng);
                let report = report.unwrap();
                MadeReport {
                    id: *report.metadata().id().as_ref(),
                    bytes: report.get_encoded().unwrap(),
                    noised: Vec::new(),
                }
            })
            .collect()
    };
    let mut totals = [vec![0_u128; encoding.length()], vec![0_u128; encoding.length()]];
    let reports = Arc::new(make(LiftBucket::Personalized, N, &mut totals[0]));
    let holdout_reports = make(LiftBucket::Holdout, HOLDOUT, &mut totals[1]);
    assert!(janus_messages::Report::get_decoded(&reports[0].bytes).is_ok());

    // 1. kill -9 the leader with 50 personalized reports aggregated, while a device keeps
    //    uploading the rest.
    let uploader = kill_leader_mid_batch(&mut leader, &reports, &tasks.personalized.task_id);

    // 2. kill -9 the helper while it answers a job of the second batch.
    status_when(&leader, "the first batch collected", |s| count(s, "collectedBatches") >= 1);
    let mut running = serde_json::Value::Null;
    wait_for(LIMIT, "the helper answering a job", || {
        running = helper.try_json("/dap/status").unwrap_or_default();
        running["running"].as_u64().is_some_and(|jobs| jobs > 0)
            || leader.try_json("/dap/status").is_some_and(|s| s["collectedReports"].as_u64() == Some(N as u64))
    });
    eprintln!("kill -9 lift helper at {running}");
    helper.kill();
    std::thread::sleep(Duration::from_millis(300));
    helper.restart();

    let answers = uploader.join().expect("uploader");
    assert!(answers.iter().all(|status| matches!(status, 200 | 201)));
    // The holdout devices' reports go to the holdout task, on the same (restarted) processes.
    for report in &holdout_reports {
        assert_eq!(upload_until_accepted(leader.address, &tasks.holdout.task_id, report, LIMIT), 200);
    }
    let all = (N + HOLDOUT) as u64;
    let done = status_when(&leader, "every report collected", |s| count(s, "collectedReports") == all);
    assert_eq!((count(&done, "pending"), count(&done, "inJob"), count(&done, "rejected")), (0, 0, 0), "{done}");
    let collections = leader.json("/dap/collections");
    let collections = collections.as_array().expect("a list");
    for (bucket, task_id, batches) in
        [(0, &tasks.personalized.task_id, vec![100, 100]), (1, &tasks.holdout.task_id, vec![100])]
    {
        let mine: Vec<&serde_json::Value> =
            collections.iter().filter(|c| c["taskId"].as_str() == Some(task_id.as_str())).collect();
        let sizes: Vec<u64> = mine.iter().map(|c| count(c, "reports")).collect();
        assert_eq!(sizes, batches, "full batches of the task's own reports: none lost, none twice");
        let mut got = vec![0.0_f64; encoding.length()];
        for collection in mine {
            for (sum, value) in got.iter_mut().zip(collection["sum"].as_array().expect("sum")) {
                *sum += value.as_f64().expect("number");
            }
        }
        let want: Vec<f64> = totals[bucket].iter().map(|&entry| entry as f64).collect();
        assert_eq!(got, want, "the collected sums are exactly the sum of the task's measurements");
    }
    assert_eq!(helper.json("/dap/rejections"), serde_json::json!({}), "no report rejected as a replay");
    let lift = leader.json("/v1/lift");
    assert_eq!(lift["status"], "ready", "{lift}");
    assert_eq!(lift["estimate"]["personalizedReports"].as_u64(), Some(N as u64), "{lift}");
    assert_eq!(lift["estimate"]["holdoutReports"].as_u64(), Some(HOLDOUT as u64), "{lift}");
}
