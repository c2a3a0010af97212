//! Command line flags: `--flag value` pairs over the embedded defaults, and the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use shop_personalizer::measure::NoiseMode;

use super::{ConfigError, LiftRole, ServerConfig, TrustedProxy};
use crate::dap::task_file::DapRole;

/// Every flag, spelt as the user types it (an error names the flag with this static spelling).
const FLAGS: [&str; 34] = [
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
    "--round-rule",
    "--rate-limit-per-minute",
    "--read-rate-limit-per-minute",
    "--trusted-proxy",
    "--max-connections",
    "--read-timeout-seconds",
    "--max-batch",
    "--initial-weights",
    "--initial-model",
    "--seed",
    "--signing-key-file",
    "--model-max-age-seconds",
    "--lift-placements",
    "--lift-epsilon",
    "--lift-min-cohort",
    "--lift-min-reports-per-bucket",
    "--lift-role",
    "--lift-helper-url",
    "--lift-peer-token",
    "--lift-share-ttl-seconds",
    "--dap-role",
    "--dap-task",
    "--dap-interval-ms",
];

impl ServerConfig {
    /// Applies `--flag value` pairs (and `AGGREGATOR_DATABASE_URL` from the environment) to the defaults.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, ConfigError> {
        let mut config = Self { database_url: std::env::var("AGGREGATOR_DATABASE_URL").ok(), ..Self::default() };
        let (mut custom_origins, mut args) = (false, args.into_iter());
        while let Some(given) = args.next() {
            let flag = FLAGS.iter().find(|known| **known == given).copied().ok_or(ConfigError::UnknownFlag(given))?;
            let value = args.next().ok_or_else(|| ConfigError::MissingValue(flag.to_owned()))?;
            if flag == "--allowed-origin" && !custom_origins {
                config.allowed_origins.clear();
                custom_origins = true;
            }
            config.apply(flag, value)?;
        }
        Ok(config)
    }

    fn apply(&mut self, flag: &'static str, value: String) -> Result<(), ConfigError> {
        let bad = |rule: &'static str| ConfigError::Invalid { flag, rule, value: value.clone() };
        let number = || value.parse::<f64>().map_err(|_| bad("a number"));
        let count = || value.parse::<u64>().map_err(|_| bad("a whole number"));
        let small = || u32::try_from(count()?).map_err(|_| bad("a whole number below 2^32"));
        match flag {
            "--listen" => self.listen = value.parse().map_err(|_| bad("an address like 127.0.0.1:8787"))?,
            "--data-dir" => self.data_dir = PathBuf::from(&value),
            "--database-url" => self.database_url = Some(value),
            "--allowed-origin" => self.allowed_origins.push(value),
            "--dimension" => self.dimension = count()? as usize,
            "--clip-bound" => self.clip_bound = number()?,
            "--noise-multiplier" => self.noise_multiplier = number()?,
            "--delta" => self.delta = number()?,
            "--min-updates-per-round" => self.min_updates_per_round = count()?,
            "--server-learning-rate" => self.server_learning_rate = number()?,
            "--central-noise-multiplier" => self.central_noise_multiplier = Some(number()?),
            "--round-rule" => {
                self.round_rule =
                    value.parse().map_err(|()| bad("mean, trimmed-mean[:B], median-window[:K] or screened[:K]"))?
            }
            "--rate-limit-per-minute" => self.rate_limit_per_minute = small()?,
            "--read-rate-limit-per-minute" => self.read_rate_limit_per_minute = small()?,
            "--trusted-proxy" => {
                let proxy = value.parse::<TrustedProxy>().map_err(|_| bad("an address or CIDR like 10.0.0.0/8"))?;
                self.trusted_proxies.push(proxy);
            }
            "--max-connections" => self.max_connections = count()? as usize,
            "--read-timeout-seconds" => {
                let seconds = number()?;
                self.read_timeout =
                    Duration::try_from_secs_f64(seconds).map_err(|_| bad("a non-negative number of seconds"))?;
            }
            "--max-batch" => self.max_batch = count()? as usize,
            "--initial-weights" => self.initial_weights = Some(PathBuf::from(&value)),
            "--initial-model" => self.initial_model = Some(PathBuf::from(&value)),
            "--seed" => self.seed = Some(count()?),
            "--signing-key-file" => self.signing_key_file = Some(PathBuf::from(&value)),
            "--model-max-age-seconds" => self.model_max_age_seconds = small()?,
            "--lift-placements" => {
                self.lift_report.placements =
                    value.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
            }
            "--lift-epsilon" => self.lift_report.epsilon = number()?,
            "--lift-min-cohort" => {
                let min_cohort = small()?;
                self.lift_report.noise = NoiseMode::Distributed { min_cohort };
            }
            "--lift-min-reports-per-bucket" => self.lift_min_reports_per_bucket = count()?,
            "--lift-role" => {
                self.lift_role = Some(match value.as_str() {
                    "leader" => LiftRole::Leader,
                    "helper" => LiftRole::Helper,
                    _ => return Err(bad("leader or helper")),
                })
            }
            "--lift-helper-url" => self.lift_helper_url = Some(value.trim_end_matches('/').to_owned()),
            "--lift-peer-token" => self.lift_peer_token = Some(value),
            "--lift-share-ttl-seconds" => self.lift_share_ttl_seconds = count()?,
            "--dap-role" => {
                self.dap_role = Some(match value.as_str() {
                    "leader" => DapRole::Leader,
                    "helper" => DapRole::Helper,
                    _ => return Err(bad("leader or helper")),
                })
            }
            "--dap-task" => self.dap_task = Some(PathBuf::from(&value)),
            "--dap-interval-ms" => self.dap_interval_ms = count()?,
            _ => return Err(ConfigError::UnknownFlag(flag.to_owned())),
        }
        Ok(())
    }
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
  --central-noise-multiplier ZC    extra Gaussian noise on each round's sum (off by default; needs --round-rule mean)
  --round-rule RULE                screened[:K] (default, K = 3: drop whole updates farther from the coordinate-wise
                                   median than the median distance plus K robust sds, then median-window:4),
                                   median-window[:K] (per coordinate the mean of the values within C + K z C of
                                   the median, default K = 4), trimmed-mean[:B] (drop B of the values at each
                                   end, default 0.1), or mean (plain FedAvg of the running sum, keeps no update)
  --rate-limit-per-minute N        updates, lift reports and shares per client address, default 60, 0 = off
  --read-rate-limit-per-minute N   GETs and leader-helper requests per client address, default 600, 0 = off
  --trusted-proxy ADDR[/BITS]      repeatable: a reverse proxy whose X-Forwarded-For names the client (default
                                   none: the TCP peer is the client, the header is ignored)
  --max-connections N              connections served at once, default 1024 (more wait in the backlog)
  --read-timeout-seconds S         a request's head and its body must each arrive within S, default 10
  --max-batch N                    updates per storage commit, default 1024
  --initial-weights FILE           JSON array of the initial weights (default: the ranker's shipped weights)
  --initial-model FILE             a model file (replay fit --out model.bin) served, signed with this server's
                                   key, as model version 1 (instead of --initial-weights)
  --seed N                         seed of the central noise (OS entropy by default)
  --signing-key-file FILE          the model signing key's 32-byte seed as 64 hex characters, for a key the
                                   devices pin in code (default: drawn once and kept in the store); a store
                                   that already holds another key refuses to start
  --model-max-age-seconds N        Cache-Control max-age of GET /v1/model, default 30
  --lift-placements a,b            placements lift reports break out (must match the devices), default none
  --lift-epsilon E                 epsilon of one lift report (must match the devices), default 2
  --lift-min-cohort K              distributed lift noise: sums of >= K reports carry the full noise (default: local)
  --lift-min-reports-per-bucket N  GET /v1/lift releases nothing below N reports per bucket, default 100, never
                                   below 20 or the cohort
  --lift-role leader|helper        shared lift sums (with --lift-min-cohort, --lift-helper-url and
                                   --lift-peer-token): this server is the leader (the aggregator, releases
                                   GET /v1/lift) or the helper (another party)
  --lift-helper-url URL            the helper's public URL (devices send it share B; the leader asks it for sums)
  --lift-peer-token SECRET         shared secret of leader and helper for the helper's fold and sums requests
  --lift-share-ttl-seconds N       pending lift shares the other server never confirmed expire, default 604800
  --dap-role leader|helper         secure aggregation (DAP-09, Prio3) with --dap-task: the leader takes the devices'
                                   reports, serves the model API, drives aggregation jobs with the helper and
                                   publishes each collected batch as the next model; the helper (another party)
                                   verifies and sums its shares and serves only its DAP endpoints (SQLite, or
                                   PostgreSQL with --database-url: one database per aggregator)
  --dap-task FILE                  this aggregator's task file (from `aggregator dap-task-pair`); refused at start
                                   if malformed, if minBatchSize is below the devices' noise cohort (100) or if its
                                   measurementBound is not the devices' bound for its dimension, C and z
  --dap-interval-ms N              the leader's pause when nothing is pending or the helper failed, default 1000

aggregator dap-task-pair [--out-dir DIR] [--leader-url URL] [--helper-url URL] [--dimension N] [--clip-bound C]
                         [--noise-multiplier Z] [--min-batch-size N] [--max-batch-size N]
  writes a fresh task as DIR/leader.json, DIR/helper.json (private, mode 0600) and DIR/device.json (the page's
  secureAggregation settings); defaults: ./dap-task, http://127.0.0.1:8787, http://127.0.0.1:8789, the ranker's
  dimension, C = 1, z = 1, min and max batch 100";
