//! The batches of changes a profile write carries for other tabs, as its envelope's `recent`
//! member (see `write_ledger.rs` for what they mean, `tabs.rs` for their use), newest first:
//! `[{"origin":1,"touchedMs":2,"parent":3,"root":4,"writtenIn":[5],"changes":[[...]]}]`.
//!
//! A tab that takes in a value takes its batches over, so a value built beside that one gets
//! them applied again even after the tab that recorded them closed. A value that carries a batch
//! contains it, so no tab applies it twice. What is carried is bounded: whole batches only, of
//! at most [`MAX_CARRIED_BYTES`] in all (and an eighth of the storage budget), written onto a value lacking them in the last
//! [`MAX_CARRIED_AGE_MS`]; tabs hear of each other's writes within milliseconds, so older
//! batches are in every value a tab can still take in.

use crate::profile::change_wire::{read_change, write_change};
use crate::profile::ProfileChange;
use crate::storage::json_reading::parse;
use crate::storage::tree_reading::{list, object, optional, required, whole_u32, whole_u64, TreeError};
use crate::storage::MAX_LINEAGE;

/// A batch as a stored value carries it: the value contains its changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CarriedBatch<C> {
    pub origin: u32,
    pub touched_ms: u64,
    pub parent: Option<u32>,
    /// `None`: the root is the value that carries it (its write was the first onto an empty store).
    pub root: Option<u32>,
    /// Earlier writes that carried it (the carrying value is implied).
    pub written_in: Vec<u32>,
    pub changes: Vec<C>,
}

/// A batch as a write is about to carry it, borrowed from the ledger (or the unwritten changes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CarriedView<'a, C> {
    pub origin: u32,
    pub touched_ms: u64,
    pub parent: Option<u32>,
    pub root: Option<u32>,
    pub written_in: &'a [u32],
    pub changes: &'a [C],
}

#[cfg(test)]
impl<C> CarriedBatch<C> {
    pub fn view(&self) -> CarriedView<'_, C> {
        CarriedView {
            origin: self.origin,
            touched_ms: self.touched_ms,
            parent: self.parent,
            root: self.root,
            written_in: &self.written_in,
            changes: &self.changes,
        }
    }
}

/// Most bytes of carried batches a write adds beside the profile, and at most this share of the
/// storage budget (they count against it: the profile compacts to the rest).
pub(super) const MAX_CARRIED_BYTES: usize = 16 * 1024;
pub(super) const MAX_CARRIED_BUDGET_SHARE: usize = 8;
/// Batches first written (or last applied again) longer ago than this are not carried.
pub(super) const MAX_CARRIED_AGE_MS: u64 = 10 * 60 * 1000;
/// Most batches one value carries, and most origins of batches it holds without carrying them.
const MAX_CARRIED_BATCHES: usize = 64;
const MAX_HELD_ORIGINS: usize = 128;

/// What a stored value carries: batches, and the origins of batches it holds but did not carry.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Carried {
    pub batches: Vec<CarriedBatch<ProfileChange>>,
    pub held: Vec<u32>,
}

impl Carried {
    /// The origins of every batch the value holds.
    pub fn origins(&self) -> Vec<u32> {
        self.batches.iter().map(|batch| batch.origin).chain(self.held.iter().copied()).collect()
    }
}

/// A name for the batch of `changes` a write onto `parent` carries first, known before the
/// write (whose id is the CRC of its whole text): the CRC of the changes and the parent. Two tabs
/// would have to record the very same events at the same millisecond for names to collide.
#[inline(never)]
pub(super) fn batch_origin(parent: Option<u32>, changes: &[ProfileChange]) -> u32 {
    let mut text = parent.map_or_else(String::new, |p| p.to_string());
    for change in changes {
        write_change(change, &mut text);
    }
    crate::storage::value_id(&text)
}

/// The `recent` member for `batches` (newest first) within a storage budget of `budget_bytes`:
/// the batches that fit whole, then the origins of those that do not (the value holds them too,
/// which tabs must know not to apply them twice); empty when there are none.
#[inline(never)]
pub(super) fn encode_carried(batches: &[CarriedView<ProfileChange>], budget_bytes: usize) -> String {
    use std::fmt::Write;
    let max_bytes = MAX_CARRIED_BYTES.min(budget_bytes / MAX_CARRIED_BUDGET_SHARE);
    let (mut out, mut held) = (String::new(), Vec::new());
    let mut count = 0;
    for batch in batches {
        let one = encode_batch(batch);
        if out.len() + one.len() + 2 > max_bytes || count == MAX_CARRIED_BATCHES {
            held.push(batch.origin);
            continue;
        }
        out.push(if out.is_empty() { '[' } else { ',' });
        out.push_str(&one);
        count += 1;
    }
    for origin in held.into_iter().take(MAX_HELD_ORIGINS) {
        let _ = write!(out, "{}{origin}", if out.is_empty() { '[' } else { ',' });
    }
    if !out.is_empty() {
        out.push(']');
    }
    out
}

fn encode_batch(batch: &CarriedView<ProfileChange>) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64 + 64 * batch.changes.len());
    let id = |id: Option<u32>| id.map_or_else(|| "null".to_owned(), |id| id.to_string());
    let _ = write!(
        out,
        "{{\"origin\":{},\"touchedMs\":{},\"parent\":{},\"root\":{},\"writtenIn\":[",
        batch.origin,
        batch.touched_ms,
        id(batch.parent),
        id(batch.root)
    );
    for (n, written) in batch.written_in.iter().enumerate() {
        let _ = write!(out, "{}{written}", if n == 0 { "" } else { "," });
    }
    out.push_str("],\"changes\":[");
    for (n, change) in batch.changes.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_change(change, &mut out);
    }
    out.push_str("]}");
    out
}

/// Reads a `recent` member [`encode_carried`] wrote; any damage refuses it whole.
#[inline(never)]
pub(super) fn decode_carried(text: &str) -> Result<Carried, TreeError> {
    let tree = parse(text).map_err(|e| TreeError::new(e.to_string()))?;
    let entries = tree.as_array().ok_or_else(|| TreeError::new("expected an array of batches"))?;
    if entries.len() > MAX_CARRIED_BATCHES + MAX_HELD_ORIGINS {
        return Err(TreeError::new("too many batches"));
    }
    let mut carried = Carried::default();
    for entry in entries {
        match entry {
            serde_json::Value::Number(_) => carried.held.push(whole_u32(entry)?),
            batch => carried.batches.push(decode_batch(batch)?),
        }
    }
    if carried.batches.len() > MAX_CARRIED_BATCHES {
        return Err(TreeError::new(format!("more than {MAX_CARRIED_BATCHES} batches carried")));
    }
    Ok(carried)
}

fn decode_batch(value: &serde_json::Value) -> Result<CarriedBatch<ProfileChange>, TreeError> {
    let f = object(value)?;
    let written_in = required(f, "writtenIn", |v| list(v, whole_u32))?;
    if written_in.len() > MAX_LINEAGE {
        return Err(TreeError::new(format!("{} writes listed, at most {MAX_LINEAGE}", written_in.len())));
    }
    Ok(CarriedBatch {
        origin: required(f, "origin", whole_u32)?,
        touched_ms: required(f, "touchedMs", whole_u64)?,
        parent: optional(f, "parent", whole_u32)?,
        root: optional(f, "root", whole_u32)?,
        written_in,
        changes: required(f, "changes", |v| list(v, read_change))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::event::TrackEvent;
    use crate::profile::RecordedEvent;

    fn views(batches: &[CarriedBatch<ProfileChange>]) -> Vec<CarriedView<'_, ProfileChange>> {
        batches.iter().map(CarriedBatch::view).collect()
    }

    fn batch(origin: u32, views: usize) -> CarriedBatch<ProfileChange> {
        let change = |n: usize| {
            ProfileChange::Record(RecordedEvent {
                event: TrackEvent::View { item_id: format!("sku-{n}"), item: None },
                at_ms: 1_700_000_000_000 + n as u64,
                hour_of_week: 3,
                attributes: Vec::new(),
                visit_device: None,
            })
        };
        CarriedBatch {
            origin,
            touched_ms: 1_700_000_000_000,
            parent: Some(7),
            root: None,
            written_in: vec![8, 9],
            changes: (0..views).map(change).collect(),
        }
    }

    #[test]
    fn batches_read_back_as_written() {
        let batches = vec![batch(1, 2), batch(2, 0), CarriedBatch { parent: None, root: Some(5), ..batch(3, 1) }];
        let text = encode_carried(&views(&batches), 1 << 20);
        assert!(text.starts_with(r#"[{"origin":1,"touchedMs":1700000000000,"parent":7,"root":null,"writtenIn":[8,9],"#));
        assert_eq!(decode_carried(&text).unwrap(), Carried { batches, held: vec![] });
        assert_eq!(encode_carried(&[], 1 << 20), "");
    }

    #[test]
    fn only_whole_batches_within_the_bound_are_carried() {
        // About 60 bytes a view: the big batch alone is over the bound and is left out whole.
        let batches = vec![batch(1, 10), batch(2, 400), batch(3, 10)];
        let carried = decode_carried(&encode_carried(&views(&batches), 1 << 20)).unwrap();
        assert_eq!(carried.batches.iter().map(|b| b.origin).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(carried.held, [2], "the value holds the one left out, and says so");
        assert_eq!(carried.origins(), [1, 3, 2]);
        let many: Vec<_> = (0..100).map(|n| batch(n, 1)).collect();
        let text = encode_carried(&views(&many), 1 << 20);
        let decoded = decode_carried(&text).unwrap();
        assert_eq!((decoded.batches.len(), decoded.held.len()), (MAX_CARRIED_BATCHES, 36));
        // A small budget carries less: an eighth of it.
        let small = encode_carried(&views(&many), 8_000);
        let decoded = decode_carried(&small).unwrap();
        assert!(small.len() <= 1_000 + 11 * decoded.held.len(), "{}", small.len());
        assert_eq!(decoded.batches.len() + decoded.held.len(), 100);
    }

    #[test]
    fn damage_refuses_the_whole_member() {
        let text = encode_carried(&[batch(1, 1).view()], 1 << 20);
        for damaged in [
            text.replace("\"origin\":1", "\"origin\":-1"),
            text.replace("[8,9]", "[8,\"9\"]"),
            text.replace("\"view\"", "\"teleport\""),
            text[..text.len() - 1].to_owned(),
            "{}".to_owned(),
        ] {
            assert!(decode_carried(&damaged).is_err(), "{damaged}");
        }
        let long = format!("[{{\"origin\":1,\"touchedMs\":0,\"writtenIn\":{:?},\"changes\":[]}}]", vec![1; 65]);
        assert!(decode_carried(&long).unwrap_err().to_string().contains("at most 64"));
        assert!(decode_carried("[1,-2]").is_err());
    }
}
