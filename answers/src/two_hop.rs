//! Two-hop fill: an answer short of its candidates is filled with the neighbours of the item's
//! neighbours, scored by the sum of the two scores' products, before popular items.

use crate::candidates::ServerConfig;

/// Slots of an answer an item's own neighbours may fill.
pub(crate) fn own_slots(config: &ServerConfig) -> usize {
    if config.two_hop_fill {
        config.candidates.saturating_sub(config.two_hop_reserve)
    } else {
        config.candidates
    }
}

/// Per item whose own neighbours leave slots free, its two-hop neighbours (the neighbours of its
/// neighbours, scored by the sum of the two scores' products), best first, at most as many as
/// there are free slots; empty lists for the others.
pub(crate) fn two_hop_lists(neighbours: &[Vec<(u32, f32)>], config: &ServerConfig) -> Vec<Vec<(u32, f32)>> {
    let slots = own_slots(config);
    let mut scores = vec![0.0f32; neighbours.len()];
    // `taken[m] == a + 1`: m is a or one of a's own neighbours in the answer about a.
    let mut taken = vec![0u32; neighbours.len()];
    let mut touched: Vec<u32> = Vec::new();
    let mut hops: Vec<(u32, f32)> = Vec::new();
    let mut lists = vec![Vec::new(); neighbours.len()];
    for (a, list) in neighbours.iter().enumerate() {
        let own = &list[..list.len().min(slots)];
        let room = config.candidates.saturating_sub(own.len());
        if room == 0 || own.is_empty() {
            continue;
        }
        let stamp = a as u32 + 1;
        taken[a] = stamp;
        for &(n, _) in own {
            taken[n as usize] = stamp;
        }
        for &(n, s1) in own {
            for &(m, s2) in &neighbours[n as usize] {
                if taken[m as usize] != stamp && s1 * s2 > 0.0 {
                    if scores[m as usize] == 0.0 {
                        touched.push(m);
                    }
                    scores[m as usize] += s1 * s2;
                }
            }
        }
        hops.clear();
        hops.extend(touched.iter().map(|&m| (m, scores[m as usize])));
        for &m in &touched {
            scores[m as usize] = 0.0;
        }
        touched.clear();
        hops.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        lists[a] = hops[..hops.len().min(room)].to_vec();
    }
    lists
}
