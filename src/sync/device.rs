//! The device side of the federated loop: keep a verified shared model, and turn local learning
//! into one private update body with a jittered send time.

use ed25519_dalek::VerifyingKey;
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::model_wire::{verifying_key_from_hex, SharedModel};
use super::round_bound::{first_oversized_change, max_round_step};
use super::transport::Transport;
use super::update_wire::UpdateMessage;
use super::SyncError;
use crate::privacy::{PrivacyLedger, PrivacyParams, UpdateBuilder, UpdateInputs};

/// Where and how to sync (JS: `{ aggregatorUrl, modelPublicKey, maxJitterMs }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncConfig {
    /// Base URL of the aggregation server, e.g. `http://127.0.0.1:8787`.
    pub aggregator_url: String,
    /// The aggregator's Ed25519 public key, 64 hex characters (`GET /v1/model-key`).
    pub model_public_key: String,
    /// Upper bound of the random delay before an update is sent, in milliseconds.
    #[serde(default = "default_max_jitter_ms")]
    pub max_jitter_ms: u32,
}

fn default_max_jitter_ms() -> u32 {
    30_000
}

/// The outcome of a model download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelInstall {
    /// A newer verified model replaced the previous one.
    Installed { version: u64 },
    /// The server's model is the one already installed.
    Unchanged { version: u64 },
}

/// An encoded update waiting for its send time. Its privacy spend is already booked: on a
/// network failure resend these same bytes rather than building a new update.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingUpload {
    pub body: Vec<u8>,
    /// Wait this long before sending (the facade waits; the core never sleeps).
    pub jitter_ms: u32,
}

/// Device-side sync state: the verifying key, the expected dimension, the installed model.
#[derive(Debug, Clone)]
pub struct DeviceSync {
    key: VerifyingKey,
    dimension: usize,
    max_jitter_ms: u32,
    builder: UpdateBuilder,
    model: Option<SharedModel>,
}

impl DeviceSync {
    /// Checks `config` and prepares to sync a model of `dimension` shared weights.
    pub fn new(config: &SyncConfig, privacy: PrivacyParams, dimension: usize) -> Result<Self, SyncError> {
        let url = config.aggregator_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SyncError::BadUrl { url: config.aggregator_url.clone() });
        }
        Ok(Self {
            key: verifying_key_from_hex(&config.model_public_key)?,
            dimension,
            max_jitter_ms: config.max_jitter_ms,
            builder: UpdateBuilder::new(privacy),
            model: None,
        })
    }

    pub fn privacy(&self) -> &PrivacyParams {
        self.builder.params()
    }

    /// The builder that clips, noises and books updates under this device's privacy settings.
    pub fn builder(&self) -> &UpdateBuilder {
        &self.builder
    }

    pub fn max_jitter_ms(&self) -> u32 {
        self.max_jitter_ms
    }

    /// The installed, verified shared model, if any.
    pub fn shared_model(&self) -> Option<&SharedModel> {
        self.model.as_ref()
    }

    /// The largest change of one weight a newer model may make over the installed one: what one
    /// aggregation round can produce under this device's clip bound and noise (which the
    /// aggregator must share), whatever the model or its version says.
    pub fn max_model_step(&self) -> f64 {
        let params = self.builder.params();
        max_round_step(params.clip_bound(), params.noise_multiplier(), self.dimension)
    }

    /// Verifies downloaded bytes and installs them if newer. A newer model whose change from the
    /// installed one exceeds [`Self::max_model_step`] is refused, whatever its version gap (the
    /// sender chooses the version). On any error the previous model stays.
    pub fn install_model(&mut self, bytes: &[u8]) -> Result<ModelInstall, SyncError> {
        let model = SharedModel::decode_verified(bytes, &self.key)?;
        if model.weights.len() != self.dimension {
            return Err(SyncError::ModelDimension { got: model.weights.len(), expected: self.dimension });
        }
        match &self.model {
            Some(current) if model.version < current.version => {
                return Err(SyncError::StaleModel { got: model.version, current: current.version });
            }
            Some(current) if model.version == current.version => {
                return Ok(ModelInstall::Unchanged { version: model.version });
            }
            Some(current) => {
                let bound = self.max_model_step();
                if let Some((index, change)) = first_oversized_change(&current.weights, &model.weights, bound) {
                    return Err(SyncError::ModelStepTooLarge { version: model.version, index, change, bound });
                }
            }
            None => {}
        }
        let version = model.version;
        self.model = Some(model);
        Ok(ModelInstall::Installed { version })
    }

    /// Downloads the model through `transport` (conditional on the installed version) and installs it.
    pub async fn refresh_model(&mut self, transport: &impl Transport) -> Result<ModelInstall, SyncError> {
        let known = self.model.as_ref().map(|model| model.version);
        match transport.fetch_model(known).await? {
            Some(bytes) => self.install_model(&bytes),
            None => known.map(|version| ModelInstall::Unchanged { version }).ok_or(SyncError::NoSharedModel),
        }
    }

    /// Whether an update could be prepared now (spends nothing).
    pub fn check_upload(
        &self,
        local_weights: &[f32],
        labelled_impressions: u32,
        full_consent: bool,
        now_unix_seconds: u64,
        ledger: &PrivacyLedger,
    ) -> Result<(), SyncError> {
        let inputs = self.inputs(local_weights, labelled_impressions, full_consent, now_unix_seconds)?;
        Ok(self.builder.check(&inputs, ledger)?)
    }

    pub(crate) fn inputs<'a>(
        &'a self,
        local_weights: &'a [f32],
        labelled_impressions: u32,
        full_consent: bool,
        now_unix_seconds: u64,
    ) -> Result<UpdateInputs<'a>, SyncError> {
        let model = self.model.as_ref().ok_or(SyncError::NoSharedModel)?;
        Ok(UpdateInputs {
            base_version: model.version,
            base_weights: &model.weights,
            local_weights,
            labelled_impressions,
            full_consent,
            now_unix_seconds,
        })
    }

    /// Builds the private update of `local_weights` against the installed model, books its spend
    /// in `ledger`, and returns the body with a random send delay. Refusals spend nothing.
    pub fn prepare_upload(
        &self,
        local_weights: &[f32],
        labelled_impressions: u32,
        full_consent: bool,
        now_unix_seconds: u64,
        ledger: &mut PrivacyLedger,
        rng: &mut impl Rng,
    ) -> Result<PendingUpload, SyncError> {
        let inputs = self.inputs(local_weights, labelled_impressions, full_consent, now_unix_seconds)?;
        let update = self.builder.build(&inputs, ledger, rng)?;
        let mut nonce = [0_u8; 16];
        rng.fill_bytes(&mut nonce);
        let jitter_ms = rng.random_range(0..=self.max_jitter_ms);
        Ok(PendingUpload { body: UpdateMessage::from_noisy(update, nonce).encode(), jitter_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::PrivacyConfig;
    use crate::privacy::{UpdateBuilder, UpdateInputs};
    use crate::sync::InMemoryTransport;
    use ed25519_dalek::SigningKey;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Runs a future that never waits on I/O (the in-memory transport) to completion.
    fn run_ready<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the in-memory transport never waits"),
        }
    }

    fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[42; 32])
    }

    fn device(dimension: usize) -> DeviceSync {
        let hex: String = signing_key().verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let config = SyncConfig {
            aggregator_url: "http://127.0.0.1:8787".to_owned(),
            model_public_key: hex,
            max_jitter_ms: 5_000,
        };
        let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
        DeviceSync::new(&config, privacy, dimension).expect("valid config")
    }

    fn signed(version: u64, weights: Vec<f32>) -> Vec<u8> {
        SharedModel { version, weights }.encode_signed(&signing_key())
    }

    #[test]
    fn bad_config_is_refused() {
        let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
        let config =
            SyncConfig { aggregator_url: "ftp://x".to_owned(), model_public_key: "00".repeat(32), max_jitter_ms: 0 };
        assert!(matches!(DeviceSync::new(&config, privacy.clone(), 4), Err(SyncError::BadUrl { .. })));
        let config =
            SyncConfig { aggregator_url: "http://x".to_owned(), model_public_key: "12".to_owned(), max_jitter_ms: 0 };
        assert_eq!(DeviceSync::new(&config, privacy, 4).err(), Some(SyncError::BadPublicKey));
    }

    #[test]
    fn tampered_wrong_size_or_older_models_keep_the_previous_one() {
        let mut device = device(3);
        assert_eq!(device.install_model(&signed(2, vec![1.0, 2.0, 3.0])), Ok(ModelInstall::Installed { version: 2 }));
        let mut tampered = signed(3, vec![9.0, 9.0, 9.0]);
        tampered[18] ^= 0x40;
        assert_eq!(device.install_model(&tampered), Err(SyncError::ChecksumMismatch));
        let forged = SharedModel { version: 3, weights: vec![9.0; 3] }.encode_signed(&SigningKey::from_bytes(&[1; 32]));
        assert_eq!(device.install_model(&forged), Err(SyncError::BadSignature));
        assert_eq!(
            device.install_model(&signed(3, vec![1.0; 4])),
            Err(SyncError::ModelDimension { got: 4, expected: 3 })
        );
        assert_eq!(device.install_model(&signed(1, vec![0.0; 3])), Err(SyncError::StaleModel { got: 1, current: 2 }));
        assert_eq!(device.shared_model(), Some(&SharedModel { version: 2, weights: vec![1.0, 2.0, 3.0] }));
        assert_eq!(device.install_model(&signed(2, vec![1.0, 2.0, 3.0])), Ok(ModelInstall::Unchanged { version: 2 }));
    }

    #[test]
    fn a_full_round_trip_through_the_in_memory_transport() {
        let transport = InMemoryTransport::new();
        let mut device = device(4);
        assert_eq!(
            run_ready(device.refresh_model(&transport)).err().map(|e| matches!(e, SyncError::Transport { .. })),
            Some(true)
        );
        transport.serve_model(5, signed(5, vec![0.0; 4]));
        assert_eq!(run_ready(device.refresh_model(&transport)), Ok(ModelInstall::Installed { version: 5 }));
        assert_eq!(run_ready(device.refresh_model(&transport)), Ok(ModelInstall::Unchanged { version: 5 }));

        let mut ledger = PrivacyLedger::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let local = [0.5_f32, 0.0, -0.5, 0.0];
        assert!(device.check_upload(&local, 30, true, 1_000, &ledger).is_ok());
        let pending = device.prepare_upload(&local, 30, true, 1_000, &mut ledger, &mut rng).expect("allowed");
        assert!(pending.jitter_ms <= 5_000);
        run_ready(transport.send_update(&pending.body)).expect("sent");

        let sent = transport.sent();
        assert_eq!(sent.len(), 1);
        let message = UpdateMessage::decode(&sent[0]).expect("valid body");
        assert_eq!(message.model_version, 5);
        assert_eq!(message.dimension(), 4);
        assert_eq!(sent[0].len(), 45 + 4, "the body holds the header and the vector, nothing else");
        // The second update in the same day is refused by the ledger, spending nothing.
        assert!(matches!(
            device.prepare_upload(&local, 30, true, 2_000, &mut ledger, &mut rng),
            Err(SyncError::Privacy(crate::privacy::PrivacyError::PeriodLimitReached { .. }))
        ));
    }

    #[test]
    fn two_updates_from_one_device_share_no_bytes_but_the_public_header() {
        let mut device = device(16);
        device.install_model(&signed(1, vec![0.0; 16])).expect("installs");
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let local = [0.1_f32; 16];
        let first = device.prepare_upload(&local, 30, true, 0, &mut PrivacyLedger::default(), &mut rng).expect("ok");
        let second = device.prepare_upload(&local, 30, true, 0, &mut PrivacyLedger::default(), &mut rng).expect("ok");
        let (a, b) = (UpdateMessage::decode(&first.body).expect("a"), UpdateMessage::decode(&second.body).expect("b"));
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(&first.body[..25], &second.body[..25], "version, dimension, clip and noise are public policy");
    }

    /// `current + mean` of `devices` honest updates, each built by the device's own privacy
    /// code from a local model `pull` away on every weight (clipped to C, noised, quantized).
    fn honest_round(current: &[f32], pull: f32, devices: u64, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let privacy = PrivacyParams::new(PrivacyConfig::default()).expect("defaults");
        let builder = UpdateBuilder::new(privacy);
        let local: Vec<f32> = current.iter().map(|w| w + pull).collect();
        let mut sum = vec![0.0_f64; current.len()];
        for device in 0..devices {
            let inputs = UpdateInputs {
                base_version: 1,
                base_weights: current,
                local_weights: &local,
                labelled_impressions: 100,
                full_consent: true,
                now_unix_seconds: device,
            };
            let update = builder.build(&inputs, &mut PrivacyLedger::default(), rng).expect("built");
            for (total, q) in sum.iter_mut().zip(&update.quantized.values) {
                *total += f64::from(*q) * f64::from(update.quantized.scale);
            }
        }
        current.iter().zip(&sum).map(|(w, total)| (f64::from(*w) + total / devices as f64) as f32).collect()
    }

    #[test]
    fn a_model_moved_further_than_a_round_can_is_refused_and_an_honest_next_one_installs() {
        let mut device = device(90);
        // Layout 1's 90 weights: the bound below was worked out for d = 90.
        let first: Vec<f32> = crate::rank::DEFAULT_WEIGHTS[..90].to_vec();
        device.install_model(&signed(1, first.clone())).expect("the first model installs on its signature");
        // d = 90, C = 1, z = 1 (the defaults): 11.863858 per weight (see round_bound's test).
        let bound = device.max_model_step();
        assert!((bound - 11.863_858).abs() < 1e-5, "{bound}");

        // Issue 14's poisoning round: every weight moved by about +50,000, properly signed.
        let poisoned: Vec<f32> = first.iter().map(|w| w + 50_000.0).collect();
        let refused = device.install_model(&signed(2, poisoned));
        assert!(matches!(refused, Err(SyncError::ModelStepTooLarge { version: 2, index: 0, .. })), "{refused:?}");
        assert_eq!(refused.err().map(|e| crate::error_code::Coded::code(&e).as_str()), Some("invalidSyncData"));
        // One weight just past the bound, even with a version gap that claims many rounds.
        let mut one = first.clone();
        one[7] += (bound * 1.001) as f32;
        assert!(matches!(
            device.install_model(&signed(1_000, one)),
            Err(SyncError::ModelStepTooLarge { index: 7, .. })
        ));
        assert_eq!(device.shared_model().map(|m| (m.version, m.weights.clone())), Some((1, first.clone())));

        // An honest round of 20 devices (the floor) pulled +5 on every weight, clipped and
        // noised, moves each weight by far less than the bound: it installs.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let next = honest_round(&first, 5.0, 20, &mut rng);
        assert_eq!(device.install_model(&signed(2, next.clone())), Ok(ModelInstall::Installed { version: 2 }));
        // So does a round just inside the bound on every weight.
        let worst: Vec<f32> = next.iter().map(|w| w - (bound * 0.999) as f32).collect();
        assert_eq!(device.install_model(&signed(3, worst)), Ok(ModelInstall::Installed { version: 3 }));
    }
}
