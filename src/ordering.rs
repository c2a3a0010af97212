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

/// Sorts row numbers by `compare`, stable, in place. The one instance of the standard library's
/// sort in the crate: every other sort here comes through it. Up to 1,024 rows it sorts in a
/// scratch buffer on the stack, so the ranking path (which counts its allocations) allocates
/// nothing; longer lists take one scratch allocation.
#[inline(never)]
pub fn sort_rows_by(rows: &mut [u32], compare: &mut dyn FnMut(u32, u32) -> Ordering) {
    rows.sort_by(|&a, &b| compare(a, b));
}

/// Moves the first `k` rows in `compare`'s order to the front of `rows` (in no particular order
/// among themselves), in place and without allocating, for a comparator that breaks every tie:
/// a quickselect (median-of-three pivots) over the one sort's row type instead of the standard
/// library's `select_nth_unstable_by`, which compiled a second sorting machinery per call site.
/// After 32 partitions of one range it sorts what is left (`sort_rows_by`), so no input makes it
/// quadratic.
#[inline(never)]
pub fn select_rows_by(rows: &mut [u32], k: usize, compare: &mut dyn FnMut(u32, u32) -> Ordering) {
    // Invariant: rows[..low] come before every row of rows[low..], rows[high..] after every row
    // of rows[..high], and low <= k <= high.
    let (mut low, mut high) = (0, rows.len());
    let mut partitions = 0;
    while low < k && k < high {
        if high - low <= 16 || partitions == 32 {
            sort_rows_by(&mut rows[low..high], compare);
            return;
        }
        partitions += 1;
        let mid = low + (high - low) / 2;
        let last = high - 1;
        // The median of the first, middle and last rows, moved to the end.
        if compare(rows[mid], rows[low]) == Ordering::Less {
            rows.swap(mid, low);
        }
        if compare(rows[last], rows[mid]) == Ordering::Less {
            rows.swap(last, mid);
            if compare(rows[mid], rows[low]) == Ordering::Less {
                rows.swap(mid, low);
            }
        }
        rows.swap(mid, last);
        let pivot = rows[last];
        let mut store = low;
        for at in low..last {
            if compare(rows[at], pivot) == Ordering::Less {
                rows.swap(at, store);
                store += 1;
            }
        }
        rows.swap(store, last);
        // rows[low..store] before the pivot, now at `store`, rows[store + 1..high] after it.
        if k <= store {
            high = store;
        } else {
            low = store + 1;
        }
    }
}

/// The positions `0..len` in the order `compare` (on positions) gives, stable.
#[inline(never)]
fn sorted_positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<u32> {
    let mut positions: Vec<u32> = (0..len as u32).collect();
    sort_rows_by(&mut positions, &mut |a, b| compare(a as usize, b as usize));
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

    proptest! {
        #[test]
        fn selecting_puts_the_first_k_rows_in_front(
            keys in prop::collection::vec(any::<u16>(), 0..400),
            k in any::<prop::sample::Index>(),
            sorted_input in any::<bool>(),
        ) {
            // Distinct keys (the key, then the row), as the ranking's comparator breaks ties.
            let mut rows: Vec<u32> = (0..keys.len() as u32).collect();
            if sorted_input {
                rows.sort_by_key(|&r| std::cmp::Reverse((keys[r as usize], r)));
            }
            let k = if rows.is_empty() { 0 } else { k.index(rows.len() + 1) };
            let mut compare = |a: u32, b: u32| (keys[a as usize], a).cmp(&(keys[b as usize], b));
            let mut expected = rows.clone();
            expected.sort_by(|&a, &b| compare(a, b));
            select_rows_by(&mut rows, k, &mut compare);
            let mut front = rows[..k].to_vec();
            front.sort_by(|&a, &b| compare(a, b));
            prop_assert_eq!(&front[..], &expected[..k]);
            let mut all = rows.clone();
            all.sort_unstable();
            prop_assert_eq!(all, (0..keys.len() as u32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn strings_move_without_copies_going_wrong() {
        let mut names = vec!["pear".to_string(), "apple".into(), "fig".into(), "apple".into()];
        sort(&mut names);
        assert_eq!(names, ["apple", "apple", "fig", "pear"]);
    }
}
