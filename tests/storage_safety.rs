//! Storage through the engine: bad stored data, a full store, and two tabs writing at once.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer, PersonalizerError, TrackOutcome};
use shop_personalizer::profile::stored::{decode, encode, WriteError};
use shop_personalizer::storage::{KeyValueStore, MemoryStore, WarningCode};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE_KEY: &str = "shop-personalizer:acme:profile";
const BACKUP_0: &str = "shop-personalizer:acme:backup:0";

fn config() -> PersonalizerConfig {
    PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() }
}

fn open_full(store: &MemoryStore) -> Personalizer<MemoryStore> {
    let mut p = Personalizer::open(store.clone(), config(), Environment::default()).unwrap();
    p.set_consent(ConsentMode::Full, false);
    p
}

fn view(id: &str, n: usize) -> TrackEvent {
    TrackEvent::View {
        item_id: id.into(),
        item: Some(ItemAttributes {
            category_path: vec![format!("Dept {}", n % 5), format!("Aisle {}", n % 13)],
            brand: Some(format!("Brand {}", n % 9)),
            price: Some((n % 300) as f64 + 0.5),
            tags: vec![format!("tag{}", n % 11)],
        }),
    }
}

/// Events counted in the stored profile; 0 when nothing was ever stored (a run that tracked nothing
/// writes nothing, and the caller's equality check then still catches any loss).
fn stored_total(store: &MemoryStore) -> u64 {
    match store.get(PROFILE_KEY).unwrap() {
        Some(raw) => decode(&raw, 1 << 22).unwrap().profile.event_counts().total(),
        None => 0,
    }
}

#[test]
fn each_kind_of_bad_stored_data_is_backed_up_and_reported() {
    let good = encode(&Default::default()).unwrap();
    let cases = [
        ("{\"format\":".to_string(), "not valid JSON"),
        (good.replace("\"device\":\"unknown\"", "\"device\":\"mobile\""), "checksum"),
        (good.replace("\"version\":1", "\"version\":2"), "newer version"),
        (format!("\"{}\"", "x".repeat(300_000)), "over the"),
    ];
    for (blob, expected) in cases {
        let mut store = MemoryStore::new();
        store.set(PROFILE_KEY, &blob).unwrap();
        let mut p = open_full(&store);
        let warnings = p.take_warnings();
        assert_eq!(warnings.len(), 1, "{expected}");
        assert_eq!(warnings[0].code, WarningCode::Unreadable);
        assert!(warnings[0].message.contains(expected), "{} lacks {expected}", warnings[0].message);
        assert_eq!(warnings[0].backup_key.as_deref(), Some(BACKUP_0));
        assert!(p.profile().is_empty(), "a fresh profile");
        assert_eq!(store.get(BACKUP_0).unwrap().as_deref(), Some(blob.as_str()), "the blob is kept");
        p.track(view("a", 1), T0, 0).unwrap();
        assert!(p.flush(T0).unwrap().written);
        assert_eq!(store.get(BACKUP_0).unwrap().as_deref(), Some(blob.as_str()), "and stays kept after a write");
        assert_eq!(stored_total(&store), 1);
    }
}

#[test]
fn a_full_store_compacts_and_retries_then_reports() {
    let store = MemoryStore::new();
    let mut p = open_full(&store);
    for i in 0..300 {
        p.track(view(&format!("item-{i}"), i), T0 + i as f64 * 10_000.0, 0).unwrap();
    }
    p.flush(T0 + 3e6).unwrap();
    let full_size = store.used_bytes();
    assert!(full_size > 12_000, "fixture must be large, got {full_size}");

    // Room for only about half: compaction halves the profile and the retry fits.
    store.set_quota(Some(full_size * 6 / 10));
    p.track(view("one-more", 7), T0 + 4e6, 0).unwrap();
    let report = p.flush(T0 + 4e6).unwrap();
    assert!(report.written && report.compacted);
    assert!(store.used_bytes() <= full_size * 6 / 10);
    assert_eq!(stored_total(&store), 301, "event counts survive compaction");

    // Room for nothing: the error says so and what to do; the change stays in memory.
    store.set_quota(Some(store.used_bytes() + 10));
    p.track(view("later", 8), T0 + 5e6, 0).unwrap();
    store.set_quota(Some(100));
    let err = p.flush(T0 + 5e6).unwrap_err();
    assert!(matches!(
        err,
        PersonalizerError::Write(WriteError::QuotaStillExceeded { .. })
            | PersonalizerError::Write(WriteError::CannotFit(_))
    ));
    assert!(err.to_string().contains("storageBudgetBytes"), "{err}");
    assert!(p.has_unsaved_changes());
    store.set_quota(None);
    assert!(p.flush(T0 + 5e6).unwrap().written);
    assert_eq!(stored_total(&store), 302);
}

#[test]
fn a_forget_in_another_tab_forgets_here_too() {
    let store = MemoryStore::new();
    let mut tab_a = open_full(&store);
    let mut tab_b = open_full(&store);
    tab_a.track(view("a", 1), T0, 0).unwrap();
    tab_a.flush(T0).unwrap();
    tab_b.on_storage_changed(Some(PROFILE_KEY));
    assert_eq!(tab_b.profile().event_counts().total(), 1);
    tab_a.forget().unwrap();
    tab_b.on_storage_changed(Some(PROFILE_KEY));
    assert!(tab_b.profile().is_empty());
    assert!(!tab_b.flush(T0).unwrap().written);
    assert!(store.entries().is_empty());
}

#[test]
fn a_newer_tab_s_profile_is_backed_up_before_being_overwritten() {
    let mut store = MemoryStore::new();
    let mut old_tab = open_full(&store);
    old_tab.track(view("a", 1), T0, 0).unwrap();
    let newer = encode(&Default::default()).unwrap().replace("\"version\":1", "\"version\":9");
    store.set(PROFILE_KEY, &newer).unwrap();
    old_tab.on_storage_changed(Some(PROFILE_KEY));
    assert_eq!(old_tab.warnings().last().map(|w| w.code), Some(WarningCode::OtherTabUnreadable));
    assert!(old_tab.flush(T0).unwrap().written);
    assert_eq!(store.get(BACKUP_0).unwrap(), Some(newer));
    assert_eq!(stored_total(&store), 1);
}

/// Two tabs share one store and track, flush and hear `storage` events in a seeded random order.
fn two_tabs_interleaved(seed: u64, steps: usize, deliver_storage_events: bool) -> (u64, u64) {
    let store = MemoryStore::new();
    let mut tabs = [open_full(&store), open_full(&store)];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut recorded = 0u64;
    for step in 0..steps {
        let tab = rng.random_range(0..2usize);
        let now = T0 + step as f64 * 3_000.0;
        match rng.random_range(0..10u32) {
            0..=6 => {
                let id = format!("t{tab}-{step}");
                if let Ok(TrackOutcome::Recorded { .. }) = tabs[tab].track(view(&id, step), now, (step % 168) as u32) {
                    recorded += 1;
                }
            }
            7 | 8 => {
                tabs[tab].flush(now).unwrap();
                if deliver_storage_events {
                    tabs[1 - tab].on_storage_changed(Some(PROFILE_KEY));
                }
            }
            _ => tabs[tab].on_storage_changed(None),
        }
    }
    let end = T0 + steps as f64 * 3_000.0;
    tabs[0].flush(end).unwrap();
    tabs[1].flush(end).unwrap();
    tabs[0].on_storage_changed(Some(PROFILE_KEY));
    assert_eq!(tabs[0].profile().event_counts().total(), tabs[1].profile().event_counts().total(), "both tabs agree");
    (recorded, stored_total(&store))
}

#[test]
fn two_tabs_tracking_and_flushing_interleaved_lose_no_events() {
    for seed in 0..20 {
        let (recorded, stored) = two_tabs_interleaved(seed, 150, seed % 2 == 0);
        assert!(recorded > 50);
        assert_eq!(stored, recorded, "seed {seed}");
    }
}

#[test]
fn a_third_tab_opening_later_sees_both_tabs_events() {
    let store = MemoryStore::new();
    let mut tab_a = open_full(&store);
    let mut tab_b = open_full(&store);
    tab_a.track(view("a1", 1), T0, 0).unwrap();
    tab_b.track(view("b1", 2), T0 + 1_000.0, 0).unwrap();
    tab_b.flush(T0 + 1_000.0).unwrap();
    tab_a.track(view("a2", 3), T0 + 2_000.0, 0).unwrap();
    tab_a.flush(T0 + 2_000.0).unwrap();
    let tab_c = open_full(&store);
    let viewed: Vec<_> = tab_c.profile().viewed().entries().iter().map(|e| e.item_id.clone()).collect();
    assert_eq!(viewed, ["a2", "b1", "a1"]);
    assert_eq!(tab_c.profile().visits().visits, 2, "one visit per tab");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn interleavings_never_lose_events(seed in any::<u64>(), steps in 1usize..120, deliver in any::<bool>()) {
        let (recorded, stored) = two_tabs_interleaved(seed, steps, deliver);
        prop_assert_eq!(stored, recorded);
    }

    #[test]
    fn any_stored_bytes_load_without_panic_or_loss(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let blob = String::from_utf8_lossy(&bytes).into_owned();
        let mut store = MemoryStore::new();
        store.set(PROFILE_KEY, &blob).unwrap();
        let mut p = open_full(&store);
        let loaded = !p.profile().is_empty() || store.get(PROFILE_KEY).unwrap().as_deref() == Some(blob.as_str());
        let backed_up = store.get(BACKUP_0).unwrap().as_deref() == Some(blob.as_str());
        prop_assert!(loaded || backed_up, "the blob must be loaded, left in place or backed up");
        p.track(view("x", 1), T0, 0).unwrap();
        p.flush(T0).unwrap();
        if backed_up {
            prop_assert_eq!(store.get(BACKUP_0).unwrap(), Some(blob));
        }
    }

    #[test]
    fn damaged_real_profiles_load_without_panic_or_loss(index in 0usize..4_000, byte in any::<u8>()) {
        let store = MemoryStore::new();
        let mut writer = open_full(&store);
        for i in 0..10 {
            writer.track(view(&format!("i{i}"), i), T0 + i as f64 * 5_000.0, 0).unwrap();
        }
        writer.flush(T0 + 1e5).unwrap();
        let mut bytes = store.get(PROFILE_KEY).unwrap().unwrap().into_bytes();
        let i = index % bytes.len();
        bytes[i] = byte;
        let blob = String::from_utf8_lossy(&bytes).into_owned();
        let mut store = MemoryStore::new();
        store.set(PROFILE_KEY, &blob).unwrap();
        let p = open_full(&store);
        let in_place = store.get(PROFILE_KEY).unwrap().as_deref() == Some(blob.as_str());
        let backed_up = store.get(BACKUP_0).unwrap().as_deref() == Some(blob.as_str());
        prop_assert!(in_place || backed_up);
        prop_assert!(p.profile().is_empty() || in_place);
    }
}

#[test]
fn a_version_0_profile_is_migrated_and_rewritten_as_current() {
    let payload = r#"{"updatedMs":1700000000000,"affinities":{"brand:Acme":2},"viewed":["sku-1"],"visits":{"firstSeenMs":1690000000000,"visits":3,"orders":0}}"#;
    let v0 = format!(
        r#"{{"format":"shop-personalizer/profile","version":0,"checksum":{},"payload":{payload}}}"#,
        crc32fast::hash(payload.as_bytes())
    );
    let mut store = MemoryStore::new();
    store.set(PROFILE_KEY, &v0).unwrap();
    let mut p = open_full(&store);
    assert_eq!(p.warnings()[0].code, WarningCode::Migrated);
    assert_eq!(p.profile().visits().visits, 3);
    assert!(p.flush(T0).unwrap().written, "the migrated profile is written back");
    assert!(store.get(PROFILE_KEY).unwrap().unwrap().contains("\"version\":1"));
}

#[test]
fn categories_made_sensitive_later_are_purged_on_load() {
    let store = MemoryStore::new();
    let mut before = open_full(&store);
    let pill = TrackEvent::View {
        item_id: "pill-1".into(),
        item: Some(ItemAttributes { category_path: vec!["Pharmacy".into()], ..ItemAttributes::default() }),
    };
    before.track(pill, T0, 0).unwrap();
    before.track(view("shoe", 1), T0 + 5_000.0, 0).unwrap();
    before.flush(T0).unwrap();
    let config = PersonalizerConfig { sensitive_categories: vec!["pharmacy".into()], ..config() };
    let mut after = Personalizer::open(store.clone(), config, Environment::default()).unwrap();
    after.set_consent(ConsentMode::Full, false);
    assert!(!after.profile().mentions_item("pill-1"));
    assert!(after.has_unsaved_changes());
    after.flush(T0).unwrap();
    let text: String = store.entries().into_iter().map(|(_, v)| v.to_lowercase()).collect();
    assert!(!text.contains("pill-1") && !text.contains("pharmacy"));
    assert!(text.contains("shoe"));
}

/// A store standing in for a localStorage the browser blocked, as the browser's store does.
#[derive(Clone)]
struct BlockedStore(MemoryStore);

impl KeyValueStore for BlockedStore {
    fn get(&self, key: &str) -> Result<Option<String>, shop_personalizer::storage::StoreError> {
        self.0.get(key)
    }
    fn set(&mut self, key: &str, value: &str) -> Result<(), shop_personalizer::storage::StoreError> {
        self.0.set(key, value)
    }
    fn remove(&mut self, key: &str) -> Result<(), shop_personalizer::storage::StoreError> {
        self.0.remove(key)
    }
    fn keys(&self) -> Result<Vec<String>, shop_personalizer::storage::StoreError> {
        self.0.keys()
    }
    fn unavailable_reason(&self) -> Option<&str> {
        Some("SecurityError: the page may not use localStorage")
    }
}

#[test]
fn a_blocked_store_is_reported_and_forget_keeps_only_that() {
    let store = BlockedStore(MemoryStore::with_quota(300));
    let mut p = Personalizer::open(store, config(), Environment::default()).unwrap();
    let codes = |p: &Personalizer<BlockedStore>| p.warnings().iter().map(|w| w.code).collect::<Vec<_>>();
    assert_eq!(codes(&p), [WarningCode::StorageUnavailable]);
    assert!(p.warnings()[0].message.contains("SecurityError"), "{:?}", p.warnings());

    p.set_consent(ConsentMode::Full, false);
    for n in 0..30 {
        p.track(view(&format!("sku-{n}"), n), T0 + n as f64 * 10_000.0, 0).unwrap();
    }
    p.flush_or_warn(T0 + 100.0);
    let before = codes(&p);
    assert!(before.len() >= 2 && before[1..].iter().all(|&c| c != WarningCode::StorageUnavailable), "{before:?}");

    p.forget().unwrap();
    assert_eq!(codes(&p), [WarningCode::StorageUnavailable], "forget drops the warnings about what was stored");
}

/// Issue 14: the change batches a profile carries for other tabs are outside its checksum; damage
/// to them costs only the merge help they give, never the profile.
#[test]
fn damaged_recent_changes_beside_the_profile_are_ignored_with_a_warning() {
    let store = MemoryStore::new();
    let mut p = open_full(&store);
    for n in 0..3 {
        p.track(view(&format!("a{n}"), n), T0 + n as f64 * 5_000.0, 0).unwrap();
    }
    p.flush(T0 + 20_000.0).unwrap();
    let stored = store.get(PROFILE_KEY).unwrap().unwrap();
    assert!(stored.contains(",\"recent\":[{"), "{stored}");
    let damaged = stored.replace(",\"recent\":[{", ",\"recent\":[{\"origin\":\"x\"},{");
    let mut store = store;
    store.set(PROFILE_KEY, &damaged).unwrap();
    let reopened = open_full(&store);
    assert_eq!(reopened.profile().event_counts().total(), 3, "the profile loads whole");
    let warnings = reopened.warnings();
    assert!(warnings.iter().any(|w| w.code == WarningCode::OtherTabUnreadable), "{warnings:?}");
    assert_eq!(store.get(PROFILE_KEY).unwrap().as_deref(), Some(damaged.as_str()), "nothing rewritten or lost");
}
