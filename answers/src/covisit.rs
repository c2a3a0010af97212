//! Co-visitation: two items viewed close to each other in one session.

/// Weighted co-visitation pairs `(a << 32 | b, weight)`, sorted by key and summed: `b` seen
/// `d ≤ window` steps after `a` adds `1/d`, before `a` adds `backward/d`, each times its
/// session's weight when `weights` are given (recency, [`crate::recency`]; `None`: weight 1).
pub fn co_visitation(sessions: &[Vec<u32>], window: usize, backward: f32, weights: Option<&[f32]>) -> Vec<(u64, f32)> {
    let mut pairs: Vec<(u64, f32)> = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        // Times 1 is exact: without weights the sums are the plain counts.
        let session_weight = weights.map_or(1.0, |w| w[i]);
        for p in 0..s.len() {
            let lo = p.saturating_sub(window);
            let hi = (p + window + 1).min(s.len());
            for q in lo..hi {
                if q == p || s[q] == s[p] {
                    continue;
                }
                let d = p.abs_diff(q) as f32;
                let w = if q > p { 1.0 / d } else { backward / d };
                pairs.push((u64::from(s[p]) << 32 | u64::from(s[q]), w * session_weight));
            }
        }
    }
    pairs.sort_unstable_by_key(|p| p.0);
    let mut merged: Vec<(u64, f32)> = Vec::with_capacity(pairs.len() / 2);
    for (key, w) in pairs {
        match merged.last_mut() {
            Some(last) if last.0 == key => last.1 += w,
            _ => merged.push((key, w)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_visitation_weights_follow_distance_and_direction() {
        // Session [0, 1, 2]: 0→1 at 1, 0→2 at 2 (1/2), 1→0 backward (0.5), 1→2 at 1 ...
        let pairs = co_visitation(&[vec![0, 1, 2]], 5, 0.5, None);
        let get = |a: u64, b: u64| pairs.iter().find(|p| p.0 == a << 32 | b).map(|p| p.1);
        assert_eq!(get(0, 1), Some(1.0));
        assert_eq!(get(0, 2), Some(0.5));
        assert_eq!(get(1, 0), Some(0.5));
        assert_eq!(get(2, 0), Some(0.25));
        assert_eq!(get(0, 0), None);
    }

    #[test]
    fn session_weights_scale_each_sessions_co_visitations() {
        let sessions = [vec![0, 1], vec![0, 1]];
        let plain = co_visitation(&sessions, 5, 1.0, None);
        assert_eq!(plain, vec![(1, 2.0), (1 << 32, 2.0)]);
        let weighted = co_visitation(&sessions, 5, 1.0, Some(&[0.25, 1.0]));
        assert_eq!(weighted, vec![(1, 1.25), (1 << 32, 1.25)], "the older session counts a quarter");
    }
}
