//! `candidate_sources --train FILE [--threads N] [--sources covisit,vmis:100:500,...]`: compares
//! neighbour sources of the server side on the validation cut of the training sessions (the last
//! 10% of sessions; the never-fitted latest 30% of their cases, as `--fit-weights` reports them),
//! with the shipped weights. Never reads a test file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use replay::args::neighbour_source;
use replay::data::{read_sessions, validation_split, Vocabulary};
use replay::fit::FitConfig;
use replay::run::{replay_cases, score, Setup};
use replay::server::{Server, ServerConfig};
use replay::ReplayError;
use shop_personalizer::rank::{RankParams, DEFAULT_WEIGHTS};

/// The paired difference of HR@20 in points, with its standard error, and the discordant cases.
fn paired_difference(base: &[bool], other: &[bool]) -> String {
    let n = base.len().max(1) as f64;
    let diffs: Vec<f64> =
        base.iter().zip(other).map(|(&a, &b)| f64::from(u8::from(b)) - f64::from(u8::from(a))).collect();
    let mean = diffs.iter().sum::<f64>() / n;
    let variance = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let wins = diffs.iter().filter(|&&d| d > 0.0).count();
    let losses = diffs.iter().filter(|&&d| d < 0.0).count();
    format!("{:+.2} ± {:.2} ({wins} won, {losses} lost)", 100.0 * mean, 100.0 * (variance / n).sqrt())
}

fn run() -> Result<(), String> {
    let mut train: Option<PathBuf> = None;
    let mut threads = 2;
    let mut sources = "covisit,vmis".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--train" => train = Some(PathBuf::from(value)),
            "--threads" => threads = value.parse().map_err(|_| "--threads takes a number".to_owned())?,
            "--sources" => sources = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let train = train.ok_or("--train FILE is required")?;
    let mut vocab = Vocabulary::default();
    let sessions = read_sessions(&train, &mut vocab).map_err(|e| e.to_string())?;
    let fit = FitConfig::default();
    let (kept, held_out) = validation_split(&sessions, fit.validation_share);
    let cases = &held_out[held_out.len() - (held_out.len() as f64 * fit.eval_share) as usize..];
    let config = RankParams::default().check().map_err(|e| e.to_string())?;
    println!(
        "{} validation cases; the last column: device HR@20 minus the first source's, paired, ± its standard error",
        cases.len()
    );
    println!("| source | build s | server HR@20 / MRR@20 | device HR@20 / MRR@20 | device HR@10 / MRR@10 | vs first |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut first: Option<Vec<bool>> = None;
    for spec in sources.split(',') {
        let server_config = ServerConfig { source: neighbour_source(spec)?, ..ServerConfig::default() };
        let started = Instant::now();
        let server = Server::build(&kept, vocab.len(), &HashMap::new(), server_config);
        let build = started.elapsed().as_secs_f64();
        let setup = Setup {
            server: &server,
            vocab: &vocab,
            config: config.clone(),
            weights: Some(DEFAULT_WEIGHTS.to_vec()),
            use_categories: false,
            threads,
            progress: false,
            rerank_only: false,
        };
        let orders = replay_cases(&setup, cases, "validation").map_err(|e: ReplayError| e.to_string())?;
        let (s, d) = score(&orders, cases);
        let hits: Vec<bool> =
            orders.iter().zip(cases).map(|(o, c)| o.device.iter().take(20).any(|&i| i == c.label)).collect();
        let paired = match &first {
            None => String::new(),
            Some(base) => paired_difference(base, &hits),
        };
        if first.is_none() {
            first = Some(hits);
        }
        println!(
            "| {spec} | {build:.1} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {paired} |",
            s.at(20).hr,
            s.at(20).mrr,
            d.at(20).hr,
            d.at(20).mrr,
            d.at(10).hr,
            d.at(10).mrr,
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("candidate_sources: {e}");
            ExitCode::from(2)
        }
    }
}
