//! `answers build|serve|export` (see `answers --help`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use answers::cli::{Command, Options, USAGE};
use answers::export::export;
use answers::http::{router, HttpConfig, IndexSlot};
use answers::index::{AnswerIndex, BuildReport};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("answers: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("answers: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Resident memory of this process in bytes (Linux), for the build report.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn build(options: &Options) -> Result<(AnswerIndex, BuildReport), String> {
    let texts = options.read_inputs().map_err(|e| e.to_string())?;
    AnswerIndex::build(texts.inputs(), &options.index).map_err(|e| e.to_string())
}

fn describe(report: &BuildReport) {
    eprintln!(
        "answers: {} sessions, {} items, {} products in {:.2} s",
        report.sessions, report.items, report.products, report.seconds
    );
    for (what, lines) in [("session log", &report.bad_log_lines), ("catalogue", &report.bad_catalogue_lines)] {
        if !lines.is_empty() {
            eprintln!("answers: skipped {} malformed {what} lines", lines.len());
        }
        for bad in lines.iter().take(20) {
            eprintln!("  {what} line {}: {}", bad.line, bad.reason);
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let before = resident_bytes().unwrap_or(0);
    let started = Instant::now();
    let (index, report) = build(options)?;
    let total = started.elapsed().as_secs_f64();
    describe(&report);
    match options.command {
        Command::Build => {
            let after = resident_bytes().unwrap_or(0);
            println!(
                "built in {total:.2} s (index {:.2} s after reading); index heap {:.1} MiB; resident {:.1} MiB (before reading {:.1} MiB)",
                report.seconds,
                index.heap_bytes() as f64 / 1_048_576.0,
                after as f64 / 1_048_576.0,
                before as f64 / 1_048_576.0
            );
            Ok(())
        }
        Command::Export => {
            let out = options.out.as_deref().ok_or("export needs --out DIR")?;
            let (files, bytes) = export(&index, out).map_err(|e| e.to_string())?;
            println!(
                "wrote {files} answers ({:.1} MiB) and manifest.json to {}",
                bytes as f64 / 1_048_576.0,
                out.display()
            );
            Ok(())
        }
        Command::Serve => serve(options, index),
    }
}

fn serve(options: &Options, index: AnswerIndex) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the async runtime: {e}"))?;
    runtime.block_on(async {
        let slot = Arc::new(IndexSlot::new(index));
        let config =
            HttpConfig { allowed_origins: options.allowed_origins.clone(), max_age_seconds: options.max_age_seconds };
        let app = router(Arc::clone(&slot), &config);
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| format!("could not listen on {}: {e}", options.listen))?;
        let version = slot.get().version().to_owned();
        let address = listener.local_addr().map_or(options.listen, |a| a);
        println!("answers listening on http://{address} (index {version})");
        tokio::spawn(rebuild_on_hangup(options.clone(), Arc::clone(&slot)));
        axum::serve(listener, app).with_graceful_shutdown(stop_signal()).await.map_err(|e| e.to_string())?;
        println!("answers stopped");
        Ok(())
    })
}

/// Rebuilds from the same files on each SIGHUP; a failed rebuild keeps the current index.
async fn rebuild_on_hangup(options: Options, slot: Arc<IndexSlot>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else { return };
        while hangup.recv().await.is_some() {
            let options = options.clone();
            match tokio::task::spawn_blocking(move || build(&options)).await {
                Ok(Ok((index, report))) => {
                    describe(&report);
                    let version = index.version().to_owned();
                    slot.swap(index);
                    println!("answers: now serving index {version}");
                }
                Ok(Err(message)) => eprintln!("answers: rebuild failed, still serving the previous index: {message}"),
                Err(_) => eprintln!("answers: rebuild stopped unexpectedly, still serving the previous index"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (options, slot);
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
