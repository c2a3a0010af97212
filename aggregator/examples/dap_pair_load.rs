//! End-to-end rate of a running leader + helper pair (two processes, started by you with
//! `--dap-role leader|helper` on a task from `aggregator dap-task-pair`, the leader with
//! `--rate-limit-per-minute 0`, since every upload here comes from one address): makes `reports` device
//! reports for the task's `device.json` (the device code: clip, noise share, encode, shard with
//! proof, seal), uploads them over HTTP with `connections` threads, and waits until the leader has
//! collected all of them (use a multiple of the task's batch size).
//!
//! `cargo run --release -p aggregator --example dap_pair_load -- DEVICE_JSON LEADER_ADDR [reports] [connections]`

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prio::codec::Encode;
use rand_core06::OsRng;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyParams};
use shop_personalizer::sync::dap::{build_report, DapDevice};
use shop_personalizer::sync::SecureAggregationSetup;

fn request(address: SocketAddr, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/dap-report\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let status = String::from_utf8_lossy(&response[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, response.get(split + 4..).unwrap_or_default().to_vec()))
}

fn collected(address: SocketAddr) -> u64 {
    match request(address, "GET", "/dap/status", b"") {
        Ok((200, body)) => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|status| status["collectedReports"].as_u64())
            .unwrap_or(0),
        _ => 0,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let device_json = args.next().expect("DEVICE_JSON");
    let leader: SocketAddr = args.next().expect("LEADER_ADDR").parse().expect("an address like 127.0.0.1:8787");
    let reports: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let setup: SecureAggregationSetup =
        serde_json::from_str(&std::fs::read_to_string(&device_json).expect("device.json")).expect("a setup");
    let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
    let dimension = shop_personalizer::rank::NUM_FEATURES;
    let device = DapDevice::new(&setup, &privacy, dimension).expect("the device accepts the task");
    let started = Instant::now();
    let made: Vec<Vec<u8>> = (0..reports)
        .map(|i| {
            let update: Vec<f32> = (0..dimension).map(|j| (((i + j) % 13) as f32 - 6.0) * 0.01).collect();
            build_report(device.task(), &update, 1_700_000_000, &mut OsRng).expect("report").get_encoded().unwrap()
        })
        .collect();
    println!(
        "made {reports} reports of {} bytes in {:.1} s ({:.2} ms each, one thread)",
        made[0].len(),
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e3 / reports as f64
    );
    let before = collected(leader);
    let path = format!("/tasks/{}/reports", setup.task_id);
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..connections {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(body) = made.get(i) else { return };
                let (status, answer) = request(leader, "PUT", &path, body).expect("upload");
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
            });
        }
    });
    let uploaded = started.elapsed().as_secs_f64();
    while collected(leader) < before + reports as u64 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = started.elapsed().as_secs_f64();
    println!(
        "uploaded in {uploaded:.2} s ({:.0} reports/s over {connections} connections); all collected after \
         {done:.2} s: {:.0} reports/s verified, aggregated and collected by the pair end to end",
        reports as f64 / uploaded,
        reports as f64 / done
    );
}
