//! The lift report through the engine's sync path, natively over the in-memory store and transport.

use super::super::*;
use super::{browse_and_click, open, run_ready, setup, signed, stored_state, SEED, T0};
use crate::adapt::{AdapterConfig, LiftBucket};
use crate::consent::ConsentMode;
use crate::measure::LiftReportConfig;
use crate::personalizer::Personalizer;
use crate::storage::MemoryStore;
use crate::sync::{InMemoryTransport, LiftReportMessage};

/// T0 is 80,000 s into its day: the next day starts 6,400 s later.
const NEXT_DAY: f64 = T0 + 6_500_000.0;

fn adapted(store: &MemoryStore, holdout_share: f64) -> Personalizer<MemoryStore> {
    let mut p = open(store, ConsentMode::Full);
    p.configure_adaptation(AdapterConfig { holdout_share, ..AdapterConfig::default() }, 99).expect("valid");
    p
}

#[test]
fn one_report_a_period_leaves_booked_in_the_ledger_and_decodes_as_documented() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    let mut p = adapted(&store, 0.0);
    browse_and_click(&mut p, 3, T0);
    let outcome = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    let SyncOutcome::LiftReportSent { bucket: LiftBucket::Personalized, bytes: 80, resent: false, epsilon_this_period } =
        outcome
    else {
        panic!("expected a sent lift report, got {outcome:?}")
    };
    // ε = 2 per report by default (ρ = 0.067574).
    assert!((epsilon_this_period - 2.0).abs() < 1e-9, "{epsilon_this_period}");
    let sent = transport.lift_reports();
    assert_eq!(sent.len(), 1);
    let body = &sent[0];
    assert_eq!(&body[0..4], b"SPLR");
    assert_eq!((body[4], body[5]), (1, 0), "format 1, personalized");
    assert_eq!(u16::from_le_bytes([body[6], body[7]]), 11, "1 + 10 × (0 placements + (other))");
    let config = LiftReportConfig::default().check().expect("valid");
    let message = LiftReportMessage::decode(body).expect("decodes");
    assert_eq!(message.fingerprint, config.fingerprint());
    assert!((f64::from(message.noise_multiplier) - config.noise_multiplier()).abs() < 1e-5);
    let text = String::from_utf8_lossy(body);
    assert!(!text.contains("sku") && !text.contains("home"), "no ids or placement names");

    let summary = p.sync_ledger_summary(T0 + 60_000.0);
    assert_eq!((summary.current_period_lift_reports, summary.lifetime_lift_reports), (1, 1));
    assert!((summary.epsilon_per_lift_report - 2.0).abs() < 1e-9);
    browse_and_click(&mut p, 1, T0 + 100_000.0);
    let again = run_ready(p.sync_lift_report_with(&transport, T0 + 200_000.0, SEED));
    assert!(matches!(again, SyncOutcome::Skipped { reason: SkipReason::LiftReportNotDue, .. }), "{again:?}");
    let next_day = run_ready(p.sync_lift_report_with(&transport, NEXT_DAY, [8; 32]));
    assert!(
        matches!(next_day, SyncOutcome::LiftReportSent { .. }),
        "the session counted after the report: {next_day:?}"
    );
    assert_eq!(transport.lift_reports().len(), 2);
    assert_ne!(transport.lift_reports()[0][20..36], transport.lift_reports()[1][20..36], "a fresh seed, a fresh nonce");
}

#[test]
fn a_failed_send_keeps_the_booked_bytes_and_resends_them() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    let mut p = adapted(&store, 0.0);
    browse_and_click(&mut p, 2, T0);
    transport.refuse_sends_with(Some(SyncError::Transport { message: "offline".into() }));
    let failed = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(failed, SyncOutcome::Skipped { reason: SkipReason::SendFailed, .. }), "{failed:?}");
    let booked = p.pending_lift_report().expect("kept for a resend").to_vec();
    let stored = stored_state(&store).expect("saved before the bytes were handed out");
    assert_eq!(stored.pending_lift_report.as_deref(), Some(stored::to_hex(&booked).as_str()));
    assert_eq!(stored.ledger.summary(&p.extension.syncing.params(), 0).lifetime_lift_reports, 1, "spend booked");

    // A new page (same storage) resends exactly those bytes.
    let mut reopened = adapted(&store, 0.0);
    transport.refuse_sends_with(None);
    let outcome = run_ready(reopened.sync_lift_report_with(&transport, T0 + 120_000.0, [3; 32]));
    assert!(matches!(outcome, SyncOutcome::LiftReportSent { resent: true, .. }), "{outcome:?}");
    assert_eq!(transport.lift_reports(), vec![booked]);
    assert_eq!(reopened.pending_lift_report(), None);
    assert_eq!(reopened.sync_ledger_summary(T0 + 120_000.0).lifetime_lift_reports, 1, "no second spend");
}

#[test]
fn update_and_report_compose_under_the_daily_budget() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &crate::rank::DEFAULT_WEIGHTS));
    let mut p = adapted(&store, 0.0);
    browse_and_click(&mut p, 4, T0);
    let update = run_ready(p.sync_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(update, SyncOutcome::Sent { .. }), "{update:?}");
    assert_eq!((transport.sent().len(), transport.lift_reports().len()), (1, 1), "sync_with sends both");
    let summary = p.sync_ledger_summary(T0 + 60_000.0);
    // ρ = 0.5 + 0.067574 = 0.567574: ε = 0.567574 + 2 √(0.567574 × 13.815511) = 6.168046.
    assert!((summary.current_period_epsilon - 6.168_046).abs() < 1e-5, "{}", summary.current_period_epsilon);
    assert_eq!((summary.current_period_updates, summary.current_period_lift_reports), (1, 1));
    assert_eq!(summary.history[0].lift_reports, 1);
}

#[test]
fn nothing_is_due_without_adaptation_a_session_or_full_consent() {
    let transport = InMemoryTransport::new();
    let store = MemoryStore::new();
    let mut unadapted = open(&store, ConsentMode::Full);
    browse_and_click(&mut unadapted, 2, T0);
    let outcome = run_ready(unadapted.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(outcome, SyncOutcome::Skipped { reason: SkipReason::LiftReportNotDue, .. }), "{outcome:?}");
    let idle = adapted(&MemoryStore::new(), 0.0);
    let mut idle = idle;
    let outcome = run_ready(idle.sync_lift_report_with(&transport, T0, SEED));
    assert!(matches!(outcome, SyncOutcome::Skipped { reason: SkipReason::LiftReportNotDue, .. }), "{outcome:?}");
    assert_eq!(idle.sync_ledger_summary(T0).lifetime_lift_reports, 0, "nothing booked");
    let mut session = open(&MemoryStore::new(), ConsentMode::Session);
    session.configure_adaptation(AdapterConfig::default(), 5).expect("valid");
    browse_and_click(&mut session, 2, T0);
    let outcome = run_ready(session.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(outcome, SyncOutcome::Skipped { reason: SkipReason::NoConsent, .. }), "{outcome:?}");
    assert!(transport.lift_reports().is_empty());
}

#[test]
fn a_holdout_device_reports_its_bucket() {
    let transport = InMemoryTransport::new();
    let mut p = adapted(&MemoryStore::new(), 1.0);
    assert_eq!(p.lift_bucket(), Some(LiftBucket::Holdout));
    browse_and_click(&mut p, 2, T0);
    let outcome = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(outcome, SyncOutcome::LiftReportSent { bucket: LiftBucket::Holdout, .. }), "{outcome:?}");
    assert_eq!(transport.lift_reports()[0][5], 1);
}

#[test]
fn lift_settings_that_do_not_fit_the_budget_or_delta_are_refused() {
    let store = MemoryStore::new();
    let mut p = open(&store, ConsentMode::Full);
    let loud = SyncSetup { lift_report: LiftReportConfig { epsilon: 8.0, ..LiftReportConfig::default() }, ..setup(3) };
    let error = p.configure_sync(loud).expect_err("ε 8 report + ε 5.76 update exceed 8");
    assert!(error.to_string().contains("lower liftReport.epsilon"), "{error}");
    let other_delta =
        SyncSetup { lift_report: LiftReportConfig { delta: 1e-5, ..LiftReportConfig::default() }, ..setup(3) };
    assert!(matches!(p.configure_sync(other_delta), Err(SyncingError::LiftDelta { .. })));
    let bad = SyncSetup { lift_report: LiftReportConfig { epsilon: -1.0, ..LiftReportConfig::default() }, ..setup(3) };
    assert!(matches!(p.configure_sync(bad), Err(SyncingError::LiftReport(_))));
}
