//! Secure aggregation between TWO real processes of the built binary (`--dap-role leader` and
//! `--dap-role helper`, task files from `aggregator dap-task-pair`), fed reports made by the
//! device's own sync path, on SQLite and on PostgreSQL (one database per aggregator):
//! - `kill -9` of the leader mid-batch and of the helper mid-aggregation-job, each restarted:
//!   the collected sums are the exact sum of every report the leader accepted, none lost, none
//!   counted twice;
//! - a batch of K−1 reports is never released: the helper answers the DAP error, not a share;
//! - task files below K or off the devices' bound are refused at start with their codes.

mod common;
mod dap_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregator::store::dap::checksum_with;
use janus_messages::query_type::FixedSize;
use janus_messages::{AggregateShareReq, BatchId, BatchSelector, ReportIdChecksum};
use prio::codec::Encode;
use shop_personalizer::sync::dap::MAX_NORM;

use common::postgres_server::PostgresServer;
use dap_support::processes::*;

#[test]
fn kill_dash_nine_of_either_aggregator_loses_no_accepted_report_and_counts_none_twice() {
    kill_dash_nine_test(None, None);
}

#[test]
fn kill_dash_nine_on_postgresql_loses_no_accepted_report_and_counts_none_twice() {
    let Some(leader_db) = PostgresServer::start() else { return };
    let helper_db = PostgresServer::start().expect("a second server");
    kill_dash_nine_test(Some(leader_db.url.clone()), Some(helper_db.url.clone()));
}

/// Leader and helper over SQLite (`None`) or each over its own PostgreSQL database.
fn kill_dash_nine_test(leader_db: Option<String>, helper_db: Option<String>) {
    const N: usize = 300;
    let task = Task::generate();
    let mut helper = Aggregator::start_on("helper", &task.file("helper.json"), task.helper_port, helper_db);
    let mut leader = Aggregator::start_on("leader", &task.file("leader.json"), task.leader_port, leader_db);
    let setup = task.device_setup();
    let made = Instant::now();
    let reports = Arc::new(device_reports(&leader, &setup, N));
    eprintln!("made {N} device reports in {:.1} s", made.elapsed().as_secs_f64());
    // 1. kill -9 the leader mid-batch: 50 reports of the first batch aggregated, none collected,
    //    while a device keeps uploading the rest (retrying through the restart).
    let uploader = kill_leader_mid_batch(&mut leader, &reports, &setup.task_id);

    // 2. kill -9 the helper while it answers an aggregation job of the second batch.
    status_when(&leader, "the first batch collected", |s| count(s, "collectedBatches") >= 1);
    let mut running = serde_json::Value::Null;
    wait_for(LIMIT, "the helper answering a job", || {
        running = helper.try_json("/dap/status").unwrap_or_default();
        running["running"].as_u64().is_some_and(|jobs| jobs > 0)
    });
    eprintln!("kill -9 helper at {running} (leader: {})", leader.json("/dap/status"));
    helper.kill();
    std::thread::sleep(Duration::from_millis(300));
    helper.restart();

    // 3. And the leader once more, with a job of the third batch in flight.
    let hit = status_when(&leader, "a job in the third batch", |s| {
        count(s, "inJob") > 0 && count(s, "collectedBatches") == 2
    });
    eprintln!("kill -9 leader at {hit}");
    leader.kill();
    leader.restart();

    let answers = uploader.join().expect("uploader");
    assert!(answers.iter().all(|status| matches!(status, 200 | 201)));
    let done = status_when(&leader, "every report collected", |s| count(s, "collectedReports") == N as u64);
    assert_eq!((count(&done, "pending"), count(&done, "inJob"), count(&done, "rejected")), (0, 0, 0), "{done}");
    assert_eq!(count(&done, "aggregated"), N as u64, "{done}");

    let collections = leader.json("/dap/collections");
    let collections = collections.as_array().expect("a list");
    let sizes: Vec<u64> = collections.iter().map(|c| count(c, "reports")).collect();
    assert_eq!(sizes, [100, 100, 100], "three full batches: none lost, none twice");
    let versions: Vec<u64> = collections.iter().map(|c| count(c, "modelVersion")).collect();
    assert_eq!(versions, [2, 3, 4], "each batch published one model");
    let mut got = vec![0.0_f64; DIMENSION];
    for collection in collections {
        for (total, value) in got.iter_mut().zip(collection["sum"].as_array().expect("sum")) {
            *total += value.as_f64().expect("number");
        }
    }
    let mut want = vec![0.0_f64; DIMENSION];
    for report in reports.iter() {
        for (total, value) in want.iter_mut().zip(&report.noised) {
            *total += value;
        }
    }
    // Each report rounds every entry to 2^-16 of B / MAX_NORM (B ≈ 2.617), plus f32.
    let bound = 2.617;
    let tolerance = N as f64 * (bound / MAX_NORM / 65_536.0 + 1e-6);
    let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
    eprintln!("collected sum of {N} reports: worst coordinate off by {worst:.2e} (tolerance {tolerance:.2e})");
    assert!(worst <= tolerance, "the collected sum is not the sum of the accepted reports: {worst}");

    let helper_status = helper.json("/dap/status");
    assert_eq!((count(&helper_status, "aggregated"), count(&helper_status, "collectedBatches")), (N as u64, 3));
    assert_eq!(leader.json("/dap/rejections"), serde_json::json!({}), "no report rejected as a replay");
    assert_eq!(helper.json("/dap/rejections"), serde_json::json!({}));
    // A device retrying an accepted report changes nothing.
    assert_eq!(upload_until_accepted(leader.address, &setup.task_id, &reports[0], LIMIT), 200);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(leader.json("/dap/status"), done, "the retried report is stored once");
}

#[test]
fn a_batch_of_k_minus_one_reports_gets_the_dap_error_not_a_share() {
    let task = Task::generate();
    let helper = Aggregator::start("helper", &task.file("helper.json"), task.helper_port);
    let leader = Aggregator::start("leader", &task.file("leader.json"), task.leader_port);
    let setup = task.device_setup();
    let reports = device_reports(&leader, &setup, 99);
    for report in &reports {
        assert_eq!(upload_until_accepted(leader.address, &setup.task_id, report, LIMIT), 200);
    }
    status_when(&leader, "99 reports aggregated", |s| count(s, "aggregated") == 99 && count(s, "inJob") == 0);
    std::thread::sleep(Duration::from_millis(500));
    let status = leader.json("/dap/status");
    assert_eq!((count(&status, "collectedBatches"), count(&status, "openBatchReports")), (0, 99), "{status}");
    assert_eq!(leader.json("/dap/collections"), serde_json::json!([]));

    // A leader (or anyone holding its token) asking for the batch's share gets the DAP error.
    let batch: [u8; 32] = hex::decode(status["openBatchId"].as_str().expect("batch id")).unwrap().try_into().unwrap();
    let ids: Vec<[u8; 16]> = reports.iter().map(|report| report.id).collect();
    let ask = |count: u64| {
        let message = AggregateShareReq::<FixedSize>::new(
            BatchSelector::new_fixed_size(BatchId::from(batch)),
            Vec::new(),
            count,
            ReportIdChecksum::from(checksum_with([0; 32], &ids)),
        );
        let helper_file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(task.file("helper.json")).unwrap()).unwrap();
        let token = helper_file["peerToken"].as_str().unwrap().to_owned();
        let headers =
            [("DAP-Auth-Token", token.as_str()), ("Content-Type", AggregateShareReq::<FixedSize>::MEDIA_TYPE)];
        let path = format!("/tasks/{}/aggregate_shares", setup.task_id);
        let (status, body) =
            common::exchange(helper.address, "POST", &path, &headers, &message.get_encoded().unwrap()).unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (status, body) = ask(99);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("urn:ietf:params:ppm:dap:error:invalidBatchSize"), "{body}");
    // Claiming a 100th report does not help: the helper counts its own.
    let (status, body) = ask(100);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("urn:ietf:params:ppm:dap:error:batchMismatch"), "{body}");
}

/// Starts the binary in `role` on `file`: it must exit refusing it within 20 s; its stderr.
fn refused_at_start(role: &str, file: &std::path::Path) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aggregator"))
        .args(["--listen", "127.0.0.1:0", "--dimension", "90", "--dap-role", role, "--dap-task"])
        .arg(file)
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().expect("kill");
            panic!("the {role} started on a task file it must refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn task_files_below_k_or_off_the_devices_bound_are_refused_at_start() {
    let task = Task::generate();
    for role in ["leader", "helper"] {
        let original: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(task.file(&format!("{role}.json"))).unwrap()).unwrap();
        let bound = original["measurementBound"].as_f64().unwrap();
        let changes = [
            ("minBatchSize", serde_json::json!(99), "dap_task_min_batch_below_k"),
            ("measurementBound", serde_json::json!(1.0), "dap_task_bound_mismatch"),
            ("measurementBound", serde_json::json!(bound * 1.01), "dap_task_bound_mismatch"),
            ("noiseMultiplier", serde_json::json!(0.5), "dap_task_bound_mismatch"),
            ("verifyKey", serde_json::json!("not base64!"), "dap_task_field"),
        ];
        for (field, value, code) in changes {
            let mut changed = original.clone();
            changed[field] = value;
            let path = task.file("changed.json");
            std::fs::write(&path, changed.to_string()).unwrap();
            let stderr = refused_at_start(role, &path);
            assert!(stderr.contains(&format!("[{code}]")), "{role} {field}: {stderr}");
        }
        let other = if role == "leader" { "helper" } else { "leader" };
        let stderr = refused_at_start(other, &task.file(&format!("{role}.json")));
        assert!(stderr.contains("[dap_task_role_mismatch]"), "{stderr}");
    }
}
