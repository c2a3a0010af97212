//! Every update answered 2xx survives `kill -9` of the real server binary.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::*;

fn spawn_server(data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aggregator"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--dimension", &DIMENSION.to_string()])
        .args(["--min-updates-per-round", "1000", "--rate-limit-per-minute", "0"])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the aggregator binary starts")
}

#[test]
fn accepted_updates_survive_kill_dash_nine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = spawn_server(dir.path(), port);
    wait_healthy(address);
    let accepted = 60;
    for id in 0..accepted {
        let (status, body) = http(address, "POST", "/v1/updates", &update(1, 30, id).encode()).expect("POST");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");

    let mut restarted = spawn_server(dir.path(), port);
    wait_healthy(address);
    let (status, body) = http(address, "GET", "/v1/rounds/current", b"").expect("GET");
    assert_eq!(status, 200);
    let round: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(round["updatesReceived"].as_u64(), Some(accepted));
    let (status, body) = http(address, "POST", "/v1/updates", &update(1, 30, 0).encode()).expect("POST");
    assert_eq!(status, 200, "the resend is still recognised: {}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("alreadyReceived"));
    let (_, body) = http(address, "GET", "/v1/rounds/current", b"").expect("GET");
    let round: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(round["updatesReceived"].as_u64(), Some(accepted), "and not counted again");
    restarted.kill().expect("SIGKILL");
    restarted.wait().expect("reaped");
}
