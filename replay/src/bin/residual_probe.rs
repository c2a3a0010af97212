//! `residual_probe --train FILE [--threads N] [--linear model.bin] [--trees 40,depth,shrinkage,top;...]`:
//! where the fitted linear model loses HR@20 on the validation cut of the training sessions (label
//! not among the pooled candidates, or pooled but ranked below 20; by prefix length and return vs
//! new label), and what boosted trees on its residual add there. Never reads a test file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use replay::data::{read_cases, read_sessions, validation_split, Case, Vocabulary};
use replay::device::Device;
use replay::fit::{collect, fit_early_stopping, hold_out, sample_cases, FitConfig, TrainingCase};
use replay::metrics::{Accuracy, MAX_K};
use replay::run::{evaluate, returns, Setup, LENGTH_BUCKETS};
use replay::server::{Server, ServerConfig};
use replay::trees::{boost, forest_score, Tree, TreeConfig};
use shop_personalizer::rank::{RankParams, DEFAULT_WEIGHTS, NUM_FEATURES};

/// One validation case as the probe keeps it: its pooled features (None: label not pooled).
struct Probe {
    case: Option<TrainingCase>,
    prefix_len: usize,
    returns: bool,
}

fn collect_eval(setup: &Setup<'_>, cases: &[Case]) -> Result<Vec<Probe>, String> {
    let chunk = cases.len().div_ceil(setup.threads).max(1);
    let parts: Vec<Result<Vec<Probe>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<Vec<Probe>, String> {
                    let mut device = Device::new(setup.server, setup.vocab, setup.config.clone(), None, MAX_K, false)
                        .map_err(|e| e.to_string())?;
                    let mut out = Vec::new();
                    for c in part {
                        let rows = device.training_rows(&c.prefix, c.label).map_err(|e| e.to_string())?;
                        out.push(Probe {
                            case: rows.map(|(m, r)| TrainingCase::new(&m, r, c.prefix.len())),
                            prefix_len: c.prefix.len(),
                            returns: returns(c),
                        });
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("worker".into()))).collect()
    });
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    Ok(all)
}

/// 0-based rank of the label (rows scoring strictly above it), or None when not pooled.
/// With `cascade`, only the best `cascade` rows by linear score get the trees' term and stay
/// ahead of the rest (the trees were boosted on those rows only).
fn rank(
    probe: &Probe,
    weights: &[f32],
    trees: &[Tree],
    cascade: Option<usize>,
    matrix: &mut Vec<f32>,
) -> Option<usize> {
    let c = probe.case.as_ref()?;
    c.expand_into(matrix);
    let linear: Vec<f32> =
        matrix.chunks_exact(NUM_FEATURES).map(|r| r.iter().zip(weights).map(|(x, w)| x * w).sum::<f32>()).collect();
    let above = |s: &[f32]| s.iter().enumerate().filter(|&(r, &x)| r != c.label_row && x > s[c.label_row]).count();
    let Some(top) = cascade else {
        let scores: Vec<f32> =
            matrix.chunks_exact(NUM_FEATURES).zip(&linear).map(|(r, l)| l + forest_score(trees, r)).collect();
        return Some(above(&scores));
    };
    let mut order: Vec<usize> = (0..linear.len()).collect();
    order.sort_by(|&a, &b| linear[b].total_cmp(&linear[a]).then(a.cmp(&b)));
    let linear_rank = above(&linear);
    if !order[..top.min(order.len())].contains(&c.label_row) {
        return Some(linear_rank);
    }
    let tree_score = |r: usize| linear[r] + forest_score(trees, &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES]);
    let label = tree_score(c.label_row);
    Some(order[..top.min(order.len())].iter().filter(|&&r| r != c.label_row && tree_score(r) > label).count())
}

fn accuracy(probes: &[Probe], weights: &[f32], trees: &[Tree], cascade: Option<usize>) -> Accuracy {
    let mut acc = Accuracy::default();
    let mut matrix = Vec::new();
    for p in probes {
        acc.add(rank(p, weights, trees, cascade, &mut matrix));
    }
    acc
}

/// HR@20 of `b` minus `a` over the same cases, in points, ± its paired standard error.
fn paired(probes: &[Probe], weights: &[f32], trees: &[Tree], cascade: Option<usize>) -> String {
    let mut matrix = Vec::new();
    let hit = |r: Option<usize>| f64::from(u8::from(r.is_some_and(|r| r < 20)));
    let diffs: Vec<f64> = probes
        .iter()
        .map(|p| hit(rank(p, weights, trees, cascade, &mut matrix)) - hit(rank(p, weights, &[], None, &mut matrix)))
        .collect();
    let n = diffs.len().max(2) as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let (won, lost) = (diffs.iter().filter(|d| **d > 0.0).count(), diffs.iter().filter(|d| **d < 0.0).count());
    format!("HR@20 {:+.2} ± {:.2} ({won} won, {lost} lost)", 100.0 * mean, 100.0 * (var / n).sqrt())
}

fn line(acc: &Accuracy) -> String {
    let (a, b) = (acc.at(10), acc.at(20));
    format!("{:.2} / {:.2} / {:.2} / {:.2}", a.hr, a.mrr, b.hr, b.mrr)
}

fn loss_table(probes: &[Probe], weights: &[f32]) {
    println!("| prefix | label | cases | not pooled | pooled, top 20 | pooled, 21-50 | pooled, > 50 | rows |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut matrix = Vec::new();
    for &(lo, hi, name) in LENGTH_BUCKETS.iter().chain(&[(1, usize::MAX, "all")]) {
        for kind in [Some(true), Some(false), None] {
            let sel: Vec<&Probe> = probes
                .iter()
                .filter(|p| (lo..=hi).contains(&p.prefix_len) && kind.is_none_or(|k| p.returns == k))
                .collect();
            let n = sel.len().max(1) as f64;
            let (mut out, mut top, mut mid, mut low, mut rows) = (0, 0, 0, 0, 0usize);
            for p in &sel {
                match rank(p, weights, &[], None, &mut matrix) {
                    None => out += 1,
                    Some(r) if r < 20 => top += 1,
                    Some(r) if r < 50 => mid += 1,
                    Some(_) => low += 1,
                }
                rows += p.case.as_ref().map_or(0, TrainingCase::rows);
            }
            let pct = |x: usize| 100.0 * x as f64 / n;
            let label = match kind {
                Some(true) => "returns",
                Some(false) => "new",
                None => "both",
            };
            println!(
                "| {name} | {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |",
                sel.len(),
                pct(out),
                pct(top),
                pct(mid),
                pct(low),
                rows as f64 / (sel.len() - out).max(1) as f64
            );
        }
    }
}

fn run() -> Result<(), String> {
    let mut train: Option<PathBuf> = None;
    let mut linear: Option<PathBuf> = None;
    let mut test: Option<PathBuf> = None;
    let mut threads = 2;
    let mut specs = "40,3,0.1,50".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--train" => train = Some(PathBuf::from(value)),
            "--linear" => linear = Some(PathBuf::from(value)),
            "--threads" => threads = value.parse().map_err(|_| "--threads takes a number".to_owned())?,
            "--trees" => specs = value,
            "--test" => test = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let started = Instant::now();
    let train = train.ok_or("--train FILE is required")?;
    let mut vocab = Vocabulary::default();
    let sessions = read_sessions(&train, &mut vocab).map_err(|e| e.to_string())?;
    // Read before anything is built, as `replay --test` reads it (the same item numbering).
    let test_cases = match &test {
        Some(path) => Some(read_cases(path, &mut vocab).map_err(|e| e.to_string())?.0),
        None => None,
    };
    let fit_config = FitConfig { max_cases: 40_000, ..FitConfig::default() };
    let (kept, held_out) = validation_split(&sessions, fit_config.validation_share);
    let server = Server::build(&kept, vocab.len(), &Default::default(), ServerConfig::default());
    let (fit_pool, eval_cases) =
        held_out.split_at(held_out.len() - (held_out.len() as f64 * fit_config.eval_share) as usize);
    let sample = sample_cases(fit_pool, fit_config.max_cases, fit_config.seed);
    let config = RankParams::default().check().map_err(|e| e.to_string())?;
    let setup = Setup {
        server: &server,
        vocab: &vocab,
        config,
        weights: None,
        use_categories: false,
        threads,
        progress: false,
        rerank_only: false,
    };
    let training = collect(&setup, &sample).map_err(|e| e.to_string())?;
    let (fitting, held) = hold_out(training, fit_config.holdout_share);
    eprintln!("[{:.0}s] {} fit cases, {} held", started.elapsed().as_secs_f64(), fitting.len(), held.len());
    let weights = match &linear {
        Some(path) if path.exists() => replay::model::load(path).map_err(|e| e.to_string())?,
        _ => {
            let (w, epoch) = fit_early_stopping(&fitting, &held, &DEFAULT_WEIGHTS, &fit_config);
            eprintln!("[{:.0}s] linear fit, epoch {epoch}", started.elapsed().as_secs_f64());
            if let Some(path) = &linear {
                replay::model::save(path, &w).map_err(|e| e.to_string())?;
            }
            w
        }
    };
    let probes = collect_eval(&setup, eval_cases)?;
    eprintln!("[{:.0}s] {} validation cases", started.elapsed().as_secs_f64(), probes.len());
    let (_, device) = evaluate(&Setup { weights: Some(weights.clone()), ..setup.clone() }, eval_cases, "validation")
        .map_err(|e| e.to_string())?;
    println!("validation, device replay (linear): {}", line(&device));
    println!("validation, from the matrices (linear): {}", line(&accuracy(&probes, &weights, &[], None)));
    loss_table(&probes, &weights);
    // The test file: the server side from every training session, as `replay --test` builds it.
    let full_server;
    let test_probes = match &test {
        Some(_) => {
            let cases = test_cases.as_deref().unwrap_or_default();
            full_server = Server::build(&sessions, vocab.len(), &Default::default(), ServerConfig::default());
            let probes = collect_eval(&Setup { server: &full_server, vocab: &vocab, ..setup.clone() }, cases)?;
            eprintln!("[{:.0}s] {} test cases", started.elapsed().as_secs_f64(), probes.len());
            Some(probes)
        }
        None => None,
    };
    for spec in specs.split(';') {
        let p: Vec<&str> = spec.split(',').collect();
        let get = |i: usize| p.get(i).copied().unwrap_or("");
        let d = TreeConfig::default();
        let tc = TreeConfig {
            trees: get(0).parse().unwrap_or(d.trees),
            depth: get(1).parse().unwrap_or(d.depth),
            shrinkage: get(2).parse().unwrap_or(d.shrinkage),
            top_rows: get(3).parse().unwrap_or(d.top_rows),
            min_hessian: get(4).parse().unwrap_or(d.min_hessian),
            threads,
            ..d
        };
        let t0 = Instant::now();
        let (trees, losses) = boost(&fitting, &held, &weights, &tc);
        let secs = t0.elapsed().as_secs_f64();
        let shown: Vec<String> = losses.iter().step_by(5).map(|l| format!("{l:.4}")).collect();
        let cascade = (tc.top_rows < 1000).then_some(tc.top_rows);
        println!(
            "trees {spec}: kept {} ({secs:.0}s), held loss {}; validation {} (cascade {cascade:?}), all rows {}",
            trees.len(),
            shown.join(" "),
            line(&accuracy(&probes, &weights, &trees, cascade)),
            line(&accuracy(&probes, &weights, &trees, None))
        );
        println!("  vs linear, paired: {}", paired(&probes, &weights, &trees, cascade));
        if let Some(test) = &test_probes {
            println!("  TEST linear {}", line(&accuracy(test, &weights, &[], None)));
            println!(
                "  TEST trees  {} ({})",
                line(&accuracy(test, &weights, &trees, cascade)),
                paired(test, &weights, &trees, cascade)
            );
        }
        for n in [10, 20, 40, 80].into_iter().filter(|&n| n < trees.len()) {
            println!("  first {n}: {}", line(&accuracy(&probes, &weights, &trees[..n], cascade)));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("residual_probe: {e}");
            ExitCode::from(2)
        }
    }
}
