//! The VDAF steps of one report on one aggregator, with no I/O: open the input share sealed to
//! this aggregator, decode it, and run Prio3 preparation through the ping-pong topology
//! (VDAF-08 §5.8): the leader's first message carries its prepare share, the helper combines
//! both shares into the prepare message (which fails unless the proof verifies) and finishes, the
//! leader finishes on the helper's message. Output shares merge into the batch's aggregate share.

use janus_messages::{HpkeCiphertext, InputShareAad, PlaintextInputShare, ReportMetadata, Role};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::field::Field128;
use prio::topology::ping_pong::{PingPongContinuedValue, PingPongMessage, PingPongState, PingPongTopology};
use prio::vdaf::prio3::{Prio3InputShare, Prio3PrepareState, Prio3PublicShare};
use prio::vdaf::{Aggregatable, AggregateShare, Aggregator, OutputShare};
use shop_personalizer::sync::dap::{HpkeKeypair, HpkeLabel};

use super::{DapTaskConfig, Rejection, TaskPrio3, TaskType};

/// A report's shares as this aggregator sees them, decrypted and decoded.
pub struct OpenedShare {
    pub public_share: Prio3PublicShare<16>,
    pub input_share: Prio3InputShare<Field128, 16>,
}

/// Opens and decodes the input share `ciphertext` of the report `metadata`/`public_share`.
pub fn open_share<T: TaskType>(
    task: &DapTaskConfig,
    vdaf: &TaskPrio3<T>,
    keypair: &HpkeKeypair,
    role: Role,
    metadata: &ReportMetadata,
    public_share: &[u8],
    ciphertext: &HpkeCiphertext,
) -> Result<OpenedShare, Rejection> {
    let aad = InputShareAad::new(task.task_id, metadata.clone(), public_share.to_vec())
        .get_encoded()
        .map_err(|_| Rejection::MalformedShare)?;
    let plaintext = keypair
        .open(ciphertext, HpkeLabel::InputShare, Role::Client, role, &aad)
        .map_err(|_| Rejection::HpkeDecrypt)?;
    let plaintext = PlaintextInputShare::get_decoded(&plaintext).map_err(|_| Rejection::MalformedShare)?;
    let index = role.index().ok_or(Rejection::MalformedShare)?;
    let input_share = Prio3InputShare::get_decoded_with_param(&(vdaf, index), plaintext.payload())
        .map_err(|_| Rejection::MalformedShare)?;
    let public_share =
        Prio3PublicShare::get_decoded_with_param(vdaf, public_share).map_err(|_| Rejection::MalformedShare)?;
    Ok(OpenedShare { public_share, input_share })
}

/// The leader's first step: its state and the message for the helper.
pub fn leader_init<T: TaskType>(
    task: &DapTaskConfig,
    vdaf: &TaskPrio3<T>,
    report_id: &[u8; 16],
    share: &OpenedShare,
) -> Result<(Prio3PrepareState<Field128, 16>, PingPongMessage), Rejection> {
    let (state, message) = vdaf
        .leader_initialized(&task.verify_key, &(), report_id, &share.public_share, &share.input_share)
        .map_err(|_| Rejection::InvalidProof)?;
    match state {
        PingPongState::Continued(state) => Ok((state, message)),
        PingPongState::Finished(_) => Err(Rejection::InvalidProof),
    }
}

/// The helper's only step: its output share and the message for the leader, or why the report
/// is rejected (the proof does not verify).
pub fn helper_step<T: TaskType>(
    task: &DapTaskConfig,
    vdaf: &TaskPrio3<T>,
    report_id: &[u8; 16],
    share: &OpenedShare,
    inbound: &PingPongMessage,
) -> Result<(OutputShare<Field128>, PingPongMessage), Rejection> {
    let transition = vdaf
        .helper_initialized(&task.verify_key, &(), report_id, &share.public_share, &share.input_share, inbound)
        .map_err(|_| Rejection::InvalidProof)?;
    match transition.evaluate(vdaf).map_err(|_| Rejection::InvalidProof)? {
        (PingPongState::Finished(output), message) => Ok((output, message)),
        (PingPongState::Continued(_), _) => Err(Rejection::InvalidProof),
    }
}

/// The leader's last step on the helper's message: its output share.
pub fn leader_finish<T: TaskType>(
    vdaf: &TaskPrio3<T>,
    state: Prio3PrepareState<Field128, 16>,
    inbound: &PingPongMessage,
) -> Result<OutputShare<Field128>, Rejection> {
    match vdaf.leader_continued(PingPongState::Continued(state), &(), inbound) {
        Ok(PingPongContinuedValue::FinishedNoMessage { output_share }) => Ok(output_share),
        _ => Err(Rejection::InvalidProof),
    }
}

/// `step` of every item, in order, spread over the machine's cores (a job's reports are
/// independent until their output shares are summed).
pub fn in_parallel<T: Sync, R: Send>(items: &[T], step: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(step).collect();
    }
    let step = &step;
    std::thread::scope(|scope| {
        let chunks: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || chunk.iter().map(step).collect::<Vec<R>>()))
            .collect();
        chunks
            .into_iter()
            .flat_map(|chunk| chunk.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Adds `outputs` to the stored aggregate share `stored` (none yet: `None`), as stored bytes.
pub fn merge_outputs<T: TaskType>(
    vdaf: &TaskPrio3<T>,
    stored: Option<Vec<u8>>,
    outputs: Vec<OutputShare<Field128>>,
) -> Result<Vec<u8>, String> {
    let fresh = vdaf.aggregate(&(), outputs).map_err(|error| error.to_string())?;
    let total = match stored {
        Some(bytes) => {
            let mut total = decode_aggregate(vdaf, &bytes)?;
            total.merge(&fresh).map_err(|error| error.to_string())?;
            total
        }
        None => fresh,
    };
    total.get_encoded().map_err(|error| error.to_string())
}

/// A stored or received aggregate share.
pub fn decode_aggregate<T: TaskType>(vdaf: &TaskPrio3<T>, bytes: &[u8]) -> Result<AggregateShare<Field128>, String> {
    AggregateShare::get_decoded_with_param(&(vdaf, &()), bytes).map_err(|error| error.to_string())
}
