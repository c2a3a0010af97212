//! Interop evidence: a report made by the device code, read by an independent reader built only
//! from `janus_messages` (DAP-09 decoding), the `hpke` crate (RFC 9180 opening with DAP-09's
//! info string and AAD, written here from the draft, not through our sealing code) and `prio`
//! (Prio3 decoding and preparation as two aggregators), and its unsharded sum is the update.
#![cfg(all(not(target_arch = "wasm32"), feature = "secure-aggregation"))]

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, Serializable};
use janus_messages::{
    HpkeAeadId, HpkeCiphertext, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId, HpkePublicKey, InputShareAad,
    PlaintextInputShare, Report, TaskId,
};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::vdaf::prio3::{Prio3FixedPointBoundedL2VecSum, Prio3InputShare, Prio3PublicShare};
use prio::vdaf::{Aggregator, Collector, PrepareTransition};
use rand_core06::OsRng;
use shop_personalizer::sync::dap::{build_report, DapTask};

type Vdaf = Prio3FixedPointBoundedL2VecSum<fixed::FixedI16<fixed::types::extra::U15>>;

fn keypair(id: u8) -> (HpkeConfig, <X25519HkdfSha256 as Kem>::PrivateKey) {
    let (private, public) = X25519HkdfSha256::gen_keypair(&mut OsRng);
    let config = HpkeConfig::new(
        HpkeConfigId::from(id),
        HpkeKemId::X25519HkdfSha256,
        HpkeKdfId::HkdfSha256,
        HpkeAeadId::Aes128Gcm,
        HpkePublicKey::from(public.to_bytes().to_vec()),
    );
    (config, private)
}

/// DAP-09 §4.4.2: info = "dap-09 input share" || 0x01 (client) || server role (0x02 leader, 0x03 helper).
fn open(private: &<X25519HkdfSha256 as Kem>::PrivateKey, sealed: &HpkeCiphertext, role: u8, aad: &[u8]) -> Vec<u8> {
    let mut info = b"dap-09 input share".to_vec();
    info.extend_from_slice(&[1, role]);
    let encapped = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(sealed.encapsulated_key()).expect("encapped key");
    hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        private,
        &encapped,
        &info,
        sealed.payload(),
        aad,
    )
    .expect("opens")
}

#[test]
fn a_device_report_decodes_opens_and_prepares_with_the_reference_crates() {
    let ((leader_config, leader_key), (helper_config, helper_key)) = (keypair(1), keypair(2));
    let task_id = TaskId::from([0x42; 32]);
    let task =
        DapTask { task_id, leader_config, helper_config, dimension: 90, clip_bound: 2.0, time_precision_secs: 60 };
    let update: Vec<f32> = (0..90).map(|i| if i % 3 == 0 { 0.15 } else { -0.05 }).collect();
    let bytes = build_report(&task, &update, 1_700_000_123, &mut OsRng).expect("report").get_encoded().unwrap();

    let report = Report::get_decoded(&bytes).expect("a DAP-09 report");
    assert_eq!(report.metadata().time().as_seconds_since_epoch(), 1_700_000_100);
    let aad =
        InputShareAad::new(task_id, report.metadata().clone(), report.public_share().to_vec()).get_encoded().unwrap();
    let vdaf = Vdaf::new_fixedpoint_boundedl2_vec_sum(2, 90).unwrap();
    let public = Prio3PublicShare::get_decoded_with_param(&vdaf, report.public_share()).expect("public share");
    let nonce = report.metadata().id().as_ref();
    let verify_key = [7u8; 16];
    let mut states = Vec::new();
    let mut prep_shares = Vec::new();
    for (index, (sealed, key, role)) in [
        (report.leader_encrypted_input_share(), &leader_key, 2u8),
        (report.helper_encrypted_input_share(), &helper_key, 3u8),
    ]
    .into_iter()
    .enumerate()
    {
        let plaintext = PlaintextInputShare::get_decoded(&open(key, sealed, role, &aad)).expect("plaintext share");
        assert!(plaintext.extensions().is_empty());
        let share = Prio3InputShare::get_decoded_with_param(&(&vdaf, index), plaintext.payload()).expect("input share");
        let (state, prep_share) = vdaf.prepare_init(&verify_key, index, &(), nonce, &public, &share).expect("prepares");
        states.push(state);
        prep_shares.push(prep_share);
    }
    let message = vdaf.prepare_shares_to_prepare_message(&(), prep_shares).expect("the proof verifies");
    let outputs: Vec<_> = states
        .into_iter()
        .map(|state| match vdaf.prepare_next(state, message.clone()).expect("finishes") {
            PrepareTransition::Finish(output) => output,
            _ => panic!("Prio3 finishes in one round"),
        })
        .collect();
    let shares = outputs.into_iter().map(|output| vdaf.aggregate(&(), [output]).unwrap());
    let sum = vdaf.unshard(&(), shares, 1).expect("unshards");
    // The measurement is update · 0.999 / C, to 2^-15.
    for (got, want) in sum.iter().zip(&update) {
        assert!((got * 2.0 / 0.999 - f64::from(*want)).abs() < 1e-4, "{got} vs {want}");
    }
}
