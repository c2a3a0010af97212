use super::*;

fn read<'a>(id: u32, lineage: &'a [u32]) -> Seen<'a> {
    Seen { id, lineage, carried: &[], replaced: None }
}

/// Writes 10 (onto 1) with change 0, then 11 (onto 10) with changes 1 and 2; root 1.
fn ledger() -> WriteLedger<u32> {
    let mut ledger = WriteLedger::default();
    ledger.record(10, Some(1), 1, vec![0]);
    ledger.record(11, Some(10), 1, vec![1, 2]);
    ledger
}

fn waiting(ledger: &WriteLedger<u32>) -> Vec<u32> {
    ledger.waiting_changes().copied().collect()
}

#[test]
fn a_value_built_on_our_latest_write_lacks_nothing() {
    let mut ledger = ledger();
    assert!(!ledger.reconcile(read(12, &[11, 10, 1])));
    assert!(ledger.batches.is_empty());
}

#[test]
fn a_value_built_on_our_first_write_lacks_the_second() {
    let mut ledger = ledger();
    assert!(ledger.reconcile(read(12, &[10, 1])));
    assert_eq!(waiting(&ledger), [1, 2]);
}

#[test]
fn a_value_built_beside_our_writes_lacks_all_of_them() {
    let mut ledger = ledger();
    assert!(ledger.reconcile(read(12, &[1])));
    assert_eq!(waiting(&ledger), [0, 1, 2]);
    assert_eq!(ledger.replayed_writes(read(12, &[1])), [11, 10]);
    // Onto a value that lacks their base, the writes are not held whole.
    assert!(ledger.replayed_writes(read(13, &[7])).is_empty());
}

#[test]
fn a_value_of_the_same_history_lacks_them_even_when_the_fork_fell_off_its_lineage() {
    let mut ledger = ledger();
    let long: Vec<u32> = (100..115).chain([1]).collect();
    assert!(ledger.reconcile(read(200, &long)));
    assert_eq!(waiting(&ledger), [0, 1, 2]);
}

#[test]
fn an_unrelated_value_resurrects_nothing() {
    // E.g. a fresh profile written after another tab's forget().
    let mut ledger = ledger();
    assert!(!ledger.reconcile(read(99, &[])));
    assert!(ledger.batches.is_empty());
    let mut ledger = self::ledger();
    assert!(!ledger.reconcile(read(98, &[97])));
}

#[test]
fn a_first_write_replaced_by_another_first_write_is_applied_again_only_on_an_event_saying_so() {
    let first = || {
        let mut ledger = WriteLedger::default();
        ledger.record(10, None, 10, vec![0]);
        ledger
    };
    // Read from the store, a first value beside ours looks like one written after a forget().
    assert!(!first().reconcile(read(20, &[])));
    // The event says it replaced our write, or was written onto the same empty store.
    let replaced = Seen { id: 20, lineage: &[], carried: &[], replaced: Some(Some(10)) };
    assert!(first().reconcile(replaced));
    let beside = Seen { id: 20, lineage: &[], carried: &[], replaced: Some(None) };
    assert!(first().reconcile(beside));
}

#[test]
fn a_batch_applied_again_keeps_its_origin_so_no_value_counts_it_twice() {
    let mut ledger = ledger();
    ledger.reconcile(read(12, &[1]));
    // Our next write (onto 12) carries the old batches and a new one.
    ledger.record(13, Some(12), 1, vec![3]);
    // Another tab's value that merged our write 11 (but not 13) lacks only the new batch.
    assert!(ledger.reconcile(read(14, &[11, 12, 1])));
    assert_eq!(waiting(&ledger), [3]);
}

#[test]
fn the_ledger_stays_bounded() {
    let mut ledger = WriteLedger::<u32>::default();
    for n in 0..MAX_BATCHES as u32 + 5 {
        ledger.record(100 + n, Some(99 + n), 1, vec![n]);
    }
    assert_eq!(ledger.batches.len(), MAX_BATCHES);
    assert_eq!(ledger.batches[0].changes, [5]);
    assert!(ledger.batches.iter().all(|b| b.written_in.len() <= MAX_LINEAGE));
}

fn carried(origin: u32, written_in: Vec<u32>, changes: Vec<u32>) -> CarriedBatch<u32> {
    CarriedBatch { origin, touched_ms: 5, parent: Some(1), root: Some(1), written_in, changes }
}

#[test]
fn a_write_carries_its_new_changes_first_then_the_recently_written_batches_newest_first() {
    let mut ledger = WriteLedger::default();
    ledger.record_batch(10, (100, true), Some(1), 1, vec![0], 1_000);
    ledger.record_batch(11, (101, true), Some(10), 1, vec![1], 3_000);
    ledger.record_batch(12, (102, false), Some(11), 1, vec![2], 4_000);
    let new = carried(103, vec![], vec![3]);
    let out = ledger.carried(5_000, 3_000, Some(new.view()));
    // The uncarried batch (it named a forgotten item) and the one too old stay out.
    assert_eq!(out.iter().map(|b| b.origin).collect::<Vec<_>>(), [103, 101]);
    assert_eq!(out[1].written_in, [11, 12]);
    let many = (0..40).map(|n| 200 + n);
    for id in many {
        ledger.record_batch(id, (id, true), Some(id - 1), 1, vec![], 5_000);
    }
    let newest = ledger.carried(5_000, 10_000, None);
    assert!(newest.iter().all(|b| b.written_in.len() == CARRIED_WRITES), "only the latest writes go along");
    assert_eq!(*newest[0].written_in.last().unwrap(), 239);
}

#[test]
fn batches_taken_over_from_a_value_are_applied_again_on_a_value_built_beside_it() {
    // Tab B took in value 20 (another tab's, which carried batch 300 first written in 15).
    let mut ledger = WriteLedger::<u32>::default();
    ledger.inherit(20, vec![carried(300, vec![15], vec![7, 8])], &[]);
    assert!(ledger.waiting_changes().next().is_none(), "held in the state, nothing to apply");
    // A value built on 1 beside 20 (and 15) lacks it: applied again, though 300's tab is gone.
    assert!(ledger.reconcile(read(21, &[1])));
    assert_eq!(waiting(&ledger), [7, 8]);
    // A value that carries it holds it: nothing to apply, and it stays known as held.
    let mut ledger = WriteLedger::<u32>::default();
    ledger.inherit(20, vec![carried(300, vec![15], vec![7, 8])], &[]);
    let seen = Seen { id: 22, lineage: &[1], carried: &[300], replaced: None };
    assert!(!ledger.reconcile(seen));
    ledger.inherit(22, vec![carried(300, vec![15, 20], vec![7, 8])], &[]);
    assert!(ledger.waiting_changes().next().is_none());
    assert_eq!(ledger.batches.len(), 1, "one batch per origin");
    assert_eq!(ledger.batches[0].written_in, [15, 20, 22]);
}

#[test]
fn a_batch_beside_a_value_read_from_the_store_waits_for_that_values_event() {
    // Our first write 10 onto an empty store; the store now holds 20, another first write.
    let first = || {
        let mut ledger = WriteLedger::default();
        ledger.record(10, None, 10, vec![0]);
        ledger.reconcile(read(20, &[]));
        ledger
    };
    let mut ledger = first();
    assert!(ledger.waiting_changes().next().is_none(), "undecided: not applied yet");
    assert!(ledger.carried(0, u64::MAX, None).is_empty(), "nor carried as held");
    // Its event came with no removal before it: the store was empty, not forgotten.
    assert!(!ledger.decide(21));
    assert!(ledger.decide(20));
    assert_eq!(waiting(&ledger), [0]);
    // After a forget() the removal's event clears the ledger first.
    let mut ledger = first();
    ledger.clear();
    assert!(!ledger.decide(20));
}

#[test]
fn a_batch_applied_again_stays_related_to_values_built_on_the_one_it_was_applied_to() {
    // Our first write 10; another tab's first write 20 replaced it; we applied ours on 20 and
    // wrote 21. A value built on 20 without 21 lacks our batch and shares its history.
    let mut ledger = WriteLedger::default();
    ledger.record(10, None, 10, vec![0]);
    ledger.reconcile(Seen { id: 20, lineage: &[], carried: &[], replaced: Some(Some(10)) });
    ledger.record(21, Some(20), 20, vec![]);
    let beside = Seen { id: 22, lineage: &[20], carried: &[], replaced: Some(Some(21)) };
    assert!(ledger.reconcile(beside));
    assert_eq!(waiting(&ledger), [0]);
}

#[test]
fn a_value_written_over_takes_what_it_carried_and_the_state_lacks() {
    let mut ledger = ledger();
    let lacking = vec![carried(300, vec![15], vec![7]), carried(301, vec![16], vec![9]), carried(11, vec![], vec![1])];
    assert!(ledger.take_over_lacking(30, lacking, |b| b.written_in.contains(&16)));
    // 301 is in the state already, 11 is ours: only 300 is applied again.
    assert_eq!(waiting(&ledger), [7]);
}

#[test]
fn a_batch_that_names_a_forgotten_item_is_no_longer_carried() {
    let mut ledger = WriteLedger::default();
    ledger.record_batch(10, (100, true), Some(1), 1, vec![0], 0);
    ledger.record_batch(11, (101, true), Some(10), 1, vec![1, 2], 0);
    ledger.stop_carrying(|change| *change == 1);
    let out = ledger.carried(0, u64::MAX, None);
    assert_eq!(out.iter().map(|b| b.changes.to_vec()).collect::<Vec<_>>(), [vec![0]]);
}

#[test]
fn a_batch_once_held_is_not_taken_over_again_from_an_older_value() {
    // Taken over from value 30, then seen held by 31 (so its entry left the ledger): an old
    // event bringing 30 again must not apply it a second time.
    let mut ledger = WriteLedger::<u32>::default();
    assert!(ledger.take_over_lacking(30, vec![carried(300, vec![15], vec![7])], |_| false));
    ledger.record(40, Some(30), 1, vec![]);
    let holding = Seen { id: 41, lineage: &[40], carried: &[], replaced: None };
    ledger.reconcile(holding);
    assert!(ledger.batches.is_empty());
    assert!(!ledger.take_over_lacking(30, vec![carried(300, vec![15], vec![7])], |_| false));
    // A value that held a batch without carrying it (no room) marks ours held.
    let mut ledger = self::ledger();
    ledger.reconcile(read(50, &[1]));
    assert_eq!(waiting(&ledger), [0, 1, 2]);
    ledger.inherit(51, vec![], &[10]);
    assert_eq!(waiting(&ledger), [1, 2], "batch 10 is in 51");
}
