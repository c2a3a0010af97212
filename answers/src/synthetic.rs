//! A seeded synthetic session log for a catalogue without one (the demo storefront's): shoppers
//! browse mostly within a category. Text format, one session per line.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `sessions` sessions of 2 to 8 views over `products` (id, category path): each next view stays
/// in the same narrowest category with probability 0.6, in the same top category with 0.3, and
/// jumps anywhere otherwise.
pub fn synthetic_log(products: &[(String, Vec<String>)], sessions: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut log = String::new();
    if products.is_empty() {
        return log;
    }
    let pick = |rng: &mut ChaCha8Rng, pool: &[usize]| pool[rng.random_range(0..pool.len())];
    let all: Vec<usize> = (0..products.len()).collect();
    for _ in 0..sessions {
        let length = rng.random_range(2..=8usize);
        let mut current = pick(&mut rng, &all);
        for step in 0..length {
            if step > 0 {
                log.push(' ');
            }
            log.push_str(&products[current].0);
            let path = &products[current].1;
            let roll: f64 = rng.random();
            let depth = if roll < 0.6 {
                path.len()
            } else if roll < 0.9 {
                1.min(path.len())
            } else {
                0
            };
            let pool: Vec<usize> = (0..products.len())
                .filter(|&o| o != current && products[o].1.len() >= depth && products[o].1[..depth] == path[..depth])
                .collect();
            current = if pool.is_empty() { pick(&mut rng, &all) } else { pick(&mut rng, &pool) };
        }
        log.push('\n');
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_mostly_within_a_category() {
        let products: Vec<(String, Vec<String>)> =
            (0..20).map(|i| (format!("p{i}"), vec![format!("c{}", i % 2), format!("l{}", i % 4)])).collect();
        let log = synthetic_log(&products, 200, 3);
        assert_eq!(log, synthetic_log(&products, 200, 3));
        assert_eq!(log.lines().count(), 200);
        let top = |id: &str| id[1..].parse::<usize>().unwrap() % 2;
        let (mut same, mut steps) = (0, 0);
        for line in log.lines() {
            let ids: Vec<&str> = line.split(' ').collect();
            for pair in ids.windows(2) {
                steps += 1;
                same += usize::from(top(pair[0]) == top(pair[1]));
            }
        }
        assert!(same * 10 > steps * 8, "{same} of {steps} steps stay in the top category");
    }
}
