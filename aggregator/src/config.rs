//! Server settings: embedded defaults so `cargo run --release -p aggregator` just works, command
//! line flags to change them, and one validation into [`CheckedConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use shop_personalizer::measure::{CheckedReportConfig, LiftReportConfig, NoiseMode, ReportError};
use shop_personalizer::rank::{DEFAULT_WEIGHTS, NUM_FEATURES};
use thiserror::Error;

/// No round may close with fewer updates than this, whatever the config says: averaging fewer
/// noised updates publishes too little signal per device and too much about each.
pub const MIN_UPDATES_PER_ROUND_FLOOR: u64 = 20;
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
    /// Most updates committed in one storage transaction.
    pub max_batch: usize,
    /// JSON array of initial weights; when absent, the ranker's shipped defaults if the
    /// dimension is the ranker's, else zeros.
    pub initial_weights: Option<PathBuf>,
    /// Seed of the central-noise RNG (drawn from the OS when absent).
    pub seed: Option<u64>,
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
    /// answers fold and sums requests only with it (recommended; without it anyone reaching the
    /// helper can ask).
    pub lift_peer_token: Option<String>,
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
            max_batch: 1024,
            initial_weights: None,
            seed: None,
            model_max_age_seconds: 30,
            lift_report: LiftReportConfig::default(),
            lift_min_reports_per_bucket: 100,
            lift_role: None,
            lift_helper_url: None,
            lift_peer_token: None,
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
        if let Some(central) = self.central_noise_multiplier {
            positive("--central-noise-multiplier", central)?;
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
        if self.max_batch == 0 {
            return Err(ConfigError::Invalid { flag: "--max-batch", rule: "at least 1", value: "0".to_owned() });
        }
        let initial_weights = match &self.initial_weights {
            None if self.dimension == NUM_FEATURES => DEFAULT_WEIGHTS.to_vec(),
            None => vec![0.0; self.dimension],
            Some(path) => load_weights(path, self.dimension)?,
        };
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

    /// Applies `--flag value` pairs (and `AGGREGATOR_DATABASE_URL` from the environment) to the defaults.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, ConfigError> {
        let mut config = Self { database_url: std::env::var("AGGREGATOR_DATABASE_URL").ok(), ..Self::default() };
        let mut custom_origins = false;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| ConfigError::MissingValue(flag.clone()))?;
            let bad = |rule: &'static str, flag: &str| ConfigError::Invalid {
                flag: leak_flag(flag),
                rule,
                value: value.clone(),
            };
            let number = |flag: &str| value.parse::<f64>().map_err(|_| bad("a number", flag));
            let count = |flag: &str| value.parse::<u64>().map_err(|_| bad("a whole number", flag));
            match flag.as_str() {
                "--listen" => {
                    config.listen = value.parse().map_err(|_| bad("an address like 127.0.0.1:8787", &flag))?
                }
                "--data-dir" => config.data_dir = PathBuf::from(&value),
                "--database-url" => config.database_url = Some(value.clone()),
                "--allowed-origin" => {
                    if !custom_origins {
                        config.allowed_origins.clear();
                        custom_origins = true;
                    }
                    config.allowed_origins.push(value.clone());
                }
                "--dimension" => config.dimension = count(&flag)? as usize,
                "--clip-bound" => config.clip_bound = number(&flag)?,
                "--noise-multiplier" => config.noise_multiplier = number(&flag)?,
                "--delta" => config.delta = number(&flag)?,
                "--min-updates-per-round" => config.min_updates_per_round = count(&flag)?,
                "--server-learning-rate" => config.server_learning_rate = number(&flag)?,
                "--central-noise-multiplier" => config.central_noise_multiplier = Some(number(&flag)?),
                "--rate-limit-per-minute" => config.rate_limit_per_minute = count(&flag)? as u32,
                "--max-batch" => config.max_batch = count(&flag)? as usize,
                "--initial-weights" => config.initial_weights = Some(PathBuf::from(&value)),
                "--seed" => config.seed = Some(count(&flag)?),
                "--model-max-age-seconds" => config.model_max_age_seconds = count(&flag)? as u32,
                "--lift-placements" => {
                    config.lift_report.placements =
                        value.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
                }
                "--lift-epsilon" => config.lift_report.epsilon = number(&flag)?,
                "--lift-min-cohort" => {
                    let min_cohort = u32::try_from(count(&flag)?).map_err(|_| bad("a whole number", &flag))?;
                    config.lift_report.noise = NoiseMode::Distributed { min_cohort };
                }
                "--lift-min-reports-per-bucket" => config.lift_min_reports_per_bucket = count(&flag)?,
                "--lift-role" => {
                    config.lift_role = Some(match value.as_str() {
                        "leader" => LiftRole::Leader,
                        "helper" => LiftRole::Helper,
                        _ => return Err(bad("leader or helper", &flag)),
                    })
                }
                "--lift-helper-url" => config.lift_helper_url = Some(value.trim_end_matches('/').to_owned()),
                "--lift-peer-token" => config.lift_peer_token = Some(value.clone()),
                _ => return Err(ConfigError::UnknownFlag(flag)),
            }
        }
        Ok(config)
    }
}

/// The flag names are a fixed set; map them back to their static spelling for the error.
fn leak_flag(flag: &str) -> &'static str {
    const FLAGS: [&str; 23] = [
        "--lift-peer-token",
        "--lift-role",
        "--lift-helper-url",
        "--listen",
        "--data-dir",
        "--database-url",
        "--allowed-origin",
        "--dimension",
        "--clip-bound",
        "--noise-multiplier",
        "--delta",
        "--min-updates-per-round",
        "--server-learning-rate",
        "--central-noise-multiplier",
        "--rate-limit-per-minute",
        "--max-batch",
        "--initial-weights",
        "--seed",
        "--model-max-age-seconds",
        "--lift-placements",
        "--lift-epsilon",
        "--lift-min-cohort",
        "--lift-min-reports-per-bucket",
    ];
    FLAGS.iter().find(|known| **known == flag).copied().unwrap_or("flag")
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

/// The `--help` text.
pub const USAGE: &str = "aggregator [--flag value]...
  --listen ADDR                    default 127.0.0.1:8787 (loopback only)
  --data-dir DIR                   default ./aggregator-data (SQLite file, public key)
  --database-url URL               postgres://... for replicas sharing one database (or AGGREGATOR_DATABASE_URL)
  --allowed-origin ORIGIN          CORS origin, repeatable; default http://127.0.0.1:8080 and http://localhost:8080
  --dimension N                    shared weights, default the ranker's NUM_FEATURES
  --clip-bound C                   default 1.0 (must match the devices)
  --noise-multiplier Z             default 1.0 (must match the devices)
  --delta D                        default 1e-6
  --min-updates-per-round K        default 100, never below 20
  --server-learning-rate ETA       default 1.0
  --central-noise-multiplier ZC    extra Gaussian noise on each round's sum (off by default)
  --rate-limit-per-minute N        per client address, default 60, 0 = off
  --max-batch N                    updates per storage commit, default 1024
  --initial-weights FILE           JSON array of the initial weights (default: the ranker's shipped weights)
  --seed N                         seed of the central noise (OS entropy by default)
  --model-max-age-seconds N        Cache-Control max-age of GET /v1/model, default 30
  --lift-placements a,b            placements lift reports break out (must match the devices), default none
  --lift-epsilon E                 epsilon of one lift report (must match the devices), default 2
  --lift-min-cohort K              distributed lift noise: sums of >= K reports carry the full noise (default: local)
  --lift-min-reports-per-bucket N  GET /v1/lift releases nothing below N reports per bucket, default 100, never
                                   below 20 or the cohort
  --lift-role leader|helper        shared lift sums (with --lift-min-cohort and --lift-helper-url): this server is
                                   the leader (the aggregator, releases GET /v1/lift) or the helper (another party)
  --lift-helper-url URL            the helper's public URL (devices send it share B; the leader asks it for sums)
  --lift-peer-token SECRET         shared secret of leader and helper for the helper's fold and sums requests";

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
