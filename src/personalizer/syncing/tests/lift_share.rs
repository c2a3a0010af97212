//! `sharedSums` lift reports through the engine's sync path: two share bodies, one report id,
//! booked at the configured ε, resent together until both servers accepted them.

use super::super::*;
use super::{browse_and_click, open, run_ready, setup, stored_state, SEED, T0};
use crate::adapt::{AdapterConfig, LiftBucket};
use crate::consent::ConsentMode;
use crate::measure::{LiftReportConfig, NoiseMode};
use crate::personalizer::Personalizer;
use crate::storage::MemoryStore;
use crate::sync::{InMemoryTransport, LiftShareMessage, ShareServer};

fn shared(store: &MemoryStore) -> Personalizer<MemoryStore> {
    let mut p = open(store, ConsentMode::Full);
    let noise = NoiseMode::SharedSums { min_cohort: 1000, helper_url: "https://helper.example".into() };
    let lift_report = LiftReportConfig { noise, ..LiftReportConfig::default() };
    p.configure_sync(SyncSetup { lift_report, ..setup(3) }).expect("shared sums at ε 2 fit the budget");
    p.configure_adaptation(AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }, 99).expect("valid");
    p
}

#[test]
fn one_share_goes_to_each_server_with_one_report_id_booked_at_the_configured_epsilon() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    let mut p = shared(&store);
    browse_and_click(&mut p, 3, T0);
    let outcome = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    // Two bodies of 36 + 8 · 77 bytes.
    let SyncOutcome::LiftReportSent { bucket: LiftBucket::Personalized, bytes: 1304, epsilon_this_period, .. } =
        outcome
    else {
        panic!("expected a sent report, got {outcome:?}")
    };
    assert!((epsilon_this_period - 2.0).abs() < 1e-9, "the sum's ε, not 1000 reports' worth: {epsilon_this_period}");
    assert!(transport.lift_reports().is_empty(), "no plain report");
    let shares = transport.lift_shares();
    assert_eq!(
        shares.iter().map(|(server, _)| *server).collect::<Vec<_>>(),
        [ShareServer::Leader, ShareServer::Helper]
    );
    let leader = LiftShareMessage::decode(&shares[0].1).expect("decodes");
    let helper = LiftShareMessage::decode(&shares[1].1).expect("decodes");
    assert_eq!((leader.server, helper.server), (ShareServer::Leader, ShareServer::Helper));
    assert_eq!(leader.report_id, helper.report_id);
    assert_eq!((leader.dimension, leader.share.len()), (11, 77));
    // The two shares add up to the noised session count over its cap (noise z / √K = 9.02 / √1000 =
    // 0.285 caps, clamped to 6.9 of those beyond [0, 1]), a number a single share says nothing about.
    let sessions = crate::measure::shares::decode_fixed(leader.share[0].wrapping_add(helper.share[0]));
    assert!((-1.97..=2.97).contains(&sessions), "sessions / cap = {sessions}");
    assert!((p.sync_ledger_summary(T0 + 60_000.0).epsilon_per_lift_report - 2.0).abs() < 1e-9);
}

#[test]
fn a_helper_failure_keeps_the_pair_booked_and_resends_both_shares() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    let mut p = shared(&store);
    browse_and_click(&mut p, 2, T0);
    transport.refuse_helper_with(Some(SyncError::Transport { message: "helper offline".into() }));
    let failed = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(failed, SyncOutcome::Skipped { reason: SkipReason::SendFailed, .. }), "{failed:?}");
    let booked = p.pending_lift_report().expect("kept for a resend").to_vec();
    assert!(stored_state(&store).expect("saved").pending_lift_report.is_some());
    assert_eq!(transport.lift_shares().len(), 1, "the leader got its share");

    let mut reopened = shared(&store);
    transport.refuse_helper_with(None);
    let outcome = run_ready(reopened.sync_lift_report_with(&transport, T0 + 120_000.0, [3; 32]));
    assert!(matches!(outcome, SyncOutcome::LiftReportSent { resent: true, .. }), "{outcome:?}");
    let shares = transport.lift_shares();
    assert_eq!(shares.len(), 3);
    assert_eq!([shares[1].1.clone(), shares[2].1.clone()].concat(), booked, "the very same bytes");
    assert_eq!(shares[0].1, shares[1].1, "the leader's share again: same id, counted once");
    assert_eq!(reopened.sync_ledger_summary(T0 + 120_000.0).lifetime_lift_reports, 1, "no second spend");
}
