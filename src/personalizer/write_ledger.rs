//! This tab's changes that no other tab's value is known to contain yet, kept in batches so that
//! each can be applied again on top of a value that was built beside it, exactly once.
//!
//! A batch is the changes one write of this tab carried first (its origin). Every later write of
//! this tab carries every batch still kept, so a value whose lineage lists any of those writes
//! contains the batch, which is then dropped. A batch that a value lacks but shares history with
//! (the batch's parent or root is in its lineage, or a `storage` event says the value replaced
//! one of this tab's writes or the batch's root, or was written onto an empty key) is applied
//! again on top of it and kept, with its origin: if two tabs both end up holding it (each merged
//! the other's write), the ids still say so, and no value counts it twice. A batch that shares no
//! history with the value (written before another tab's `forget()`) is dropped, never
//! resurrected. A value written onto an empty key after a `forget()` is no exception: events
//! come in the order of the writes, so the removal's event came first and cleared the batches.

use crate::storage::{lineage_root, MAX_LINEAGE};

/// Most batches kept; beyond this the oldest is assumed seen.
const MAX_BATCHES: usize = 2 * MAX_LINEAGE;

#[derive(Debug, Clone)]
struct Batch<C> {
    /// The stored value the batch's first write was built on (`None`: an empty store), and the
    /// root of that value's history.
    parent: Option<u32>,
    root: u32,
    /// This tab's writes that carried the batch, newest last.
    written_in: Vec<u32>,
    /// False while the batch waits to be applied again on top of another tab's value.
    in_base: bool,
    changes: Vec<C>,
}

/// How a value another tab stored relates to this tab's writes, as far as is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen<'a> {
    pub id: u32,
    pub lineage: &'a [u32],
    /// From a `storage` event: the id of the value it replaced (`Some(None)`: an empty key).
    /// `None` when the value was read from the store (events between may have been skipped).
    pub replaced: Option<Option<u32>>,
}

impl Seen<'_> {
    fn lists(&self, id: u32) -> bool {
        self.id == id || self.lineage.contains(&id)
    }
}

/// This tab's batches (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct WriteLedger<C> {
    batches: Vec<Batch<C>>,
}

impl<C> Default for WriteLedger<C> {
    fn default() -> Self {
        WriteLedger { batches: Vec::new() }
    }
}

impl<C: Clone> WriteLedger<C> {
    /// Notes this tab's write `id`, built on `parent` (with `root`), carrying every kept batch and
    /// the new `changes`.
    pub(super) fn record(&mut self, id: u32, parent: Option<u32>, root: u32, changes: Vec<C>) {
        for batch in &mut self.batches {
            batch.written_in.push(id);
            if batch.written_in.len() > MAX_LINEAGE {
                batch.written_in.remove(0);
            }
            batch.in_base = true;
        }
        if !changes.is_empty() {
            self.batches.push(Batch { parent, root, written_in: vec![id], in_base: true, changes });
        }
        if self.batches.len() > MAX_BATCHES {
            self.batches.remove(0);
        }
    }

    pub(super) fn clear(&mut self) {
        self.batches.clear();
    }

    /// This tab's writes whose batches wait to be applied again on top of `seen` and which a
    /// state of `seen` plus those batches holds whole, newest first: only those of batches whose
    /// first write was built on a value `seen` holds too (or on an empty store). A write built on
    /// a value `seen` lacks is not held (only its batch is): listing it would tell the other tab
    /// that this value holds what that write was built on, and it would adopt it and drop that.
    pub(super) fn replayed_writes(&self, seen: Seen<'_>) -> Vec<u32> {
        let mut ids: Vec<u32> = Vec::new();
        let held = |b: &&Batch<C>| !b.in_base && b.parent.is_none_or(|p| seen.lists(p));
        for batch in self.batches.iter().rev().filter(held) {
            for &id in batch.written_in.iter().rev() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// The roots of the histories of batches waiting to be applied again.
    pub(super) fn replayed_roots(&self) -> Vec<u32> {
        self.batches.iter().filter(|b| !b.in_base).map(|b| b.root).collect()
    }

    /// The changes of batches waiting to be applied again, oldest first.
    pub(super) fn waiting_changes(&self) -> impl Iterator<Item = &C> {
        self.batches.iter().filter(|b| !b.in_base).flat_map(|b| b.changes.iter())
    }

    /// Takes in a value another tab stored: drops the batches it contains or shares no history
    /// with, and marks the others to be applied again on top of it. Returns whether any is.
    pub(super) fn reconcile(&mut self, seen: Seen<'_>) -> bool {
        let root = lineage_root(seen.id, seen.lineage);
        self.batches.retain_mut(|batch| {
            if batch.written_in.iter().any(|&w| seen.lists(w)) {
                return false;
            }
            let replaced_ours = matches!(seen.replaced, Some(Some(old)) if batch.written_in.contains(&old));
            let related = replaced_ours
                || batch.parent.is_some_and(|p| seen.lists(p) || seen.replaced == Some(Some(p)))
                || seen.replaced == Some(None)
                || seen.replaced == Some(Some(batch.root))
                || batch.root == root
                || seen.lists(batch.root);
            batch.in_base = false;
            related
        });
        self.batches.iter().any(|b| !b.in_base)
    }

    /// Like [`Self::reconcile`], then forgets every batch: the changes to apply again, for a
    /// part that folds them into its next write (the adaptation state, see `adapting/tabs.rs`).
    pub(super) fn take_lacking(&mut self, seen: Seen<'_>) -> Vec<C> {
        self.reconcile(seen);
        let lacking = self.waiting_changes().cloned().collect();
        self.clear();
        lacking
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a>(id: u32, lineage: &'a [u32]) -> Seen<'a> {
        Seen { id, lineage, replaced: None }
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
        let replaced = Seen { id: 20, lineage: &[], replaced: Some(Some(10)) };
        assert!(first().reconcile(replaced));
        let beside = Seen { id: 20, lineage: &[], replaced: Some(None) };
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
}
