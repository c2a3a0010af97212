//! A throwaway PostgreSQL server on 127.0.0.1 for tests: `initdb` into a temporary folder,
//! `pg_ctl start` on a free port, stopped and deleted on drop. As root the server runs as the
//! `postgres` user through `runuser` (PostgreSQL refuses to run as root).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::free_port;

pub struct PostgresServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_user: Option<String>,
    /// `pg_ctl -o` options: port, socket folder, listen address.
    options: String,
    pub url: String,
}

/// The newest `/usr/lib/postgresql/*/bin` holding `initdb`, or `$AGGREGATOR_PG_BIN`.
fn find_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("AGGREGATOR_PG_BIN") {
        return Some(PathBuf::from(bin));
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let major = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl PostgresServer {
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        match &self.as_user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts a server, or returns `None` (with a loud message) when PostgreSQL is not installed.
    pub fn start() -> Option<Self> {
        let Some(bin) = find_bin() else {
            eprintln!(
                "\n!!!!!!!! SKIPPING PostgreSQL tests: no /usr/lib/postgresql/*/bin/initdb. \
                 Install it with `apt-get install -y postgresql` (or set AGGREGATOR_PG_BIN). !!!!!!!!\n"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let is_root = output_of("id", &["-u"]).as_deref() == Some("0");
        let as_user = is_root.then(|| "postgres".to_owned());
        if let Some(user) = &as_user {
            let status = Command::new("chown").arg(user).arg(dir.path()).status().expect("chown runs");
            assert!(status.success(), "chown of the PostgreSQL test folder to {user} failed");
        }
        let port = free_port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let mut server = Self { bin, dir, as_user, options: String::new(), url };
        let data = server.data();
        let status = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed");
        let socket_dir: &Path = server.dir.path();
        server.options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on", socket_dir.display());
        server.run_again();
        Some(server)
    }

    /// Starts the server (again) on the same port and data folder; waits until it accepts.
    pub fn run_again(&self) {
        let log = self.dir.path().join("server.log");
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &self.options, "-l"])
            .arg(&log)
            .args(["-w", "start"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl start failed; see {}", log.display());
    }

    /// Stops the server (fast shutdown: open connections are closed); waits until it is down.
    pub fn stop(&self) {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl stop failed");
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}
