//! The DAP task file one aggregator process runs (`--dap-task FILE`): JSON written by
//! `aggregator dap-task-pair` ([`super::task_pair`]), checked whole before the server starts.
//!
//! Bounds the sender cannot choose: the file's `minBatchSize` must be at least
//! [`DAP_MAX_NOISE_COHORT`], the `K` whose sum of noise shares the devices' noise is sized for (a
//! smaller batch carries less than the noise the ledger books), and its `measurementBound` must be
//! the bound the devices encode under for its dimension, clip bound and noise multiplier, derived
//! with the device's own [`report_bound`]: the sum would decode wrong otherwise. The helper
//! enforces `minBatchSize` from its own file whatever the leader asks.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::{HpkeConfig, Role, TaskId};
use prio::codec::Decode;
use serde::{Deserialize, Serialize};
use shop_personalizer::privacy::{PrivacyConfig, PrivacyParams};
use shop_personalizer::sync::dap::hpke_seal::seal;
use shop_personalizer::sync::dap::{report_bound, HpkeKeypair, HpkeLabel, DAP_MAX_NOISE_COHORT, MAX_DIMENSION};

use super::noise::checked_epsilon;
use super::{DapTaskConfig, LiftTask, TaskKind};
use shop_personalizer::measure::holdout::LiftBucket;
use shop_personalizer::measure::{LiftReportConfig, NoiseMode};
use shop_personalizer::sync::dap::LiftEncoding;

/// The `format` every task file names.
pub const TASK_FORMAT: &str = "shop-personalizer-dap-task";
/// The only `version` so far.
pub const TASK_VERSION: u32 = 1;
/// A task file is a few kilobytes; larger files are refused unread.
pub const MAX_TASK_FILE_BYTES: u64 = 64 * 1024;
/// The largest batch a task may ask for (a batch's reports are held until it is collected).
pub const MAX_BATCH_SIZE: u64 = 100_000;
/// Peer tokens are secrets of at least this many characters.
pub const MIN_PEER_TOKEN_LEN: usize = 16;

/// Which aggregator a task file (and a process) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DapRole {
    Leader,
    Helper,
}

/// The file as written: base64url (no padding) for binary values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskFile {
    pub format: String,
    pub version: u32,
    pub role: DapRole,
    pub task_id: String,
    pub dimension: usize,
    /// The devices' `C` and `z` (their `privacy` settings).
    pub clip_bound: f64,
    pub noise_multiplier: f64,
    /// `B`: must be the device's bound for the above and `K` = [`DAP_MAX_NOISE_COHORT`].
    pub measurement_bound: f64,
    pub min_batch_size: u64,
    pub max_batch_size: u64,
    pub verify_key: String,
    pub hpke_config: String,
    pub hpke_private_key: String,
    pub peer_token: String,
    pub collector_hpke_config: String,
    /// Leader only: the collector's private key (the leader collects its own batches and
    /// publishes models from them). Without it (then `collectorToken` is required) the leader
    /// only aggregates and a DAP collector collects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_hpke_private_key: Option<String>,
    /// Leader only: the token a DAP collector (e.g. `janus_collector`) presents to create and
    /// poll collection jobs; without it the leader serves none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_token: Option<String>,
    /// Leader only: where the helper listens (`http://host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helper_url: Option<String>,
    /// Lift tasks (Prio3SumVec over the devices' lift measurement) instead of model updates:
    /// this file's `taskId` and `verifyKey` are then the personalized bucket's task, and
    /// `lift.holdoutTaskId` / `lift.holdoutVerifyKey` the holdout bucket's (one process runs
    /// both, sharing the keys and tokens); `dimension` must be the measurement's length, and
    /// `clipBound`, `noiseMultiplier` and `measurementBound` are not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lift: Option<LiftTaskFile>,
    /// Model-update tasks only, optional: this aggregator adds discrete Gaussian noise to its
    /// aggregate share of every batch, `ε²/2`-zCDP on its own (`dap/noise.rs`), 0.01..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_noise_epsilon: Option<f64>,
}

/// The lift settings of the lift tasks: the devices' `liftReport` (its `noise` is the devices'
/// `secureAggregation` with `minCohort`), the release rule of `GET /v1/lift`, and the holdout
/// bucket's task (the file's own `taskId` is the personalized bucket's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LiftTaskFile {
    pub lift_report: LiftReportConfig,
    pub min_cohort: u32,
    pub min_reports_per_bucket: u64,
    /// The holdout bucket's task id (absent in a file of the retired single lift task, which is
    /// refused with `dap_task_lift_single_task`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_task_id: Option<String>,
    /// The holdout task's VDAF verification key (16 bytes, base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_verify_key: Option<String>,
}

/// The checked lift task of `file` for a task file of `dimension` and `min_batch_size`, for the
/// personalized bucket (the holdout bucket's is the same with its own bucket).
fn lift_task(file: &LiftTaskFile, dimension: usize, min_batch_size: u64) -> Result<LiftTask, TaskFileError> {
    let lift = |rule: &'static str| TaskFileError::Field { field: "lift", rule };
    let config = LiftReportConfig { noise: NoiseMode::Local, ..file.lift_report.clone() }
        .check()
        .map_err(|_| lift("liftReport is not a valid lift configuration"))?;
    let encoding = LiftEncoding::new(&config, file.min_cohort).map_err(|_| lift("no SumVec encoding for minCohort"))?;
    if dimension != encoding.length() {
        return Err(TaskFileError::Dimension(dimension));
    }
    if min_batch_size < u64::from(file.min_cohort) || file.min_reports_per_bucket < u64::from(file.min_cohort) {
        return Err(TaskFileError::MinBatchBelowK {
            got: min_batch_size.min(file.min_reports_per_bucket),
            k: file.min_cohort,
        });
    }
    Ok(LiftTask {
        config,
        encoding,
        min_cohort: file.min_cohort,
        min_reports_per_bucket: file.min_reports_per_bucket,
        bucket: LiftBucket::Personalized,
    })
}

/// The holdout bucket's task of a checked lift `task`: its own id and verify key.
fn holdout_task(file: &LiftTaskFile, task: &DapTaskConfig) -> Result<DapTaskConfig, TaskFileError> {
    let (Some(id), Some(key)) = (&file.holdout_task_id, &file.holdout_verify_key) else {
        return Err(TaskFileError::LiftSingleTask);
    };
    let task_id = id
        .trim()
        .parse::<TaskId>()
        .map_err(|_| TaskFileError::Field { field: "lift.holdoutTaskId", rule: "not 32 bytes of base64url" })?;
    if task_id == task.task_id {
        return Err(TaskFileError::Field { field: "lift.holdoutTaskId", rule: "the same as taskId" });
    }
    let verify_key: [u8; 16] = bytes("lift.holdoutVerifyKey", key)?
        .try_into()
        .map_err(|_| TaskFileError::Field { field: "lift.holdoutVerifyKey", rule: "not 16 bytes" })?;
    let TaskKind::Lift(lift) = &task.kind else {
        return Err(TaskFileError::Field { field: "lift", rule: "a lift task" });
    };
    let kind = TaskKind::Lift(Box::new(LiftTask { bucket: LiftBucket::Holdout, ..(**lift).clone() }));
    Ok(DapTaskConfig { task_id, verify_key, kind, ..task.clone() })
}

/// A checked task file: the task, and for a leader the collector key and helper URL.
#[derive(Clone)]
pub struct LoadedTask {
    pub role: DapRole,
    /// The task (of a lift file: the personalized bucket's).
    pub task: DapTaskConfig,
    /// A lift file's holdout bucket's task (same keys and tokens, its own id and verify key).
    pub holdout: Option<DapTaskConfig>,
    pub collector: Option<HpkeKeypair>,
    pub helper_url: Option<String>,
}

/// Why a task file was refused; [`TaskFileError::code`] is stable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskFileError {
    #[error("could not read the DAP task file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the DAP task file is over {MAX_TASK_FILE_BYTES} bytes: it is not a task file")]
    TooLarge,
    #[error("the DAP task file is not valid task JSON: {0}")]
    Malformed(String),
    #[error("the DAP task file has format {format:?} version {version}; this server reads {TASK_FORMAT:?} version {TASK_VERSION}")]
    Format { format: String, version: u32 },
    #[error("the DAP task file is the {file:?} file but --dap-role is {flag:?}: give each process its own file")]
    RoleMismatch { file: DapRole, flag: DapRole },
    #[error("{field} in the DAP task file is malformed: {rule}")]
    Field { field: &'static str, rule: &'static str },
    #[error("dimension is {0}; it must be 1..={MAX_DIMENSION}")]
    Dimension(usize),
    #[error("clipBound / noiseMultiplier are not settings a device accepts: {0}")]
    Privacy(String),
    #[error(
        "minBatchSize is {got}; it must be at least {k}, the sum of noise shares the devices' noise is sized for \
         (a smaller batch would carry less noise than each device books)"
    )]
    MinBatchBelowK { got: u64, k: u32 },
    #[error("maxBatchSize is {got}; it must be between minBatchSize ({min}) and {MAX_BATCH_SIZE}")]
    MaxBatch { got: u64, min: u64 },
    #[error(
        "measurementBound is {got} but devices encode updates of dimension {dimension} with clipBound {clip} and \
         noiseMultiplier {noise} under {want}: regenerate the task files"
    )]
    BoundMismatch { got: f64, want: f64, dimension: usize, clip: f64, noise: f64 },
    #[error("the {0} private key does not open what is sealed to its HPKE config: regenerate the task files")]
    KeyMismatch(&'static str),
    #[error(
        "this lift task file is for the single lift task of both buckets (no lift.holdoutTaskId): lift reports now go \
         to one DAP task per bucket, whose measurement is another; regenerate the files with `aggregator \
         dap-task-pair --lift-min-cohort K` (and give the pages its device.json)"
    )]
    LiftSingleTask,
}

impl TaskFileError {
    /// The stable code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "dap_task_unreadable",
            Self::TooLarge => "dap_task_too_large",
            Self::Malformed(_) => "dap_task_malformed",
            Self::Format { .. } => "dap_task_format",
            Self::RoleMismatch { .. } => "dap_task_role_mismatch",
            Self::Field { .. } => "dap_task_field",
            Self::Dimension(_) => "dap_task_dimension",
            Self::Privacy(_) => "dap_task_privacy",
            Self::MinBatchBelowK { .. } => "dap_task_min_batch_below_k",
            Self::MaxBatch { .. } => "dap_task_max_batch",
            Self::BoundMismatch { .. } => "dap_task_bound_mismatch",
            Self::KeyMismatch(_) => "dap_task_key_mismatch",
            Self::LiftSingleTask => "dap_task_lift_single_task",
        }
    }
}

/// The devices' privacy settings a task is for: `C` and `z` (the bound depends on nothing else;
/// the period budget, a device's own choice, is left unlimited here).
pub fn device_privacy(clip_bound: f64, noise_multiplier: f64) -> Result<PrivacyParams, TaskFileError> {
    let budget = f64::MAX;
    PrivacyParams::new(PrivacyConfig {
        clip_bound,
        noise_multiplier,
        period_budget_epsilon: budget,
        ..PrivacyConfig::default()
    })
    .map_err(|error| TaskFileError::Privacy(error.to_string()))
}

/// The bound devices encode under for a task of `dimension`, `C`, `z` (their `K` being the package's).
pub fn device_bound(dimension: usize, clip_bound: f64, noise_multiplier: f64) -> Result<f64, TaskFileError> {
    Ok(report_bound(&device_privacy(clip_bound, noise_multiplier)?, DAP_MAX_NOISE_COHORT, dimension))
}

fn bytes(field: &'static str, text: &str) -> Result<Vec<u8>, TaskFileError> {
    URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| TaskFileError::Field { field, rule: "not base64url" })
}

fn hpke_config(field: &'static str, text: &str) -> Result<HpkeConfig, TaskFileError> {
    let config = HpkeConfig::get_decoded(&bytes(field, text)?)
        .map_err(|_| TaskFileError::Field { field, rule: "not a DAP HpkeConfig" })?;
    shop_personalizer::sync::dap::hpke_seal::public_key(&config)
        .map_err(|_| TaskFileError::Field { field, rule: "not X25519/HKDF-SHA256/AES-128-GCM" })?;
    Ok(config)
}

/// A keypair whose private key opens what is sealed to its config (checked with the HPKE code).
fn keypair(what: &'static str, config: HpkeConfig, private_key: &str) -> Result<HpkeKeypair, TaskFileError> {
    let field = if what == "collector" { "collectorHpkePrivateKey" } else { "hpkePrivateKey" };
    let keypair = HpkeKeypair { config, private_key: bytes(field, private_key)? };
    let probe = b"task file key check";
    let sealed =
        seal(&keypair.config, HpkeLabel::InputShare, Role::Client, Role::Leader, probe, b"", &mut rand_core06::OsRng)
            .map_err(|_| TaskFileError::KeyMismatch(what))?;
    match keypair.open(&sealed, HpkeLabel::InputShare, Role::Client, Role::Leader, b"") {
        Ok(opened) if opened == probe => Ok(keypair),
        _ => Err(TaskFileError::KeyMismatch(what)),
    }
}

/// A token long and plain enough to be a shared secret in an HTTP header.
fn token_is_secret(token: &str) -> bool {
    token.chars().count() >= MIN_PEER_TOKEN_LEN && token.chars().all(|c| c.is_ascii_graphic())
}

impl TaskFile {
    /// Checks the file for a process started with `--dap-role role`.
    pub fn check(self, role: DapRole) -> Result<LoadedTask, TaskFileError> {
        if self.format != TASK_FORMAT || self.version != TASK_VERSION {
            return Err(TaskFileError::Format { format: self.format, version: self.version });
        }
        if self.role != role {
            return Err(TaskFileError::RoleMismatch { file: self.role, flag: role });
        }
        let task_id = self
            .task_id
            .trim()
            .parse::<TaskId>()
            .map_err(|_| TaskFileError::Field { field: "taskId", rule: "not 32 bytes of base64url" })?;
        let lift = self.lift.as_ref().map(|lift| lift_task(lift, self.dimension, self.min_batch_size)).transpose()?;
        if lift.is_none() {
            self.check_model_update_bounds()?;
        }
        let aggregator_noise_epsilon = self
            .aggregator_noise_epsilon
            .map(checked_epsilon)
            .transpose()
            .map_err(|_| TaskFileError::Field { field: "aggregatorNoiseEpsilon", rule: "a number from 0.01 to 100" })?;
        if aggregator_noise_epsilon.is_some() && lift.is_some() {
            return Err(TaskFileError::Field { field: "aggregatorNoiseEpsilon", rule: "model-update tasks only" });
        }
        if self.max_batch_size < self.min_batch_size || self.max_batch_size > MAX_BATCH_SIZE {
            return Err(TaskFileError::MaxBatch { got: self.max_batch_size, min: self.min_batch_size });
        }
        let verify_key: [u8; 16] = bytes("verifyKey", &self.verify_key)?
            .try_into()
            .map_err(|_| TaskFileError::Field { field: "verifyKey", rule: "not 16 bytes" })?;
        if !token_is_secret(&self.peer_token) {
            return Err(TaskFileError::Field { field: "peerToken", rule: "at least 16 visible ASCII characters" });
        }
        if let Some(token) = &self.collector_token {
            if role == DapRole::Helper || !token_is_secret(token) {
                return Err(TaskFileError::Field {
                    field: "collectorToken",
                    rule: "leader only, at least 16 visible ASCII characters",
                });
            }
        }
        let hpke = keypair("aggregator", hpke_config("hpkeConfig", &self.hpke_config)?, &self.hpke_private_key)?;
        let collector_config = hpke_config("collectorHpkeConfig", &self.collector_hpke_config)?;
        let (collector, helper_url) = match role {
            DapRole::Helper => (None, None),
            DapRole::Leader => {
                // Without the collector's private key the leader collects nothing itself: then a
                // DAP collector must (it needs the token).
                let private = self.collector_hpke_private_key.as_deref();
                if private.is_none() && self.collector_token.is_none() {
                    return Err(TaskFileError::Field {
                        field: "collectorHpkePrivateKey",
                        rule: "required in the leader's file unless it has a collectorToken",
                    });
                }
                let url = self.helper_url.as_deref().map(str::trim).filter(|url| url.starts_with("http://"));
                let url = url.ok_or(TaskFileError::Field {
                    field: "helperUrl",
                    rule: "required in the leader's file, http://host:port",
                })?;
                let collector = private.map(|key| keypair("collector", collector_config.clone(), key)).transpose()?;
                (collector, Some(url.trim_end_matches('/').to_owned()))
            }
        };
        let task = DapTaskConfig {
            task_id,
            dimension: self.dimension,
            clip_bound: self.measurement_bound,
            verify_key,
            min_batch_size: self.min_batch_size,
            max_batch_size: self.max_batch_size,
            hpke,
            peer_token: self.peer_token,
            collector_token: self.collector_token,
            collector_config,
            kind: lift.map_or(TaskKind::ModelUpdate, |lift| TaskKind::Lift(Box::new(lift))),
            aggregator_noise_epsilon,
        };
        let holdout = self.lift.as_ref().map(|lift| holdout_task(lift, &task)).transpose()?;
        Ok(LoadedTask { role, task, holdout, collector, helper_url })
    }

    /// A model-update task's dimension, measurement bound and K (a lift task checks its own).
    fn check_model_update_bounds(&self) -> Result<(), TaskFileError> {
        if self.dimension == 0 || self.dimension > MAX_DIMENSION {
            return Err(TaskFileError::Dimension(self.dimension));
        }
        let want = device_bound(self.dimension, self.clip_bound, self.noise_multiplier)?;
        let matches = (self.measurement_bound - want).abs() <= 1e-9 * want;
        if !matches {
            return Err(TaskFileError::BoundMismatch {
                got: self.measurement_bound,
                want,
                dimension: self.dimension,
                clip: self.clip_bound,
                noise: self.noise_multiplier,
            });
        }
        let k = DAP_MAX_NOISE_COHORT;
        if self.min_batch_size < u64::from(k) {
            return Err(TaskFileError::MinBatchBelowK { got: self.min_batch_size, k });
        }
        Ok(())
    }
}

/// Reads and checks the task file at `path` for a process of `role`.
pub fn load(path: &Path, role: DapRole) -> Result<LoadedTask, TaskFileError> {
    let unreadable = |error: std::io::Error| TaskFileError::Unreadable {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    if std::fs::metadata(path).map_err(unreadable)?.len() > MAX_TASK_FILE_BYTES {
        return Err(TaskFileError::TooLarge);
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let file: TaskFile = serde_json::from_str(&text).map_err(|error| TaskFileError::Malformed(error.to_string()))?;
    file.check(role)
}

#[cfg(test)]
#[path = "task_file_tests.rs"]
mod tests;
