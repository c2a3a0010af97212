//! Secure aggregation in the federated simulation: every round is one DAP batch of the leader.
//! Each honest device builds its update with the device's DAP code (`DapDevice`: the delta
//! clipped to `C`, plus its share `N(0, (z·C)²/K)` of the noise of a sum of `K` reports, booked
//! in its ledger), encoded in fixed point under the measurement bound `B`; the batch's sum is what
//! the leader and the helper unshard, and the next model is the leader's `w + η · sum / n`
//! (`aggregator::dap::leader::next_weights`).
//!
//! With `proofs`, every report is made and verified end to end as in production: sharded with its
//! Prio3 proof and HPKE-sealed by the device, opened and prepared by both aggregators (the leader's
//! init, the helper's step, the leader's finish), output shares aggregated and unsharded. Without,
//! the sum of the encoded measurements is taken directly: the VDAF's aggregate of valid reports is
//! exactly that sum (a test below checks both give the same numbers), so the model is the same
//! and a run is several times faster.

use aggregator::dap::prepare::{helper_step, leader_finish, leader_init, merge_outputs, open_share};
use aggregator::dap::DapTaskConfig;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::{Report, Role, TaskId};
use prio::codec::{Decode, Encode};
use prio::vdaf::Collector;
use shop_personalizer::privacy::{PrivacyLedger, PrivacyParams};
use shop_personalizer::sync::dap::{decode_sum, encode_measurement, DapDevice, HpkeKeypair, DAP_MAX_NOISE_COHORT};
use shop_personalizer::sync::secure_aggregation::parse_dap_booked;
use shop_personalizer::sync::{DeviceSync, SecureAggregationSetup};

use crate::SimulationError;

/// The device task and the two aggregators of one simulated DAP deployment.
pub struct DapPair {
    device: DapDevice,
    leader: DapTaskConfig,
    helper: DapTaskConfig,
    proofs: bool,
}

/// One device's contribution to a batch.
pub enum Contribution {
    /// The fixed-point measurement, as f64 (the sum needs no proof).
    Measurement(Vec<f64>),
    /// The whole DAP-09 report.
    Report(Box<Report>),
}

fn config_error(error: impl std::fmt::Display) -> SimulationError {
    SimulationError::Config(error.to_string())
}

impl DapPair {
    /// A task for updates of `dimension` weights under `privacy`, with batches of `batch` reports
    /// (at least the package's `K` = 100, as the aggregators' task-file check demands).
    pub fn new(privacy: &PrivacyParams, dimension: usize, batch: usize, proofs: bool) -> Result<Self, SimulationError> {
        if batch < DAP_MAX_NOISE_COHORT as usize {
            return Err(SimulationError::Config(format!(
                "a DAP batch needs at least {DAP_MAX_NOISE_COHORT} reports (--cohort), got {batch}"
            )));
        }
        let mut rng = rand_core06::OsRng;
        let (leader_keys, helper_keys) = (HpkeKeypair::generate(1, &mut rng), HpkeKeypair::generate(2, &mut rng));
        let collector = HpkeKeypair::generate(3, &mut rng);
        let task_id = TaskId::from([7; 32]);
        let base64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
        let setup = SecureAggregationSetup {
            leader_url: "http://127.0.0.1:8787".into(),
            helper_url: "http://127.0.0.1:8789".into(),
            task_id: base64(task_id.as_ref().to_vec()),
            leader_hpke_config: base64(leader_keys.config.get_encoded().map_err(config_error)?),
            helper_hpke_config: base64(helper_keys.config.get_encoded().map_err(config_error)?),
            time_precision_secs: None,
            min_batch_size: None,
        };
        let device = DapDevice::new(&setup, privacy, dimension).map_err(config_error)?;
        let aggregator = |hpke| DapTaskConfig {
            task_id,
            dimension,
            clip_bound: device.task().clip_bound,
            verify_key: [9; 16],
            min_batch_size: batch as u64,
            max_batch_size: batch as u64,
            hpke,
            peer_token: String::new(),
            collector_token: None,
            collector_config: collector.config.clone(),
            kind: aggregator::dap::TaskKind::ModelUpdate,
            aggregator_noise_epsilon: None,
        };
        let (leader, helper) = (aggregator(leader_keys), aggregator(helper_keys));
        Ok(Self { device, leader, helper, proofs })
    }

    /// The bound `B` measurements are encoded under.
    pub fn measurement_bound(&self) -> f64 {
        self.device.task().clip_bound
    }

    /// The honest device's contribution of `local` against `device`'s installed model, its spend
    /// booked in `ledger`.
    pub fn contribute(
        &self,
        device: &DeviceSync,
        local: &[f32],
        impressions: u32,
        now: u64,
        ledger: &mut PrivacyLedger,
        rng: &mut impl rand::CryptoRng,
    ) -> Result<Contribution, SimulationError> {
        if self.proofs {
            let pending = self
                .device
                .prepare_upload(device, local, impressions, now, ledger, rng)
                .map_err(SimulationError::Sync)?;
            let (_, bytes) = parse_dap_booked(&pending.body).ok_or(config_error("not a booked DAP report"))?;
            return Ok(Contribution::Report(Box::new(Report::get_decoded(bytes).map_err(config_error)?)));
        }
        let update =
            self.device.noised_update(device, local, impressions, now, ledger, rng).map_err(SimulationError::Sync)?;
        let measurement = encode_measurement(&update, self.measurement_bound()).map_err(config_error)?;
        Ok(Contribution::Measurement(measurement.iter().map(|value| value.to_num::<f64>()).collect()))
    }

    /// The sum of the batch's updates as the leader decodes it, and how many reports entered it
    /// (a report whose proof fails is left out, as both aggregators reject it).
    pub fn sum(&self, batch: &[Contribution]) -> Result<(Vec<f64>, u64), SimulationError> {
        let mut measurements = vec![0.0_f64; self.leader.dimension];
        let (mut leader_outputs, mut helper_outputs) = (Vec::new(), Vec::new());
        let vdaf = self.leader.model_vdaf();
        for contribution in batch {
            match contribution {
                Contribution::Measurement(values) => {
                    measurements.iter_mut().zip(values).for_each(|(total, value)| *total += value);
                }
                Contribution::Report(report) => {
                    if let Some((leader, helper)) = self.prepare(&vdaf, report) {
                        leader_outputs.push(leader);
                        helper_outputs.push(helper);
                    }
                }
            }
        }
        let verified = leader_outputs.len() as u64;
        if verified > 0 {
            let shares = [leader_outputs, helper_outputs].map(|outputs| {
                let bytes = merge_outputs(&vdaf, None, outputs)?;
                aggregator::dap::prepare::decode_aggregate(&vdaf, &bytes)
            });
            let [leader, helper] = shares;
            let total = vdaf
                .unshard(&(), [leader.map_err(config_error)?, helper.map_err(config_error)?], verified as usize)
                .map_err(config_error)?;
            measurements.iter_mut().zip(&total).for_each(|(sum, value)| *sum += value);
        }
        let counted = verified + batch.iter().filter(|c| matches!(c, Contribution::Measurement(_))).count() as u64;
        Ok((decode_sum(&measurements, self.measurement_bound()), counted))
    }

    /// Both aggregators' preparation of one report: their output shares, or `None` when either
    /// rejects it.
    fn prepare(
        &self,
        vdaf: &shop_personalizer::sync::dap::ModelUpdateVdaf,
        report: &Report,
    ) -> Option<(prio::vdaf::OutputShare<prio::field::Field128>, prio::vdaf::OutputShare<prio::field::Field128>)> {
        let (meta, public) = (report.metadata(), report.public_share());
        let id: &[u8; 16] = report.metadata().id().as_ref();
        let leader = &self.leader;
        let opened =
            open_share(leader, vdaf, &leader.hpke, Role::Leader, meta, public, report.leader_encrypted_input_share())
                .ok()?;
        let (state, message) = leader_init(leader, vdaf, id, &opened).ok()?;
        let helper = &self.helper;
        let opened =
            open_share(helper, vdaf, &helper.hpke, Role::Helper, meta, public, report.helper_encrypted_input_share())
                .ok()?;
        let (helper_output, reply) = helper_step(helper, vdaf, id, &opened, &message).ok()?;
        Some((leader_finish(vdaf, state, &reply).ok()?, helper_output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use shop_personalizer::privacy::PrivacyConfig;
    use shop_personalizer::sync::SyncConfig;

    fn seeded(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    const DIMENSION: usize = 12;

    fn privacy() -> PrivacyParams {
        let config = PrivacyConfig { clip_bound: 0.5, min_labelled_impressions: 1, ..PrivacyConfig::default() };
        PrivacyParams::new(config).expect("valid")
    }

    fn device(base: &[f32]) -> DeviceSync {
        let key = SigningKey::from_bytes(&[0x5A; 32]);
        let config = SyncConfig {
            aggregator_url: "http://127.0.0.1:8787".into(),
            model_public_key: key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect(),
            max_jitter_ms: 0,
        };
        let mut device = DeviceSync::new(&config, privacy(), DIMENSION).expect("device");
        device.install_model(&aggregator::rounds::publish(1, base.to_vec(), &key).signed).expect("installs");
        device
    }

    /// The batch of 100 honest devices, made with the same noise draws in both modes.
    fn batch(pair: &DapPair, device: &DeviceSync) -> Vec<Contribution> {
        let mut noise = seeded(4);
        (0..100)
            .map(|i| {
                let local: Vec<f32> = (0..DIMENSION).map(|j| ((i * 7 + j * 3) % 11) as f32 * 0.03 - 0.15).collect();
                let mut ledger = PrivacyLedger::default();
                pair.contribute(device, &local, 5, 1_000, &mut ledger, &mut noise).expect("contributes")
            })
            .collect()
    }

    #[test]
    fn the_sum_without_proofs_is_the_sum_the_aggregators_unshard() {
        let base = vec![0.1_f32; DIMENSION];
        let device = device(&base);
        let with = DapPair::new(&privacy(), DIMENSION, 100, true).expect("pair");
        let without = DapPair { proofs: false, ..DapPair::new(&privacy(), DIMENSION, 100, true).expect("pair") };
        // The report path draws report ids and HPKE randomness from the same generator after the
        // noise, so give each device its own generator: same noise in both modes.
        let contributions = |pair: &DapPair| -> Vec<Contribution> {
            (0..100)
                .map(|i| {
                    let local: Vec<f32> =
                        (0..DIMENSION).map(|j| ((i * 7 + j * 3) % 11) as f32 * 0.03 - 0.15 + 0.1).collect();
                    let mut ledger = PrivacyLedger::default();
                    pair.contribute(&device, &local, 5, 1_000, &mut ledger, &mut seeded(i as u64)).expect("contributes")
                })
                .collect()
        };
        let (proved, proved_count) = with.sum(&contributions(&with)).expect("sums");
        let (direct, direct_count) = without.sum(&contributions(&without)).expect("sums");
        assert_eq!((proved_count, direct_count), (100, 100));
        for (a, b) in proved.iter().zip(&direct) {
            assert!((a - b).abs() < 1e-9, "unsharded {a} vs summed {b}");
        }
        // And the sum is the clipped deltas plus noise of std z·C (the sum of 100 shares).
        let clean: f64 = (0..100).map(|i| f64::from(((i * 7) % 11) as f32 * 0.03 - 0.15)).sum();
        assert!((direct[0] - clean).abs() < 5.0 * 0.5, "{} vs {clean}", direct[0]);
    }

    #[test]
    fn a_forged_report_is_left_out_of_the_sum() {
        let device = device(&[0.0; DIMENSION]);
        let pair = DapPair::new(&privacy(), DIMENSION, 100, true).expect("pair");
        let mut contributions = batch(&pair, &device);
        let Contribution::Report(report) = &contributions[0] else { panic!("a report") };
        // Swap in another report's helper share: sealed under that report's metadata, it does not
        // open under this one's, so the helper rejects the report and neither share is summed.
        let Contribution::Report(other) = &contributions[1] else { panic!("a report") };
        let forged = Report::new(
            report.metadata().clone(),
            report.public_share().to_vec(),
            report.leader_encrypted_input_share().clone(),
            other.helper_encrypted_input_share().clone(),
        );
        contributions[0] = Contribution::Report(Box::new(forged));
        let (_, counted) = pair.sum(&contributions).expect("sums");
        assert_eq!(counted, 99);
    }

    #[test]
    fn a_batch_below_the_packages_k_is_refused() {
        assert!(DapPair::new(&privacy(), DIMENSION, 99, false).is_err());
    }
}
