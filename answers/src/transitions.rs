//! Directional transitions: which items shoppers view directly after an item. Co-visitation
//! counts both directions and several steps; the answers' `next` column is this one step forward.

/// Per item `a` (dense ids `0..items`), the items `b` viewed after it in one session with
/// `w(a → b) / (w(a → ·) + 1)`, sorted by `b`: a view of `b` `d ≤ window` steps after a view of
/// `a` adds `1 / d` to `w(a → b)` (a view of `a` itself is no step), and `w(a → ·)` sums them
/// over every `b`. With `window` 1 that is the share of `a`'s direct steps that went to `b`. The
/// `+ 1` keeps an item seen once from claiming certainty about its one successor.
pub fn next_shares(sessions: &[Vec<u32>], items: usize, window: usize) -> Vec<Vec<(u32, f32)>> {
    let mut steps: Vec<(u64, f32)> = Vec::new();
    for s in sessions {
        for p in 0..s.len() {
            let a = s[p];
            for (d, &b) in s.iter().enumerate().take((p + window + 1).min(s.len())).skip(p + 1) {
                if a != b && (a as usize) < items && (b as usize) < items {
                    steps.push((u64::from(a) << 32 | u64::from(b), 1.0 / (d - p) as f32));
                }
            }
        }
    }
    steps.sort_unstable_by_key(|s| s.0);
    let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); items];
    let mut start = 0;
    while start < steps.len() {
        let a = (steps[start].0 >> 32) as usize;
        let mut end = start;
        let mut total = 1.0f32;
        while end < steps.len() && (steps[end].0 >> 32) as usize == a {
            total += steps[end].1;
            end += 1;
        }
        let list = &mut lists[a];
        for &(key, w) in &steps[start..end] {
            let b = (key & 0xffff_ffff) as u32;
            match list.last_mut() {
                Some(last) if last.0 == b => last.1 += w,
                _ => list.push((b, w)),
            }
        }
        for entry in list.iter_mut() {
            entry.1 /= total;
        }
        start = end;
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_count_direct_steps_forward_only() {
        // 0 → 1 twice, 0 → 2 once (three steps from 0, so the shares are over 4); 1 → 0 once;
        // 2 → 2 repeats the view and is no step; nothing follows 3.
        let sessions = vec![vec![0, 1, 0, 2, 2], vec![0, 1], vec![3]];
        let lists = next_shares(&sessions, 4, 1);
        assert_eq!(lists[0], vec![(1, 0.5), (2, 0.25)]);
        assert_eq!(lists[1], vec![(0, 0.5)]);
        assert!(lists[2].is_empty() && lists[3].is_empty());
    }
}
