//! The `answers` binary on small files: a malformed line is skipped with its number or refuses
//! the build; `serve` on port 0 answers over real TCP and stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn files(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("answers-command-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.jsonl");
    std::fs::write(
        &log,
        "{\"session\":\"a\",\"item\":\"sku-1\",\"type\":\"view\",\"timestamp\":1}\n{\"session\":\"a\",\"item\":\"sku-2\",\"type\":\"view\",\"timestamp\":2}\n{oops\n",
    )
    .unwrap();
    let catalogue = dir.join("catalogue.csv");
    std::fs::write(
        &catalogue,
        "id,title,category_path\nsku-1,Trail shoe,Shoes > Trail\nsku-2,Road shoe,Shoes > Road\n",
    )
    .unwrap();
    (log, catalogue)
}

fn answers() -> Command {
    Command::new(env!("CARGO_BIN_EXE_answers"))
}

#[test]
fn build_skips_or_refuses_a_malformed_line() {
    let (log, catalogue) = files("build");
    let skip = answers().arg("build").arg("--sessions").arg(&log).arg("--catalogue").arg(&catalogue).output().unwrap();
    assert!(skip.status.success());
    let stderr = String::from_utf8_lossy(&skip.stderr);
    assert!(stderr.contains("session log line 3"), "{stderr}");
    let refuse = answers().args(["build", "--on-bad-line", "refuse", "--sessions"]).arg(&log).output().unwrap();
    assert!(!refuse.status.success());
    let stderr = String::from_utf8_lossy(&refuse.stderr);
    assert!(stderr.contains("input_malformed_line") && stderr.contains("line 3"), "{stderr}");
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

#[test]
fn serve_answers_over_tcp_and_stops_on_sigterm() {
    let (log, catalogue) = files("serve");
    let mut child = answers()
        .args(["serve", "--listen", "127.0.0.1:0", "--sessions"])
        .arg(&log)
        .arg("--catalogue")
        .arg(&catalogue)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Bounded in time: a server that never answers or never stops is killed after 30 s.
    let pid = child.id().to_string();
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let watched = pid.clone();
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &watched]).status();
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /v1/answers/item/sku-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"about\":\"sku-1\"") && response.contains("Road shoe"), "{response}");
    assert!(!response.to_ascii_lowercase().contains("set-cookie"));
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let _ = done.send(());
    guard.join().unwrap();
    assert!(status.success());
    assert!(rest.contains("answers stopped"), "{rest}");
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}
