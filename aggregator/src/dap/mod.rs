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
pub mod lift_release;
pub mod noise;
pub mod prepare;
pub mod process;
pub mod task_file;
pub mod task_pair;

use janus_messages::TaskId;
use prio::field::Field128;
use prio::flp::Type;
use prio::vdaf::prio3::Prio3;
use prio::vdaf::xof::XofTurboShake128;
use shop_personalizer::measure::CheckedReportConfig;
use shop_personalizer::sync::dap::{model_update_vdaf, HpkeKeypair, LiftEncoding, LiftVdaf, ModelUpdateVdaf};

/// The Prio3 VDAFs a task can run: every one over `Field128` with 16-byte seeds, so the DAP
/// steps ([`prepare`], [`leader`], [`helper`]) are written once, generic over the type `T`.
pub type TaskPrio3<T> = Prio3<T, XofTurboShake128, 16>;

/// A Prio3 type our tasks run (model updates' L2-bounded vector sum, lift reports' SumVec).
pub trait TaskType: Type<Field = Field128> {}
impl<T: Type<Field = Field128>> TaskType for T {}

/// What a task aggregates: model updates (the leader publishes models from the sums) or lift
/// reports (the leader keeps the sums and serves the lift estimate from them).
#[derive(Clone)]
pub enum TaskKind {
    ModelUpdate,
    Lift(Box<LiftTask>),
}

/// A lift task (one per bucket): the devices' lift settings, the SumVec encoding they imply, the
/// release rule, and its bucket.
#[derive(Clone)]
pub struct LiftTask {
    pub config: CheckedReportConfig,
    pub encoding: LiftEncoding,
    /// `K`: the devices' `noise.minCohort`.
    pub min_cohort: u32,
    /// Nothing is released before each bucket holds this many reports.
    pub min_reports_per_bucket: u64,
    /// The bucket whose reports this task takes (one DAP task per bucket).
    pub bucket: shop_personalizer::measure::holdout::LiftBucket,
}

/// Runs `$body` with `$vdaf` bound to the task's VDAF instance, whichever Prio3 type it is.
#[macro_export]
macro_rules! with_vdaf {
    ($task:expr, $vdaf:ident => $body:expr) => {
        match &$task.kind {
            $crate::dap::TaskKind::ModelUpdate => {
                let $vdaf = $task.model_vdaf();
                $body
            }
            $crate::dap::TaskKind::Lift(lift) => {
                let $vdaf = $crate::dap::lift_vdaf(lift);
                $body
            }
        }
    };
}

/// The VDAF instance of a lift task (its encoding was checked at configuration).
pub fn lift_vdaf(lift: &LiftTask) -> LiftVdaf {
    lift.encoding.vdaf().expect("an encoding checked at configuration")
}

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
    /// Model updates or lift reports.
    pub kind: TaskKind,
    /// Model-update tasks only: the ε of the noise this aggregator adds to its aggregate share
    /// of every batch before it leaves (`noise.rs`); `None`: none.
    pub aggregator_noise_epsilon: Option<f64>,
}

impl DapTaskConfig {
    /// This aggregator's aggregate share of `batch_id` as it may leave: with its noise added
    /// when the task asks for aggregator-side noise (model-update tasks), else as stored.
    pub fn released_share(&self, batch_id: &[u8; 32], share: &[u8]) -> Result<Vec<u8>, String> {
        match (self.aggregator_noise_epsilon, &self.kind) {
            (Some(epsilon), TaskKind::ModelUpdate) => {
                noise::noised_share(&self.model_vdaf(), share, epsilon, &self.hpke.private_key, batch_id)
            }
            _ => Ok(share.to_vec()),
        }
    }

    /// The model-update VDAF of this task's dimension (use [`with_vdaf!`] for any task).
    pub fn model_vdaf(&self) -> ModelUpdateVdaf {
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
