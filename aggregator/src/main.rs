//! `cargo run --release -p aggregator -- [--flag value]...` (see `--help`).

use std::process::ExitCode;

use aggregator::config::USAGE;
use aggregator::listener::ConnectionLimits;
use aggregator::{start, ServerConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.first().map(String::as_str) == Some("dap-task-pair") {
        return dap_task_pair(args.into_iter().skip(1));
    }
    let config = match ServerConfig::from_args(args).and_then(ServerConfig::check) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("aggregator: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aggregator: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("aggregator: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `aggregator dap-task-pair [--flag value]...`: writes a fresh task's three files.
fn dap_task_pair(args: impl Iterator<Item = String>) -> ExitCode {
    use aggregator::dap::task_pair::{settings_from_args, write_pair};
    match settings_from_args(args).and_then(|settings| write_pair(&settings)) {
        Ok(paths) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("aggregator dap-task-pair: {error}");
            ExitCode::from(2)
        }
    }
}

async fn serve(config: aggregator::CheckedConfig) -> Result<(), String> {
    let listen = config.listen;
    let role = config.dap_role;
    let config_limits = (config.max_connections, config.read_timeout);
    let data_dir = config.data_dir.display().to_string();
    let store = if config.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    let started = start(config).await.map_err(|error| error.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("could not listen on {listen}: {error}"))?;
    match role {
        Some(aggregator::dap::task_file::DapRole::Helper) => {
            println!("DAP helper listening on http://{listen} ({store}, data in {data_dir})");
        }
        _ => {
            let what = if role.is_some() { "DAP leader and aggregator" } else { "aggregator" };
            println!("{what} listening on http://{listen} ({store}, data in {data_dir})");
            println!("model version {}, public key {}", started.model_version, started.public_key_hex);
        }
    }
    let limits = ConnectionLimits { max_connections: config_limits.0, read_timeout: config_limits.1 };
    aggregator::listener::serve(listener, started.router, limits, stop_signal())
        .await
        .map_err(|error| error.to_string())?;
    println!("aggregator stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
