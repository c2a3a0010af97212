use janus_messages::{HpkeConfig, Report, Role, TaskId};
use prio::codec::{Decode, Encode};
use rand_core06::OsRng;

use super::*;
use crate::sync::dap::HpkeKeypair;

fn task(leader: &HpkeConfig, helper: &HpkeConfig) -> DapTask {
    DapTask {
        task_id: TaskId::from([3; 32]),
        leader_config: leader.clone(),
        helper_config: helper.clone(),
        dimension: 90,
        clip_bound: 1.0,
        time_precision_secs: 3600,
    }
}

#[test]
fn a_report_of_dimension_90_fits_the_32_kb_upload_budget_and_round_trips() {
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let update: Vec<f32> = (0..90).map(|i| ((i as f32) * 0.37).sin() * 0.1).collect();
    let report = build_report(&task(&leader.config, &helper.config), &update, 1_700_003_599, &mut OsRng).unwrap();
    let bytes = report.get_encoded().unwrap();
    assert!(bytes.len() <= 32 * 1024, "{} bytes", bytes.len());
    let decoded = Report::get_decoded(&bytes).unwrap();
    assert_eq!(decoded, report);
    assert_eq!(decoded.metadata().time().as_seconds_since_epoch(), 1_700_002_800, "rounded down to the hour");
    let aad = encoded(&janus_messages::InputShareAad::new(
        TaskId::from([3; 32]),
        decoded.metadata().clone(),
        decoded.public_share().to_vec(),
    ))
    .unwrap();
    let opened =
        leader.open(decoded.leader_encrypted_input_share(), HpkeLabel::InputShare, Role::Client, Role::Leader, &aad);
    assert!(opened.is_ok());
    let wrong =
        helper.open(decoded.leader_encrypted_input_share(), HpkeLabel::InputShare, Role::Client, Role::Helper, &aad);
    assert!(wrong.is_err(), "the helper cannot read the leader's share");
}

#[test]
fn a_report_of_the_wrong_dimension_is_refused() {
    let keypair = HpkeKeypair::generate(1, &mut OsRng);
    let error = build_report(&task(&keypair.config, &keypair.config), &[0.0; 10], 0, &mut OsRng).unwrap_err();
    assert_eq!(error, DapError::Dimension { got: 10, expected: 90 });
}
