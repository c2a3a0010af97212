//! Lift reports as DAP-09 reports (`liftReport.noise` `secureAggregation`, one task per bucket)
//! through the engine's sync path, and two retirements: `sharedSums` (refused for new settings,
//! and a share pair a device booked under it, a fixture written by the code before the
//! retirement, dropped with a warning, its spend kept) and the single lift task of both buckets
//! (a report booked for it dropped the same way).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use janus_messages::{InputShareAad, Report, Role, TaskId};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::vdaf::prio3::Prio3InputShare;
use rand_core06::OsRng;

use super::super::*;
use super::{browse_and_click, open, run_ready, setup, stored_state, SEED, T0};
use crate::adapt::{AdapterConfig, LiftBucket};
use crate::consent::ConsentMode;
use crate::error_code::{Coded, ErrorCode};
use crate::measure::{LiftReportConfig, NoiseMode};
use crate::personalizer::Personalizer;
use crate::storage::{KeyValueStore, MemoryStore, WarningCode};
use crate::sync::dap::{HpkeKeypair, HpkeLabel, LiftEncoding};
use crate::sync::{InMemoryTransport, LiftTasks, SecureAggregationSetup};

/// A sync state written before `sharedSums` was retired: one lift report booked (ρ 0.0676) and
/// its share pair pending (the helper was offline).
const SHARED_SUMS_PENDING: &str = include_str!("../../../../tests/fixtures/stored/sync_shared_sums_pending_v1.json");

/// The task ids of the personalized and the holdout lift task.
const PERSONALIZED_TASK: [u8; 32] = [9; 32];
const HOLDOUT_TASK: [u8; 32] = [10; 32];

/// The two lift tasks, both on the same leader and helper (with the same HPKE keys).
fn lift_tasks(leader: &HpkeKeypair, helper: &HpkeKeypair) -> LiftTasks {
    let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
    let task = |id: [u8; 32]| SecureAggregationSetup {
        leader_url: "https://lift-leader.example".into(),
        helper_url: "https://lift-helper.example".into(),
        task_id: b64(id.to_vec()),
        leader_hpke_config: b64(leader.config.get_encoded().unwrap()),
        helper_hpke_config: b64(helper.config.get_encoded().unwrap()),
        time_precision_secs: None,
        min_batch_size: None,
    };
    LiftTasks { personalized: task(PERSONALIZED_TASK), holdout: task(HOLDOUT_TASK) }
}

/// A device with the lift `tasks`, in the holdout (`holdout_share` 1) or not (0).
fn secure_lift_in(store: &MemoryStore, tasks: LiftTasks, holdout_share: f64) -> Personalizer<MemoryStore> {
    let mut p = open(store, ConsentMode::Full);
    let noise = NoiseMode::SecureAggregation { min_cohort: 1000, tasks: Box::new(tasks) };
    let lift_report = LiftReportConfig { noise, ..LiftReportConfig::default() };
    p.configure_sync(SyncSetup { lift_report, ..setup(3) }).expect("secure lift reports at ε 2 fit the budget");
    p.configure_adaptation(AdapterConfig { holdout_share, ..AdapterConfig::default() }, 99).expect("valid");
    p
}

fn secure_lift(store: &MemoryStore, tasks: LiftTasks) -> Personalizer<MemoryStore> {
    secure_lift_in(store, tasks, 0.0)
}

/// Opens the leader's input share of `report` as the leader of `task_id` would.
fn open_for_task(leader: &HpkeKeypair, report: &Report, task_id: [u8; 32]) -> Option<Vec<u8>> {
    let aad = InputShareAad::new(TaskId::from(task_id), report.metadata().clone(), report.public_share().to_vec())
        .get_encoded()
        .unwrap();
    leader.open(report.leader_encrypted_input_share(), HpkeLabel::InputShare, Role::Client, Role::Leader, &aad).ok()
}

#[test]
fn shared_sums_settings_are_refused_with_a_pointer_to_the_dap_mode() {
    let mut p = open(&MemoryStore::new(), ConsentMode::Full);
    let noise = NoiseMode::SharedSums { min_cohort: 1000, helper_url: "https://helper.example".into() };
    let lift_report = LiftReportConfig { noise, ..LiftReportConfig::default() };
    let error = p.configure_sync(SyncSetup { lift_report, ..setup(3) }).expect_err("retired");
    assert_eq!(error.code(), ErrorCode::InvalidConfig);
    assert!(error.to_string().contains("secureAggregation"), "{error}");
}

#[test]
fn a_share_pair_booked_before_the_retirement_is_dropped_with_a_warning_and_its_spend_kept() {
    let mut store = MemoryStore::new();
    store.set("shop-personalizer:acme:sync", SHARED_SUMS_PENDING).expect("no quota");
    let mut p = open(&store, ConsentMode::Full);
    let warnings = p.take_warnings();
    assert!(
        warnings.iter().any(|w| w.code == WarningCode::SendRefused && w.message.contains("sharedSums is retired")),
        "{warnings:?}"
    );
    assert_eq!(p.pending_lift_report(), None);
    assert_eq!(stored_state(&store).expect("saved").pending_lift_report, None, "the drop is saved");
    let ledger = p.sync_ledger_summary(T0 + 120_000.0);
    assert_eq!(ledger.lifetime_lift_reports, 1, "the booked spend stays");
    assert!((ledger.current_period_epsilon - 2.0).abs() < 1e-9, "{}", ledger.current_period_epsilon);
}

#[test]
fn a_secure_lift_report_leaves_as_one_dap_report_booked_at_the_sums_epsilon() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let mut p = secure_lift(&store, lift_tasks(&leader, &helper));
    browse_and_click(&mut p, 3, T0);
    let outcome = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    let SyncOutcome::LiftReportSent { bucket: LiftBucket::Personalized, bytes, epsilon_this_period, .. } = outcome
    else {
        panic!("expected a sent report, got {outcome:?}")
    };
    assert!((epsilon_this_period - 2.0).abs() < 1e-9, "the sum's ε: {epsilon_this_period}");
    // 77 entries of 13 bits (K = 1000, one bucket's block): the leader's share holds the 1,001
    // field elements of the measurement plus the proof, 16 bytes each; the helper's is seeds.
    assert_eq!(bytes, 19_318, "the wire size the README gives (35,958 with both buckets' blocks)");
    // ρ = 0.0676 booked; colluding aggregators see one report with 1/1000 of the noise variance.
    let collusion = p.collusion_epsilon_per_lift_report().expect("shown");
    assert!((collusion - crate::measure::report::epsilon_for(67.574, 1e-6)).abs() < 0.05, "{collusion}");
    assert!(transport.lift_reports().is_empty(), "no plain report");
    let reports = transport.lift_dap_reports();
    assert_eq!((reports.len(), reports[0].0, reports[0].1.len()), (1, LiftBucket::Personalized, bytes));
    let report = Report::get_decoded(&reports[0].1).expect("a DAP-09 report");
    let opened = open_for_task(&leader, &report, PERSONALIZED_TASK).expect("sealed to the personalized lift task");
    assert!(open_for_task(&leader, &report, HOLDOUT_TASK).is_none(), "the holdout task cannot open it");
    let plaintext = janus_messages::PlaintextInputShare::get_decoded(&opened).unwrap();
    let lift = LiftReportConfig { noise: NoiseMode::Local, ..LiftReportConfig::default() }.check().unwrap();
    let vdaf = LiftEncoding::new(&lift, 1000).unwrap().vdaf().unwrap();
    assert!(Prio3InputShare::get_decoded_with_param(&(&vdaf, 0), plaintext.payload()).is_ok());

    // A failed send keeps the very same bytes; reopened on a page without the lift task, they
    // are dropped with a warning and the spend stays.
    let again = run_ready(p.sync_lift_report_with(&transport, T0 + 120_000.0, [3; 32]));
    assert!(matches!(again, SyncOutcome::Skipped { .. }), "one a period: {again:?}");
    transport.refuse_sends_with(Some(SyncError::Transport { message: "offline".into() }));
    let store2 = MemoryStore::new();
    let mut q = secure_lift(&store2, lift_tasks(&leader, &helper));
    browse_and_click(&mut q, 2, T0);
    let failed = run_ready(q.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(failed, SyncOutcome::Skipped { reason: SkipReason::SendFailed, .. }), "{failed:?}");
    assert!(q.pending_lift_report().is_some());
    let mut plain = open(&store2, ConsentMode::Full);
    assert!(plain.take_warnings().iter().any(|w| w.message.contains("no longer configures")));
    assert_eq!(plain.pending_lift_report(), None);
    assert_eq!(plain.sync_ledger_summary(T0 + 60_000.0).lifetime_lift_reports, 1);
}

#[test]
fn a_holdout_device_reports_to_the_holdout_task_only() {
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let transport = InMemoryTransport::new();
    let mut p = secure_lift_in(&MemoryStore::new(), lift_tasks(&leader, &helper), 1.0);
    browse_and_click(&mut p, 3, T0);
    let outcome = run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(outcome, SyncOutcome::LiftReportSent { bucket: LiftBucket::Holdout, .. }), "{outcome:?}");
    let reports = transport.lift_dap_reports();
    assert_eq!((reports.len(), reports[0].0), (1, LiftBucket::Holdout), "sent to the holdout task's URL");
    let report = Report::get_decoded(&reports[0].1).expect("a DAP-09 report");
    assert!(open_for_task(&leader, &report, HOLDOUT_TASK).is_some(), "sealed to the holdout task");
    assert!(
        open_for_task(&leader, &report, PERSONALIZED_TASK).is_none(),
        "its shares name the holdout task: the personalized task's aggregators cannot open (so cannot sum) it"
    );
}

#[test]
fn the_same_task_for_both_buckets_is_refused() {
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let mut tasks = lift_tasks(&leader, &helper);
    tasks.holdout.task_id = tasks.personalized.task_id.clone();
    let mut p = open(&MemoryStore::new(), ConsentMode::Full);
    let noise = NoiseMode::SecureAggregation { min_cohort: 1000, tasks: Box::new(tasks) };
    let lift_report = LiftReportConfig { noise, ..LiftReportConfig::default() };
    let error = p.configure_sync(SyncSetup { lift_report, ..setup(3) }).expect_err("one task per bucket");
    assert_eq!(error.code(), ErrorCode::InvalidConfig);
    assert!(error.to_string().contains("each bucket needs its own DAP task"), "{error}");
}

#[test]
fn a_report_booked_for_the_single_lift_task_is_dropped_with_a_warning_and_its_spend_kept() {
    let (leader, helper) = (HpkeKeypair::generate(1, &mut OsRng), HpkeKeypair::generate(2, &mut OsRng));
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.refuse_sends_with(Some(SyncError::Transport { message: "offline".into() }));
    let mut p = secure_lift(&store, lift_tasks(&leader, &helper));
    browse_and_click(&mut p, 2, T0);
    run_ready(p.sync_lift_report_with(&transport, T0 + 60_000.0, SEED));
    p.flush(T0 + 60_000.0).expect("saved");
    // What the code before one task per bucket booked: `SPLD`, the bucket, a report of the
    // single task (its bytes do not matter: no configured task can take them).
    let mut state = stored_state(&store).expect("saved");
    assert!(state.pending_lift_report.as_deref().is_some_and(|hex| hex.starts_with("53504c54")), "SPLT");
    state.pending_lift_report = Some(stored::to_hex(b"SPLD\x00a single-task report"));
    let mut store = store.clone();
    store.set("shop-personalizer:acme:sync", &stored::encode_sync(&state).unwrap()).expect("no quota");
    let mut q = secure_lift(&store, lift_tasks(&leader, &helper));
    let warnings = q.take_warnings();
    assert!(
        warnings.iter().any(|w| w.code == WarningCode::SendRefused && w.message.contains("single lift task")),
        "{warnings:?}"
    );
    assert_eq!(q.pending_lift_report(), None);
    assert_eq!(stored_state(&store).expect("saved").pending_lift_report, None, "the drop is saved");
    assert_eq!(q.sync_ledger_summary(T0 + 60_000.0).lifetime_lift_reports, 1, "the booked spend stays");
}
