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
//!
//! A batch can outlive its tab: the profile's writes carry their recent batches
//! ([`WriteLedger::carried`], stored beside the value), and a tab that takes such a value in keeps
//! them as its own ([`WriteLedger::inherit`]), contained in its state. So when a value built
//! beside that one arrives later, the tab applies them again on top, though the tab that recorded
//! them closed long ago. A value contains a batch it lists a write of, or that it carries.

use crate::storage::{lineage_root, MAX_LINEAGE};

use super::carried::{CarriedBatch, CarriedView};

/// Most batches kept; beyond this the oldest is assumed seen.
const MAX_BATCHES: usize = 2 * MAX_LINEAGE;
/// Most origins of held batches remembered.
const MAX_HELD_ORIGINS: usize = 8 * MAX_BATCHES;
/// The latest writes of a batch a value carrying it lists (the value itself is one more): enough
/// for a value built on an older one to be seen to hold it, few enough to keep values small.
const CARRIED_WRITES: usize = 8;

#[derive(Debug, Clone)]
struct Batch<C> {
    /// Names the batch wherever it is carried: an id of the changes' first write, unique to it.
    origin: u32,
    /// When the batch was last written on top of a value that lacked it (first, or applied again).
    touched_ms: u64,
    /// The stored value the batch's first write was built on (`None`: an empty store), and the
    /// root of that value's history.
    parent: Option<u32>,
    root: u32,
    /// This tab's writes that carried the batch, newest last.
    written_in: Vec<u32>,
    /// False while the batch waits to be applied again on top of another tab's value.
    in_base: bool,
    /// The value it waits to be applied again on top of: one built on that value is related too
    /// (when the batch's own history names neither, as when two first writes met).
    waiting_onto: Option<u32>,
    /// The values it was applied again on top of and then written (newest last): a value built on
    /// one of them shares the batch's history though it lists none of its own writes.
    bases: Vec<u32>,
    /// False once it mentions something that must leave no trace in storage (a forgotten item).
    carried: bool,
    changes: Vec<C>,
}

impl<C> Batch<C> {
    /// A batch value `id` carried, now this tab's, written in `written_in` (`id` among them);
    /// `in_base`: in this tab's state already, else waiting to be applied again on top of it.
    fn carried_by(id: u32, batch: CarriedBatch<C>, written_in: Vec<u32>, in_base: bool) -> Self {
        Batch {
            origin: batch.origin,
            touched_ms: batch.touched_ms,
            parent: batch.parent,
            root: batch.root.unwrap_or(id),
            written_in,
            in_base,
            waiting_onto: None,
            bases: Vec::new(),
            carried: true,
            changes: batch.changes,
        }
    }
}

/// How a value another tab stored relates to this tab's writes, as far as is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen<'a> {
    pub id: u32,
    pub lineage: &'a [u32],
    /// The origins of the batches the value carries.
    pub carried: &'a [u32],
    /// From a `storage` event: the id of the value it replaced (`Some(None)`: an empty key).
    /// `None` when the value was read from the store (events between may have been skipped).
    pub replaced: Option<Option<u32>>,
}

impl Seen<'_> {
    fn lists(&self, id: u32) -> bool {
        self.id == id || self.lineage.contains(&id)
    }

    fn contains<C>(&self, batch: &Batch<C>) -> bool {
        batch.written_in.iter().any(|&w| self.lists(w)) || self.carried.contains(&batch.origin)
    }
}

/// This tab's batches (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct WriteLedger<C> {
    batches: Vec<Batch<C>>,
    /// Batches a value read from the store shares no history with, by that value's id: another
    /// tab's first write onto an empty store beside ours, or a value written after a `forget()`.
    /// That value's `storage` event decides ([`Self::decide`]): the `forget()`'s removal comes
    /// first and clears them; otherwise they are applied again.
    undecided: Vec<(u32, Batch<C>)>,
    /// Origins of batches the state has held (recorded here, taken over, or in a value taken in),
    /// newest last: a batch an older value carries is not taken over again once its own entry
    /// left the ledger (a value holding it was seen).
    held_origins: Vec<u32>,
}

impl<C> Default for WriteLedger<C> {
    fn default() -> Self {
        WriteLedger { batches: Vec::new(), undecided: Vec::new(), held_origins: Vec::new() }
    }
}

impl<C: Clone> WriteLedger<C> {
    /// Notes this tab's write `id`, built on `parent` (with `root`), carrying every kept batch and
    /// the new `changes` (named by the write's id).
    pub(super) fn record(&mut self, id: u32, parent: Option<u32>, root: u32, changes: Vec<C>) {
        self.record_batch(id, (id, false), parent, root, changes, 0);
    }

    /// [`Self::record`] at `now_ms`, the new batch named `origin` (known before the write is) and
    /// `carried` by later writes or not.
    pub(super) fn record_batch(
        &mut self,
        id: u32,
        (origin, carried): (u32, bool),
        parent: Option<u32>,
        root: u32,
        changes: Vec<C>,
        now_ms: u64,
    ) {
        for batch in &mut self.batches {
            push_bounded(&mut batch.written_in, id);
            if !batch.in_base {
                batch.touched_ms = now_ms;
                if let Some(onto) = batch.waiting_onto {
                    batch.bases.push(onto);
                    if batch.bases.len() > CARRIED_WRITES {
                        batch.bases.remove(0);
                    }
                }
            }
            batch.in_base = true;
            batch.waiting_onto = None;
        }
        if !changes.is_empty() {
            self.note_held(origin);
            let written_in = vec![id];
            let (in_base, waiting_onto, bases) = (true, None, Vec::new());
            let batch = Batch {
                origin,
                touched_ms: now_ms,
                parent,
                root,
                written_in,
                in_base,
                waiting_onto,
                bases,
                carried,
                changes,
            };
            self.batches.push(batch);
        }
        self.keep_bounded();
    }

    fn keep_bounded(&mut self) {
        if self.batches.len() > MAX_BATCHES {
            let excess = self.batches.len() - MAX_BATCHES;
            self.batches.drain(..excess);
        }
    }

    /// The batches a write at `now_ms` carries: those written on top of a value that lacked them
    /// within the last `max_age_ms`, newest first, with the write's `new` changes (named `origin`)
    /// first of all. The carrying value contains each.
    #[inline(never)]
    pub(super) fn carried<'a>(
        &'a self,
        now_ms: u64,
        max_age_ms: u64,
        new: Option<CarriedView<'a, C>>,
    ) -> Vec<CarriedView<'a, C>> {
        let mut recent: Vec<&Batch<C>> =
            self.batches.iter().filter(|b| b.carried && now_ms.saturating_sub(b.touched_ms) <= max_age_ms).collect();
        // By when they were last written onto a value lacking them, not by their place here
        // (batches taken over from another tab's value are appended whatever their age).
        crate::ordering::sort_by_key(&mut recent, |b| std::cmp::Reverse(b.touched_ms));
        let kept = recent.into_iter().map(|b| CarriedView {
            origin: b.origin,
            touched_ms: b.touched_ms,
            parent: b.parent,
            root: Some(b.root),
            written_in: &b.written_in[b.written_in.len().saturating_sub(CARRIED_WRITES)..],
            changes: &b.changes,
        });
        new.into_iter().chain(kept).collect()
    }

    /// Takes in the batches value `id` carries, and notes those it `held` without carrying them
    /// (after [`Self::reconcile`] with it): they are in
    /// the state that holds it, to be applied again on top of a value built beside it, even when
    /// the tab that recorded them is gone.
    #[inline(never)]
    pub(super) fn inherit(&mut self, id: u32, carried: Vec<CarriedBatch<C>>, held: &[u32]) {
        for origin in carried.iter().map(|b| b.origin).chain(held.iter().copied()) {
            self.note_held(origin);
        }
        for known in self.batches.iter_mut().filter(|b| held.contains(&b.origin)) {
            // Held by the value though it did not carry it (no room): in the state now.
            push_bounded(&mut known.written_in, id);
            known.in_base = true;
            known.waiting_onto = None;
        }
        for mut batch in carried.into_iter().rev() {
            let mut written_in = std::mem::take(&mut batch.written_in);
            push_bounded(&mut written_in, id);
            if let Some(known) = self.batches.iter_mut().find(|b| b.origin == batch.origin) {
                for w in written_in {
                    if !known.written_in.contains(&w) {
                        push_bounded(&mut known.written_in, w);
                    }
                }
                known.in_base = true;
                known.waiting_onto = None;
                continue;
            }
            self.batches.push(Batch::carried_by(id, batch, written_in, true));
        }
        self.keep_bounded();
    }

    /// Takes over, to be applied again on top of this state, the batches value `id` carries that
    /// neither this ledger nor (by `held`) the state holds. Returns whether there were any.
    #[inline(never)]
    pub(super) fn take_over_lacking(
        &mut self,
        id: u32,
        carried: Vec<CarriedBatch<C>>,
        held: impl Fn(&CarriedBatch<C>) -> bool,
    ) -> bool {
        let before = self.batches.len();
        for mut batch in carried.into_iter().rev() {
            if held(&batch) || self.held_origins.contains(&batch.origin) {
                continue;
            }
            self.note_held(batch.origin);
            let mut written_in = std::mem::take(&mut batch.written_in);
            push_bounded(&mut written_in, id);
            self.batches.push(Batch::carried_by(id, batch, written_in, false));
        }
        self.keep_bounded();
        self.batches.len() > before
    }

    /// Carries no batch any more one of whose changes is `doomed` (they stay to be applied again).
    pub(super) fn stop_carrying(&mut self, doomed: impl Fn(&C) -> bool) {
        for batch in &mut self.batches {
            batch.carried &= !batch.changes.iter().any(&doomed);
        }
    }

    pub(super) fn clear(&mut self) {
        self.batches.clear();
        self.undecided.clear();
        self.held_origins.clear();
    }

    fn note_held(&mut self, origin: u32) {
        if !self.held_origins.contains(&origin) {
            self.held_origins.push(origin);
            if self.held_origins.len() > MAX_HELD_ORIGINS {
                self.held_origins.remove(0);
            }
        }
    }

    /// The `storage` event of value `id` arrived with no removal before it: the batches held
    /// undecided on it were not forgotten, and wait to be applied again. Returns whether any.
    #[inline(never)]
    pub(super) fn decide(&mut self, id: u32) -> bool {
        let before = self.batches.len();
        let (decided, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.undecided).into_iter().partition(|(on, _)| *on == id);
        self.undecided = rest;
        for (_, mut batch) in decided {
            if self.batches.iter().any(|b| b.origin == batch.origin) {
                continue;
            }
            batch.in_base = false;
            batch.waiting_onto = Some(id);
            self.batches.push(batch);
        }
        self.keep_bounded();
        self.batches.len() > before
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

    /// Takes in a value another tab stored: drops the batches it contains, marks the others to be
    /// applied again on top of it and returns whether any is. Of those that share no history with
    /// it: dropped when a `storage` event brought it (a `forget()` came before), else held
    /// undecided until its event comes ([`Self::decide`]).
    #[inline(never)]
    pub(super) fn reconcile(&mut self, seen: Seen<'_>) -> bool {
        let root = lineage_root(seen.id, seen.lineage);
        // A value that holds an undecided batch decides it: it is in the state from now on.
        self.undecided.retain(|(_, batch)| !seen.contains(batch));
        for mut batch in std::mem::take(&mut self.batches) {
            if seen.contains(&batch) {
                continue;
            }
            // A value a `storage` event brings shares the batch's history: a `forget()` since the
            // batch was recorded would have come as a removal event first and cleared it.
            let related = seen.replaced.is_some()
                || batch.parent.is_some_and(|p| seen.lists(p))
                || batch.root == root
                || seen.lists(batch.root)
                || batch
                    .waiting_onto
                    .filter(|_| !batch.in_base)
                    .iter()
                    .chain(&batch.bases)
                    .any(|&base| seen.lists(base) || seen.replaced == Some(Some(base)));
            batch.in_base = false;
            batch.waiting_onto = Some(seen.id);
            if related {
                self.batches.push(batch);
            } else if seen.replaced.is_none() {
                self.undecided.push((seen.id, batch));
            }
        }
        if self.undecided.len() > MAX_BATCHES {
            let excess = self.undecided.len() - MAX_BATCHES;
            self.undecided.drain(..excess);
        }
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

fn push_bounded(ids: &mut Vec<u32>, id: u32) {
    ids.push(id);
    if ids.len() > MAX_LINEAGE {
        ids.remove(0);
    }
}

#[cfg(test)]
#[path = "write_ledger_tests.rs"]
mod tests;
