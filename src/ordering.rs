//! One sort for the whole crate. The standard library's sorts are generic over the element type
//! and the comparator, so every call site compiles its own copy of the sorting code (3–8 KB of
//! WebAssembly each, five or more functions per site). Here every sort computes the order of the
//! positions with one non-generic stable sort of `u32`s and a comparator behind `dyn`, then moves
//! the elements into that order with swaps: the only per-type code left is the permutation.
//!
//! All sorts here are stable (equal elements keep their order), so they serve both the stable and
//! the unstable call sites of the standard library.

use std::cmp::Ordering;

/// Sorts `items` by `compare`, stable.
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let order = {
        let shared: &[T] = items;
        sorted_positions(shared.len(), &mut |a, b| compare(&shared[a], &shared[b]))
    };
    permute(items, order);
}

/// Sorts `items` by the key `key` gives, ascending, stable.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` ascending, stable.
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// Sorts row numbers by `compare`, in place and without allocating (the ranking path counts its
/// allocations), not stable: for rows whose comparator breaks every tie itself.
#[inline(never)]
pub fn sort_rows_by(rows: &mut [u32], compare: &mut dyn FnMut(u32, u32) -> Ordering) {
    rows.sort_unstable_by(|&a, &b| compare(a, b));
}

/// The positions `0..len` in the order `compare` (on positions) gives, stable. The one place the
/// sorting code is compiled.
#[inline(never)]
fn sorted_positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<u32> {
    let mut positions: Vec<u32> = (0..len as u32).collect();
    positions.sort_by(|&a, &b| compare(a as usize, b as usize));
    positions
}

/// Rearranges `items` so that `items[i]` becomes the old `items[order[i]]`, following each cycle
/// of the permutation with swaps. `order` must be a permutation of `0..items.len()`.
fn permute<T>(items: &mut [T], mut order: Vec<u32>) {
    for start in 0..items.len() {
        let mut hole = start;
        loop {
            let source = order[hole] as usize;
            order[hole] = hole as u32;
            if source == start {
                break;
            }
            items.swap(hole, source);
            hole = source;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_like_the_standard_stable_sort(values in prop::collection::vec((0u8..6, any::<u16>()), 0..200)) {
            let mut expected = values.clone();
            expected.sort_by_key(|v| v.0);
            let mut sorted = values;
            sort_by_key(&mut sorted, |v| v.0);
            prop_assert_eq!(sorted, expected);
        }

        #[test]
        fn sorts_descending_floats_with_ties_by_position(values in prop::collection::vec(-3i8..3, 0..100)) {
            let mut rows: Vec<(f32, usize)> = values.iter().enumerate().map(|(i, &v)| (f32::from(v), i)).collect();
            let mut expected = rows.clone();
            expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            sort_by(&mut rows, |a, b| b.0.total_cmp(&a.0));
            prop_assert_eq!(rows, expected);
        }
    }

    #[test]
    fn strings_move_without_copies_going_wrong() {
        let mut names = vec!["pear".to_string(), "apple".into(), "fig".into(), "apple".into()];
        sort(&mut names);
        assert_eq!(names, ["apple", "apple", "fig", "pear"]);
    }
}
