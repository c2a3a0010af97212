//! Issue 14, finding 5 and the device-side bound: a page pins its model key in code, so a model
//! signed with any other key (an `?aggregator=` link to a server of the attacker's) is refused
//! with a `modelRejected` warning and the previous model stays; so is a model signed with the
//! pinned key that moved further than one aggregation round can move it (a poisoned round).
//! Runs the one sans-IO sync driver natively against the in-memory transport.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ed25519_dalek::SigningKey;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer, SyncSetup};
use shop_personalizer::privacy::PrivacyConfig;
use shop_personalizer::rank::DEFAULT_WEIGHTS;
use shop_personalizer::storage::{MemoryStore, WarningCode};
use shop_personalizer::sync::{InMemoryTransport, SharedModel};

const T0: f64 = 1_700_000_000_000.0;

fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory transport never waits"),
    }
}

fn hex(key: &SigningKey) -> String {
    key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A page whose code pins `pinned` as the model key.
fn page(pinned: &SigningKey) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(MemoryStore::new(), config, Environment::default()).expect("valid config");
    let setup = SyncSetup {
        aggregator_url: "http://127.0.0.1:8787".into(),
        model_public_key: hex(pinned),
        max_jitter_ms: 0,
        privacy: PrivacyConfig::default(),
        lift_report: Default::default(),
        auto_sync: false,
        check_interval_ms: 60_000,
        model_refresh_ms: 600_000,
        secure_aggregation: None,
    };
    p.configure_sync(setup).expect("valid sync setup");
    p.set_consent(ConsentMode::Full, true);
    p
}

fn rejections(p: &Personalizer<MemoryStore>) -> usize {
    p.warnings().iter().filter(|w| w.code == WarningCode::ModelRejected).count()
}

/// Serves `weights` as `version` signed by `key` and runs one sync (which downloads it).
fn serve_and_sync(p: &mut Personalizer<MemoryStore>, key: &SigningKey, version: u64, weights: &[f32], at: f64) {
    let transport = InMemoryTransport::new();
    transport.serve_model(version, SharedModel { version, weights: weights.to_vec() }.encode_signed(key));
    let _ = run_ready(p.sync_with(&transport, at, [5; 32]));
}

#[test]
fn a_model_signed_with_a_foreign_key_is_refused_and_the_previous_one_kept() {
    let (pinned, foreign) = (SigningKey::from_bytes(&[42; 32]), SigningKey::from_bytes(&[66; 32]));
    let mut p = page(&pinned);
    let first: Vec<f32> = DEFAULT_WEIGHTS.iter().map(|w| w + 0.125).collect();
    serve_and_sync(&mut p, &pinned, 2, &first, T0);
    assert_eq!(p.shared_model_version(), Some(2));
    assert_eq!(rejections(&p), 0);

    // The attacker's aggregator serves a newer model, validly signed with its own key.
    serve_and_sync(&mut p, &foreign, 9, &vec![3.0; DEFAULT_WEIGHTS.len()], T0 + 60_000.0);
    assert_eq!(p.shared_model_version(), Some(2), "the previous model stays");
    assert_eq!(p.rank_model().shared_weights(), first.as_slice(), "the ranker keeps the previous weights");
    assert_eq!(rejections(&p), 1, "one modelRejected warning: {:?}", p.warnings());
    let warning = p.warnings().into_iter().find(|w| w.code == WarningCode::ModelRejected).expect("warned");
    assert!(warning.message.contains("signature"), "{}", warning.message);
}

#[test]
fn a_model_moved_further_than_one_round_can_is_refused_and_an_honest_one_installs() {
    let pinned = SigningKey::from_bytes(&[42; 32]);
    let mut p = page(&pinned);
    let first = DEFAULT_WEIGHTS.to_vec();
    serve_and_sync(&mut p, &pinned, 1, &first, T0);
    assert_eq!(p.shared_model_version(), Some(1));

    // Issue 14's poisoned round: every published weight moved by about +50,000, signed by the
    // pinned key because the aggregator itself computed it. The version claims many rounds.
    let poisoned: Vec<f32> = first.iter().map(|w| w + 50_000.0).collect();
    serve_and_sync(&mut p, &pinned, 500, &poisoned, T0 + 60_000.0);
    assert_eq!(p.shared_model_version(), Some(1), "the previous model stays");
    assert_eq!(p.rank_model().shared_weights(), first.as_slice());
    assert_eq!(rejections(&p), 1, "{:?}", p.warnings());
    let warning = p.warnings().into_iter().find(|w| w.code == WarningCode::ModelRejected).expect("warned");
    assert!(warning.message.contains("more than one aggregation round can"), "{}", warning.message);

    // A next model an honest round can produce: every weight moved by at most 0.8.
    let next: Vec<f32> = first.iter().enumerate().map(|(i, w)| w + 0.8 * ((i % 5) as f32 - 2.0) / 2.0).collect();
    serve_and_sync(&mut p, &pinned, 2, &next, T0 + 120_000.0);
    assert_eq!(p.shared_model_version(), Some(2));
    assert_eq!(rejections(&p), 1, "no new warning");
}
