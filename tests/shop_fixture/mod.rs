//! A small generated shop for the rank tests: candidates with categories, embeddings and
//! neighbours, built deterministically from a count and a seed.
#![allow(dead_code)]

use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::rank::{CandidateInput, NeighbourInput};

pub const CATEGORIES: [&str; 4] = ["Running", "Hiking", "Tennis", "Yoga"];

/// A cheap deterministic pseudo-random number in 0..1 from two integers.
pub fn hash01(a: u64, b: u64) -> f32 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % 1_000_000) as f32 / 1_000_000.0
}

/// `n` candidates `"{prefix}{i}"` with descending server scores, a category each, an embedding of
/// `dim` numbers (none when 0) and three neighbours among the others.
pub fn candidates(prefix: &str, n: usize, dim: usize, seed: u64) -> Vec<CandidateInput> {
    (0..n)
        .map(|i| CandidateInput {
            id: format!("{prefix}{i}"),
            score: (n - i) as f32 / n as f32,
            title: Some(format!("Item {i}")),
            popularity: Some(1.0 + 100.0 * hash01(seed, i as u64)),
            attributes: ItemAttributes {
                category_path: vec!["Sport".into(), CATEGORIES[i % CATEGORIES.len()].into()],
                ..ItemAttributes::default()
            },
            embedding: (dim > 0).then(|| (0..dim).map(|d| hash01(seed + i as u64, d as u64) - 0.5).collect()),
            neighbours: (1..=3)
                .map(|k| NeighbourInput { id: format!("{prefix}{}", (i + k * 7) % n.max(1)), score: 1.0 / k as f32 })
                .filter(|nb| nb.id != format!("{prefix}{i}"))
                .collect(),
            next: None,
        })
        .collect()
}
