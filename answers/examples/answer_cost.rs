//! `cargo run --release -p answers --example answer_cost -- SESSIONS [N]`: the time to compute
//! and serialize one item answer (serde, and from the pieces the index encodes at build), without HTTP (N answers about seeded random items).

use std::time::Instant;

use answers::index::{AnswerIndex, IndexConfig, Inputs};
use answers::sessions::LogFormat;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("SESSIONS file")?;
    let n: usize = args.next().map_or(Ok(20_000), |a| a.parse().map_err(|_| "N is a number"))?;
    let log = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let inputs = Inputs { log: &log, log_format: LogFormat::Text, catalogue: None };
    let (index, _) = AnswerIndex::build(inputs, &IndexConfig::default()).map_err(|e| e.to_string())?;
    let ids: Vec<String> = index.item_ids().map(str::to_owned).collect();
    let mut state = 7u64;
    let (mut compute, mut serialize, mut pieces, mut bytes) = (0.0, 0.0, 0.0, 0usize);
    let mut out = Vec::new();
    for _ in 0..n {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let id = &ids[(state >> 33) as usize % ids.len()];
        let started = Instant::now();
        let answer = index.item_answer(id).ok_or("known id")?;
        let computed = Instant::now();
        bytes += answer.to_json().len();
        compute += (computed - started).as_secs_f64();
        serialize += computed.elapsed().as_secs_f64();
        let started = Instant::now();
        index.item_answer_json(id, &mut out);
        pieces += started.elapsed().as_secs_f64();
    }
    println!(
        "{n} answers: compute {:.1} µs + serde {:.1} µs per answer; from encoded pieces {:.1} µs in all; {:.0} bytes each",
        compute / n as f64 * 1e6,
        serialize / n as f64 * 1e6,
        pieces / n as f64 * 1e6,
        bytes as f64 / n as f64
    );
    Ok(())
}
