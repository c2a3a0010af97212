use janus_messages::{InputShareAad, PlaintextInputShare, Report, Role, TaskId};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::vdaf::prio3::{Prio3InputShare, Prio3PublicShare};
use prio::vdaf::{Aggregator, Collector, PrepareTransition};
use rand_core06::OsRng;

use super::*;
use crate::measure::report::{LiftReportConfig, NoiseMode};
use crate::sync::dap::HpkeKeypair;
use crate::sync::dap::HpkeLabel;

fn config() -> CheckedReportConfig {
    LiftReportConfig { noise: NoiseMode::Local, ..LiftReportConfig::default() }.check().unwrap()
}

#[test]
fn the_default_encoding_matches_a_hand_computation() {
    let encoding = LiftEncoding::new(&config(), 1000).unwrap();
    // D = 11, M = 66: ρ(ε 2, δ 1e-6) = 0.067574; z₁ = √(11 / (1.5 · 0.067574)) = 10.417.
    assert!((encoding.value_multiplier() - 10.417).abs() < 1e-3, "{}", encoding.value_multiplier());
    // Share per value: 10.417 / √1000 = 0.32943 caps = 84.334 steps; t = √(2 ln(2·77 / 1e-15)) = 8.8967.
    assert!((encoding.value_share_std() - 0.329_43).abs() < 1e-4);
    assert_eq!(encoding.length(), 77, "one bucket's block: D + M = 11 + 66");
    // z₂ = √(66 / (0.5 · 0.067574)) = 44.197: 357.80 steps, offset ⌈8.8967 · 357.80⌉ = 3184;
    // 256 + 2 · 3184 = 6624 < 2^13.
    assert_eq!(encoding.bits(), 13);
    // The value offset ⌈8.8967 · 84.334⌉ = 751: a value entry decodes to [−751, 8191 − 751]
    // steps of 1/256 cap, so a report moves a value's sum by at most 29.06 caps (an honest one
    // by 1 plus its noise).
    assert!((encoding.max_report_shift() - 29.0625).abs() < 1e-3, "{}", encoding.max_report_shift());
    assert!(encoding.length() * encoding.bits() <= MAX_ENCODED_ELEMENTS);
    assert!(LiftEncoding::new(&config(), 10_000_000).is_err(), "a share of 0.85 steps is too fine");
}

/// The test's lift task: `encoding`'s measurement, sealed to `leader` and `helper`.
fn lift_task(encoding: &LiftEncoding, leader: &HpkeKeypair, helper: &HpkeKeypair) -> DapTask {
    DapTask {
        task_id: TaskId::from([4; 32]),
        leader_config: leader.config.clone(),
        helper_config: helper.config.clone(),
        dimension: encoding.length(),
        clip_bound: 1.0,
        time_precision_secs: 3600,
    }
}

/// Prepares `report` as both aggregators (verify key of the test) and returns the output shares.
fn prepare(
    vdaf: &LiftVdaf,
    report: &Report,
    keys: (&HpkeKeypair, &HpkeKeypair),
    task_id: TaskId,
) -> Result<[prio::vdaf::OutputShare<prio::field::Field128>; 2], String> {
    let aad =
        InputShareAad::new(task_id, report.metadata().clone(), report.public_share().to_vec()).get_encoded().unwrap();
    let open = |key: &HpkeKeypair, role, ciphertext, index| {
        let plaintext =
            key.open(ciphertext, HpkeLabel::InputShare, Role::Client, role, &aad).map_err(|e| e.to_string())?;
        let plaintext = PlaintextInputShare::get_decoded(&plaintext).map_err(|e| e.to_string())?;
        Prio3InputShare::get_decoded_with_param(&(vdaf, index), plaintext.payload()).map_err(|e| e.to_string())
    };
    let leader = open(keys.0, Role::Leader, report.leader_encrypted_input_share(), 0)?;
    let helper = open(keys.1, Role::Helper, report.helper_encrypted_input_share(), 1)?;
    let public = Prio3PublicShare::get_decoded_with_param(vdaf, report.public_share()).map_err(|e| e.to_string())?;
    let verify_key = [5u8; 16];
    let id: &[u8; 16] = report.metadata().id().as_ref();
    let (s0, m0) = vdaf.prepare_init(&verify_key, 0, &(), id, &public, &leader).map_err(|e| e.to_string())?;
    let (s1, m1) = vdaf.prepare_init(&verify_key, 1, &(), id, &public, &helper).map_err(|e| e.to_string())?;
    let message = vdaf.prepare_shares_to_prepare_message(&(), [m0, m1]).map_err(|e| e.to_string())?;
    let finish = |state| match vdaf.prepare_next(state, message.clone()) {
        Ok(PrepareTransition::Finish(output)) => Ok(output),
        other => Err(format!("{other:?}")),
    };
    Ok([finish(s0)?, finish(s1)?])
}

#[test]
fn device_reports_decode_with_janus_messages_and_prio_and_sum_to_the_clipped_counts() {
    // One bucket's task: every report of it is that bucket's.
    let config = config();
    let encoding = LiftEncoding::new(&config, 100).unwrap();
    let vdaf = encoding.vdaf().unwrap();
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let task = lift_task(&encoding, &leader, &helper);
    let (mut outputs, mut measurements) = (vec![Vec::new(), Vec::new()], Vec::new());
    let devices = 30u64;
    for device in 0..devices {
        let mut values = vec![0.0; 11];
        values[0] = (device % 12) as f64; // sessions, cap 10: 10 and 11 clip to 10.
        values[4] = (device % 3) as f64 * 50.0; // revenue of recommended home items, cap 300
        let measurement = encoding.measurement(&values, &mut OsRng).unwrap();
        assert_eq!(measurement.len(), 77);
        assert!(measurement.iter().all(|&entry| entry < 1 << encoding.bits()));
        let report = build_lift_report(&task, &encoding, &measurement, 1_700_000_000, &mut OsRng).unwrap();
        let bytes = report.get_encoded().unwrap();
        let decoded = Report::get_decoded(&bytes).unwrap();
        assert_eq!(decoded.get_encoded().unwrap(), bytes, "re-encodes to the same bytes");
        let [a, b] = prepare(&vdaf, &decoded, (&leader, &helper), task.task_id).expect("the proof verifies");
        outputs[0].push(a);
        outputs[1].push(b);
        measurements.push(measurement);
    }
    let shares = outputs.into_iter().map(|o| vdaf.aggregate(&(), o).unwrap());
    let total = vdaf.unshard(&(), shares, devices as usize).unwrap();
    let expected: Vec<u128> = (0..encoding.length()).map(|i| measurements.iter().map(|m| m[i]).sum()).collect();
    assert_eq!(total, expected, "the aggregate is the sum of the measurements");
    let bucket = encoding.decode(&total, devices).unwrap();
    assert_eq!(bucket.reports, devices);
    // Sessions: the clipped counts (twice 0..=9, 10, 10, then 0..=5: 2 · 65 + 15 = 145) plus noise
    // of sd 0.104 caps · √30 per sum, in sessions of cap 10.
    let sessions: f64 = (0..devices).map(|d| ((d % 12) as f64).min(10.0)).sum();
    assert_eq!(sessions, 145.0);
    let sd = encoding.value_share_std() * 10.0 * (devices as f64).sqrt();
    assert!((bucket.sums[0] - sessions).abs() < 7.0 * sd + 1.0, "{} vs {sessions}", bucket.sums[0]);
    // Revenue (cap 300): 10 devices each of 0, 50 and 100.
    let sd_revenue = encoding.value_share_std() * 300.0 * (devices as f64).sqrt();
    assert!((bucket.sums[4] - 1500.0).abs() < 7.0 * sd_revenue + 1.0, "{}", bucket.sums[4]);
    assert_eq!(bucket.products.len(), 66);
}

#[test]
fn a_tampered_share_fails_the_proof() {
    let encoding = LiftEncoding::new(&config(), 100).unwrap();
    let vdaf = encoding.vdaf().unwrap();
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let measurement = encoding.measurement(&[1.0; 11], &mut OsRng).unwrap();
    let (public, shares) = vdaf.shard(&measurement, &[1; 16]).unwrap();
    let mut leader_share = shares[0].get_encoded().unwrap();
    leader_share[3] ^= 1; // one bit of the measurement share
    let task = lift_task(&encoding, &leader, &helper);
    let report = crate::sync::dap::report::seal_shares(
        &task,
        janus_messages::ReportId::from([1; 16]),
        1_700_000_000,
        public.get_encoded().unwrap(),
        [leader_share, shares[1].get_encoded().unwrap()],
        &mut OsRng,
    )
    .unwrap();
    assert!(prepare(&vdaf, &report, (&leader, &helper), task.task_id).is_err());
}
