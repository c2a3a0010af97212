//! Shared lift sums end to end: TWO real server binaries on 127.0.0.1 (leader and helper, SQLite),
//! real device engines splitting their reports into shares. The released estimate equals the one
//! computed from the same noised vectors locally, neither database holds a device's counts,
//! nothing is released below the minimum, a report only one server holds corrupts nothing, bad
//! shares get 4xx JSON, and a kill -9 of the leader loses no accepted share.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::{free_port, http, json, wait_healthy};
use shop_personalizer::measure::shares::decode_fixed;
use shop_personalizer::measure::{LiftEstimator, LiftReportConfig, LiftSums, NoiseMode};
use shop_personalizer::sync::{LiftShareMessage, SharePair};

struct Servers {
    leader: SocketAddr,
    helper: SocketAddr,
    helper_url: String,
    leader_dir: tempfile::TempDir,
    helper_dir: tempfile::TempDir,
    processes: Vec<Child>,
}

fn spawn(dir: &std::path::Path, port: u16, role: &str, helper_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aggregator"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-limit-per-minute", "0"])
        .args(["--lift-min-reports-per-bucket", "100", "--lift-min-cohort", "100", "--lift-epsilon", "64"])
        .args(["--lift-role", role, "--lift-helper-url", helper_url, "--lift-peer-token", "test-secret"])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the aggregator binary starts")
}

impl Servers {
    fn start() -> Servers {
        let (leader_port, helper_port) = (free_port(), free_port());
        let helper_url = format!("http://127.0.0.1:{helper_port}");
        let (leader_dir, helper_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
        let processes = vec![
            spawn(leader_dir.path(), leader_port, "leader", &helper_url),
            spawn(helper_dir.path(), helper_port, "helper", &helper_url),
        ];
        let servers = Servers {
            leader: ([127, 0, 0, 1], leader_port).into(),
            helper: ([127, 0, 0, 1], helper_port).into(),
            helper_url,
            leader_dir,
            helper_dir,
            processes,
        };
        wait_healthy(servers.leader);
        wait_healthy(servers.helper);
        servers
    }

    fn kill_leader_and_restart(&mut self) {
        self.processes[0].kill().expect("SIGKILL");
        self.processes[0].wait().expect("reaped");
        self.processes[0] = spawn(self.leader_dir.path(), self.leader.port(), "leader", &self.helper_url);
        wait_healthy(self.leader);
    }

    fn lift_config(&self) -> LiftReportConfig {
        // ε 64 over sums of 100 (a test of arithmetic, not of privacy): little enough noise for
        // bounded intervals from 210 devices.
        let noise = NoiseMode::SharedSums { min_cohort: 100, helper_url: self.helper_url.clone() };
        LiftReportConfig { noise, epsilon: 64.0, ..LiftReportConfig::default() }
    }

    /// A share pair as devices booked them before `sharedSums` was retired (devices no longer
    /// make pairs; these servers keep reading and releasing them): a session with `clicks`
    /// clicks on 4 impressions each at "home", noised, split.
    fn device_pair(&self, holdout: bool, clicks: usize, seed: u8) -> Vec<u8> {
        use rand::SeedableRng;
        use shop_personalizer::adapt::LiftBucket;
        use shop_personalizer::measure::{noised_report, ItemClass, LiftCounters, LiftMetric};
        let config = self.lift_config().check().expect("valid");
        let mut counters = LiftCounters::default();
        counters.record_session();
        for _ in 0..clicks {
            counters.record("home", ItemClass::NotRecommended, LiftMetric::Impressions, 4.0).expect("counted");
            counters.record("home", ItemClass::NotRecommended, LiftMetric::Clicks, 1.0).expect("counted");
        }
        let bucket = if holdout { LiftBucket::Holdout } else { LiftBucket::Personalized };
        let mut noise = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(seed));
        let report = noised_report(&counters, bucket, &config, &mut noise);
        shop_personalizer::sync::share_wire::legacy_share_pair(&report, &config, [seed; 32])
    }

    fn post(&self, to: SocketAddr, body: &[u8]) -> (u16, serde_json::Value) {
        let (status, reply) = http(to, "POST", "/v1/lift-shares", body).expect("POST");
        (status, serde_json::from_slice(&reply).unwrap_or_default())
    }

    fn send_pair(&self, pair: &[u8]) {
        let pair = SharePair::parse(pair).expect("a share pair");
        assert_eq!(self.post(self.leader, pair.leader).0, 202);
        assert_eq!(self.post(self.helper, pair.helper).0, 202);
    }

    fn lift(&self) -> serde_json::Value {
        let (status, body) = http(self.leader, "GET", "/v1/lift", b"").expect("GET /v1/lift");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        json(&body)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// The report a pair stands for, recombined here (what neither server can do alone): the
/// clamped, noised counts.
fn recombined(pair: &[u8], config: &shop_personalizer::measure::CheckedReportConfig) -> Vec<f64> {
    let pair = SharePair::parse(pair).expect("a share pair");
    let (a, b) =
        (LiftShareMessage::decode(pair.leader).expect("share"), LiftShareMessage::decode(pair.helper).expect("share"));
    assert_eq!(a.report_id, b.report_id);
    (0..config.dimension()).map(|j| decode_fixed(a.share[j].wrapping_add(b.share[j])) * config.caps()[j]).collect()
}

/// A POST with the peer token, as the leader sends it.
fn http_with_token(address: SocketAddr, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer test-secret\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, body)| body.to_owned());
    (status, body.into_bytes())
}

fn sqlite_rows(dir: &std::path::Path, sql: &str) -> Vec<Vec<u8>> {
    let connection = rusqlite::Connection::open(dir.join("aggregator.sqlite3")).expect("database");
    let mut statement = connection.prepare(sql).expect("query");
    let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0)).expect("rows");
    rows.map(|row| row.expect("row")).collect()
}

#[test]
fn two_servers_release_exactly_the_sum_of_the_devices_noised_reports() {
    let mut servers = Servers::start();
    let config = LiftReportConfig { delta: 1e-6, ..servers.lift_config() }.check().expect("valid");
    let (mut personalized, mut holdout) = (Vec::new(), Vec::new());
    for device in 0..110_u8 {
        personalized.push(servers.device_pair(false, 1 + usize::from(device % 4), device));
    }
    for device in 120..219_u8 {
        holdout.push(servers.device_pair(true, 1 + usize::from(device % 3), device));
    }
    for pair in personalized.iter().chain(&holdout) {
        servers.send_pair(pair);
    }
    // A report only the leader received (its helper share was lost): it must not count.
    let orphan = servers.device_pair(true, 2, 230);
    assert_eq!(servers.post(servers.leader, SharePair::parse(&orphan).expect("pair").leader).0, 202);
    // A two-faced device: personalized for the leader, holdout for the helper. Neither counts it.
    let two_faced = servers.device_pair(false, 2, 231);
    let two_faced = SharePair::parse(&two_faced).expect("pair");
    let mut flipped = LiftShareMessage::decode(two_faced.helper).expect("share");
    flipped.bucket = shop_personalizer::adapt::LiftBucket::Holdout;
    assert_eq!(servers.post(servers.leader, two_faced.leader).0, 202);
    assert_eq!(servers.post(servers.helper, &flipped.encode()).0, 202);

    let early = servers.lift();
    assert_eq!(early["status"], "notEnoughReports", "99 holdout reports: {early}");
    assert_eq!((early["personalizedReports"].as_u64(), early["holdoutReports"].as_u64()), (Some(110), Some(99)));
    let (status, reply) = http(servers.helper, "GET", "/v1/lift", b"").expect("GET");
    assert_eq!((status, json(&reply)["error"].as_str()), (404, Some("wrong_role")), "the helper releases nothing");
    let request = serde_json::json!({ "fingerprint": hex::encode(config.fingerprint()), "reports": [110, 99], "digests": ["00", "00"] });
    let (status, reply) =
        http(servers.helper, "POST", "/v1/lift-shares/sums", request.to_string().as_bytes()).expect("POST");
    assert_eq!((status, json(&reply)["error"].as_str()), (401, Some("peer_unauthorized")), "only the leader may ask");
    let (status, reply) = http_with_token(servers.helper, "/v1/lift-shares/sums", request.to_string().as_bytes());
    assert_eq!(status, 409, "no sums for another report set: {}", String::from_utf8_lossy(&reply));

    // Accepted shares survive kill -9 of the leader.
    servers.kill_leader_and_restart();
    let last = servers.device_pair(true, 3, 219);
    servers.send_pair(&last);
    holdout.push(last);
    let ready = servers.lift();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        (ready["estimate"]["personalizedReports"].as_u64(), ready["estimate"]["holdoutReports"].as_u64()),
        (Some(110), Some(100))
    );
    assert!(ready["settings"]["releaseRule"].as_str().unwrap_or_default().contains("shared sums"));

    // The same estimate from the same noised vectors, summed here in the clear.
    let (mut p_sums, mut h_sums) = (LiftSums::new(config.dimension()), LiftSums::new(config.dimension()));
    personalized.iter().for_each(|pair| p_sums.add(&recombined(pair, &config)));
    holdout.iter().for_each(|pair| h_sums.add(&recombined(pair, &config)));
    let local =
        LiftEstimator::from_sums(config.clone(), p_sums, h_sums).expect("sums").estimate(0.95).expect("estimate");
    let released = ready["estimate"]["metrics"].as_array().expect("metrics");
    assert_eq!(released.len(), local.metrics.len());
    let local = serde_json::to_value(&local).expect("JSON");
    let mut compared = 0;
    for (r, l) in released.iter().zip(local["metrics"].as_array().expect("metrics")) {
        assert_eq!((&r["metric"], &r["note"]), (&l["metric"], &l["note"]));
        for (field, expected) in l["estimate"].as_object().into_iter().flatten() {
            match (r["estimate"][field].as_f64(), expected.as_f64()) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{} {field}: {a} vs {b}", r["metric"]);
                    compared += 1;
                }
                _ => assert_eq!(&r["estimate"][field], expected),
            }
        }
    }
    assert!(compared >= 10, "treatment, control, lift, ... of several metrics: {compared}; {released:?}");

    // Neither server keeps a device's share after counting it, nor any plain sums; what each
    // stores is its share sum, which differs from the true sum.
    for dir in [servers.leader_dir.path(), servers.helper_dir.path()] {
        assert!(sqlite_rows(dir, "SELECT sums FROM lift_sums").is_empty(), "no plain lift sums");
        let sums = sqlite_rows(dir, "SELECT sums FROM lift_share_sums WHERE bucket = 0");
        let stored_sessions = decode_fixed(u64::from_le_bytes(sums[0][..8].try_into().expect("8 bytes"))) * 10.0;
        let true_sessions: f64 = personalized.iter().map(|pair| recombined(pair, &config)[0]).sum();
        assert!(
            (stored_sessions - true_sessions).abs() > 1.0,
            "a share sum is random: {stored_sessions} vs {true_sessions}"
        );
    }
    let leader_pending = sqlite_rows(servers.leader_dir.path(), "SELECT report_id FROM lift_share_pending");
    let orphan_id = LiftShareMessage::decode(SharePair::parse(&orphan).expect("pair").leader).expect("share").report_id;
    let two_faced_id = flipped.report_id.to_vec();
    let mut expected = vec![orphan_id.to_vec(), two_faced_id.clone()];
    expected.sort();
    let mut leader_pending = leader_pending;
    leader_pending.sort();
    assert_eq!(leader_pending, expected, "only the orphan and the two-faced report wait, uncounted");
    let helper_pending = sqlite_rows(servers.helper_dir.path(), "SELECT report_id FROM lift_share_pending");
    assert_eq!(helper_pending, vec![two_faced_id]);

    // A release needs 20 more reports per bucket: until then the same estimate is served.
    servers.send_pair(&servers.device_pair(false, 2, 250));
    let again = servers.lift();
    assert_eq!(again["estimate"]["personalizedReports"].as_u64(), Some(110), "no release for one more report");
}

#[test]
fn every_bad_share_gets_a_clear_4xx_and_nothing_is_stored() {
    let servers = Servers::start();
    let pair_bytes = servers.device_pair(false, 2, 1);
    let pair = SharePair::parse(&pair_bytes).expect("pair");
    let good = LiftShareMessage::decode(pair.leader).expect("share");
    let mut other_settings = good.clone();
    other_settings.fingerprint[0] ^= 1;
    other_settings.report_id = [7; 16];
    let mut version = pair.leader.to_vec();
    version[4] = 9;
    let mut long = pair.leader.to_vec();
    long.extend_from_slice(&[0; 8]);
    let cases: Vec<(SocketAddr, Vec<u8>, u16, &str)> = vec![
        (servers.leader, b"not a share".to_vec(), 400, "malformed_lift_share"),
        (servers.leader, version, 400, "malformed_lift_share"),
        (servers.leader, long, 413, "body_too_large"),
        (servers.leader, pair.helper.to_vec(), 422, "wrong_server"),
        (servers.helper, pair.leader.to_vec(), 422, "wrong_server"),
        (servers.leader, other_settings.encode(), 422, "config_mismatch"),
    ];
    for (to, body, expected, code) in cases {
        let (status, reply) = servers.post(to, &body);
        assert_eq!((status, reply["error"].as_str()), (expected, Some(code)), "{reply}");
        assert!(!reply["message"].as_str().unwrap_or_default().is_empty());
    }
    assert!(
        sqlite_rows(servers.leader_dir.path(), "SELECT report_id FROM lift_share_pending").is_empty(),
        "nothing stored"
    );
    assert_eq!(servers.post(servers.leader, pair.leader).0, 202);
    let (status, reply) = servers.post(servers.leader, pair.leader);
    assert_eq!((status, reply["error"].as_str()), (409, Some("replayed_nonce")), "one report id, counted once");
    let (status, reply) = http(servers.leader, "POST", "/v1/lift-reports", &[0; 80]).expect("POST");
    assert_eq!(
        (status, json(&reply)["error"].as_str()),
        (404, Some("wrong_role")),
        "a shared-sums server takes no plain reports"
    );
}
