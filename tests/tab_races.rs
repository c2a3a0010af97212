//! Two tabs whose views of storage lag behind each other, as localStorage does between browser
//! processes: a tab can write on top of a value another tab has already replaced. No event may be
//! lost and none counted twice.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::collect::event::TrackEvent;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::consent::ConsentMode;
use shop_personalizer::personalizer::{Environment, Personalizer, TrackOutcome};
use shop_personalizer::profile::stored::decode;
use shop_personalizer::storage::{KeyValueStore, LaggingView, MemoryStore};

const T0: f64 = 1_700_000_000_000.0;
const PROFILE_KEY: &str = "shop-personalizer:acme:profile";

fn open<S: KeyValueStore + Clone>(store: S) -> Personalizer<S> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut p = Personalizer::open(store, config, Environment::default()).unwrap();
    p.set_consent(ConsentMode::Full, false);
    p
}

fn view(id: &str) -> TrackEvent {
    TrackEvent::View {
        item_id: id.into(),
        item: Some(ItemAttributes { brand: Some("Acme".into()), ..ItemAttributes::default() }),
    }
}

/// Events in the stored profile; none when nothing was ever written (a fresh store whose tabs
/// recorded nothing).
fn stored_total(store: &MemoryStore) -> u64 {
    let Some(raw) = store.get(PROFILE_KEY).unwrap() else { return 0 };
    decode(&raw, 1 << 22).unwrap().profile.event_counts().total()
}

/// A store that already holds one event from an earlier visit, as it does in every race but the
/// very first write of a shopper's life.
fn seeded_store() -> MemoryStore {
    let store = MemoryStore::new();
    let mut earlier = open(store.clone());
    earlier.track(view("earlier"), T0 - 1e7, 0).unwrap();
    earlier.flush(T0 - 1e7).unwrap();
    store
}

#[test]
fn a_write_built_beside_ours_does_not_drop_our_events() {
    let store = seeded_store();
    let (view_a, view_b) = (LaggingView::new(&store), LaggingView::new(&store));
    let (mut tab_a, mut tab_b) = (open(view_a.clone()), open(view_b.clone()));
    for i in 0..3 {
        tab_a.track(view(&format!("a{i}")), T0 + f64::from(i) * 5_000.0, 0).unwrap();
    }
    for i in 0..2 {
        tab_b.track(view(&format!("b{i}")), T0 + f64::from(i) * 5_000.0, 0).unwrap();
    }
    tab_a.flush(T0 + 20_000.0).unwrap();
    // Tab B has not seen A's write yet and writes on top of the same older value.
    tab_b.flush(T0 + 20_000.0).unwrap();
    assert_eq!(stored_total(&store), 3, "B's write replaced A's");

    view_a.catch_up();
    tab_a.on_storage_changed(Some(PROFILE_KEY));
    assert!(tab_a.has_unsaved_changes(), "A notices its write was dropped");
    assert_eq!(tab_a.profile().event_counts().total(), 6);
    tab_a.flush(T0 + 30_000.0).unwrap();
    assert_eq!(stored_total(&store), 6);

    view_b.catch_up();
    tab_b.on_storage_changed(Some(PROFILE_KEY));
    assert!(!tab_b.has_unsaved_changes(), "B sees its write inside A's and re-applies nothing");
    assert_eq!(tab_b.profile().event_counts().total(), 6);
    assert!(!tab_b.flush(T0 + 40_000.0).unwrap().written);
    assert_eq!(stored_total(&store), 6);
}

/// Two lagging tabs track, flush, catch up and hear storage events in a seeded random order; at
/// the end both catch up and flush until quiet. Returns (events recorded, events stored).
fn lagging_tabs(seed: u64, steps: usize) -> (u64, u64) {
    let store = seeded_store();
    let views = [LaggingView::new(&store), LaggingView::new(&store)];
    let mut tabs = [open(views[0].clone()), open(views[1].clone())];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut recorded = 1u64;
    for step in 0..steps {
        let tab = rng.random_range(0..2usize);
        let now = T0 + step as f64 * 3_000.0;
        match rng.random_range(0..10u32) {
            0..=5 => {
                if let Ok(TrackOutcome::Recorded { .. }) = tabs[tab].track(view(&format!("t{tab}-{step}")), now, 0) {
                    recorded += 1;
                }
            }
            6 | 7 => {
                tabs[tab].flush(now).unwrap();
            }
            8 => views[tab].catch_up(),
            _ => {
                views[tab].catch_up();
                tabs[tab].on_storage_changed(Some(PROFILE_KEY));
            }
        }
    }
    let end = T0 + steps as f64 * 3_000.0;
    for _ in 0..3 {
        for tab in 0..2 {
            views[tab].catch_up();
            tabs[tab].on_storage_changed(Some(PROFILE_KEY));
            tabs[tab].flush(end).unwrap();
        }
    }
    (recorded, stored_total(&store))
}

#[test]
fn lagging_tabs_lose_no_events_across_seeds() {
    for seed in 0..30 {
        let (recorded, stored) = lagging_tabs(seed, 120);
        assert_eq!(stored, recorded, "seed {seed}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lagging_tabs_neither_lose_nor_double_count(seed in any::<u64>(), steps in 1usize..150) {
        let (recorded, stored) = lagging_tabs(seed, steps);
        prop_assert_eq!(stored, recorded);
    }
}

/// Delivers the oldest `storage` event a tab has not heard yet; false when there is none.
fn hear_one(view: &LaggingView, tab: &mut Personalizer<LaggingView>, now: f64) -> bool {
    let Some(change) = view.next_change() else { return false };
    tab.on_storage_event(Some(&change.key), change.old_value.as_deref(), change.new_value.as_deref(), now);
    true
}

/// What [`tabs_that_close`] counted: events recorded, in the stored profile, in each open tab.
#[derive(Debug)]
struct Tally {
    recorded: u64,
    stored: u64,
    in_tabs: Vec<u64>,
    closes: usize,
}

/// Two tabs, as in a browser: each sees the other's writes when their messages arrive (catching
/// up) and hears of each through its `storage` event, one at a time in the order of the writes,
/// possibly after it caught up past it. In each seeded-random step one tab tracks, flushes (which
/// reads its view first) or, for `closing` tabs, closes right after a flush (a new tab opens in
/// its place), and then each tab may catch up and may hear one event: messages take a few steps,
/// so writes of both tabs cross often. At the end the open tabs catch up, hear every event and
/// flush until quiet.
///
/// `fresh`: the store starts empty, so both tabs' first writes race onto nothing (as for a new
/// shopper, and in every Chromium run of `e2e/tabs.test.mjs`), else it holds an earlier visit.
///
/// `lag`: how much slower messages and events travel (1: a tab catches up one step in 3 and hears
/// one event in 2; 4: one in 12 and one in 8, as Chromium's tabs did in `e2e/tabs.test.mjs`, where
/// a tab often wrote four or five times before it heard of the other's write).
fn tabs_that_close(seed: u64, steps: usize, closing: &[usize], max_closes: usize, fresh: bool, lag: u32) -> Tally {
    let store = if fresh { MemoryStore::new() } else { seeded_store() };
    let mut views = [LaggingView::new(&store), LaggingView::new(&store)];
    let mut tabs = [open(views[0].clone()), open(views[1].clone())];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut recorded, mut closes) = (u64::from(!fresh), 0);
    for step in 0..steps {
        let tab = rng.random_range(0..2usize);
        let now = T0 + step as f64 * 3_000.0;
        match rng.random_range(0..10u32) {
            0..=6 => {
                if let Ok(TrackOutcome::Recorded { .. }) = tabs[tab].track(view(&format!("t{step}")), now, 0) {
                    recorded += 1;
                }
            }
            7 | 8 => {
                tabs[tab].flush(now).unwrap();
            }
            _ if closing.contains(&tab) && closes < max_closes => {
                // Closed right after its flush: what it has not heard of is never heard.
                tabs[tab].flush(now).unwrap();
                views[tab] = LaggingView::new(&store);
                tabs[tab] = open(views[tab].clone());
                closes += 1;
            }
            _ => {}
        }
        for other in 0..2 {
            if rng.random_range(0..3 * lag) == 0 {
                views[other].catch_up();
            }
            if rng.random_range(0..2 * lag) == 0 {
                hear_one(&views[other], &mut tabs[other], now);
            }
        }
    }
    let end = T0 + steps as f64 * 3_000.0;
    for _ in 0..3 {
        for tab in 0..2 {
            views[tab].catch_up();
            while hear_one(&views[tab], &mut tabs[tab], end) {}
            tabs[tab].flush(end).unwrap();
        }
    }
    let in_tabs = tabs.iter().map(|t| t.profile().event_counts().total()).collect();
    Tally { recorded, stored: stored_total(&store), in_tabs, closes }
}

#[test]
fn a_tab_closed_right_after_its_flush_loses_no_events() {
    // The race of issue 14: A writes and closes before B, which had not seen A's write yet,
    // writes beside it. Only B's storage event still shows A's value.
    let store = seeded_store();
    let (view_a, view_b) = (LaggingView::new(&store), LaggingView::new(&store));
    let (mut tab_a, mut tab_b) = (open(view_a.clone()), open(view_b.clone()));
    for i in 0..3 {
        tab_a.track(view(&format!("a{i}")), T0 + f64::from(i) * 5_000.0, 0).unwrap();
        tab_b.track(view(&format!("b{i}")), T0 + f64::from(i) * 5_000.0, 0).unwrap();
    }
    tab_a.flush(T0 + 20_000.0).unwrap();
    drop(tab_a);
    tab_b.flush(T0 + 20_000.0).unwrap();
    assert_eq!(stored_total(&store), 4, "B's write replaced A's");
    assert!(hear_one(&view_b, &mut tab_b, T0 + 21_000.0), "B hears of A's write");
    assert_eq!(stored_total(&store), 7, "B merged A's write and wrote it back at once");
    assert_eq!(tab_b.profile().event_counts().total(), 7);
}

#[test]
fn two_first_writes_of_a_shopper_keep_each_others_events() {
    // Both tabs create the very first profile; the storage events tell this from a forget().
    let store = MemoryStore::new();
    let (view_a, view_b) = (LaggingView::new(&store), LaggingView::new(&store));
    let (mut tab_a, mut tab_b) = (open(view_a.clone()), open(view_b.clone()));
    tab_a.track(view("a"), T0, 0).unwrap();
    tab_b.track(view("b"), T0, 0).unwrap();
    tab_a.flush(T0).unwrap();
    tab_b.flush(T0).unwrap();
    while hear_one(&view_a, &mut tab_a, T0 + 1.0) | hear_one(&view_b, &mut tab_b, T0 + 1.0) {}
    assert_eq!(stored_total(&store), 2);
    assert_eq!([tab_a.profile().event_counts().total(), tab_b.profile().event_counts().total()], [2, 2]);
    // A forget() in one tab is still a forget in the other: nothing comes back.
    tab_a.forget().unwrap();
    tab_a.track(view("after"), T0 + 2.0, 0).unwrap();
    tab_a.flush(T0 + 2.0).unwrap();
    while hear_one(&view_b, &mut tab_b, T0 + 3.0) {}
    tab_b.flush(T0 + 3.0).unwrap();
    assert_eq!(stored_total(&store), 1);
    assert_eq!(tab_b.profile().event_counts().total(), 1);
}

#[test]
fn tabs_closing_right_after_their_flush_lose_no_events_across_seeds() {
    let mut closes = 0;
    for seed in 0..16 {
        let tally = tabs_that_close(seed, 120, &[0], 1, false, 1);
        assert_eq!(tally.stored, tally.recorded, "seed {seed}: {tally:?}");
        assert!(tally.in_tabs.iter().all(|&n| n == tally.recorded), "seed {seed}: {tally:?}");
        closes += tally.closes;
    }
    assert!(closes >= 12, "most runs close a tab ({closes} closes in 16 runs)");
}

/// Counts the seeds of `0..seeds` whose run at `lag` loses or doubles an event.
fn losing_seeds(seeds: u64, fresh: bool, lag: u32) -> Vec<u64> {
    (0..seeds)
        .filter(|&seed| {
            let tally = tabs_that_close(seed, 240, &[0], 1, fresh, lag);
            tally.stored != tally.recorded || tally.in_tabs.iter().any(|&n| n != tally.recorded)
        })
        .collect()
}

#[test]
fn tabs_hearing_of_each_other_late_lose_no_events() {
    // What Chromium showed (e2e/tabs.test.mjs, 3 of 12 rounds losing 4-20 events of a tab): a
    // tab often wrote four or five times before it heard of the other's write. Before the fix 5
    // of these 32 seeds lost events (8 of 32 starting on an empty store). What lost them:
    // (1) a replayed write was listed after the whole adopted lineage, so it fell off first and
    // the other tab took the merged value for an older one and ignored it; (2) a replayed write
    // was listed even when the value it was replayed onto lacked what it had been built on, so
    // the other tab adopted the merged value and dropped that; (3) a tab that merged a closed
    // tab's lost value from its storage event rebased the merge onto the store's newer value,
    // which lacked it, and dropped it again.
    let seeded = losing_seeds(32, false, 4);
    assert!(seeded.is_empty(), "seeds losing or doubling events: {seeded:?}");
}

#[test]
fn tabs_whose_first_writes_race_onto_an_empty_store_and_hear_late_lose_no_events() {
    // Both first writes land on an empty store, as for a new shopper and in every round of
    // e2e/tabs.test.mjs. Besides the above: (4) each tab merged the other's first write listing
    // its own first write last, as the root, so the two tabs' values named different roots and
    // batches of one no longer looked related to values of the other; now the merged state's root
    // is the smaller of the two and a batch is related to a value listing its root, or replacing
    // it, or written onto an empty key (a forget()'s removal arrives before such a value's event
    // and clears the batches). (5) Seed 29 still lost 2 of 164: a tab that had loaded the other's
    // write as its state adopted a value built beside it; now it writes its state over that value
    // once (see `a_reopened_tab_keeps_the_events_its_closed_predecessor_wrote`).
    let fresh = losing_seeds(32, true, 4);
    assert!(fresh.is_empty(), "seeds losing or doubling events: {fresh:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn tabs_hearing_events_and_closing_never_double_count_and_agree_with_the_store(
        seed in any::<u64>(),
        steps in 1usize..200,
        both in any::<bool>(),
        fresh in any::<bool>(),
    ) {
        // One tab or both close, each at most twice. Never counted twice, the open tabs agree
        // with the store, and nothing is lost when no tab closed. Two tabs that both close before
        // hearing of each other's last write lose it (one closing tab loses nothing over the
        // fixed seeds of `a_closing_tab_loses_no_events_over_fixed_seeds`).
        let tally = tabs_that_close(seed, steps, if both { &[0, 1] } else { &[0] }, 2, fresh, 1);
        prop_assert!(tally.stored <= tally.recorded, "{:?}", tally);
        if tally.closes == 0 {
            prop_assert_eq!(tally.stored, tally.recorded, "{:?}", tally);
        }
        let expected = tally.stored;
        prop_assert!(tally.in_tabs.iter().all(|&n| n == expected), "{:?}", tally);
    }
}

/// Issue 14: a tab reopened after a close loads the closed tab's last write as its state. It used
/// to adopt a write the other tab built beside that value when it heard of it, re-applying only
/// its own changes, so the closed tab's events were gone once it wrote (3 of 6 lost with this
/// seed). Now it writes its state over such a value once, and the other tab applies its own again.
#[test]
fn a_reopened_tab_keeps_the_events_its_closed_predecessor_wrote() {
    let tally = tabs_that_close(10894704217378591843, 10, &[0], 2, false, 1);
    assert_eq!(tally.stored, tally.recorded, "{tally:?}");
}

/// How often closing tabs still lose events, over 100 fixed seeded runs of one closing tab with
/// Chromium's lag (4). Before the reopened tab wrote its state over a value built beside the one
/// it loaded, 74 of 300 such runs lost events (202 of 26,216); with it, 16 of 300 (52); now that
/// values carry their recent batches and tabs take them over, 8 of these 100 runs (22 events)
/// became none. Over fixed seeds (deterministic).
#[test]
fn a_closing_tab_loses_no_events_over_fixed_seeds() {
    one_closing_tab_over_fixed_seeds(7, false);
}

/// 100 runs with one tab closing at Chromium's lag (4), their seeds and lengths drawn from
/// `seed`: none loses, doubles or leaves the tabs disagreeing.
fn one_closing_tab_over_fixed_seeds(seed: u64, fresh: bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut losing, mut lost, mut recorded) = (0, 0, 0);
    for _ in 0..100 {
        let (seed, steps) = (rng.random::<u64>(), rng.random_range(1..240usize));
        let tally = tabs_that_close(seed, steps, &[0], 2, fresh, 4);
        assert!(tally.stored <= tally.recorded, "seed {seed}: counted twice: {tally:?}");
        assert!(tally.in_tabs.iter().all(|&n| n == tally.stored), "seed {seed}: tabs disagree: {tally:?}");
        recorded += tally.recorded;
        if tally.stored < tally.recorded {
            losing += 1;
            lost += tally.recorded - tally.stored;
        }
    }
    println!("closing tabs (empty store: {fresh}), lag 4: {losing} of 100 runs lost {lost} of {recorded} events");
    assert_eq!(losing, 0, "{losing} of 100 runs lost {lost} of {recorded} events");
}

/// Issue 14: the smallest losing runs found while values learned to carry their batches, each
/// losing events before the step named (now none): a first write read from the store beside
/// ours (held undecided until its event); a batch applied again onto another first write, then a
/// value built on that one (related through the value it was applied to); a value written over
/// in defence whose own new batch its closing tab never applied again (taken over from what it
/// carried); and a reopened tab's load (carried batches taken over).
#[test]
fn the_smallest_runs_that_lost_events_to_closing_tabs_lose_none() {
    let runs = [
        (3_919_438_456_679_263_044, 6, true, 4),
        (11_123_803_341_250_990_658, 11, true, 4),
        (3_193_758_281_890_676_246, 15, true, 4),
        (16_374_811_631_127_972_906, 21, false, 1),
        (1326, 20, false, 1),
    ];
    for (seed, steps, fresh, lag) in runs {
        let tally = tabs_that_close(seed, steps, &[0], 2, fresh, lag);
        assert_eq!(tally.stored, tally.recorded, "seed {seed}: {tally:?}");
        assert!(tally.in_tabs.iter().all(|&n| n == tally.recorded), "seed {seed}: {tally:?}");
    }
}

/// The same as `a_closing_tab_loses_no_events_over_fixed_seeds` for a new shopper (an empty store,
/// both tabs' first writes racing), where a value read beside a first write cannot be told from
/// one written after a `forget()` until its event comes.
#[test]
fn a_closing_tab_on_an_empty_store_loses_no_events_over_fixed_seeds() {
    one_closing_tab_over_fixed_seeds(11, true);
}
