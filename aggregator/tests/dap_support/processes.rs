//! The DAP leader and helper as two real processes of the built binary, on task files written by
//! `aggregator dap-task-pair`, and devices whose reports are made by the device's own sync path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams, UpdateInputs};
use shop_personalizer::sync::dap::DapDevice;
use shop_personalizer::sync::secure_aggregation::parse_dap_booked;
use shop_personalizer::sync::{DeviceSync, SecureAggregationSetup, SyncConfig};

use crate::common::{exchange, free_port, wait_healthy};

pub const DIMENSION: usize = 90;

/// A process of the binary in one DAP role over its own data folder.
pub struct Aggregator {
    pub address: SocketAddr,
    pub dir: tempfile::TempDir,
    task: PathBuf,
    role: &'static str,
    database_url: Option<String>,
    child: Option<Child>,
}

impl Aggregator {
    /// The process in `role` on `task`, over SQLite in its own folder, or `database_url`.
    pub fn start(role: &'static str, task: &Path, port: u16) -> Aggregator {
        Self::start_on(role, task, port, None)
    }

    pub fn start_on(role: &'static str, task: &Path, port: u16, database_url: Option<String>) -> Aggregator {
        let dir = tempfile::tempdir().expect("dir");
        let mut aggregator = Aggregator {
            address: ([127, 0, 0, 1], port).into(),
            dir,
            task: task.to_path_buf(),
            role,
            database_url,
            child: None,
        };
        aggregator.restart();
        aggregator
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aggregator"));
        command
            .args(["--listen", &self.address.to_string(), "--dimension", &DIMENSION.to_string()])
            .args(["--dap-role", self.role, "--dap-interval-ms", "100", "--rate-limit-per-minute", "0"])
            // The test polls `/dap/status` every 20 ms from one address: no read limit either.
            .args(["--read-rate-limit-per-minute", "0"])
            .arg("--dap-task")
            .arg(&self.task)
            .arg("--data-dir")
            .arg(self.dir.path());
        if let Some(url) = &self.database_url {
            command.args(["--database-url", url]);
        }
        command
    }

    /// Starts the process (again, over the same data) and waits until it answers.
    pub fn restart(&mut self) {
        let child = self.command().stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("binary starts");
        self.child = Some(child);
        wait_healthy(self.address);
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// GET `path` as JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        self.try_json(path).unwrap_or_else(|| panic!("GET {path} on the {} failed", self.role))
    }

    /// GET `path` as JSON, `None` while the process does not answer 200.
    pub fn try_json(&self, path: &str) -> Option<serde_json::Value> {
        match exchange(self.address, "GET", path, &[], b"") {
            Ok((200, body)) => serde_json::from_slice(&body).ok(),
            _ => None,
        }
    }
}

impl Drop for Aggregator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the binary with `args` to completion: exit success and stderr.
pub fn run(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_aggregator")).args(args).output().expect("binary runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A task pair written by `aggregator dap-task-pair` for a leader and helper on free ports.
pub struct Task {
    pub dir: tempfile::TempDir,
    pub leader_port: u16,
    pub helper_port: u16,
}

impl Task {
    pub fn generate() -> Task {
        let dir = tempfile::tempdir().expect("dir");
        let (leader_port, helper_port) = (free_port(), free_port());
        let out = dir.path().to_str().expect("utf-8 path");
        let (leader, helper) = (format!("http://127.0.0.1:{leader_port}"), format!("http://127.0.0.1:{helper_port}"));
        let args = ["dap-task-pair", "--out-dir", out, "--leader-url", &leader, "--helper-url", &helper];
        let (ok, stderr) = run(&[&args[..], &["--dimension", "90"]].concat());
        assert!(ok, "dap-task-pair: {stderr}");
        Task { dir, leader_port, helper_port }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn device_setup(&self) -> SecureAggregationSetup {
        let text = std::fs::read_to_string(self.file("device.json")).expect("device.json");
        serde_json::from_str(&text).expect("device.json is a secureAggregation setup")
    }
}

/// One device report: its id, its bytes, and the clipped, noised update it encodes.
pub struct MadeReport {
    pub id: [u8; 16],
    pub bytes: Vec<u8>,
    pub noised: Vec<f64>,
}

/// Device `i`'s local weights against the all-zero model: small, distinct, some past the clip bound.
fn local_weights(i: usize) -> Vec<f32> {
    (0..DIMENSION).map(|j| (((i * 31 + j * 7) % 19) as f32 - 9.0) * 0.02).collect()
}

/// `count` reports made by devices synced with the leader at `leader` (its model and key) under
/// the task's device settings, each with the noised update it carries (the same seeded noise).
pub fn device_reports(leader: &Aggregator, setup: &SecureAggregationSetup, count: usize) -> Vec<MadeReport> {
    use base64::Engine;
    let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
    let dap = DapDevice::new(setup, &privacy, DIMENSION).expect("the device accepts the task");
    let key = leader.json("/v1/model-key")["publicKey"].as_str().expect("key").to_owned();
    let config = SyncConfig { aggregator_url: setup.leader_url.clone(), model_public_key: key, max_jitter_ms: 0 };
    let mut device = DeviceSync::new(&config, privacy, DIMENSION).expect("valid sync config");
    let (status, model) = exchange(leader.address, "GET", "/v1/model", &[], b"").expect("GET /v1/model");
    assert_eq!(status, 200);
    device.install_model(&model).expect("the leader's model verifies");
    let now = 1_700_000_000;
    let zeros = vec![0.0_f32; DIMENSION];
    let task_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&setup.task_id).expect("task id");
    assert_eq!(task_id.len(), 32);
    (0..count)
        .map(|i| {
            let local = local_weights(i);
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            let inputs = UpdateInputs {
                base_version: 1,
                base_weights: &zeros,
                local_weights: &local,
                labelled_impressions: 100,
                full_consent: true,
                now_unix_seconds: now,
            };
            let (noised, _) = device
                .builder()
                .clip_noise_and_book(&inputs, dap.cohort(), &mut PrivacyLedger::default(), &mut rng.clone())
                .expect("built");
            let pending =
                dap.prepare_upload(&device, &local, 100, now, &mut PrivacyLedger::default(), &mut rng).expect("report");
            let (_, bytes) = parse_dap_booked(&pending.body).expect("a booked DAP report");
            let report = <janus_messages::Report as prio::codec::Decode>::get_decoded(bytes).expect("decodes");
            MadeReport { id: *report.metadata().id().as_ref(), bytes: bytes.to_vec(), noised }
        })
        .collect()
}

/// PUTs `report` to the leader until it answers 200/201 (through kills and restarts); the
/// status of the answer that counted.
pub fn upload_until_accepted(leader: SocketAddr, task_id: &str, report: &MadeReport, limit: Duration) -> u16 {
    let started = Instant::now();
    let path = format!("/tasks/{task_id}/reports");
    loop {
        let headers = [("Content-Type", "application/dap-report")];
        match exchange(leader, "PUT", &path, &headers, &report.bytes) {
            Ok((status @ (200 | 201), _)) => return status,
            Ok((status, body)) if (400..500).contains(&status) => {
                panic!("the leader refused a device report: {status} {}", String::from_utf8_lossy(&body))
            }
            _ => {}
        }
        assert!(started.elapsed() < limit, "no leader took the report within {} s", limit.as_secs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `check` every 20 ms until it holds; panics after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what} did not happen within {} s", limit.as_secs());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How long a process test waits for any one step.
pub const LIMIT: Duration = Duration::from_secs(240);

/// A count of an aggregator's `/dap/status` (or of one of its collections).
pub fn count(status: &serde_json::Value, field: &str) -> u64 {
    status[field].as_u64().unwrap_or_else(|| panic!("{field} in {status}"))
}

/// Waits until `aggregator`'s `/dap/status` satisfies `check`; the status that did.
pub fn status_when(
    aggregator: &Aggregator,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut seen = serde_json::Value::Null;
    wait_for(LIMIT, what, || {
        seen = aggregator.try_json("/dap/status").unwrap_or_default();
        !seen.is_null() && check(&seen)
    });
    seen
}

/// A device uploading `reports[from..]` to `leader` on its own thread, retrying through kills and
/// restarts; joined, the status of each upload that counted.
pub fn upload_in_background(
    reports: &std::sync::Arc<Vec<MadeReport>>,
    from: usize,
    leader: &Aggregator,
    task_id: &str,
) -> std::thread::JoinHandle<Vec<u16>> {
    let (reports, address, task_id) = (std::sync::Arc::clone(reports), leader.address, task_id.to_owned());
    std::thread::spawn(move || {
        reports[from..].iter().map(|report| upload_until_accepted(address, &task_id, report, LIMIT)).collect()
    })
}

/// Step 1 of the kill -9 runs: uploads the first 50 `reports` until the leader has aggregated
/// them (none collected: the batch is open), starts a device uploading the rest in the background
/// (retrying through the restart), kills the leader with `kill -9` and restarts it on its store.
/// Returns the background uploader.
pub fn kill_leader_mid_batch(
    leader: &mut Aggregator,
    reports: &std::sync::Arc<Vec<MadeReport>>,
    task_id: &str,
) -> std::thread::JoinHandle<Vec<u16>> {
    for report in &reports[..50] {
        assert_eq!(upload_until_accepted(leader.address, task_id, report, LIMIT), 200);
    }
    status_when(leader, "50 reports aggregated", |s| count(s, "aggregated") == 50);
    let uploader = upload_in_background(reports, 50, leader, task_id);
    std::thread::sleep(Duration::from_millis(200));
    eprintln!("kill -9 leader at {}", leader.json("/dap/status"));
    leader.kill();
    std::thread::sleep(Duration::from_millis(300));
    leader.restart();
    uploader
}
