//! HPKE (RFC 9180, base mode) as DAP-09 uses it: X25519-HKDF-SHA256 / HKDF-SHA256 / AES-128-GCM,
//! `info = label || sender role || recipient role`, and the message's AAD as the caller gives it.

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use janus_messages::{HpkeAeadId, HpkeCiphertext, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId, HpkePublicKey, Role};
use rand_core06::{CryptoRng, RngCore};

use super::DapError;

/// What an HPKE message carries (DAP-09 §6.1, §4.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpkeLabel {
    InputShare,
    AggregateShare,
}

impl HpkeLabel {
    fn bytes(self) -> &'static [u8] {
        match self {
            Self::InputShare => b"dap-09 input share",
            Self::AggregateShare => b"dap-09 aggregate share",
        }
    }
}

/// An aggregator's (or collector's) HPKE config and its private key.
#[derive(Clone)]
pub struct HpkeKeypair {
    pub config: HpkeConfig,
    pub private_key: Vec<u8>,
}

impl HpkeKeypair {
    /// A fresh X25519 keypair under config `id`.
    pub fn generate(id: u8, rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let (private_key, public_key) = X25519HkdfSha256::gen_keypair(rng);
        let config = HpkeConfig::new(
            HpkeConfigId::from(id),
            HpkeKemId::X25519HkdfSha256,
            HpkeKdfId::HkdfSha256,
            HpkeAeadId::Aes128Gcm,
            HpkePublicKey::from(public_key.to_bytes().to_vec()),
        );
        Self { config, private_key: private_key.to_bytes().to_vec() }
    }

    /// Opens a ciphertext sealed to this keypair's config.
    pub fn open(
        &self,
        ciphertext: &HpkeCiphertext,
        label: HpkeLabel,
        sender: Role,
        recipient: Role,
        aad: &[u8],
    ) -> Result<Vec<u8>, DapError> {
        if ciphertext.config_id() != self.config.id() {
            return Err(DapError::Hpke);
        }
        let private_key = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&self.private_key)
            .map_err(|_| DapError::UnsupportedHpkeConfig)?;
        let encapped = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(ciphertext.encapsulated_key())
            .map_err(|_| DapError::Hpke)?;
        hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &private_key,
            &encapped,
            &info(label, sender, recipient),
            ciphertext.payload(),
            aad,
        )
        .map_err(|_| DapError::Hpke)
    }
}

/// The X25519 public key of `config`, or why this device cannot seal to it (another suite or a
/// malformed key): checked when the task is configured and again at every seal.
pub fn public_key(config: &HpkeConfig) -> Result<<X25519HkdfSha256 as Kem>::PublicKey, DapError> {
    if (config.kem_id(), config.kdf_id(), config.aead_id())
        != (&HpkeKemId::X25519HkdfSha256, &HpkeKdfId::HkdfSha256, &HpkeAeadId::Aes128Gcm)
    {
        return Err(DapError::UnsupportedHpkeConfig);
    }
    <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(config.public_key().as_ref())
        .map_err(|_| DapError::UnsupportedHpkeConfig)
}

/// Seals `plaintext` to `config`.
pub fn seal(
    config: &HpkeConfig,
    label: HpkeLabel,
    sender: Role,
    recipient: Role,
    plaintext: &[u8],
    aad: &[u8],
    mut rng: &mut dyn rand_core06::CryptoRngCore,
) -> Result<HpkeCiphertext, DapError> {
    let public_key = public_key(config)?;
    let (encapped, payload) = hpke::single_shot_seal::<AesGcm128, HkdfSha256, X25519HkdfSha256, _>(
        &OpModeS::Base,
        &public_key,
        &info(label, sender, recipient),
        plaintext,
        aad,
        &mut rng,
    )
    .map_err(|_| DapError::Hpke)?;
    Ok(HpkeCiphertext::new(*config.id(), encapped.to_bytes().to_vec(), payload))
}

fn info(label: HpkeLabel, sender: Role, recipient: Role) -> Vec<u8> {
    let mut info = label.bytes().to_vec();
    info.push(sender as u8);
    info.push(recipient as u8);
    info
}

#[cfg(test)]
mod tests {
    use rand_core06::OsRng;

    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_roles_and_aad() {
        let keypair = HpkeKeypair::generate(7, &mut OsRng);
        let sealed =
            seal(&keypair.config, HpkeLabel::InputShare, Role::Client, Role::Leader, b"share", b"aad", &mut OsRng)
                .unwrap();
        let open = |label, recipient, aad: &[u8]| keypair.open(&sealed, label, Role::Client, recipient, aad);
        assert_eq!(open(HpkeLabel::InputShare, Role::Leader, b"aad").unwrap(), b"share");
        assert_eq!(open(HpkeLabel::InputShare, Role::Helper, b"aad"), Err(DapError::Hpke));
        assert_eq!(open(HpkeLabel::InputShare, Role::Leader, b"other"), Err(DapError::Hpke));
        assert_eq!(open(HpkeLabel::AggregateShare, Role::Leader, b"aad"), Err(DapError::Hpke));
    }
}
