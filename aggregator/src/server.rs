//! Startup: open the store, load or create the signing key, publish the first model, start the
//! writer, and build the router.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use thiserror::Error;

use crate::config::{CheckedConfig, LiftRole};
use crate::dap::process;
use crate::dap::task_file::{self, DapRole, LoadedTask, TaskFileError};
use crate::helper_client::HelperClient;
use crate::http::client::ClientLimits;
use crate::http::{router, AppState};
use crate::ingest::{spawn_writer, SharedState, StoreHealth};
use crate::lift_ingest::spawn_lift_task;
use crate::rounds::publish;
use crate::shares::SharesState;
use crate::store::dap_store::DapStore;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

/// File in the data folder holding the hex public key, for the demo storefront to read.
pub const PUBLIC_KEY_FILE: &str = "model-key.hex";
/// SQLite file in the data folder.
pub const SQLITE_FILE: &str = "aggregator.sqlite3";
/// The SQLite file of the holdout bucket's lift task (the personalized one's is [`SQLITE_FILE`]).
pub const HOLDOUT_SQLITE_FILE: &str = "aggregator-lift-holdout.sqlite3";
/// The PostgreSQL schema of the holdout bucket's lift task (the personalized one's tables are
/// in the connection's default schema).
pub const HOLDOUT_SCHEMA: &str = "lift_holdout";

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("could not use the data folder {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error(
        "the stored model has {stored} weights but --dimension is {configured}: use a fresh --data-dir or database"
    )]
    DimensionChanged { stored: usize, configured: usize },
    #[error("could not draw randomness from the operating system: {0}")]
    Entropy(String),
    #[error("{0}")]
    Helper(#[from] crate::helper_client::HelperError),
    #[error("could not use --signing-key-file {path}: {reason}")]
    SigningKeyFile { path: String, reason: String },
    #[error(
        "the store already signs with another key than --signing-key-file {path}: use a fresh --data-dir or database"
    )]
    SigningKeyMismatch { path: String },
    #[error("--dap-task: [{code}] {0}", code = .0.code())]
    DapTask(#[from] TaskFileError),
    #[error("the DAP task aggregates {task} weights but --dimension is {configured}: the models would not match")]
    DapDimension { task: usize, configured: usize },
    #[error("the store holds another DAP task's reports and batches than --dap-task {0}: use a fresh --data-dir")]
    DapTaskChanged(String),
}

/// The signing key's seed from `--signing-key-file` (64 hex characters, surrounding space ignored).
fn seed_from_file(path: &std::path::Path) -> Result<[u8; 32], StartError> {
    let fail = |reason: String| StartError::SigningKeyFile { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|error| fail(error.to_string()))?;
    let bytes = hex::decode(text.trim()).map_err(|_| fail("not hex".to_owned()))?;
    bytes.try_into().map_err(|_| fail("not 32 bytes (64 hex characters)".to_owned()))
}

/// A ready router plus what startup learnt.
pub struct Started {
    pub router: axum::Router,
    pub public_key_hex: String,
    pub model_version: u64,
    /// The per-client buckets the router admits requests by (a DAP leader's endpoints share them).
    pub limits: Arc<ClientLimits>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StartError> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|error| StartError::Entropy(error.to_string()))?;
    Ok(bytes)
}

/// Opens the configured store (PostgreSQL if `database_url` is set, else SQLite in `data_dir`)
/// and builds the app. Must run inside a tokio runtime.
pub async fn start(config: CheckedConfig) -> Result<Started, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|error| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        reason: error.to_string(),
    })?;
    if let (Some(role), Some(path)) = (config.dap_role, config.dap_task.clone()) {
        return start_dap(config, task_file::load(&path, role)?, &path).await;
    }
    match config.database_url.clone() {
        Some(url) => start_with(PostgresStore::connect(&url).await?, config).await,
        None => {
            let store = SqliteStore::open(&config.data_dir.join(SQLITE_FILE))?;
            let shares = shares_state(&store, &config)?;
            start_with_shares(store, config, shares).await
        }
    }
}

/// A process in a DAP role: the helper's endpoints alone, or the leader's beside the model API,
/// its driver started. The DAP state lives in the configured store (SQLite or PostgreSQL).
async fn start_dap(config: CheckedConfig, loaded: LoadedTask, path: &std::path::Path) -> Result<Started, StartError> {
    let store: DapStore = match &config.database_url {
        Some(url) => PostgresStore::connect(url).await?.into(),
        None => SqliteStore::open(&config.data_dir.join(SQLITE_FILE))?.into(),
    };
    let mut stores = vec![store.clone()];
    if loaded.holdout.is_some() {
        // The holdout bucket's lift task keeps its reports and batches apart: its own SQLite
        // file, or its own PostgreSQL schema in the same database.
        stores.push(match &config.database_url {
            Some(url) => PostgresStore::connect_in_schema(url, HOLDOUT_SCHEMA).await?.into(),
            None => SqliteStore::open(&config.data_dir.join(HOLDOUT_SQLITE_FILE))?.into(),
        });
    }
    let tasks = std::iter::once(&loaded.task).chain(loaded.holdout.as_ref());
    for (task, store) in tasks.zip(&stores) {
        if !store.dap_bind_task(*task.task_id.as_ref()).await? {
            return Err(StartError::DapTaskChanged(path.display().to_string()));
        }
    }
    if loaded.role == DapRole::Helper {
        let limits = Arc::new(client_limits(&config));
        let router = with_limits(process::helper_router(loaded, stores), &limits);
        return Ok(Started { router, public_key_hex: String::new(), model_version: 0, limits });
    }
    if let crate::dap::TaskKind::Lift(_) = loaded.task.kind {
        return start_lift_leader(config, loaded, stores);
    }
    if loaded.task.dimension != config.dimension {
        return Err(StartError::DapDimension { task: loaded.task.dimension, configured: config.dimension });
    }
    let (origins, rate) = (config.allowed_origins.clone(), config.server_learning_rate);
    let interval = std::time::Duration::from_millis(config.dap_interval_ms);
    let (started, key) = match &store {
        DapStore::Sqlite(sqlite) => start_inner(sqlite.clone(), config, None).await?,
        // The model API gets its own connection; the DAP steps keep theirs.
        DapStore::Postgres(_) => {
            let url = config.database_url.clone().unwrap_or_default();
            start_inner(PostgresStore::connect(&url).await?, config, None).await?
        }
    };
    let (_, dap) = process::start_leader(loaded, stores, key, rate, interval, &origins)?;
    let dap = with_limits(dap, &started.limits);
    Ok(Started { router: started.router.merge(dap), ..started })
}

/// The leader of the two lift tasks (one per bucket): the DAP endpoints, `GET /v1/lift` from
/// both tasks' collected sums and `/healthz`; no model API (it publishes no models, so its
/// signing key is a throwaway).
fn start_lift_leader(config: CheckedConfig, loaded: LoadedTask, stores: Vec<DapStore>) -> Result<Started, StartError> {
    let key = SigningKey::from_bytes(&random_bytes()?);
    let interval = std::time::Duration::from_millis(config.dap_interval_ms);
    let (states, dap) = process::start_leader(loaded, stores, key, 0.0, interval, &config.allowed_origins)?;
    let [personalized, holdout]: [_; 2] =
        states.try_into().map_err(|_| TaskFileError::Field { field: "lift", rule: "two tasks, one per bucket" })?;
    let health = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }));
    let limits = Arc::new(client_limits(&config));
    let lift = crate::dap::lift_release::lift_router(personalized, holdout);
    let router = with_limits(dap.merge(lift).merge(health), &limits);
    Ok(Started { router, public_key_hex: String::new(), model_version: 0, limits })
}

fn client_limits(config: &CheckedConfig) -> ClientLimits {
    ClientLimits::new(config.rate_limit_per_minute, config.read_rate_limit_per_minute, config.trusted_proxies.clone())
}

/// `router` behind the per-client buckets: a DAP report upload is a write, like `/v1/updates`.
fn with_limits(router: axum::Router, limits: &Arc<ClientLimits>) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(Arc::clone(limits), crate::http::client::limit))
}

/// The shared-sums state of a server with a `--lift-role` (SQLite only, see `config`).
fn shares_state(store: &SqliteStore, config: &CheckedConfig) -> Result<Option<SharesState>, StartError> {
    let Some(role) = config.lift_role else { return Ok(None) };
    let helper = match (role, &config.lift_helper_url) {
        (LiftRole::Leader, Some(url)) => Some(HelperClient::new(url, config.lift_peer_token.as_deref())?),
        _ => None,
    };
    Ok(Some(SharesState { role, store: store.clone(), helper, release_lock: Default::default() }))
}

/// Builds the app over any [`Store`] (without shared lift sums).
pub async fn start_with<S: Store>(store: S, config: CheckedConfig) -> Result<Started, StartError> {
    start_with_shares(store, config, None).await
}

async fn start_with_shares<S: Store>(
    store: S,
    config: CheckedConfig,
    shares: Option<SharesState>,
) -> Result<Started, StartError> {
    Ok(start_inner(store, config, shares).await?.0)
}

/// The app and the signing key it publishes models with.
async fn start_inner<S: Store>(
    store: S,
    config: CheckedConfig,
    shares: Option<SharesState>,
) -> Result<(Started, SigningKey), StartError> {
    let pinned = config.signing_key_file.as_deref().map(seed_from_file).transpose()?;
    let seed = store.signing_key_seed(pinned.map_or_else(random_bytes, Ok)?).await?;
    if let (Some(pinned), Some(path)) = (pinned, &config.signing_key_file) {
        if pinned != seed {
            return Err(StartError::SigningKeyMismatch { path: path.display().to_string() });
        }
    }
    let key = SigningKey::from_bytes(&seed);
    let signing_key = key.clone();
    let public_key_hex = hex::encode(key.verifying_key().to_bytes());
    let key_path = config.data_dir.join(PUBLIC_KEY_FILE);
    std::fs::write(&key_path, format!("{public_key_hex}\n"))
        .map_err(|error| StartError::DataDir { path: key_path.display().to_string(), reason: error.to_string() })?;
    store.ensure_initial_model(publish(1, config.initial_weights.clone(), &key)).await?;
    let current = store.current().await?;
    if current.model.weights.len() != config.dimension {
        return Err(StartError::DimensionChanged { stored: current.model.weights.len(), configured: config.dimension });
    }
    let model_version = current.model.version;
    let noise_seed = match config.seed {
        Some(seed) => seed,
        None => u64::from_le_bytes(random_bytes()?),
    };
    let config = Arc::new(config);
    let state = Arc::new(SharedState::new(current));
    let store = Arc::new(store);
    let lift = spawn_lift_task(Arc::clone(&store));
    let health = Arc::new(StoreHealth::default());
    let ingest = spawn_writer(store, Arc::clone(&config), key, Arc::clone(&state), Arc::clone(&health), noise_seed);
    let limits = Arc::new(client_limits(&config));
    let public_key = Arc::from(public_key_hex.as_str());
    let app = AppState {
        config,
        state,
        ingest,
        lift,
        limits: Arc::clone(&limits),
        health,
        public_key_hex: public_key,
        shares,
    };
    Ok((Started { router: router(app), public_key_hex, model_version, limits }, signing_key))
}
