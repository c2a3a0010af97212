//! The device's DAP-09 report of one clipped model update: the Prio3 measurement, sharded into a
//! public share and one input share per aggregator, each sealed to its aggregator's HPKE config
//! under AAD that binds the task, the report's metadata and the public share.

use janus_messages::{
    HpkeConfig, InputShareAad, PlaintextInputShare, Report, ReportId, ReportMetadata, Role, TaskId, Time,
};
use prio::codec::Encode;
use prio::vdaf::Client;
use rand_core06::CryptoRngCore;

use super::hpke_seal::{seal, HpkeLabel};
use super::vdaf::{encode_measurement, model_update_vdaf};
use super::DapError;

/// What a device needs to know of a DAP task: its id, the two aggregators' HPKE configs (from
/// their `/hpke_config`), the update's dimension and clip bound, and the time precision reports
/// round their timestamp down to.
#[derive(Debug, Clone)]
pub struct DapTask {
    pub task_id: TaskId,
    pub leader_config: HpkeConfig,
    pub helper_config: HpkeConfig,
    pub dimension: usize,
    pub clip_bound: f64,
    pub time_precision_secs: u64,
}

/// The report of `update` (already clipped to the task's bound) made at `now_secs`. The generator
/// is a trait object so the HPKE and Prio code exist once in the module, whoever calls.
pub fn build_report(
    task: &DapTask,
    update: &[f32],
    now_secs: u64,
    rng: &mut dyn CryptoRngCore,
) -> Result<Report, DapError> {
    if update.len() != task.dimension {
        return Err(DapError::Dimension { got: update.len(), expected: task.dimension });
    }
    let measurement = encode_measurement(update, task.clip_bound)?;
    let vdaf = model_update_vdaf(task.dimension)?;
    let mut id = [0u8; ReportId::LEN];
    rng.fill_bytes(&mut id);
    let report_id = ReportId::from(id);
    let (public_share, input_shares) =
        vdaf.shard(&measurement, &id).map_err(|error| DapError::Vdaf(error.to_string()))?;
    let [leader, helper]: [_; 2] =
        input_shares.try_into().map_err(|_| DapError::Vdaf("the VDAF did not make two input shares".into()))?;
    let input_shares = [encoded(&leader)?, encoded(&helper)?];
    seal_shares(task, report_id, now_secs, encoded(&public_share)?, input_shares, rng)
}

/// The report of already encoded Prio3 shares (`[leader, helper]`): each input share sealed to
/// its aggregator under AAD binding the task, the metadata and the public share.
pub fn seal_shares(
    task: &DapTask,
    report_id: ReportId,
    now_secs: u64,
    public_share: Vec<u8>,
    input_shares: [Vec<u8>; 2],
    rng: &mut dyn CryptoRngCore,
) -> Result<Report, DapError> {
    let precision = task.time_precision_secs.max(1);
    let metadata = ReportMetadata::new(report_id, Time::from_seconds_since_epoch(now_secs - now_secs % precision));
    let aad = encoded(&InputShareAad::new(task.task_id, metadata.clone(), public_share.clone()))?;
    let [leader_share, helper_share] = input_shares;
    let mut seal_to = |config: &HpkeConfig, role: Role, share: Vec<u8>| {
        let plaintext = encoded(&PlaintextInputShare::new(Vec::new(), share))?;
        seal(config, HpkeLabel::InputShare, Role::Client, role, &plaintext, &aad, &mut *rng)
    };
    let leader = seal_to(&task.leader_config, Role::Leader, leader_share)?;
    let helper = seal_to(&task.helper_config, Role::Helper, helper_share)?;
    Ok(Report::new(metadata, public_share, leader, helper))
}

/// The encoding of a DAP or VDAF message.
pub fn encoded(message: &impl Encode) -> Result<Vec<u8>, DapError> {
    message.get_encoded().map_err(|error| DapError::Codec(error.to_string()))
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
