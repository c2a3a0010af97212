//! `embedding_probe --train FILE [--embeddings cooc,next,...] [--cases 3000]`: how well the
//! server's item vectors alone predict the next view on the validation cut of the training
//! sessions (the last 10% of sessions; a seeded sample of the never-fitted latest 30% of their
//! cases): every item ranked by the cosine the device's `emb_session` computes (the about vectors
//! of the last 20 views, weighted 0.6^steps back, against each item's candidate vector). HR@20 and
//! MRR@20 over the whole catalogue. Never reads a test file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use replay::args::embedding_source;
use replay::data::{read_sessions, validation_split, Vocabulary};
use replay::fit::{sample_cases, FitConfig};
use replay::server::{Server, ServerConfig};

fn run() -> Result<(), String> {
    let mut train: Option<PathBuf> = None;
    let mut specs = "cooc,next".to_owned();
    let mut max_cases = 3000usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--train" => train = Some(PathBuf::from(value)),
            "--embeddings" => specs = value,
            "--cases" => max_cases = value.parse().map_err(|_| "--cases takes a number".to_owned())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let train = train.ok_or("--train FILE is required")?;
    let mut vocab = Vocabulary::default();
    let sessions = read_sessions(&train, &mut vocab).map_err(|e| e.to_string())?;
    let fit = FitConfig::default();
    let (kept, held_out) = validation_split(&sessions, fit.validation_share);
    let eval = &held_out[held_out.len() - (held_out.len() as f64 * fit.eval_share) as usize..];
    let cases = sample_cases(eval, max_cases, fit.seed);
    println!("{} cases; embedding-only HR@20 / MRR@20 over all {} items", cases.len(), vocab.len());
    for spec in specs.split(',') {
        let embedding_source = embedding_source(spec).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let config = ServerConfig { embedding_source, ..ServerConfig::default() };
        let dim = config.embedding_dim;
        let server = Server::build(&kept, vocab.len(), &HashMap::new(), config);
        let build = started.elapsed().as_secs_f64();
        let (mut hits, mut rr) = (0usize, 0.0f64);
        let mut scores = vec![0.0f32; vocab.len()];
        for case in &cases {
            let mut q = vec![0.0f32; dim];
            let mut w = 1.0f32;
            for &item in case.prefix.iter().rev().take(20) {
                if let Some(e) = server.about_embedding(item) {
                    q.iter_mut().zip(e).for_each(|(a, v)| *a += w * v);
                }
                w *= 0.6;
            }
            for (item, s) in scores.iter_mut().enumerate() {
                *s = server
                    .embedding(item as u32)
                    .map_or(f32::NEG_INFINITY, |e| e.iter().zip(&q).map(|(a, b)| a * b).sum());
            }
            let target = scores[case.label as usize];
            let rank = scores.iter().filter(|&&s| s > target).count();
            if rank < 20 {
                hits += 1;
                rr += 1.0 / (rank + 1) as f64;
            }
        }
        let n = cases.len().max(1) as f64;
        println!("| {spec} | build {build:.1} s | {:.2} / {:.2} |", 100.0 * hits as f64 / n, 100.0 * rr / n);
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embedding_probe: {e}");
            ExitCode::FAILURE
        }
    }
}
