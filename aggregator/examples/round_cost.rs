//! What closing one round costs under each robust rule: `N` honest-looking 90-dim updates
//! (clipped delta plus noise of sd `zC`, quantized to i8 at the largest admitted scale, 10% of
//! them flips at the norm bound), each rule timed over `REPEATS` closes.
//!
//! `cargo run --release -p aggregator --example round_cost -- [N] [REPEATS]`

use std::time::Instant;

use aggregator::aggregation::{robust_mean, Contribution, Robust};
use aggregator::policy::{fixed_step, max_scale, norm_bound};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shop_personalizer::privacy::sampling::standard_normal;

const DIMENSION: usize = 90;
const CLIP: f64 = 0.5;
const NOISE: f64 = 1.0;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(5_000), |n| n.parse()).map_err(|_| "N must be a number")?;
    let repeats: usize = args.next().map_or(Ok(20), |n| n.parse()).map_err(|_| "REPEATS must be a number")?;
    let scale = max_scale(CLIP, NOISE, DIMENSION) * 0.999;
    let step = fixed_step(scale as f32).map_err(|e| e.to_string())?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let signal: Vec<f64> = (0..DIMENSION).map(|_| 0.03 * standard_normal(&mut rng)).collect();
    let members: Vec<Contribution> = (0..count)
        .map(|index| {
            let values: Vec<f64> = if index % 10 == 0 {
                let length = signal.iter().map(|s| s * s).sum::<f64>().sqrt();
                signal.iter().map(|s| -s / length * norm_bound(CLIP, NOISE, DIMENSION) * 0.99).collect()
            } else {
                signal.iter().map(|s| s + NOISE * CLIP * standard_normal(&mut rng)).collect()
            };
            let values = values
                .iter()
                .map(|v| {
                    let level = v / scale;
                    let rounded = level.floor() + f64::from(u8::from(rng.random::<f64>() < level - level.floor()));
                    rounded.clamp(-127.0, 127.0) as i8
                })
                .collect();
            Contribution { step, values }
        })
        .collect();
    let window = CLIP + 4.0 * NOISE * CLIP;
    let rules = [
        ("trimmed-mean:0.1", Robust::Trim(0.1)),
        ("median-window:4", Robust::Window(window)),
        ("screened:3", Robust::Screened { sigmas: 3.0, floor: CLIP, half_width: window }),
    ];
    println!("{count} updates of {DIMENSION} values (10% flips), {repeats} closes per rule");
    for (name, rule) in rules {
        let started = Instant::now();
        let mut checksum = 0.0;
        for _ in 0..repeats {
            let mean = robust_mean(&members, DIMENSION, rule).ok_or("no members")?;
            checksum += mean[0];
        }
        let per_round = started.elapsed().as_secs_f64() * 1e3 / repeats as f64;
        let along: f64 = robust_mean(&members, DIMENSION, rule)
            .ok_or("no members")?
            .iter()
            .zip(&signal)
            .map(|(m, s)| m * s)
            .sum::<f64>()
            / signal.iter().map(|s| s * s).sum::<f64>();
        println!("{name:>18}: {per_round:8.2} ms per round; mean along the honest signal {along:+.2} ({checksum:.1e})");
    }
    Ok(())
}
