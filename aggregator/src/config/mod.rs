//! Server settings: embedded defaults so `cargo run --release -p aggregator` just works, command
//! line flags to change them, and one validation into [`CheckedConfig`].

mod flags;
mod proxy;
mod rule;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use shop_personalizer::measure::{CheckedReportConfig, LiftReportConfig, NoiseMode, ReportError};
use shop_personalizer::rank::{DEFAULT_WEIGHTS, NUM_FEATURES};
use thiserror::Error;

pub use flags::USAGE;
pub use proxy::TrustedProxy;
pub use rule::RoundRule;

/// No round may close with fewer updates than [`MIN_UPDATES_PER_ROUND_FLOOR`], whatever the
/// config says: averaging fewer noised updates publishes too little signal per device and too
/// much about each. It, like the ceilings of the learning rate and the central noise, is shared
/// with the devices, which bound a round's change to the model by them.
pub use shop_personalizer::sync::round_bound::{
    MAX_CENTRAL_NOISE_MULTIPLIER, MAX_SERVER_LEARNING_RATE, MIN_UPDATES_PER_ROUND_FLOOR,
};
/// `GET /v1/lift` never releases an estimate from fewer reports per bucket than this.
pub const MIN_LIFT_REPORTS_FLOOR: u64 = 20;

/// Why the server refused its settings.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("{flag} must be {rule}, got {value}")]
    Invalid { flag: &'static str, rule: &'static str, value: String },
    #[error("--min-updates-per-round is {got}; the floor is {floor}: rounds of fewer updates reveal too much about each device")]
    RoundBelowFloor { got: u64, floor: u64 },
    #[error("unknown flag {0}: run with --help for the list")]
    UnknownFlag(String),
    #[error("flag {0} needs a value")]
    MissingValue(String),
    #[error("could not read --initial-weights {path}: {reason}")]
    InitialWeights { path: String, reason: String },
    #[error("could not use --initial-model {path}: [{code}] {error}", code = error.code())]
    InitialModel { path: String, error: shop_personalizer::sync::ModelFileError },
    #[error("could not read --initial-model {path}: {reason}")]
    InitialModelRead { path: String, reason: String },
    #[error("--initial-model and --initial-weights both set the first model: give one")]
    TwoInitialModels,
    #[error("lift report settings: {0}")]
    LiftReport(#[from] ReportError),
    #[error(
        "--lift-min-reports-per-bucket is {got}; it must be at least {floor} and at least --lift-min-cohort \
         (sums of fewer reports carry less than the configured noise)"
    )]
    LiftReportsBelowFloor { got: u64, floor: u64 },
    #[error(
        "shared lift sums need --lift-role leader|helper, --lift-helper-url URL (the helper's public URL, the same \
         on both servers and in the devices' liftReport.noise.helperUrl) and --lift-min-cohort K, all three"
    )]
    SharedSumsIncomplete,
    #[error("--lift-role is only supported with the SQLite store for now: drop --database-url")]
    SharedSumsNeedSqlite,
    #[error(
        "--lift-role needs --lift-peer-token SECRET (the same on leader and helper): without it anyone reaching the \
         helper could fold reports the leader never received, and no release would ever match again"
    )]
    PeerTokenRequired,
    #[error("--dap-role and --dap-task go together: give both (the task file from `aggregator dap-task-pair`)")]
    DapIncomplete,
    #[error("--dap-role and --lift-role are two ways to share sums: give one")]
    DapWithLiftRole,
    #[error(
        "--central-noise-multiplier needs --round-rule mean: its epsilon assumes the plain sum, whose sensitivity is the \
         clip bound; a robust rule's is larger"
    )]
    CentralNoiseNeedsPlainMean,
}

/// This server's part in `sharedSums` lift measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiftRole {
    /// The aggregator: receives share A, asks the helper for its share sums, releases the estimate.
    Leader,
    /// Run by another party: receives share B, answers the leader with share sums only.
    Helper,
}

/// Settings as given. Every field has an embedded default.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address to listen on; loopback only by default.
    pub listen: SocketAddr,
    /// Folder of the SQLite file and the public key file.
    pub data_dir: PathBuf,
    /// `postgres://...` to share state between replicas; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// Origins allowed to call the API from a browser (CORS).
    pub allowed_origins: Vec<String>,
    /// Number of shared weights.
    pub dimension: usize,
    /// Devices' clip bound `C`; updates declaring another are refused.
    pub clip_bound: f64,
    /// Devices' noise multiplier `z`; updates declaring another are refused.
    pub noise_multiplier: f64,
    /// `δ` of the reported `(ε, δ)`.
    pub delta: f64,
    /// `K`: a round closes once this many updates were accepted.
    pub min_updates_per_round: u64,
    /// FedAvg server learning rate: `w ← w + η · mean(updates)`.
    pub server_learning_rate: f64,
    /// Gaussian noise the server adds to each round's sum, as a multiple of the clip bound.
    pub central_noise_multiplier: Option<f64>,
    /// Accepted updates per client address per minute (0 disables the limit).
    pub rate_limit_per_minute: u32,
    /// How a closing round aggregates its updates; every rule but `mean` keeps the open round's
    /// updates until it closes.
    pub round_rule: RoundRule,
    /// GET, fold and sums requests per client address per minute (0 disables the limit).
    pub read_rate_limit_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client for rate limiting. Empty: the
    /// TCP peer is the client and the header is ignored.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Most connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// A request's head, and separately its body, must arrive within this; an idle
    /// keep-alive connection is closed after it.
    pub read_timeout: Duration,
    /// Pending lift shares the other server never confirmed are dropped after this.
    pub lift_share_ttl_seconds: u64,
    /// Most updates committed in one storage transaction.
    pub max_batch: usize,
    /// JSON array of initial weights; when absent, the ranker's shipped defaults if the
    /// dimension is the ranker's, else zeros. Either file's weights are served within the
    /// ranker's monotone constraint (`rounds::within_ranker_constraint`).
    pub initial_weights: Option<PathBuf>,
    /// A model file (`replay fit --out`) whose weights the first shared model serves, signed with
    /// this server's key; its dimension must be `dimension`.
    pub initial_model: Option<PathBuf>,
    /// Seed of the central-noise RNG (drawn from the OS when absent).
    pub seed: Option<u64>,
    /// File holding the signing key's seed (64 hex characters); drawn once and kept in the
    /// store when absent.
    pub signing_key_file: Option<PathBuf>,
    /// `Cache-Control: max-age` of `GET /v1/model`.
    pub model_max_age_seconds: u32,
    /// The devices' lift report settings (its `delta` is replaced by `--delta`).
    pub lift_report: LiftReportConfig,
    /// `GET /v1/lift` releases nothing until each bucket holds this many reports.
    pub lift_min_reports_per_bucket: u64,
    /// Leader or helper of shared lift sums (`None`: lift reports as plain local or distributed reports).
    pub lift_role: Option<LiftRole>,
    /// The helper's public URL (shared sums): devices send share B there, the leader asks it for share sums.
    pub lift_helper_url: Option<String>,
    /// Secret both servers know: the leader sends it as `Authorization: Bearer`, the helper
    /// answers fold and sums requests only with it (required with a `--lift-role`).
    pub lift_peer_token: Option<String>,
    /// This process's DAP role (secure aggregation), with `dap_task`.
    pub dap_role: Option<crate::dap::task_file::DapRole>,
    /// The DAP task file, read and checked at start.
    pub dap_task: Option<PathBuf>,
    /// The DAP leader's pause when idle or when the helper failed.
    pub dap_interval_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            data_dir: PathBuf::from("aggregator-data"),
            database_url: None,
            allowed_origins: vec!["http://127.0.0.1:8080".to_owned(), "http://localhost:8080".to_owned()],
            dimension: NUM_FEATURES,
            clip_bound: 1.0,
            noise_multiplier: 1.0,
            delta: 1e-6,
            min_updates_per_round: 100,
            server_learning_rate: 1.0,
            central_noise_multiplier: None,
            rate_limit_per_minute: 60,
            round_rule: RoundRule::Screened { sigmas: 3.0 },
            read_rate_limit_per_minute: 600,
            trusted_proxies: Vec::new(),
            max_connections: 1_024,
            read_timeout: Duration::from_secs(10),
            lift_share_ttl_seconds: 7 * 86_400,
            max_batch: 1024,
            initial_weights: None,
            initial_model: None,
            seed: None,
            signing_key_file: None,
            model_max_age_seconds: 30,
            lift_report: LiftReportConfig::default(),
            lift_min_reports_per_bucket: 100,
            lift_role: None,
            lift_helper_url: None,
            lift_peer_token: None,
            dap_role: None,
            dap_task: None,
            dap_interval_ms: 1_000,
        }
    }
}

/// Settings that passed [`ServerConfig::check`], plus the loaded initial weights. Reads as a
/// `ServerConfig` (through `Deref`) but cannot be changed after the check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedConfig {
    settings: ServerConfig,
    /// The weights of model version 1.
    pub initial_weights: Vec<f32>,
    /// The checked lift report settings reports must have been made under.
    pub lift: CheckedReportConfig,
}

impl std::ops::Deref for CheckedConfig {
    type Target = ServerConfig;

    fn deref(&self) -> &ServerConfig {
        &self.settings
    }
}

impl CheckedConfig {
    /// Largest accepted update body: the header plus one byte per weight.
    pub fn max_body_bytes(&self) -> usize {
        shop_personalizer::sync::update_wire::UPDATE_HEADER_LEN + self.dimension
    }
}

fn positive(flag: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::Invalid { flag, rule: "a positive finite number", value: value.to_string() })
    }
}

impl ServerConfig {
    /// Validates every setting and loads the initial weights.
    pub fn check(self) -> Result<CheckedConfig, ConfigError> {
        let max_dimension = shop_personalizer::sync::update_wire::MAX_UPDATE_DIMENSION;
        if self.dimension == 0 || self.dimension > max_dimension {
            return Err(ConfigError::Invalid {
                flag: "--dimension",
                rule: "between 1 and 1048576",
                value: self.dimension.to_string(),
            });
        }
        positive("--clip-bound", self.clip_bound)?;
        positive("--noise-multiplier", self.noise_multiplier)?;
        positive("--server-learning-rate", self.server_learning_rate)?;
        if self.server_learning_rate > MAX_SERVER_LEARNING_RATE {
            return Err(ConfigError::Invalid {
                flag: "--server-learning-rate",
                rule: "at most 1 (devices refuse a model that moved further than a round at rate 1 can move it)",
                value: self.server_learning_rate.to_string(),
            });
        }
        if let Some(central) = self.central_noise_multiplier {
            positive("--central-noise-multiplier", central)?;
            if central > MAX_CENTRAL_NOISE_MULTIPLIER {
                return Err(ConfigError::Invalid {
                    flag: "--central-noise-multiplier",
                    rule: "at most 10 (devices bound a round's change to the model by it)",
                    value: central.to_string(),
                });
            }
        }
        if !(self.delta > 0.0 && self.delta < 1e-3) {
            return Err(ConfigError::Invalid { flag: "--delta", rule: "in (0, 1e-3)", value: self.delta.to_string() });
        }
        if self.min_updates_per_round < MIN_UPDATES_PER_ROUND_FLOOR {
            return Err(ConfigError::RoundBelowFloor {
                got: self.min_updates_per_round,
                floor: MIN_UPDATES_PER_ROUND_FLOOR,
            });
        }
        if !self.round_rule.is_valid() {
            return Err(ConfigError::Invalid {
                flag: "--round-rule",
                rule: "mean, trimmed-mean:B with B in (0, 0.5) or median-window:K with K > 0",
                value: self.round_rule.to_string(),
            });
        }
        if self.round_rule.keeps_updates() && self.central_noise_multiplier.is_some() {
            return Err(ConfigError::CentralNoiseNeedsPlainMean);
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid { flag: "--max-connections", rule: "at least 1", value: "0".to_owned() });
        }
        if self.read_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                flag: "--read-timeout-seconds",
                rule: "positive",
                value: "0".to_owned(),
            });
        }
        if self.lift_share_ttl_seconds == 0 {
            return Err(ConfigError::Invalid {
                flag: "--lift-share-ttl-seconds",
                rule: "at least 1",
                value: "0".to_owned(),
            });
        }
        match (self.dap_role, &self.dap_task) {
            (Some(_), Some(_)) if self.lift_role.is_some() => return Err(ConfigError::DapWithLiftRole),
            (Some(_), None) | (None, Some(_)) => return Err(ConfigError::DapIncomplete),
            _ => {}
        }
        if self.dap_interval_ms == 0 || self.dap_interval_ms > 3_600_000 {
            return Err(ConfigError::Invalid {
                flag: "--dap-interval-ms",
                rule: "1..=3600000",
                value: self.dap_interval_ms.to_string(),
            });
        }
        if self.max_batch == 0 {
            return Err(ConfigError::Invalid { flag: "--max-batch", rule: "at least 1", value: "0".to_owned() });
        }
        let initial_weights = match (&self.initial_weights, &self.initial_model) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoInitialModels),
            (None, Some(path)) => load_model_file(path, self.dimension)?,
            (Some(path), None) => load_weights(path, self.dimension)?,
            (None, None) if self.dimension == NUM_FEATURES => DEFAULT_WEIGHTS.to_vec(),
            (None, None) => vec![0.0; self.dimension],
        };
        // Devices project any weights they are given; the first model is served as they use it,
        // so the leader's first step starts inside the constraint its later ones keep.
        let initial_weights = crate::rounds::within_ranker_constraint(initial_weights);
        let noise = match (self.lift_role, &self.lift_helper_url, &self.lift_report.noise) {
            (None, None, noise) => noise.clone(),
            (Some(_), Some(url), NoiseMode::Distributed { min_cohort } | NoiseMode::SharedSums { min_cohort, .. }) => {
                NoiseMode::SharedSums { min_cohort: *min_cohort, helper_url: url.clone() }
            }
            _ => return Err(ConfigError::SharedSumsIncomplete),
        };
        if self.lift_role.is_some() && self.database_url.is_some() {
            return Err(ConfigError::SharedSumsNeedSqlite);
        }
        if self.lift_role.is_some() && self.lift_peer_token.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::PeerTokenRequired);
        }
        let lift = LiftReportConfig { delta: self.delta, noise, ..self.lift_report.clone() }.check()?;
        let cohort = match lift.config().noise {
            NoiseMode::Local => 0,
            _ => u64::from(lift.config().noise.min_cohort()),
        };
        let floor = cohort.max(MIN_LIFT_REPORTS_FLOOR);
        if self.lift_min_reports_per_bucket < floor {
            return Err(ConfigError::LiftReportsBelowFloor { got: self.lift_min_reports_per_bucket, floor });
        }
        Ok(CheckedConfig { settings: self, initial_weights, lift })
    }
}

/// The weights of a model file; the file's checks (format version, checksum, dimension, finite
/// weights) each fail with their own code. The file's model version is not kept: what the server
/// serves first is version 1, signed with its own key.
fn load_model_file(path: &PathBuf, dimension: usize) -> Result<Vec<f32>, ConfigError> {
    let bytes = std::fs::read(path).map_err(|error| ConfigError::InitialModelRead {
        path: path.display().to_string(),
        reason: error.to_string(),
    })?;
    shop_personalizer::sync::SharedModel::decode_file(&bytes, dimension)
        .map(|model| model.weights)
        .map_err(|error| ConfigError::InitialModel { path: path.display().to_string(), error })
}

fn load_weights(path: &PathBuf, dimension: usize) -> Result<Vec<f32>, ConfigError> {
    let fail = |reason: String| ConfigError::InitialWeights { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|error| fail(error.to_string()))?;
    let weights: Vec<f32> =
        serde_json::from_str(&text).map_err(|error| fail(format!("not a JSON array of numbers: {error}")))?;
    if weights.len() != dimension {
        return Err(fail(format!("{} weights but --dimension is {dimension}", weights.len())));
    }
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(fail("contains a non-finite weight".to_owned()));
    }
    Ok(weights)
}

#[cfg(test)]
mod tests;
