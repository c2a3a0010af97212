//! Every stored format stays readable: the values in `tests/fixtures/stored/` were written by the
//! library as it was before the stored states shared one envelope (commit c0dfb51: profile with
//! and without lineage, rank model, adaptation state, sync ledger). An engine opened on them must
//! read each one, without a warning, and act on what it holds.

use shop_personalizer::adapt::{AdapterConfig, FrequencyCap, HoldoutDraw, LiftBucket, OfferSpec};
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, OfferRequest, Personalizer};
use shop_personalizer::storage::{KeyValueStore, MemoryStore, WarningCode};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE: &str = include_str!("fixtures/stored/profile_v1.json");
const PROFILE_WITH_LINEAGE: &str = include_str!("fixtures/stored/profile_lineage_v1.json");
const MODEL: &str = include_str!("fixtures/stored/model_v1.json");
const ADAPT: &str = include_str!("fixtures/stored/adapt_v1.json");
const SYNC: &str = include_str!("fixtures/stored/sync_v1.json");

fn store_with(profile: &str) -> MemoryStore {
    let mut store = MemoryStore::new();
    for (name, value) in [("profile", profile), ("model", MODEL), ("adapt", ADAPT), ("sync", SYNC)] {
        store.set(&format!("shop-personalizer:acme:{name}"), value).expect("no quota");
    }
    store
}

fn open(store: &MemoryStore) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).expect("valid config");
    p.set_consent(ConsentMode::Full, false);
    p
}

#[test]
fn values_written_before_the_shared_envelope_still_load() {
    for profile in [PROFILE, PROFILE_WITH_LINEAGE] {
        let store = store_with(profile);
        let mut p = open(&store);
        // A fresh draw from this entropy would put the device in the personalized bucket; the
        // stored draw (0.0714) puts it in the 10% holdout.
        let entropy = 1;
        assert!(HoldoutDraw::from_seed(entropy).value() >= 0.1);
        p.configure_adaptation(AdapterConfig::default(), entropy).expect("valid config");
        assert_eq!(p.lift_bucket(), Some(LiftBucket::Holdout), "the stored holdout draw is kept");
        // The fixture's rank model has the 87 features of session 1; it is carried forward.
        let warnings = p.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].code, WarningCode::Migrated);
        assert!(warnings[0].message.contains("87 features"), "{}", warnings[0].message);
        // Profile: the clicks of the session (sku-0..3, then sku-3 again).
        let clicked: Vec<&str> = p.profile().session().items.iter().map(|i| i.item_id.as_str()).collect();
        assert_eq!(&clicked[..5], ["sku-0", "sku-1", "sku-2", "sku-3", "sku-3"]);
        // Rank model: five learning steps.
        assert_eq!(p.rank_learning_steps(), 5);
        // Sync ledger: one update sent, one labelled impression since.
        assert_eq!(p.labelled_since_sync(), 1);
        assert_eq!(p.sync_ledger_summary(T0 + 400_000.0).lifetime_updates, 1);
        // Offer history: welcome-10 was shown at T0 and T0 + 1 s, so a cap of two shows a day holds.
        let mut capped = OfferSpec::new("welcome-10", Vec::new());
        capped.limits.frequency_cap = Some(FrequencyCap { max_shows: 2, window_hours: 24.0 });
        let decision = p.choose_offer(&[capped], &OfferRequest::default(), T0 + 2_000.0, 9).expect("valid offer");
        assert_eq!(decision.offer_id, None);
        assert_eq!(decision.skipped.len(), 1, "{decision:?}");
        assert!(decision.skipped[0].diagnostic.contains("cap"), "{}", decision.skipped[0].diagnostic);
        assert_eq!(p.warnings().len(), 1, "{:?}", p.warnings());
    }
}

#[test]
fn a_damaged_old_value_is_backed_up_not_lost() {
    for (name, value) in [("profile", PROFILE), ("model", MODEL), ("adapt", ADAPT), ("sync", SYNC)] {
        let damaged = value.replacen("\"payload\":{", "\"payload\":{\"x\":1,", 1);
        let mut store = store_with(PROFILE);
        store.set(&format!("shop-personalizer:acme:{name}"), &damaged).expect("no quota");
        let mut p = open(&store);
        p.configure_adaptation(AdapterConfig::default(), 1).expect("valid config");
        let _ = p.lift_bucket();
        let backups: Vec<String> =
            store.entries().into_iter().filter(|(k, _)| k.contains(":backup:")).map(|(_, v)| v).collect();
        assert_eq!(backups, std::slice::from_ref(&damaged), "{name}: the damaged value is kept under a backup key");
        let warnings = p.warnings();
        let warning = warnings.iter().find(|w| w.backup_key.is_some()).expect("a warning names the backup");
        assert!(warning.message.contains("checksum"), "{name}: {}", warning.message);
    }
}

#[test]
fn a_sync_ledger_that_cannot_be_backed_up_is_never_overwritten() {
    use shop_personalizer::personalizer::SyncSetup;
    use shop_personalizer::privacy::PrivacyConfig;
    use shop_personalizer::storage::WarningCode;

    let mut store = store_with(PROFILE);
    store.set("shop-personalizer:acme:sync", "{\"ledger\": \"cut off").expect("no quota");
    for n in 0..shop_personalizer::storage::MAX_BACKUPS {
        store.set(&format!("shop-personalizer:acme:backup:{n}"), &format!("older {n}")).expect("no quota");
    }
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store.clone(), config, Environment::default()).expect("valid config");
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]).verifying_key().to_bytes();
    let model_public_key: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let setup = SyncSetup {
        aggregator_url: "http://127.0.0.1:8787".into(),
        model_public_key,
        max_jitter_ms: 1_000,
        privacy: PrivacyConfig::default(),
        auto_sync: false,
        check_interval_ms: 60_000,
        model_refresh_ms: 600_000,
        secure_aggregation: None,
        lift_report: Default::default(),
    };
    p.configure_sync(setup).expect("valid sync setup");
    p.set_consent(ConsentMode::Full, false);
    assert!(p.warnings().iter().any(|w| w.code == WarningCode::NotBackedUp && w.message.contains("sync state")));
    p.flush(T0).expect("the profile can be written");
    let sync = store.get("shop-personalizer:acme:sync").expect("readable store");
    assert_eq!(sync.as_deref(), Some("{\"ledger\": \"cut off"), "left untouched until forget()");
}
