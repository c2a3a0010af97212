//! `aggregator dap-task-pair`: a fresh DAP task as three files, so nobody writes keys by hand:
//! `leader.json` and `helper.json` (each aggregator's [`TaskFile`], private, mode 0600) and
//! `device.json` (the page's `configureSync({ secureAggregation })` settings, public). With
//! `--lift-min-cohort K`, two lift tasks, one per bucket (the files' `taskId` the personalized
//! one's, `lift.holdoutTaskId` the holdout one's), and `device.json` the page's `liftReport`
//! with both as `noise.tasks`.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::TaskId;
use prio::codec::Encode;
use rand_core06::{OsRng, RngCore};
use shop_personalizer::rank::NUM_FEATURES;
use shop_personalizer::sync::dap::{HpkeKeypair, DAP_MAX_NOISE_COHORT};

use shop_personalizer::measure::{LiftReportConfig, NoiseMode};
use shop_personalizer::sync::dap::LiftEncoding;

use super::task_file::{device_bound, DapRole, LiftTaskFile, TaskFile, TaskFileError, TASK_FORMAT, TASK_VERSION};

/// The SumVec encoding of a lift task's settings.
fn lift_encoding(lift: &LiftTaskFile) -> Result<LiftEncoding, PairError> {
    let config = LiftReportConfig { noise: NoiseMode::Local, ..lift.lift_report.clone() }
        .check()
        .map_err(|_| TaskFileError::Field { field: "lift", rule: "liftReport is not a valid lift configuration" })?;
    LiftEncoding::new(&config, lift.min_cohort)
        .map_err(|_| TaskFileError::Field { field: "lift", rule: "no SumVec encoding for minCohort" }.into())
}

/// What a new task is for.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSettings {
    pub out_dir: PathBuf,
    pub leader_url: String,
    pub helper_url: String,
    pub dimension: usize,
    pub clip_bound: f64,
    pub noise_multiplier: f64,
    pub min_batch_size: u64,
    pub max_batch_size: Option<u64>,
    /// A lift task (`--lift-min-cohort K`, with `--lift-placements`, `--lift-epsilon` and
    /// `--lift-min-reports-per-bucket`) instead of a model-update task.
    pub lift: Option<LiftTaskFile>,
    /// `--aggregator-noise-epsilon E`: both aggregators noise their aggregate shares (`noise.rs`).
    pub aggregator_noise_epsilon: Option<f64>,
}

impl Default for PairSettings {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from("dap-task"),
            leader_url: "http://127.0.0.1:8787".into(),
            helper_url: "http://127.0.0.1:8789".into(),
            dimension: NUM_FEATURES,
            clip_bound: 1.0,
            noise_multiplier: 1.0,
            min_batch_size: u64::from(DAP_MAX_NOISE_COHORT),
            max_batch_size: None,
            lift: None,
            aggregator_noise_epsilon: None,
        }
    }
}

/// Why the pair was not written.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("{flag} must be {rule}, got {value}")]
    Flag { flag: &'static str, rule: &'static str, value: String },
    #[error("[{code}] {0}", code = .0.code())]
    Task(#[from] TaskFileError),
    #[error("could not write {path}: {reason}")]
    Write { path: String, reason: String },
}

/// The `dap-task-pair` flags over the defaults.
pub fn settings_from_args(args: impl IntoIterator<Item = String>) -> Result<PairSettings, PairError> {
    let mut settings = PairSettings::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        let bad = |flag: &'static str, rule: &'static str| PairError::Flag { flag, rule, value: value.clone() };
        match flag.as_str() {
            "--out-dir" => settings.out_dir = PathBuf::from(&value),
            "--leader-url" => settings.leader_url = value.trim_end_matches('/').to_owned(),
            "--helper-url" => settings.helper_url = value.trim_end_matches('/').to_owned(),
            "--dimension" => settings.dimension = value.parse().map_err(|_| bad("--dimension", "a whole number"))?,
            "--clip-bound" => settings.clip_bound = value.parse().map_err(|_| bad("--clip-bound", "a number"))?,
            "--noise-multiplier" => {
                settings.noise_multiplier = value.parse().map_err(|_| bad("--noise-multiplier", "a number"))?
            }
            "--min-batch-size" => {
                settings.min_batch_size = value.parse().map_err(|_| bad("--min-batch-size", "a whole number"))?
            }
            "--max-batch-size" => {
                settings.max_batch_size = Some(value.parse().map_err(|_| bad("--max-batch-size", "a whole number"))?)
            }
            "--aggregator-noise-epsilon" => {
                settings.aggregator_noise_epsilon =
                    Some(value.parse().map_err(|_| bad("--aggregator-noise-epsilon", "a number"))?)
            }
            "--lift-min-cohort" => {
                let k: u32 = value.parse().map_err(|_| bad("--lift-min-cohort", "a whole number"))?;
                let lift = lift_settings(&mut settings);
                lift.min_cohort = k;
                lift.min_reports_per_bucket = lift.min_reports_per_bucket.max(u64::from(k));
            }
            "--lift-min-reports-per-bucket" => {
                let n = value.parse().map_err(|_| bad("--lift-min-reports-per-bucket", "a whole number"))?;
                lift_settings(&mut settings).min_reports_per_bucket = n;
            }
            "--lift-epsilon" => {
                lift_settings(&mut settings).lift_report.epsilon =
                    value.parse().map_err(|_| bad("--lift-epsilon", "a number"))?
            }
            "--lift-placements" => {
                lift_settings(&mut settings).lift_report.placements =
                    value.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
            }
            _ => {
                return Err(PairError::Flag {
                    flag: "dap-task-pair",
                    rule: "one of --out-dir --leader-url --helper-url --dimension --clip-bound --noise-multiplier \
                           --min-batch-size --max-batch-size --lift-min-cohort --lift-min-reports-per-bucket \
                           --lift-epsilon --lift-placements --aggregator-noise-epsilon",
                    value: flag,
                })
            }
        }
    }
    Ok(settings)
}

/// The lift settings being built (defaults: the package's lift defaults, K = 1000).
fn lift_settings(settings: &mut PairSettings) -> &mut LiftTaskFile {
    settings.lift.get_or_insert_with(|| LiftTaskFile {
        lift_report: LiftReportConfig::default(),
        min_cohort: 1_000,
        min_reports_per_bucket: 1_000,
        holdout_task_id: None,
        holdout_verify_key: None,
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn encoded(value: &impl Encode) -> String {
    b64(&value.get_encoded().unwrap_or_default())
}

/// The two task files and the device settings of a fresh task (checked as the servers will).
pub fn generate(settings: &PairSettings) -> Result<(TaskFile, TaskFile, serde_json::Value), PairError> {
    let mut random = [0u8; 32 + 16 + 24 + 24];
    OsRng.fill_bytes(&mut random);
    let task_id = TaskId::from(<[u8; 32]>::try_from(&random[..32]).unwrap_or_default());
    let (mut holdout_id, mut holdout_key) = ([0u8; 32], [0u8; 16]);
    OsRng.fill_bytes(&mut holdout_id);
    OsRng.fill_bytes(&mut holdout_key);
    let holdout_id = TaskId::from(holdout_id);
    let lift = settings.lift.clone().map(|lift| LiftTaskFile {
        holdout_task_id: Some(holdout_id.to_string()),
        holdout_verify_key: Some(b64(&holdout_key)),
        ..lift
    });
    let (leader, helper, collector) = (
        HpkeKeypair::generate(1, &mut OsRng),
        HpkeKeypair::generate(2, &mut OsRng),
        HpkeKeypair::generate(3, &mut OsRng),
    );
    let bound = device_bound(settings.dimension, settings.clip_bound, settings.noise_multiplier)?;
    let lift_encoding = settings.lift.as_ref().map(lift_encoding).transpose()?;
    let dimension = lift_encoding.as_ref().map_or(settings.dimension, LiftEncoding::length);
    let min_batch = match &settings.lift {
        Some(lift) => settings.min_batch_size.max(u64::from(lift.min_cohort)),
        None => settings.min_batch_size,
    };
    let file = |role: DapRole, keys: &HpkeKeypair| TaskFile {
        format: TASK_FORMAT.into(),
        version: TASK_VERSION,
        role,
        task_id: task_id.to_string(),
        dimension,
        clip_bound: settings.clip_bound,
        noise_multiplier: settings.noise_multiplier,
        measurement_bound: bound,
        min_batch_size: min_batch,
        max_batch_size: settings.max_batch_size.unwrap_or(min_batch).max(min_batch),
        verify_key: b64(&random[32..48]),
        hpke_config: encoded(&keys.config),
        hpke_private_key: b64(&keys.private_key),
        peer_token: b64(&random[48..72]),
        collector_hpke_config: encoded(&collector.config),
        collector_hpke_private_key: (role == DapRole::Leader).then(|| b64(&collector.private_key)),
        collector_token: (role == DapRole::Leader).then(|| b64(&random[72..])),
        helper_url: (role == DapRole::Leader).then(|| settings.helper_url.clone()),
        lift: lift.clone(),
        aggregator_noise_epsilon: settings.aggregator_noise_epsilon,
    };
    let (leader_file, helper_file) = (file(DapRole::Leader, &leader), file(DapRole::Helper, &helper));
    leader_file.clone().check(DapRole::Leader)?;
    helper_file.clone().check(DapRole::Helper)?;
    let mut device = serde_json::json!({
        "leaderUrl": settings.leader_url,
        "helperUrl": settings.helper_url,
        "taskId": task_id.to_string(),
        "leaderHpkeConfig": encoded(&leader.config),
        "helperHpkeConfig": encoded(&helper.config),
        "minBatchSize": DAP_MAX_NOISE_COHORT,
    });
    if let Some(lift) = &settings.lift {
        // The page's `liftReport`: its settings, and the two lift tasks (one per bucket, on the
        // same leader and helper) as its noise.
        let task = device.as_object_mut().map(|task| {
            task.remove("minBatchSize");
            serde_json::Value::Object(task.clone())
        });
        let mut holdout = task.clone().unwrap_or_default();
        holdout["taskId"] = holdout_id.to_string().into();
        let mut report = serde_json::to_value(&lift.lift_report).unwrap_or_default();
        report["noise"] = serde_json::json!({
            "kind": "secureAggregation", "minCohort": lift.min_cohort,
            "tasks": { "personalized": task, "holdout": holdout },
        });
        device = report;
    }
    Ok((leader_file, helper_file, device))
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), PairError> {
    let fail = |error: std::io::Error| PairError::Write { path: path.display().to_string(), reason: error.to_string() };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    use std::io::Write;
    options.open(path).and_then(|mut file| file.write_all(text.as_bytes())).map_err(fail)
}

/// Generates a task and writes `leader.json`, `helper.json` and `device.json` into `out_dir`.
pub fn write_pair(settings: &PairSettings) -> Result<Vec<PathBuf>, PairError> {
    let (leader, helper, device) = generate(settings)?;
    let dir = &settings.out_dir;
    std::fs::create_dir_all(dir)
        .map_err(|error| PairError::Write { path: dir.display().to_string(), reason: error.to_string() })?;
    let paths = [dir.join("leader.json"), dir.join("helper.json"), dir.join("device.json")];
    write(&paths[0], &pretty(&leader), true)?;
    write(&paths[1], &pretty(&helper), true)?;
    write(&paths[2], &pretty(&device), false)?;
    Ok(paths.to_vec())
}

/// Pretty JSON of a value, with a trailing newline.
fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}
