//! Engine-level sync, natively over the in-memory store and transport.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ed25519_dalek::SigningKey;

use super::*;
use crate::collect::event::TrackEvent;
use crate::config::PersonalizerConfig;
use crate::consent::ConsentMode;
use crate::personalizer::Personalizer;
use crate::personalizer::SyncEngine;
use crate::personalizer::{AnswerColumns, Environment, TrackOutcome};
use crate::rank::{Placement, RankContext};
use crate::storage::MemoryStore;
use crate::sync::{InMemoryTransport, SharedModel, UpdateMessage};

mod lift;
mod lift_share;
mod secure;

pub(super) const T0: f64 = 1_700_000_000_000.0;
const SYNC_KEY: &str = "shop-personalizer:acme:sync";
pub(super) const SEED: [u8; 32] = [7; 32];

/// Runs a future that never waits on I/O (the in-memory transport) to completion.
pub(super) fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory transport never waits"),
    }
}

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn key_hex() -> String {
    stored::to_hex(&server_key().verifying_key().to_bytes())
}

pub(super) fn signed(version: u64, weights: &[f32]) -> Vec<u8> {
    SharedModel { version, weights: weights.to_vec() }.encode_signed(&server_key())
}

pub(super) fn setup(min_labelled: u32) -> SyncSetup {
    SyncSetup {
        aggregator_url: "http://127.0.0.1:8787".into(),
        model_public_key: key_hex(),
        max_jitter_ms: 1_000,
        privacy: PrivacyConfig { min_labelled_impressions: min_labelled, ..PrivacyConfig::default() },
        lift_report: crate::measure::LiftReportConfig::default(),
        auto_sync: false,
        check_interval_ms: 60_000,
        model_refresh_ms: 600_000,
        secure_aggregation: None,
    }
}

pub(super) fn open(store: &MemoryStore, consent: ConsentMode) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).expect("valid config");
    p.configure_sync(setup(3)).expect("valid sync setup");
    p.set_consent(consent, true);
    p
}

/// Ranks a small answer and clicks `clicks` of its items: each click is one labelled impression.
pub(super) fn browse_and_click(p: &mut Personalizer<MemoryStore>, clicks: usize, start: f64) {
    let ids: Vec<String> = (0..12).map(|i| format!("sku-{i}")).collect();
    let scores: Vec<f32> = (0..12).map(|i| 1.0 - i as f32 / 12.0).collect();
    let answer = AnswerColumns { ids: &ids, scores: Some(&scores), ..AnswerColumns::default() };
    for n in 0..clicks {
        let at = start + n as f64 * 10_000.0;
        let handle = p.register_candidates(&answer).expect("valid answer");
        let context = RankContext { placement: Placement::Home, limit: 6, ..RankContext::default() };
        let list = p.rank(handle, &context, at).expect("ranked");
        let item = list.items[n % list.items.len()].id.clone();
        let event = TrackEvent::Click { item_id: item, placement: Some("home".into()), position: None, item: None };
        assert!(matches!(p.track(event, at + 2_000.0, 0), Ok(TrackOutcome::Recorded { .. })));
    }
}

pub(super) fn stored_state(store: &MemoryStore) -> Option<StoredSync> {
    store.entries().into_iter().find(|(k, _)| k == SYNC_KEY).map(|(_, raw)| decode_sync(&raw).expect("readable"))
}

#[test]
fn nothing_is_sent_without_full_consent() {
    for consent in [ConsentMode::None, ConsentMode::Session] {
        let store = MemoryStore::new();
        let transport = InMemoryTransport::new();
        transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
        let mut p = open(&store, consent);
        if consent == ConsentMode::Session {
            browse_and_click(&mut p, 5, T0);
            assert_eq!(p.labelled_since_sync(), 5, "session consent still learns");
        }
        let outcome = run_ready(p.sync_with(&transport, T0 + 100_000.0, SEED));
        assert!(matches!(outcome, SyncOutcome::Skipped { reason: SkipReason::NoConsent, .. }), "{outcome:?}");
        assert!(transport.sent().is_empty());
        assert!(store.entries().is_empty(), "nothing stored under {consent:?}");
    }
}

#[test]
fn a_full_sync_sends_one_decodable_update_and_books_it_before_sending() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let mut p = open(&store, ConsentMode::Full);
    browse_and_click(&mut p, 2, T0);
    let few = run_ready(p.sync_with(&transport, T0 + 60_000.0, SEED));
    assert!(matches!(few, SyncOutcome::Skipped { reason: SkipReason::NotEnoughImpressions, .. }), "{few:?}");
    assert_eq!(p.shared_model_version(), Some(1));

    browse_and_click(&mut p, 2, T0 + 100_000.0);
    let outcome = run_ready(p.sync_with(&transport, T0 + 200_000.0, SEED));
    let SyncOutcome::Sent { model_version: 1, bytes, resent: false, epsilon_this_period } = outcome else {
        panic!("expected a sent update, got {outcome:?}")
    };
    assert_eq!(bytes, 45 + NUM_FEATURES);
    assert!((epsilon_this_period - 5.756_522).abs() < 1e-5, "z = 1, delta = 1e-6: one update is eps 5.7565");
    let sent = transport.sent();
    assert_eq!(sent.len(), 1);
    let message = UpdateMessage::decode(&sent[0]).expect("the body is the binary update format");
    assert_eq!((message.model_version, message.dimension()), (1, NUM_FEATURES));
    assert_eq!((message.clip_bound, message.noise_multiplier), (1.0, 1.0));
    assert_eq!(p.labelled_since_sync(), 0);

    let stored = stored_state(&store).expect("the ledger is stored");
    assert_eq!(stored.ledger.summary(&default_params(), (T0 as u64) / 1000).current_period_updates, 1);
    assert_eq!(stored.pending_upload, None, "accepted, so nothing is pending");
    let summary = p.profile_summary(T0 + 200_000.0).privacy_ledger.expect("the summary shows the ledger");
    assert_eq!((summary.current_period_updates, summary.lifetime_updates), (1, 1));
    assert!((summary.period_budget_epsilon - 8.0).abs() < 1e-12);

    // A second update the same day is refused by the ledger, and nothing more is sent.
    browse_and_click(&mut p, 3, T0 + 300_000.0);
    let again = run_ready(p.sync_with(&transport, T0 + 400_000.0, SEED));
    assert!(matches!(again, SyncOutcome::RefusedByLedger { .. }), "{again:?}");
    assert_eq!(transport.sent().len(), 1);
}

#[test]
fn a_failed_send_resends_the_same_bytes_even_after_a_reload() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let mut p = open(&store, ConsentMode::Full);
    browse_and_click(&mut p, 3, T0);
    transport.refuse_sends_with(Some(SyncError::Transport { message: "offline".into() }));
    let failed = run_ready(p.sync_with(&transport, T0 + 100_000.0, SEED));
    assert!(matches!(failed, SyncOutcome::Skipped { reason: SkipReason::SendFailed, .. }), "{failed:?}");
    let booked = p.pending_upload().expect("kept for resending").to_vec();
    let stored = stored_state(&store).expect("booked and saved before sending");
    assert_eq!(stored.pending_upload.as_deref(), Some(stored::to_hex(&booked).as_str()));
    assert_eq!(stored.ledger.summary(&default_params(), 0).lifetime_updates, 1);

    // The page closes; the next one resends exactly these bytes (another seed changes nothing).
    drop(p);
    transport.refuse_sends_with(None);
    let mut next = open(&store, ConsentMode::Full);
    let outcome = run_ready(next.sync_with(&transport, T0 + 200_000.0, [9; 32]));
    assert!(matches!(outcome, SyncOutcome::Sent { resent: true, .. }), "{outcome:?}");
    assert_eq!(transport.sent(), vec![booked]);
    assert_eq!(next.sync_ledger_summary(T0 + 200_000.0).lifetime_updates, 1, "no fresh update was built");
}

#[test]
fn the_server_answer_decides_whether_a_booked_update_is_kept() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let mut p = open(&store, ConsentMode::Full);
    run_ready(p.sync_with(&transport, T0, SEED));
    browse_and_click(&mut p, 3, T0);
    let SyncPlan::Send { body, resend: false, jitter_ms } = p.sync_engine().prepare_sync(T0 + 100_000.0, SEED) else {
        panic!("allowed")
    };
    assert!(jitter_ms <= 1_000);
    assert!(p.sync_engine().may_send(&body));
    let busy = SyncError::Rejected { status: 503, error: "overloaded".into(), message: String::new() };
    assert!(matches!(
        p.sync_engine().finish_sync(&body, false, Err(busy), T0),
        SyncOutcome::Skipped { reason: SkipReason::SendFailed, .. }
    ));
    assert_eq!(p.pending_upload(), Some(body.as_slice()));
    let replay = SyncError::Rejected { status: 409, error: "replayed_nonce".into(), message: String::new() };
    assert!(
        matches!(p.sync_engine().finish_sync(&body, true, Err(replay), T0), SyncOutcome::Sent { .. }),
        "already delivered"
    );
    assert_eq!(p.pending_upload(), None);

    let mut q = open(&MemoryStore::new(), ConsentMode::Full);
    run_ready(q.sync_with(&transport, T0, SEED));
    browse_and_click(&mut q, 3, T0);
    let SyncPlan::Send { body, .. } = q.sync_engine().prepare_sync(T0 + 100_000.0, SEED) else { panic!("allowed") };
    let wrong =
        SyncError::Rejected { status: 409, error: "wrong_model_version".into(), message: "round closed".into() };
    assert!(matches!(
        q.sync_engine().finish_sync(&body, false, Err(wrong), T0),
        SyncOutcome::Skipped { reason: SkipReason::Rejected, .. }
    ));
    assert_eq!(q.pending_upload(), None, "a refused update is dropped, its spend stays booked");
    assert_eq!(q.sync_ledger_summary(T0).lifetime_updates, 1);
    assert!(q.warnings().iter().any(|w| w.message.contains("refused")));
}

#[test]
fn a_tampered_model_is_rejected_and_the_previous_one_kept() {
    let mut p = open(&MemoryStore::new(), ConsentMode::Full);
    let first: Vec<f32> = DEFAULT_WEIGHTS.iter().map(|w| w + 0.25).collect();
    assert_eq!(p.install_shared_model(&signed(2, &first)), Ok(ModelInstall::Installed { version: 2 }));
    assert_eq!(p.rank_model().shared_weights(), first.as_slice());
    let mut tampered = signed(3, &vec![5.0; NUM_FEATURES]);
    tampered[30] ^= 0x10;
    assert!(p.install_shared_model(&tampered).is_err());
    let forged =
        SharedModel { version: 3, weights: vec![5.0; NUM_FEATURES] }.encode_signed(&SigningKey::from_bytes(&[1; 32]));
    assert!(p.install_shared_model(&forged).is_err());
    assert!(p.install_shared_model(&signed(3, &[1.0, 2.0])).is_err(), "wrong dimension");
    assert_eq!(p.shared_model_version(), Some(2));
    assert_eq!(p.rank_model().shared_weights(), first.as_slice(), "the ranker keeps the previous model");
    assert_eq!(p.warnings().iter().filter(|w| w.message.contains("rejected")).count(), 3);
}

#[test]
fn a_new_model_keeps_learning_not_yet_sent() {
    let mut p = open(&MemoryStore::new(), ConsentMode::Full);
    p.install_shared_model(&signed(1, &DEFAULT_WEIGHTS)).expect("installs");
    browse_and_click(&mut p, 4, T0);
    let learned: Vec<f32> = p.rank_model().shared_weights().iter().zip(&DEFAULT_WEIGHTS).map(|(l, d)| l - d).collect();
    assert!(learned.iter().any(|d| d.abs() > 1e-6), "clicks taught the shared weights");
    // Positive weights, so the constraint that keeps server weights ≥ 0 does not clamp new + learned.
    let next: Vec<f32> = (0..NUM_FEATURES).map(|i| 1.0 + i as f32 * 0.01).collect();
    p.install_shared_model(&signed(2, &next)).expect("installs");
    for ((now, n), d) in p.rank_model().shared_weights().iter().zip(&next).zip(&learned) {
        assert!((now - (n + d)).abs() < 1e-5, "new model plus unsent learning");
    }
}

#[test]
fn an_unreadable_ledger_is_backed_up_and_pauses_sending_for_the_period() {
    let store = MemoryStore::new();
    let mut writer = store.clone();
    writer.set(SYNC_KEY, "{\"format\":\"shop-personalizer/sync\",garbage").expect("set");
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let mut p = open(&store, ConsentMode::Full);
    let warning = p.warnings().iter().find(|w| w.code == WarningCode::Unreadable).expect("warned").clone();
    let backup = warning.backup_key.expect("kept under a backup key");
    assert!(store.entries().iter().any(|(k, v)| *k == backup && v.contains("garbage")));
    browse_and_click(&mut p, 3, T0);
    let outcome = run_ready(p.sync_with(&transport, T0 + 100_000.0, SEED));
    assert!(matches!(outcome, SyncOutcome::Skipped { reason: SkipReason::Paused, .. }), "{outcome:?}");
    let next_day = T0 + 86_400_000.0;
    browse_and_click(&mut p, 3, next_day);
    let later = run_ready(p.sync_with(&transport, next_day + 100_000.0, SEED));
    assert!(matches!(later, SyncOutcome::Sent { .. }), "{later:?}");
}

#[test]
fn forget_and_lowered_consent_remove_the_state_and_stop_sending() {
    let store = MemoryStore::new();
    let transport = InMemoryTransport::new();
    transport.serve_model(1, signed(1, &DEFAULT_WEIGHTS));
    let mut p = open(&store, ConsentMode::Full);
    browse_and_click(&mut p, 3, T0);
    let SyncPlan::Send { body, .. } = ({
        run_ready(p.sync_with(&InMemoryTransport::new(), T0, SEED));
        p.install_shared_model(&signed(1, &DEFAULT_WEIGHTS)).expect("installs");
        p.sync_engine().prepare_sync(T0 + 100_000.0, SEED)
    }) else {
        panic!("allowed")
    };
    assert!(stored_state(&store).is_some());
    p.set_consent(ConsentMode::Session, true);
    assert!(!p.sync_engine().may_send(&body), "lowered consent: the booked update is never sent");
    assert!(stored_state(&store).is_none(), "and its stored state is gone");
    p.set_consent(ConsentMode::Full, true);
    assert_eq!(p.pending_upload(), None);
    assert_eq!(p.sync_ledger_summary(T0).lifetime_updates, 1, "the spend stays counted in this page");
    p.flush(T0 + 1.0).expect("flush");
    assert!(p.forget().expect("forget") > 0);
    assert!(stored_state(&store).is_none(), "forget removes the sync state");
    assert_eq!(p.labelled_since_sync(), 0);
    assert_eq!(p.rank_model().shared_weights(), DEFAULT_WEIGHTS.as_slice(), "back on the installed shared model");
    p.flush(T0 + 2.0).expect("flush");
    assert!(store.entries().is_empty(), "nothing comes back after forget");
}

#[test]
fn a_shop_that_never_configures_sync_gets_no_sync_key() {
    let store = MemoryStore::new();
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).expect("valid config");
    p.set_consent(ConsentMode::Full, true);
    browse_and_click(&mut p, 3, T0);
    p.flush(T0 + 100_000.0).expect("flush");
    assert!(stored_state(&store).is_none());
    assert!(matches!(
        p.sync_engine().prepare_sync(T0, SEED),
        SyncPlan::Done(SyncOutcome::Skipped { reason: SkipReason::NotConfigured, .. })
    ));
    let ledger = p.profile_summary(T0).privacy_ledger.expect("the default ledger is shown");
    assert_eq!((ledger.current_period_updates, ledger.period_budget_epsilon), (0, 8.0));
}

#[test]
fn bad_sync_settings_are_refused_with_what_to_fix() {
    let mut p = open(&MemoryStore::new(), ConsentMode::Full);
    let bad_url = SyncSetup { aggregator_url: "ftp://x".into(), ..setup(3) };
    assert!(p.configure_sync(bad_url).unwrap_err().to_string().contains("http://"));
    let bad_key = SyncSetup { model_public_key: "abc".into(), ..setup(3) };
    assert!(p.configure_sync(bad_key).unwrap_err().to_string().contains("64 hex characters"));
    let bad_interval = SyncSetup { check_interval_ms: 10, ..setup(3) };
    assert_eq!(p.configure_sync(bad_interval), Err(SyncingError::CheckInterval(10)));
    let tiny_budget =
        SyncSetup { privacy: PrivacyConfig { period_budget_epsilon: 1.0, ..PrivacyConfig::default() }, ..setup(3) };
    assert!(p.configure_sync(tiny_budget).unwrap_err().to_string().contains("raise noiseMultiplier"));
    let json = r#"{"aggregatorUrl":"http://a","modelPublicKey":"k"}"#;
    let defaults: SyncSetup = serde_json::from_str(json).expect("only two fields are required");
    assert_eq!((defaults.max_jitter_ms, defaults.auto_sync, defaults.check_interval_ms), (30_000, true, 60_000));
    assert!(
        serde_json::from_str::<SyncSetup>(r#"{"aggregatorUrl":"http://a","modelPublicKey":"k","jitter":1}"#).is_err()
    );
}

#[test]
fn outcomes_have_the_js_shape() {
    let sent = SyncOutcome::Sent { model_version: 3, bytes: 132, resent: false, epsilon_this_period: 5.5 };
    assert_eq!(
        serde_json::to_string(&sent).expect("json"),
        r#"{"status":"sent","modelVersion":3,"bytes":132,"resent":false,"epsilonThisPeriod":5.5}"#
    );
    let skipped = SyncOutcome::skipped(SkipReason::NotEnoughImpressions, "only 2");
    assert_eq!(
        serde_json::to_string(&skipped).expect("json"),
        r#"{"status":"skipped","reason":"notEnoughImpressions","message":"only 2"}"#
    );
}
