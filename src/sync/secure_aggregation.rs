//! Secure aggregation as the page configures it (`configureSync({ secureAggregation })`), and the
//! booked form of a model update that leaves as a DAP-09 report instead of a plain update body.
//!
//! The settings are plain strings here; the DAP/Prio3 code that checks them and makes the report
//! (`sync::dap`, feature `secure-aggregation`) lives only in the on-demand module.

use serde::{Deserialize, Serialize};

use super::{SyncError, Transport};
use crate::measure::holdout::LiftBucket;

/// The DAP task a device's model updates go to (JS: `secureAggregation: { leaderUrl, helperUrl,
/// taskId, leaderHpkeConfig, helperHpkeConfig, timePrecisionSecs?, minBatchSize? }`).
///
/// Two aggregators run by different parties each receive one secret share of every update, with
/// a proof that its L2 norm is bounded; neither sees an update as long as they do not collude.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecureAggregationSetup {
    /// Base URL of the DAP leader; reports go to `PUT {leaderUrl}/tasks/{taskId}/reports`.
    pub leader_url: String,
    /// Base URL of the DAP helper (run by another party than the leader).
    pub helper_url: String,
    /// The task id: 32 bytes, base64url without padding (43 characters).
    pub task_id: String,
    /// The leader's HPKE config (the bytes of an `HpkeConfig` or of its `/hpke_config` list), base64url.
    pub leader_hpke_config: String,
    /// The helper's HPKE config, base64url, as `leaderHpkeConfig`.
    pub helper_hpke_config: String,
    /// The task's time precision in seconds: report times are rounded down to it (default 3600).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub time_precision_secs: Option<u64>,
    /// The least number of reports the aggregators sum (the task's `min_batch_size`). The device
    /// adds the noise share of a sum of this many reports, never fewer than of
    /// `DAP_MAX_NOISE_COHORT` (100): larger values are refused. Default 100.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub min_batch_size: Option<u32>,
}

/// The lift tasks of `liftReport.noise = { kind: "secureAggregation", minCohort, tasks: {
/// personalized, holdout } }`: one DAP task per bucket, each of the shape of
/// `secureAggregation` (without `minBatchSize`: K is `minCohort`). A device sends its lift report
/// to its own bucket's task only, so each task's sums are one bucket's; the aggregators learn
/// each report's bucket (the holdout coin, public by design of the holdout), never its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LiftTasks {
    /// The task of the personalized devices' lift reports.
    pub personalized: SecureAggregationSetup,
    /// The task of the holdout devices' lift reports.
    pub holdout: SecureAggregationSetup,
}

impl LiftTasks {
    /// The task of `bucket`'s reports.
    pub fn of(&self, bucket: LiftBucket) -> &SecureAggregationSetup {
        match bucket {
            LiftBucket::Personalized => &self.personalized,
            LiftBucket::Holdout => &self.holdout,
        }
    }
}

/// The first bytes of a booked DAP update: magic, then the model version it was computed
/// against (u64, little endian), then the encoded DAP-09 `Report`.
pub const DAP_BOOKED_MAGIC: [u8; 4] = *b"SPDR";

/// The booked bytes of a DAP report of an update against `model_version`.
pub fn dap_booked(model_version: u64, report: &[u8]) -> Vec<u8> {
    [&DAP_BOOKED_MAGIC[..], &model_version.to_le_bytes(), report].concat()
}

/// The model version and report bytes of booked DAP bytes; `None` for a plain update body.
pub fn parse_dap_booked(booked: &[u8]) -> Option<(u64, &[u8])> {
    let rest = booked.strip_prefix(&DAP_BOOKED_MAGIC[..])?;
    let (version, report) = rest.split_at_checked(8)?;
    Some((u64::from_le_bytes(version.try_into().ok()?), report))
}

/// The first bytes of a booked lift DAP report: magic, the bucket (0 personalized, 1 holdout:
/// kept on the device for its outcome and to pick the bucket's task URL), then the encoded
/// DAP-09 `Report` of that bucket's lift task.
pub const LIFT_DAP_BOOKED_MAGIC: [u8; 4] = *b"SPLT";

/// The magic of a lift DAP report booked for the retired single lift task (both buckets in one
/// measurement): no configured task can take it, so it is dropped when read (its spend stays booked).
pub const SINGLE_TASK_LIFT_BOOKED_MAGIC: [u8; 4] = *b"SPLD";

/// The booked bytes of a lift DAP report made in `bucket` for that bucket's task.
pub fn lift_dap_booked(bucket: LiftBucket, report: &[u8]) -> Vec<u8> {
    let bucket = u8::from(bucket == LiftBucket::Holdout);
    [&LIFT_DAP_BOOKED_MAGIC[..], &[bucket], report].concat()
}

/// The bucket and report bytes of a booked lift DAP report; `None` for a plain lift report
/// (and for one booked for the retired single task).
pub fn parse_lift_dap_booked(booked: &[u8]) -> Option<(LiftBucket, &[u8])> {
    let (&bucket, report) = booked.strip_prefix(&LIFT_DAP_BOOKED_MAGIC[..])?.split_first()?;
    let bucket = match bucket {
        0 => LiftBucket::Personalized,
        1 => LiftBucket::Holdout,
        _ => return None,
    };
    Some((bucket, report))
}

/// True for a lift DAP report booked for the retired single lift task.
pub fn is_single_task_lift_booked(booked: &[u8]) -> bool {
    booked.starts_with(&SINGLE_TASK_LIFT_BOOKED_MAGIC)
}

/// Sends a booked update: a DAP report to the leader, or a plain body to `/v1/updates`.
pub async fn deliver_update(transport: &impl Transport, booked: &[u8]) -> Result<(), SyncError> {
    match parse_dap_booked(booked) {
        Some((_, report)) => transport.send_dap_report(report).await,
        None => transport.send_update(booked).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booked_dap_bytes_round_trip_and_plain_bodies_are_not_taken_for_them() {
        let booked = dap_booked(7, b"report");
        assert_eq!(parse_dap_booked(&booked), Some((7, &b"report"[..])));
        assert_eq!(parse_dap_booked(b"SPUP\x01rest-of-an-update"), None);
        assert_eq!(parse_dap_booked(b"SPDR\x01"), None, "cut off in the version");
    }

    #[test]
    fn booked_lift_dap_bytes_round_trip_with_their_bucket() {
        let booked = lift_dap_booked(LiftBucket::Holdout, b"report");
        assert_eq!(&booked[..5], b"SPLT\x01");
        assert_eq!(parse_lift_dap_booked(&booked), Some((LiftBucket::Holdout, &b"report"[..])));
        assert_eq!(parse_lift_dap_booked(b"SPLT\x07report"), None, "no such bucket");
        assert_eq!(parse_lift_dap_booked(b"SPLR\x01plain"), None);
        assert_eq!(parse_lift_dap_booked(b"SPLD\x01single-task"), None, "booked for the retired single task");
        assert!(is_single_task_lift_booked(b"SPLD\x01single-task") && !is_single_task_lift_booked(&booked));
    }
}
