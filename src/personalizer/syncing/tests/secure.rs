//! Model updates through secure aggregation: one DAP-09 report a round to the leader and no plain
//! update, booked as the sum's ε with the collusion figure beside it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::{InputShareAad, Report, Role, TaskId};
use prio::codec::{Decode, Encode};
use rand_core06::OsRng;

use super::*;
use crate::error_code::{Coded, ErrorCode};
use crate::sync::dap::{HpkeKeypair, HpkeLabel};
use crate::sync::SecureAggregationSetup;

const DAY_MS: f64 = 86_400_000.0;

fn secure_setup(leader: &HpkeKeypair, helper: &HpkeKeypair, min_batch_size: Option<u32>) -> SyncSetup {
    let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
    let secure = SecureAggregationSetup {
        leader_url: "https://leader.example".into(),
        helper_url: "https://helper.example".into(),
        task_id: b64(vec![7; 32]),
        leader_hpke_config: b64(leader.config.get_encoded().unwrap()),
        helper_hpke_config: b64(helper.config.get_encoded().unwrap()),
        time_precision_secs: Some(3_600),
        min_batch_size,
    };
    SyncSetup { secure_aggregation: Some(secure), ..setup(3) }
}

fn keys() -> (HpkeKeypair, HpkeKeypair) {
    (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng))
}

fn secure_device(
    store: &MemoryStore,
    min_batch_size: Option<u32>,
) -> (Personalizer<MemoryStore>, HpkeKeypair, HpkeKeypair) {
    let (leader, helper) = keys();
    let mut p = open(store, ConsentMode::Full);
    p.configure_sync(secure_setup(&leader, &helper, min_batch_size)).expect("a valid secure aggregation setup");
    (p, leader, helper)
}

#[test]
fn a_configured_device_sends_exactly_one_dap_report_a_round_and_no_plain_update() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let (mut p, leader, helper) = secure_device(&store, None);
    browse_and_click(&mut p, 4, T0);
    let outcome = run_ready(p.sync_with(&transport, T0 + 200_000.0, SEED));
    let SyncOutcome::Sent { model_version: 1, bytes, resent: false, epsilon_this_period } = outcome else {
        panic!("expected a sent report, got {outcome:?}")
    };
    assert!((epsilon_this_period - 5.756_522).abs() < 1e-5, "the sum's ε: z = 1, δ = 1e-6");
    assert!(transport.sent().is_empty(), "no plain update leaves");
    let reports = transport.dap_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(bytes, reports[0].len());
    println!("DAP report of {NUM_FEATURES} weights: {bytes} bytes");
    assert!(bytes <= 32 * 1024, "the issue's upload budget");
    let report = Report::get_decoded(&reports[0]).expect("the report decodes with janus_messages");
    assert_eq!(report.metadata().time().as_seconds_since_epoch() % 3_600, 0, "time rounded to the precision");
    let aad = InputShareAad::new(TaskId::from([7; 32]), report.metadata().clone(), report.public_share().to_vec());
    let aad = aad.get_encoded().unwrap();
    let share = |keypair: &HpkeKeypair, role| {
        let sealed = match role {
            Role::Leader => report.leader_encrypted_input_share(),
            _ => report.helper_encrypted_input_share(),
        };
        keypair.open(sealed, HpkeLabel::InputShare, Role::Client, role, &aad)
    };
    assert!(share(&leader, Role::Leader).is_ok(), "the leader opens its share");
    assert!(share(&helper, Role::Helper).is_ok(), "the helper opens its share");
    assert!(share(&leader, Role::Helper).is_err(), "but not the other's");

    // A second round the same day: the ledger refuses, nothing more leaves.
    browse_and_click(&mut p, 4, T0 + 300_000.0);
    let again = run_ready(p.sync_with(&transport, T0 + 400_000.0, SEED));
    assert!(matches!(again, SyncOutcome::RefusedByLedger { .. }), "{again:?}");
    // The next day's round sends the next report, again no plain update.
    let next = run_ready(p.sync_with(&transport, T0 + DAY_MS + 1_000.0, [8; 32]));
    assert!(matches!(next, SyncOutcome::Sent { resent: false, .. }), "{next:?}");
    assert_eq!((transport.dap_reports().len(), transport.sent().len()), (2, 0));
    assert_ne!(transport.dap_reports()[0], transport.dap_reports()[1]);
}

#[test]
fn the_ledger_books_the_sums_epsilon_with_the_collusion_figure_beside_it() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let (mut p, _, _) = secure_device(&store, None);
    browse_and_click(&mut p, 4, T0);
    run_ready(p.sync_with(&transport, T0 + 200_000.0, SEED));
    let summary = p.sync_ledger_summary(T0 + 200_000.0);
    assert_eq!((summary.current_period_updates, summary.lifetime_updates), (1, 1));
    assert!((summary.current_period_epsilon - 5.756_522).abs() < 1e-5);
    assert!((summary.epsilon_per_update - 5.756_522).abs() < 1e-5);
    assert!(summary.accounting.contains("do not collude"), "{}", summary.accounting);
    // K = 100, z = 1: ρ = 50, ε = 50 + 2·√(50·13.815511) = 102.566.
    let collusion = p.collusion_epsilon_per_update().expect("shown with secure aggregation");
    assert!((collusion - 102.566).abs() < 1e-3, "{collusion}");
    // K = 25: ρ = 12.5, ε = 12.5 + 2·√(12.5·13.815511) = 38.783.
    let (p25, _, _) = secure_device(&MemoryStore::new(), Some(25));
    assert!((p25.collusion_epsilon_per_update().unwrap() - 38.783).abs() < 1e-3);
    assert_eq!(open(&MemoryStore::new(), ConsentMode::Full).collusion_epsilon_per_update(), None);
}

#[test]
fn a_report_that_failed_to_send_is_resent_as_the_same_bytes() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let (mut p, _, _) = secure_device(&store, None);
    browse_and_click(&mut p, 4, T0);
    transport.refuse_sends_with(Some(crate::sync::SyncError::Transport { message: "offline".into() }));
    let failed = run_ready(p.sync_with(&transport, T0 + 200_000.0, SEED));
    assert!(matches!(failed, SyncOutcome::Skipped { reason: SkipReason::SendFailed, .. }), "{failed:?}");
    let booked = p.pending_upload().expect("kept to resend").to_vec();
    assert_eq!(&booked[..4], b"SPDR");
    transport.refuse_sends_with(None);
    let resent = run_ready(p.sync_with(&transport, T0 + 300_000.0, [9; 32]));
    assert!(matches!(resent, SyncOutcome::Sent { resent: true, .. }), "{resent:?}");
    assert_eq!(transport.dap_reports(), vec![booked[12..].to_vec()]);
    assert_eq!(p.sync_ledger_summary(T0 + 300_000.0).current_period_updates, 1, "booked once");
}

#[test]
fn a_bad_secure_aggregation_setting_is_refused_and_keeps_the_previous_setup() {
    let store = MemoryStore::new();
    let (leader, helper) = keys();
    let mut p = open(&store, ConsentMode::Full);
    let mut bad = secure_setup(&leader, &helper, None);
    if let Some(secure) = bad.secure_aggregation.as_mut() {
        secure.task_id = "short".into();
    }
    let error = p.configure_sync(bad).expect_err("refused");
    assert_eq!(error.code(), ErrorCode::InvalidConfig);
    assert!(error.to_string().contains("taskId"), "{error}");
    assert_eq!(p.collusion_epsilon_per_update(), None, "the plain setup stays");
}

#[test]
fn a_page_that_drops_secure_aggregation_with_a_report_queued_is_not_blocked_from_plain_updates() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let (mut p, _, _) = secure_device(&store, None);
    browse_and_click(&mut p, 4, T0);
    transport.refuse_sends_with(Some(crate::sync::SyncError::Transport { message: "offline".into() }));
    run_ready(p.sync_with(&transport, T0 + 200_000.0, SEED));
    assert_eq!(&p.pending_upload().expect("the report waits to be resent")[..4], b"SPDR");
    transport.refuse_sends_with(None);

    // The page configures sync again without secureAggregation: the report has nowhere to go (it is
    // sealed to the task's aggregators and is no plain update), so it is dropped, saved so, and said.
    p.configure_sync(setup(3)).expect("the plain setup");
    assert!(p.pending_upload().is_none(), "the report is dropped");
    let warning = p.warnings().iter().find(|w| w.code == WarningCode::SendRefused).expect("warned").clone();
    assert!(warning.message.contains("secureAggregation"), "{}", warning.message);
    let reopened = open(&store, ConsentMode::Full);
    assert!(reopened.pending_upload().is_none(), "the drop is stored");

    // Its spend stays booked: nothing more today; the next period's update leaves as a plain update.
    browse_and_click(&mut p, 4, T0 + 300_000.0);
    let today = run_ready(p.sync_with(&transport, T0 + 400_000.0, [8; 32]));
    assert!(matches!(today, SyncOutcome::RefusedByLedger { .. }), "{today:?}");
    let next = run_ready(p.sync_with(&transport, T0 + DAY_MS + 1_000.0, [9; 32]));
    assert!(matches!(next, SyncOutcome::Sent { resent: false, .. }), "{next:?}");
    assert_eq!((transport.sent().len(), transport.dap_reports().len()), (1, 0), "a plain update, no DAP report");
    assert_eq!(p.sync_ledger_summary(T0 + DAY_MS + 1_000.0).lifetime_updates, 2);
}
