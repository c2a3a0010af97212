//! The device's DAP task, checked once from the page's `secureAggregation` settings, and its model
//! update as a DAP-09 report.
//!
//! Privacy: the report carries the clipped delta plus this device's **share** of the noise of a
//! sum of `K` reports, `N(0, (z·C)²/K)` per coordinate, so the sum of `K` reports carries
//! `N(0, (z·C)²)`: the Gaussian mechanism of the sum, which costs what one local update costs
//! (`ρ = 1/(2z²)`, booked in the same ledger) as long as the two aggregators do not collude.
//! `K` is the task's minimum batch size as the page states it, but never more than
//! [`DAP_MAX_NOISE_COHORT`], a constant of this package: the aggregators' word cannot shrink a
//! device's noise below `z·C/√100`. If the two aggregators collude they see one update with only
//! its share of the noise: `K` times the `ρ` (ε = 102.6 at z = 1, K = 100, δ = 1e-6).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::{HpkeConfig, HpkeConfigList, TaskId};
use prio::codec::Decode;

use super::hpke_seal::public_key;
use super::report::{build_report, encoded};
use super::vdaf::{measurement_bound, model_update_vdaf};
use super::{DapError, DapTask};
use crate::privacy::accountant::{epsilon_from_rho, rho_per_update};
use crate::privacy::{PrivacyLedger, PrivacyParams};
use crate::sync::secure_aggregation::dap_booked;
use crate::sync::{DeviceSync, PendingUpload, SecureAggregationSetup, SyncError};

/// The most reports a device divides its noise among (`K`): a task whose aggregators enforce a
/// larger minimum batch still gets the noise share of a sum of 100 from each device.
pub const DAP_MAX_NOISE_COHORT: u32 = 100;
/// Report times are rounded down to this many seconds unless the task says otherwise.
pub const DEFAULT_TIME_PRECISION_SECS: u64 = 3_600;
const MAX_TIME_PRECISION_SECS: u64 = 604_800;
const MAX_URL_LEN: usize = 2_048;

/// A checked DAP task: where reports go, the aggregators' HPKE configs, and the noise share.
#[derive(Debug, Clone)]
pub struct DapDevice {
    task: DapTask,
    cohort: u32,
    noise_std: f64,
    reports_url: String,
}

/// The standard deviation of one device's noise share per coordinate when its noise is that of
/// a sum of `cohort` reports: `z·C/√K`.
pub fn noise_share_std(privacy: &PrivacyParams, cohort: u32) -> f64 {
    privacy.noise_std() / f64::from(cohort).sqrt()
}

/// The bound `B` a device encodes its clipped, noised update under, for updates of `dimension`
/// weights and a noise share of a sum of `cohort` reports: the aggregators decode the sum with
/// it, and check their task against it (`aggregator/src/dap/task_file.rs`).
pub fn report_bound(privacy: &PrivacyParams, cohort: u32, dimension: usize) -> f64 {
    measurement_bound(privacy.clip_bound(), noise_share_std(privacy, cohort), dimension)
}

fn checked_url<'a>(url: &'a str, field: &'static str) -> Result<&'a str, DapError> {
    let url = url.trim();
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    if !scheme || url.len() > MAX_URL_LEN {
        return Err(DapError::BadUrl { field });
    }
    Ok(url.trim_end_matches('/'))
}

fn task_id(text: &str) -> Result<TaskId, DapError> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| DapError::TaskIdNotBase64Url)?;
    let id: [u8; 32] = bytes.as_slice().try_into().map_err(|_| DapError::TaskIdLength { got: bytes.len() })?;
    Ok(TaskId::from(id))
}

/// An `HpkeConfig` (or the first of an `HpkeConfigList`, what `/hpke_config` serves), base64url,
/// of a suite and key this device can seal to.
fn hpke_config(text: &str, field: &'static str) -> Result<HpkeConfig, DapError> {
    let bad = DapError::BadHpkeConfig { field };
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad.clone())?;
    let config = HpkeConfig::get_decoded(&bytes)
        .ok()
        .or_else(|| HpkeConfigList::get_decoded(&bytes).ok()?.hpke_configs().first().cloned())
        .ok_or(bad)?;
    public_key(&config)?;
    Ok(config)
}

/// The names a task's settings are reported under when they are refused.
pub(super) struct TaskFields {
    pub leader_url: &'static str,
    pub helper_url: &'static str,
    pub leader_hpke_config: &'static str,
    pub helper_hpke_config: &'static str,
}

/// What every device-side DAP task checks the same way: both URLs, the task id, both HPKE
/// configs and the time precision; and the leader's reports URL.
pub(super) struct CheckedEndpoints {
    pub task_id: TaskId,
    pub leader_config: HpkeConfig,
    pub helper_config: HpkeConfig,
    pub time_precision_secs: u64,
    /// `PUT` target of reports: `{leaderUrl}/tasks/{taskId}/reports`.
    pub reports_url: String,
}

pub(super) fn checked_endpoints(
    setup: &SecureAggregationSetup,
    fields: &TaskFields,
) -> Result<CheckedEndpoints, DapError> {
    let leader = checked_url(&setup.leader_url, fields.leader_url)?;
    checked_url(&setup.helper_url, fields.helper_url)?;
    let task_id = task_id(&setup.task_id)?;
    let leader_config = hpke_config(&setup.leader_hpke_config, fields.leader_hpke_config)?;
    let helper_config = hpke_config(&setup.helper_hpke_config, fields.helper_hpke_config)?;
    let time_precision_secs = setup.time_precision_secs.unwrap_or(DEFAULT_TIME_PRECISION_SECS);
    if !(1..=MAX_TIME_PRECISION_SECS).contains(&time_precision_secs) {
        return Err(DapError::BadTimePrecision(time_precision_secs));
    }
    let reports_url = [leader, "/tasks/", setup.task_id.trim(), "/reports"].concat();
    Ok(CheckedEndpoints { task_id, leader_config, helper_config, time_precision_secs, reports_url })
}

const UPDATE_FIELDS: TaskFields = TaskFields {
    leader_url: "secureAggregation.leaderUrl",
    helper_url: "secureAggregation.helperUrl",
    leader_hpke_config: "secureAggregation.leaderHpkeConfig",
    helper_hpke_config: "secureAggregation.helperHpkeConfig",
};

impl DapDevice {
    /// Checks `setup` for updates of `dimension` weights under `privacy` (its `z` and `C`).
    pub fn new(setup: &SecureAggregationSetup, privacy: &PrivacyParams, dimension: usize) -> Result<Self, DapError> {
        let CheckedEndpoints { task_id, leader_config, helper_config, time_precision_secs, reports_url } =
            checked_endpoints(setup, &UPDATE_FIELDS)?;
        let cohort = setup.min_batch_size.unwrap_or(DAP_MAX_NOISE_COHORT);
        if !(1..=DAP_MAX_NOISE_COHORT).contains(&cohort) {
            return Err(DapError::MinBatchSize { got: cohort, max: DAP_MAX_NOISE_COHORT });
        }
        model_update_vdaf(dimension)?;
        let task = DapTask {
            task_id,
            leader_config,
            helper_config,
            dimension,
            clip_bound: report_bound(privacy, cohort, dimension),
            time_precision_secs,
        };
        let noise_std = noise_share_std(privacy, cohort);
        Ok(DapDevice { task, cohort, noise_std, reports_url })
    }

    /// The task as the report code uses it (its `clip_bound` is the measurement bound).
    pub fn task(&self) -> &DapTask {
        &self.task
    }

    /// `K`: how many reports' sum this device's noise share is for.
    pub fn cohort(&self) -> u32 {
        self.cohort
    }

    /// The standard deviation of this device's noise per coordinate: `z·C/√K`.
    pub fn noise_std(&self) -> f64 {
        self.noise_std
    }

    /// `PUT` target of the reports: `{leaderUrl}/tasks/{taskId}/reports`.
    pub fn reports_url(&self) -> &str {
        &self.reports_url
    }

    /// `ε` of one update if the two aggregators collude and see it with only its noise share:
    /// `ρ = K/(2z²)`.
    pub fn collusion_epsilon(&self, privacy: &PrivacyParams) -> f64 {
        epsilon_from_rho(f64::from(self.cohort) * rho_per_update(privacy.noise_multiplier()), privacy.delta())
    }

    /// Builds the DAP report of `local_weights` against `device`'s installed model: clipped to
    /// `C`, this device's noise share added, encoded under the measurement bound, sharded with its
    /// proof, sealed to both aggregators. Books the sum's spend in `ledger` before anything is
    /// handed out; refusals spend nothing.
    pub fn prepare_upload(
        &self,
        device: &DeviceSync,
        local_weights: &[f32],
        labelled_impressions: u32,
        now_unix_seconds: u64,
        ledger: &mut PrivacyLedger,
        rng: &mut (impl rand::CryptoRng + rand::RngExt),
    ) -> Result<PendingUpload, SyncError> {
        let update = self.noised_update(device, local_weights, labelled_impressions, now_unix_seconds, ledger, rng)?;
        let report = build_report(&self.task, &update, now_unix_seconds, &mut CryptoRng06(rng))?;
        let jitter_ms = rng.random_range(0..=device.max_jitter_ms());
        Ok(PendingUpload {
            body: dap_booked(device.shared_model().map_or(0, |model| model.version), &encoded(&report)?),
            jitter_ms,
        })
    }

    /// The vector a report of `local_weights` encodes, before fixed point and sharding: the delta
    /// against `device`'s installed model clipped to `C`, plus this device's noise share. Books
    /// the sum's spend in `ledger`; refusals spend nothing. ([`Self::prepare_upload`] is this and
    /// then the report; the federated simulation sums these vectors as the VDAF would.)
    pub fn noised_update(
        &self,
        device: &DeviceSync,
        local_weights: &[f32],
        labelled_impressions: u32,
        now_unix_seconds: u64,
        ledger: &mut PrivacyLedger,
        rng: &mut impl rand::Rng,
    ) -> Result<Vec<f32>, SyncError> {
        let inputs = device.inputs(local_weights, labelled_impressions, true, now_unix_seconds)?;
        let (noised, _) = device.builder().clip_noise_and_book(&inputs, self.cohort, ledger, rng)?;
        Ok(noised.iter().map(|&value| value as f32).collect())
    }
}

/// The engine's crypto-seeded generator as the `rand_core` 0.6 generator `prio` and `hpke` take.
pub(crate) struct CryptoRng06<'a, R>(pub(crate) &'a mut R);

impl<R: rand::Rng> rand_core06::RngCore for CryptoRng06<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl<R: rand::CryptoRng> rand_core06::CryptoRng for CryptoRng06<'_, R> {}

#[cfg(test)]
#[path = "device_task_tests.rs"]
mod tests;
