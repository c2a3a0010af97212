//! Secure aggregation as a DAP-09 leader or helper over Prio3 (VDAF-08, `prio` 0.16): devices
//! upload reports to the leader ([`leader`]); the leader and helper ([`helper`]) each decrypt
//! their input share and run Prio3 preparation in one round over an aggregation job, so each
//! verifies every report's proof ([`prepare`]): an invalid proof is rejected, counted and never
//! enters a sum. Once a batch holds at least `min_batch_size` reports, the leader collects the
//! helper's aggregate share (sealed to the collector's HPKE key), unshards the sum and publishes
//! the next model from it. Neither aggregator ever sees one device's update, as long as the two
//! do not collude.

pub mod collection;
pub mod helper;
pub mod http;
pub mod leader;
pub mod prepare;
pub mod process;
pub mod task_file;
pub mod task_pair;

use janus_messages::TaskId;
use shop_personalizer::sync::dap::{model_update_vdaf, HpkeKeypair, ModelUpdateVdaf};

/// One DAP task as an aggregator runs it.
#[derive(Clone)]
pub struct DapTaskConfig {
    pub task_id: TaskId,
    pub dimension: usize,
    /// The bound `B` the devices encode their clipped, noised update under (the VDAF proves
    /// ‖measurement‖₂ < 1, the measurement being the update scaled by `MAX_NORM / B`): the sum
    /// decodes with it.
    pub clip_bound: f64,
    /// The VDAF verification key, shared by the leader and the helper only.
    pub verify_key: [u8; 16],
    /// No aggregate share is released over fewer reports.
    pub min_batch_size: u64,
    /// The leader puts no more reports in one batch (at least `min_batch_size`).
    pub max_batch_size: u64,
    /// This aggregator's HPKE keypair (its config is served at `/hpke_config`).
    pub hpke: HpkeKeypair,
    /// The token the leader sends the helper (`DAP-Auth-Token`).
    pub peer_token: String,
    /// The token a DAP collector presents to the leader (`Authorization: Bearer …` or
    /// `DAP-Auth-Token`); without one the leader serves no collection jobs.
    pub collector_token: Option<String>,
    /// The collector's HPKE config: the helper seals its aggregate share to it.
    pub collector_config: janus_messages::HpkeConfig,
}

impl DapTaskConfig {
    /// The task's VDAF instance.
    pub fn vdaf(&self) -> ModelUpdateVdaf {
        model_update_vdaf(self.dimension).expect("a dimension checked at configuration")
    }
}

/// Why an aggregator rejected a report: the stable reasons it counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The share does not open with this aggregator's key (wrong key, altered ciphertext or AAD).
    HpkeDecrypt,
    /// The opened share, or the public share, does not decode for this VDAF.
    MalformedShare,
    /// Prio3 preparation failed: the proof does not verify (out-of-bound or forged measurement,
    /// tampered share).
    InvalidProof,
    /// The report id was already aggregated.
    Replayed,
    /// The helper refused it (the leader counts the helper's verdict too).
    RejectedByHelper,
}

impl Rejection {
    pub fn reason(self) -> &'static str {
        match self {
            Self::HpkeDecrypt => "hpke_decrypt",
            Self::MalformedShare => "malformed_share",
            Self::InvalidProof => "invalid_proof",
            Self::Replayed => "replayed",
            Self::RejectedByHelper => "rejected_by_helper",
        }
    }
}
