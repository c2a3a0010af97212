//! Lineages: the ids of the stored values a value contains, newest first (see the envelope).
//!
//! A value written onto another lists that one and its lineage. Only [`MAX_LINEAGE`] ids fit, so
//! the oldest would fall off after enough writes, and a tab that wrote many times without seeing
//! another tab's values could no longer tell that those values grew from the same history as its
//! own (it took them for values written after a `forget()` and dropped its own changes). So the
//! last id is always kept: the root, the first value written onto an empty store, which every
//! value of that history lists, while a value written after a `forget()` has a root of its own.

use super::MAX_LINEAGE;

/// `ids` (newest first) cut to `max` entries, keeping the last one (the root).
pub fn bounded_lineage(ids: &[u32], max: usize) -> Vec<u32> {
    if ids.len() <= max {
        return ids.to_vec();
    }
    let mut bounded: Vec<u32> = ids[..max.saturating_sub(1)].to_vec();
    bounded.extend(ids.last());
    bounded
}

/// The lineage of a value written onto `parent` (whose lineage is `lineage`), as stored.
pub fn descendant_lineage(parent: Option<u32>, lineage: &[u32]) -> Vec<u32> {
    let ids: Vec<u32> = parent.into_iter().chain(lineage.iter().copied()).collect();
    bounded_lineage(&ids, MAX_LINEAGE)
}

/// The root of a value's history: the oldest id of its lineage, or the value itself.
pub fn lineage_root(id: u32, lineage: &[u32]) -> u32 {
    lineage.last().copied().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_survives_any_number_of_writes() {
        let mut lineage: Vec<u32> = Vec::new();
        let mut parent = None;
        for id in 1..100u32 {
            lineage = descendant_lineage(parent, &lineage);
            parent = Some(id);
            assert!(lineage.len() <= MAX_LINEAGE);
        }
        assert_eq!(lineage.last(), Some(&1), "the first value stays the root");
        assert_eq!(lineage[0], 98, "newest first");
        assert_eq!(lineage_root(99, &lineage), 1);
        assert_eq!(lineage_root(7, &[]), 7, "a first value is its own root");
    }

    #[test]
    fn short_lineages_are_kept_whole() {
        assert_eq!(bounded_lineage(&[3, 2, 1], 4), [3, 2, 1]);
        assert_eq!(bounded_lineage(&[5, 4, 3, 2, 1], 3), [5, 4, 1]);
    }
}
