//! Federated rounds over simulated devices, through the real code on both sides: each device
//! installs the signed model (its signature and checksum verified once per round, since every
//! device gets the same bytes), learns on its own cases, and builds its update with the device's
//! privacy code (clip, Gaussian noise, quantization, ledger); the server decodes, admits (norm
//! and scale checks), sums in fixed point, keeps the updates for a robust rule, and applies
//! FedAvg under its rule, then signs the next model. A share of each cohort can be hostile:
//! those devices send the worst update the checks admit (`crate::attack`).

use aggregator::aggregation::Contribution;
use aggregator::config::RoundRule;
use aggregator::dap::leader::next_weights;
use aggregator::policy::{accumulate, admit};
use aggregator::rounds::{aggregate, publish, robust_rule};
use aggregator::store::RoundTotals;
use aggregator::{CheckedConfig, ServerConfig};
use ed25519_dalek::SigningKey;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replay::fit::TrainingCase;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams};
use shop_personalizer::rank::model::softmax_gradient;
use shop_personalizer::rank::{project_monotone, NUM_FEATURES};
use shop_personalizer::sync::{DeviceSync, SyncConfig, UpdateMessage};

use crate::attack::{hostile_update, Attack, Limits};
use crate::secure::DapPair;
use crate::SimulationError;

/// How a round's updates reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Plain updates, noised on the device, to one aggregator (its checks and its round rule).
    Local,
    /// DAP reports to a leader and a helper (`crate::secure`): each round is one batch of
    /// `cohort` reports, each device adding its share of the noise of the sum. `proofs` makes and
    /// verifies every report's Prio3 proof instead of summing the measurements directly.
    Dap { proofs: bool },
}

/// Settings of a federated run.
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedConfig {
    pub rounds: usize,
    /// Devices drawn per round (each sends at most one update per round = one period).
    pub cohort: usize,
    pub local_epochs: usize,
    pub local_learning_rate: f32,
    pub server_learning_rate: f64,
    pub central_noise_multiplier: Option<f64>,
    /// The server's `--round-rule`.
    pub round_rule: RoundRule,
    /// Share of each cohort that is hostile.
    pub hostile_share: f64,
    pub attack: Attack,
    pub privacy: PrivacyConfig,
    pub aggregation: Aggregation,
    pub seed: u64,
}

impl Default for FederatedConfig {
    fn default() -> Self {
        Self {
            rounds: 40,
            cohort: 1_000,
            local_epochs: 2,
            local_learning_rate: 0.05,
            server_learning_rate: 1.0,
            central_noise_multiplier: None,
            round_rule: ServerConfig::default().round_rule,
            hostile_share: 0.0,
            attack: Attack::Flip,
            privacy: PrivacyConfig { clip_bound: 0.5, min_labelled_impressions: 1, ..PrivacyConfig::default() },
            aggregation: Aggregation::Local,
            seed: 17,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundLog {
    pub round: usize,
    pub accepted: usize,
    /// Of the accepted, how many were hostile.
    pub hostile: usize,
    /// Median L2 norm of the devices' deltas before clipping.
    pub median_delta_norm: f64,
    /// Share of deltas longer than the clip bound.
    pub clipped_share: f64,
}

/// What a federated run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedOutcome {
    /// The final shared weights.
    pub weights: Vec<f32>,
    pub logs: Vec<RoundLog>,
    /// Rounds each device took part in (= periods in which it spent privacy budget).
    pub participation: Vec<u32>,
}

/// Deals `cases` to `devices` devices (seeded), keeping devices non-empty.
pub fn deal(mut cases: Vec<TrainingCase>, devices: usize, seed: u64) -> Vec<Vec<TrainingCase>> {
    cases.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let devices = devices.clamp(1, cases.len().max(1));
    let mut dealt: Vec<Vec<TrainingCase>> = (0..devices).map(|_| Vec::new()).collect();
    for (index, case) in cases.into_iter().enumerate() {
        dealt[index % devices].push(case);
    }
    dealt
}

/// Local learning: `epochs` passes of per-case listwise softmax SGD from `weights`, each step
/// projected onto the ranker's monotone constraint as the device's own learning is
/// ([`project_monotone`], as in `RankModel::softmax_step`).
pub fn local_train(weights: &[f32], cases: &[TrainingCase], epochs: usize, learning_rate: f32) -> Vec<f32> {
    let mut local = weights.to_vec();
    let mut gradient = vec![0.0_f32; NUM_FEATURES];
    let (mut rows, mut gains, mut matrix) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..epochs {
        for case in cases {
            case.expand_into(&mut matrix);
            let n = case.rows();
            rows.clear();
            rows.extend(0..n);
            gains.clear();
            gains.extend((0..n).map(|r| if r == case.label_row { 1.0 } else { 0.0 }));
            gradient.iter_mut().for_each(|g| *g = 0.0);
            softmax_gradient(&matrix, &rows, &gains, &local, &mut gradient);
            local.iter_mut().zip(&gradient).for_each(|(w, g)| *w -= learning_rate * g);
            project_monotone(&mut local);
        }
    }
    local
}

fn aggregator_config(config: &FederatedConfig) -> Result<CheckedConfig, SimulationError> {
    ServerConfig {
        dimension: NUM_FEATURES,
        clip_bound: config.privacy.clip_bound,
        noise_multiplier: config.privacy.noise_multiplier,
        delta: config.privacy.delta,
        min_updates_per_round: (config.cohort as u64).max(aggregator::config::MIN_UPDATES_PER_ROUND_FLOOR),
        server_learning_rate: config.server_learning_rate,
        central_noise_multiplier: config.central_noise_multiplier,
        round_rule: config.round_rule,
        ..ServerConfig::default()
    }
    .check()
    .map_err(|error| SimulationError::Config(error.to_string()))
}

/// Runs `config.rounds` rounds from `initial`.
pub fn run(
    devices: &[Vec<TrainingCase>],
    initial: &[f32],
    config: &FederatedConfig,
    mut on_round: impl FnMut(&RoundLog, &[f32]),
) -> Result<FederatedOutcome, SimulationError> {
    let server = aggregator_config(config)?;
    let privacy =
        PrivacyParams::new(config.privacy.clone()).map_err(|error| SimulationError::Config(error.to_string()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let key = SigningKey::from_bytes(&[0x5A; 32]);
    let sync_config = SyncConfig {
        aggregator_url: "http://127.0.0.1:8787".to_owned(),
        model_public_key: key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect(),
        max_jitter_ms: 0,
    };
    let mut ledgers = vec![PrivacyLedger::default(); devices.len()];
    let mut participation = vec![0_u32; devices.len()];
    let mut published = publish(1, initial.to_vec(), &key);
    let mut logs = Vec::with_capacity(config.rounds);
    let indices: Vec<usize> = (0..devices.len()).collect();
    let limits = Limits::new(config.privacy.clip_bound, config.privacy.noise_multiplier, NUM_FEATURES);
    let dap = match config.aggregation {
        Aggregation::Local => None,
        Aggregation::Dap { .. } if config.hostile_share > 0.0 => {
            return Err(SimulationError::Config("hostile devices are simulated against the local path only".into()))
        }
        Aggregation::Dap { proofs } => Some(DapPair::new(&privacy, NUM_FEATURES, config.cohort, proofs)?),
    };
    for round in 0..config.rounds {
        let now = round as u64 * privacy.period_seconds();
        let cohort: Vec<usize> = indices.sample(&mut rng, config.cohort.min(devices.len())).copied().collect();
        let hostile_count = (config.hostile_share * cohort.len() as f64).round() as usize;
        let mut totals = RoundTotals { sum: vec![0_i64; NUM_FEATURES], count: 0, members: Vec::new() };
        let (mut hostile, mut clipped) = (0_usize, 0_usize);
        let mut norms = Vec::with_capacity(cohort.len());
        // Every device of the round installs the same signed bytes: verify them once with the
        // device code (signature and checksum); preparing an update leaves the device unchanged.
        let mut device = DeviceSync::new(&sync_config, privacy.clone(), NUM_FEATURES).map_err(SimulationError::Sync)?;
        device.install_model(&published.signed).map_err(SimulationError::Sync)?;
        if let Some(pair) = &dap {
            let mut batch = Vec::with_capacity(cohort.len());
            for &device_index in &cohort {
                let cases = &devices[device_index];
                let local = local_train(&published.weights, cases, config.local_epochs, config.local_learning_rate);
                let norm = delta_norm(&local, &published.weights);
                norms.push(norm);
                clipped += usize::from(norm > privacy.clip_bound());
                let ledger = &mut ledgers[device_index];
                batch.push(pair.contribute(&device, &local, cases.len() as u32, now, ledger, &mut rng)?);
                participation[device_index] += 1;
            }
            let (sum, reports) = pair.sum(&batch)?;
            let weights = next_weights(&published.weights, &sum, reports, config.server_learning_rate);
            published = publish(published.version + 1, weights, &key);
            let log = round_log(round, reports as usize, 0, norms, clipped);
            on_round(&log, &published.weights);
            logs.push(log);
            continue;
        }
        for (position, &device_index) in cohort.iter().enumerate() {
            let local = local_train(
                &published.weights,
                &devices[device_index],
                config.local_epochs,
                config.local_learning_rate,
            );
            let own: Vec<f64> = local.iter().zip(&published.weights).map(|(l, b)| f64::from(l - b)).collect();
            let message = if position < hostile_count {
                let mut nonce = [0_u8; 16];
                rng.fill_bytes(&mut nonce);
                hostile_update(config.attack, &own, &limits, published.version, nonce)
            } else {
                let norm = delta_norm(&local, &published.weights);
                norms.push(norm);
                clipped += usize::from(norm > privacy.clip_bound());
                let impressions = devices[device_index].len() as u32;
                let pending = device
                    .prepare_upload(&local, impressions, true, now, &mut ledgers[device_index], &mut rng)
                    .map_err(SimulationError::Sync)?;
                participation[device_index] += 1;
                UpdateMessage::decode(&pending.body).map_err(SimulationError::Sync)?
            };
            if admit(&message, &server, published.version).is_ok() {
                let member = Contribution::of(&message).map_err(|e| SimulationError::Config(e.to_string()))?;
                accumulate(&mut totals.sum, &message).map_err(|e| SimulationError::Config(e.to_string()))?;
                totals.members.push(member);
                totals.count += 1;
                hostile += usize::from(position < hostile_count);
            }
        }
        let weights = aggregate(
            &published.weights,
            &totals,
            robust_rule(&server),
            config.server_learning_rate,
            config.central_noise_multiplier.map(|z| z * privacy.clip_bound()),
            rng.next_u64(),
        );
        published = publish(published.version + 1, weights, &key);
        let log = round_log(round, totals.count as usize, hostile, norms, clipped);
        on_round(&log, &published.weights);
        logs.push(log);
    }
    Ok(FederatedOutcome { weights: published.weights, logs, participation })
}

fn delta_norm(local: &[f32], base: &[f32]) -> f64 {
    local.iter().zip(base).map(|(l, b)| f64::from(l - b).powi(2)).sum::<f64>().sqrt()
}

fn round_log(round: usize, accepted: usize, hostile: usize, mut norms: Vec<f64>, clipped: usize) -> RoundLog {
    norms.sort_by(f64::total_cmp);
    RoundLog {
        round: round + 1,
        accepted,
        hostile,
        median_delta_norm: norms.get(norms.len() / 2).copied().unwrap_or(0.0),
        clipped_share: clipped as f64 / norms.len().max(1) as f64,
    }
}

#[cfg(test)]
#[path = "federated_tests.rs"]
mod tests;
