//! `replay`: evaluate the on-device ranker on session logs. See `replay --help`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use replay::args::Options;
use replay::baselines::Baselines;
use replay::data::{read_cases, read_categories, read_sessions, validation_split, Vocabulary};
use replay::fit::{
    collect, fit, fit_early_stopping, hold_out, named_features, sample_cases, weights_source, without_family,
    FitConfig, TrainingCase,
};
use replay::report::{json_line, markdown, svg_chart, validation_line, AblationRow, RunFacts, REFIT_ALL};
use replay::run::{evaluate, evaluate_full, Setup};
use replay::server::{Recency, Server, ServerConfig};
use replay::ReplayError;
use shop_personalizer::rank::{Family, FamilyMask, RankParams, DEFAULT_WEIGHTS};

fn main() -> ExitCode {
    match Options::parse(std::env::args().skip(1)).and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::from(2)
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), ReplayError> {
    std::fs::write(path, text)
        .map_err(|e| ReplayError::Write { path: path.display().to_string(), reason: e.to_string() })
}

fn run(o: &Options) -> Result<(), ReplayError> {
    let started = Instant::now();
    // A bad model file stops the run before the logs are read.
    let mut weights = match &o.model {
        Some(path) => replay::model::load(path)?,
        None => DEFAULT_WEIGHTS.to_vec(),
    };
    let mut vocab = Vocabulary::default();
    let sessions = read_sessions(&o.train, &mut vocab)?;
    let categories = match &o.categories {
        Some(path) => read_categories(path, &mut vocab)?,
        None => HashMap::new(),
    };
    let test = match &o.test {
        Some(path) => Some(read_cases(path, &mut vocab)?),
        None => None,
    };
    let defaults = ServerConfig::default();
    let server_config = ServerConfig {
        candidates: o.candidates,
        window: o.window.unwrap_or(defaults.window),
        backward_weight: o.backward_weight.unwrap_or(defaults.backward_weight),
        popularity_exponent: o.popularity_exponent.unwrap_or(defaults.popularity_exponent),
        embedding_dim: o.embedding_dim.unwrap_or(defaults.embedding_dim),
        embedding_source: o.embeddings.unwrap_or(defaults.embedding_source),
        source: o.neighbours.unwrap_or(defaults.source),
        two_hop_fill: o.two_hop_fill.unwrap_or(defaults.two_hop_fill),
        two_hop_reserve: o.two_hop_reserve.unwrap_or(defaults.two_hop_reserve),
        next_column: o.next_column.unwrap_or(defaults.next_column),
        next_window: o.next_window.unwrap_or(defaults.next_window).max(1),
        candidate_neighbours: o.candidate_neighbours.unwrap_or(defaults.candidate_neighbours),
        recency: Recency { popularity: o.popularity_half_life, covisit: o.covisit_half_life },
        ..defaults
    };
    let params = RankParams::default();
    let config = RankParams {
        pool_extra: o.pool_extra.unwrap_or(params.pool_extra),
        fast_decay: o.fast_decay.unwrap_or(params.fast_decay),
        ..params
    }
    .check()?;
    let fit_defaults = FitConfig::default();
    let fit_config = FitConfig {
        validation_share: o.validation_share,
        max_cases: o.fit_cases,
        learning_rate: o.learning_rate.unwrap_or(fit_defaults.learning_rate),
        epochs: o.epochs.unwrap_or(fit_defaults.epochs),
        cold_start: !o.warm_start,
        ..fit_defaults
    };
    let use_categories = !categories.is_empty();
    if o.off_policy {
        return replay::off_policy::run(o, &sessions, &vocab, &categories, server_config, config.params());
    }
    let mut training: Vec<TrainingCase> = Vec::new();
    if o.fit_weights || o.ablate {
        let (kept, held_out) = validation_split(&sessions, o.validation_share);
        let server = Server::build(&kept, vocab.len(), &categories, server_config.clone());
        let (fit_pool, eval_cases) =
            held_out.split_at(held_out.len() - (held_out.len() as f64 * fit_config.eval_share) as usize);
        let sample = sample_cases(fit_pool, o.fit_cases, fit_config.seed);
        let setup = Setup {
            server: &server,
            vocab: &vocab,
            config: config.clone(),
            weights: None,
            use_categories,
            threads: o.threads,
            progress: o.progress,
            rerank_only: false,
        };
        training = collect(&setup, &sample)?;
        eprintln!(
            "validation: {} of {} cases sampled to fit; the label is among the candidates in {} ({} stored compact)",
            sample.len(),
            fit_pool.len(),
            training.len(),
            training.iter().filter(|c| c.is_compact()).count()
        );
        if o.fit_weights {
            let (fitting, held) = hold_out(std::mem::take(&mut training), fit_config.holdout_share);
            let (fitted, epoch) = fit_early_stopping(&fitting, &held, &weights, &fit_config);
            for entry in o.compare_without.iter().flat_map(|list| list.split(';')) {
                let config = FitConfig { held_at_zero: named_features(entry)?, ..fit_config.clone() };
                let (variant, epoch) = fit_early_stopping(&fitting, &held, &weights, &config);
                let evaluation =
                    evaluate_full(&Setup { weights: Some(variant), ..setup.clone() }, eval_cases, "validation")?;
                eprintln!("without {entry}: {}", validation_line(&evaluation, eval_cases.len(), epoch));
            }
            let fitted_cases = fitting.len() + held.len();
            weights = fitted;
            // Only the ablation refits on them; otherwise they are freed before the test replay.
            if o.ablate {
                training = fitting;
                training.extend(held);
            }
            let evaluation =
                evaluate_full(&Setup { weights: Some(weights.clone()), ..setup.clone() }, eval_cases, "validation")?;
            eprintln!("{}", validation_line(&evaluation, eval_cases.len(), epoch));
            let provenance = format!(
                "{} validation cases from the last {:.0}% of sessions of {}",
                fitted_cases,
                100.0 * o.validation_share,
                o.train.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
            );
            if let Some(path) = &o.model_out {
                replay::model::save(path, &weights)?;
                eprintln!("wrote the model file {}", path.display());
            }
            if let Some(path) = &o.write_rust {
                write(path, &weights_source(&weights, &provenance))?;
                eprintln!("wrote Rust source {}", path.display());
            }
        }
    }
    let Some((cases, skipped)) = test else { return Ok(()) };
    let server = Server::build(&sessions, vocab.len(), &categories, server_config);
    let setup = Setup {
        server: &server,
        vocab: &vocab,
        config: config.clone(),
        weights: Some(weights.clone()),
        use_categories,
        threads: o.threads,
        progress: o.progress,
        rerank_only: false,
    };
    let evaluation = evaluate_full(&Setup { rerank_only: true, ..setup.clone() }, &cases, "replay")?;
    let (server_acc, device_acc) = (&evaluation.server, &evaluation.device);
    let seconds = started.elapsed().as_secs_f64();
    let mut ablation = Vec::new();
    if o.ablate {
        // The reference: every signal, refit the same way as the rows without one.
        let refit = fit(&training, &weights, &fit_config);
        let (_, device) = evaluate(&Setup { weights: Some(refit), ..setup.clone() }, &cases, "refit")?;
        ablation.push(AblationRow { family: REFIT_ALL, device });
        for family in Family::ALL {
            let refit = fit(&without_family(&training, family), &weights, &fit_config);
            let masked = Setup {
                config: config.clone().with_families_off(FamilyMask::none().without(family)),
                weights: Some(refit),
                ..setup.clone()
            };
            let (_, device) = evaluate(&masked, &cases, family.name())?;
            ablation.push(AblationRow { family: family.name(), device });
        }
    }
    let facts = RunFacts {
        train: o.train.display().to_string(),
        test: o.test.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        train_sessions: sessions.len(),
        skipped_lines: skipped,
        candidates: o.candidates,
        categories: use_categories,
        seconds,
    };
    let built = Baselines::build(&sessions, vocab.len());
    let baselines = replay::report::Baselines {
        overall: built.evaluate(&cases, vocab.len()),
        session_pop_by_return: vec![
            built.session_pop_accuracy(&cases, replay::run::returns),
            built.session_pop_accuracy(&cases, |c| !replay::run::returns(c)),
        ],
    };
    let md = markdown(&facts, &evaluation, o.k, &baselines, &ablation);
    std::fs::create_dir_all(&o.out)
        .map_err(|e| ReplayError::Write { path: o.out.display().to_string(), reason: e.to_string() })?;
    write(&o.out.join("report.md"), &md)?;
    write(&o.out.join("hr_at_k.svg"), &svg_chart(server_acc, device_acc))?;
    println!("{md}");
    if o.json {
        println!("{}", json_line(server_acc, device_acc, o.k));
    }
    Ok(())
}
