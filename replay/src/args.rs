//! Command-line options, parsed by hand (no native-only dependency).

use std::path::PathBuf;

use crate::server::{EmbeddingSource, HalfLife, NeighbourSource, NextItemConfig, ServerConfig, VmisConfig};
use crate::ReplayError;

/// Validation cases `fit` samples by default (the off-policy log keeps 20,000).
pub const FIT_CASES: usize = 40_000;

pub const USAGE: &str = "usage: replay --train FILE --test FILE [--candidates 100] [--out DIR] [--json] [--k 20]
              [--categories FILE] [--ablate] [--threads N] [--no-progress] [server/device settings]
       replay fit --train FILE --out model.bin [--write-rust FILE] [--validation-share 0.1]
              [--fit-cases 40000] [--test FILE]
       replay --train FILE --test FILE --model model.bin
       replay --train FILE --off-policy [--epsilon 0.2] [--k 20] [--validation-share 0.1] [--fit-cases 20000]

--train      one session per line (space-separated item ids), or prefix<TAB>label[<TAB>...] lines
--test       prefix<TAB>label lines (extra columns ignored)
--categories item<TAB>category lines: candidates carry the category, the profile learns affinity
--window N --backward-weight W --popularity-exponent E --embedding-dim D
             server-side co-visitation settings (defaults 12, 1.0, 0.25, 64)
--neighbours SPEC  the server's neighbour source: covisit (default) or vmis[:K[:M[:noidf]]]
--two-hop-fill on|off  the server fills answers short of --candidates neighbours with two-hop
             neighbours before popular items (default on)
--two-hop-reserve N  with two-hop fill, slots of every answer kept for two-hop neighbours (default 0)
--next-column on|off  the server sends each candidate's next value (the share of the answer's
             item's views it came directly after; default on)
--popularity-half-life H  weigh each view behind the server's popularity 2^(-age/H), age in
             shares of the training log (its sessions in order span one unit; default 0: off)
--covisit-half-life H  the same for the server's co-visitations (neighbours, embeddings);
             negative, NaN or infinite H is refused (recency_bad_half_life)
--next-window N  steps after an item that count towards its next values, each 1/steps (default 1)
--embeddings SPEC  the server's item vectors: cooc (random indexing over co-visitation) or
             next[:EPOCHS[:NEGATIVES[:SCALE[:RATE[:tied][:ri]]]]] (trained for next-item prediction)
--candidate-neighbours N  co-visitation neighbours the server sends with each candidate
--pool-extra N  rows the device pools from earlier answers of the session (default 300)
--fast-decay X  device-side weight kept per step back in the session (default 0.6)
--learning-rate X --epochs N  Adam's initial step size and the epochs of the fit
--warm-start start the fit from the shipped weights (with --epochs 0: validate them as they are)
--ablate     also refit and replay with each signal family switched off
--compare-without 'A,B;C'  with fit: refit on the same validation cases once per `;` entry with
             the features or families it names held at 0, and print each one's validation replay
--model FILE rank with the weights of a model file (replay fit writes one) instead of the
             compiled-in ones; with fit and --warm-start, start the fit from them
fit          learn weights on a validation split cut from --train (the last --validation-share
             of sessions, never the test file) and write them as a model file to --out (the
             file the aggregator serves with --initial-model); the same as --fit-weights
             --model-out FILE. --write-rust FILE also writes them as Rust source (the library's
             src/rank/default_weights.rs is written only when named there)
--off-policy log rankings of the validation cases under the shipped weights exploring with
             probability --epsilon, estimate other policies' HR@K from the logs (IPS, SNIPS,
             item-in-top-K) and compare with their directly replayed HR@K (see replay/README.md)";

/// Parsed options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub train: PathBuf,
    pub test: Option<PathBuf>,
    pub categories: Option<PathBuf>,
    pub candidates: usize,
    pub out: PathBuf,
    pub json: bool,
    pub k: usize,
    pub ablate: bool,
    pub fit_weights: bool,
    /// Where a fit writes its model file.
    pub model_out: Option<PathBuf>,
    /// Where a fit writes its weights as Rust source (only when asked).
    pub write_rust: Option<PathBuf>,
    /// A model file whose weights replace the compiled-in ones.
    pub model: Option<PathBuf>,
    pub validation_share: f64,
    pub fit_cases: usize,
    pub threads: usize,
    pub progress: bool,
    /// Server-side co-visitation window, backward weight, popularity exponent, embedding size.
    pub window: Option<usize>,
    pub backward_weight: Option<f32>,
    pub popularity_exponent: Option<f32>,
    pub embedding_dim: Option<usize>,
    /// Fill short answers with two-hop neighbours (`--two-hop-fill`).
    pub two_hop_fill: Option<bool>,
    pub two_hop_reserve: Option<usize>,
    /// Send the answers' `next` column (`--next-column`).
    pub next_column: Option<bool>,
    pub next_window: Option<usize>,
    /// Where the server's neighbours come from (`--neighbours`).
    pub neighbours: Option<NeighbourSource>,
    /// Where the server's item vectors come from (`--embeddings`).
    pub embeddings: Option<EmbeddingSource>,
    /// Co-visitation neighbours sent along with each candidate.
    pub candidate_neighbours: Option<usize>,
    /// Recency half-lives of the server's popularity and co-visitation counts (0: off).
    pub popularity_half_life: HalfLife,
    pub covisit_half_life: HalfLife,
    /// Device-side rows pooled from earlier answers.
    pub pool_extra: Option<usize>,
    /// Device-side recency decay per session step.
    pub fast_decay: Option<f32>,
    /// Run the off-policy evaluation demonstration (see `off_policy.rs`) with this exploration.
    pub off_policy: bool,
    pub epsilon: f32,
    /// Adam's initial step size and the epochs of the offline fit.
    pub learning_rate: Option<f32>,
    pub epochs: Option<usize>,
    /// Start the fit from the shipped weights instead of from 0.
    pub warm_start: bool,
    /// Refits on the same cases, one per `;`-separated entry, each without the features it names.
    pub compare_without: Option<String>,
}

fn value<T: std::str::FromStr>(flag: &str, raw: Option<String>) -> Result<T, ReplayError> {
    let raw = raw.ok_or_else(|| ReplayError::Args(format!("{flag} needs a value")))?;
    raw.parse().map_err(|_| ReplayError::Args(format!("{flag} got {raw:?}, which is not a valid value")))
}

/// `covisit`, or `vmis[:K[:M[:noidf]]]` (unnamed parts keep their defaults).
pub fn neighbour_source(spec: &str) -> Result<NeighbourSource, String> {
    let mut parts = spec.split(':');
    match parts.next() {
        Some("covisit") if spec == "covisit" => Ok(NeighbourSource::CoVisitation),
        Some("vmis") => {
            let mut number =
                |default: usize| parts.next().map_or(Ok(default), |p| p.parse().map_err(|_| spec.to_owned()));
            let defaults = VmisConfig::default();
            let k = number(defaults.k)?;
            let m = number(defaults.m)?;
            let idf = match parts.next() {
                None => true,
                Some("noidf") => false,
                Some(_) => return Err(format!("unknown source {spec}: covisit or vmis[:k[:m[:noidf]]]")),
            };
            Ok(NeighbourSource::Vmis(VmisConfig { k, m, idf }))
        }
        _ => Err(format!("unknown source {spec}: covisit or vmis[:k[:m[:noidf]]]")),
    }
}

/// `cooc`, or `next[:EPOCHS[:NEGATIVES[:SCALE[:RATE[:tied][:ri]]]]]` (unnamed parts keep their defaults).
pub fn embedding_source(spec: &str) -> Result<EmbeddingSource, ReplayError> {
    let bad = || {
        ReplayError::Args(format!(
            "--embeddings got {spec:?}: use cooc or next[:EPOCHS[:NEGATIVES[:SCALE[:RATE[:tied][:ri]]]]]"
        ))
    };
    let mut parts = spec.split(':');
    match parts.next() {
        Some("cooc") if spec == "cooc" => return Ok(EmbeddingSource::CoOccurrence),
        Some("next") => {}
        _ => return Err(bad()),
    }
    let mut c = NextItemConfig::default();
    if let Some(p) = parts.next() {
        c.epochs = p.parse().map_err(|_| bad())?;
    }
    if let Some(p) = parts.next() {
        c.negatives = p.parse().map_err(|_| bad())?;
    }
    if let Some(p) = parts.next() {
        c.scale = p.parse().map_err(|_| bad())?;
    }
    if let Some(p) = parts.next() {
        c.learning_rate = p.parse().map_err(|_| bad())?;
    }
    for flag in parts {
        match flag {
            "tied" => c.tied = true,
            "ri" => c.from_cooccurrence = true,
            _ => return Err(bad()),
        }
    }
    if c.epochs == 0 || c.negatives == 0 || !(c.scale > 0.0 && c.scale.is_finite()) {
        return Err(bad());
    }
    Ok(EmbeddingSource::NextItem(c))
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, ReplayError> {
        let mut train = None;
        let mut o = Options {
            train: PathBuf::new(),
            test: None,
            categories: None,
            candidates: ServerConfig::default().candidates,
            out: PathBuf::from("replay-out"),
            json: false,
            k: 20,
            ablate: false,
            fit_weights: false,
            model_out: None,
            write_rust: None,
            model: None,
            validation_share: 0.1,
            fit_cases: 20_000,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            progress: true,
            window: None,
            backward_weight: None,
            popularity_exponent: None,
            embedding_dim: None,
            embeddings: None,
            neighbours: None,
            two_hop_fill: None,
            two_hop_reserve: None,
            next_column: None,
            next_window: None,
            candidate_neighbours: None,
            popularity_half_life: HalfLife::OFF,
            covisit_half_life: HalfLife::OFF,
            pool_extra: None,
            fast_decay: None,
            off_policy: false,
            epsilon: 0.2,
            learning_rate: None,
            epochs: None,
            warm_start: false,
            compare_without: None,
        };
        let mut args = args.into_iter().peekable();
        let fit_command = args.peek().is_some_and(|first| first == "fit");
        if fit_command {
            args.next();
            o.fit_weights = true;
            // Chosen on both validation cuts (layout 2): 20,000 -> 40,000 sampled cases gave
            // Diginetica 53.96 / 19.70 -> 54.05 / 20.02, #nowplaying 22.97 / 10.57 -> 23.08 / 10.58.
            o.fit_cases = FIT_CASES;
        }
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--train" => train = Some(value::<PathBuf>(&flag, args.next())?),
                "--test" => o.test = Some(value(&flag, args.next())?),
                "--categories" => o.categories = Some(value(&flag, args.next())?),
                "--candidates" => o.candidates = value(&flag, args.next())?,
                "--out" if fit_command => o.model_out = Some(value(&flag, args.next())?),
                "--out" => o.out = value(&flag, args.next())?,
                "--model-out" => o.model_out = Some(value(&flag, args.next())?),
                "--write-rust" => o.write_rust = Some(value(&flag, args.next())?),
                "--model" => o.model = Some(value(&flag, args.next())?),
                "--k" => o.k = value(&flag, args.next())?,
                "--weights-out" => {
                    return Err(ReplayError::Args(
                        "--weights-out is gone: use replay fit --out model.bin, and --write-rust FILE for Rust source"
                            .into(),
                    ))
                }
                "--validation-share" => o.validation_share = value(&flag, args.next())?,
                "--fit-cases" => o.fit_cases = value(&flag, args.next())?,
                "--threads" => o.threads = value(&flag, args.next())?,
                "--window" => o.window = Some(value(&flag, args.next())?),
                "--backward-weight" => o.backward_weight = Some(value(&flag, args.next())?),
                "--popularity-exponent" => o.popularity_exponent = Some(value(&flag, args.next())?),
                "--embedding-dim" => o.embedding_dim = Some(value(&flag, args.next())?),
                "--neighbours" => {
                    o.neighbours =
                        Some(neighbour_source(&value::<String>(&flag, args.next())?).map_err(ReplayError::Args)?)
                }
                "--embeddings" => o.embeddings = Some(embedding_source(&value::<String>(&flag, args.next())?)?),
                "--candidate-neighbours" => o.candidate_neighbours = Some(value(&flag, args.next())?),
                "--pool-extra" => o.pool_extra = Some(value(&flag, args.next())?),
                "--learning-rate" => o.learning_rate = Some(value(&flag, args.next())?),
                "--epochs" => o.epochs = Some(value(&flag, args.next())?),
                "--fast-decay" => o.fast_decay = Some(value(&flag, args.next())?),
                "--epsilon" => o.epsilon = value(&flag, args.next())?,
                "--off-policy" => o.off_policy = true,
                "--json" => o.json = true,
                "--two-hop-fill" => {
                    o.two_hop_fill = match value::<String>(&flag, args.next())?.as_str() {
                        "on" => Some(true),
                        "off" => Some(false),
                        _ => return Err(ReplayError::Args("--two-hop-fill takes on or off".into())),
                    }
                }
                "--next-column" => {
                    o.next_column = match value::<String>(&flag, args.next())?.as_str() {
                        "on" => Some(true),
                        "off" => Some(false),
                        _ => return Err(ReplayError::Args("--next-column takes on or off".into())),
                    }
                }
                "--popularity-half-life" => {
                    o.popularity_half_life =
                        HalfLife::parse("--popularity-half-life", &value::<String>(&flag, args.next())?)?
                }
                "--covisit-half-life" => {
                    o.covisit_half_life = HalfLife::parse("--covisit-half-life", &value::<String>(&flag, args.next())?)?
                }
                "--next-window" => o.next_window = Some(value(&flag, args.next())?),
                "--two-hop-reserve" => o.two_hop_reserve = Some(value(&flag, args.next())?),
                "--warm-start" => o.warm_start = true,
                "--compare-without" => o.compare_without = Some(value(&flag, args.next())?),
                "--ablate" => o.ablate = true,
                "--fit-weights" => o.fit_weights = true,
                "--no-progress" => o.progress = false,
                "--help" | "-h" => return Err(ReplayError::Args("help".into())),
                other => return Err(ReplayError::Args(format!("unknown option {other}"))),
            }
        }
        o.train = train.ok_or_else(|| ReplayError::Args("--train is required".into()))?;
        if o.test.is_none() && !o.fit_weights && !o.off_policy {
            return Err(ReplayError::Args("--test is required (or use replay fit or --off-policy)".into()));
        }
        if o.fit_weights && o.model_out.is_none() && o.write_rust.is_none() {
            return Err(ReplayError::Args(
                "a fit needs somewhere to write: replay fit --out model.bin (and/or --write-rust FILE)".into(),
            ));
        }
        if !(o.epsilon > 0.0 && o.epsilon <= 1.0) {
            return Err(ReplayError::Args("--epsilon must be in (0, 1]: the logs need exploration".into()));
        }
        if !(1..=10_000).contains(&o.candidates) {
            return Err(ReplayError::Args("--candidates must be between 1 and 10000".into()));
        }
        if !(1..=50).contains(&o.k) {
            return Err(ReplayError::Args("--k must be between 1 and 50".into()));
        }
        if !(0.01..=0.5).contains(&o.validation_share) {
            return Err(ReplayError::Args("--validation-share must be between 0.01 and 0.5".into()));
        }
        if o.threads == 0 || o.fit_cases == 0 {
            return Err(ReplayError::Args("--threads and --fit-cases must be at least 1".into()));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Options, ReplayError> {
        Options::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_flags_and_rejects_bad_ones() {
        let o = parse("--train a --test b --k 10 --json --candidates 50").unwrap();
        assert_eq!((o.k, o.candidates, o.json), (10, 50, true));
        assert!(parse("--train a").is_err());
        assert!(parse("--train a --fit-weights").is_err());
        let o = parse("fit --train a --out m.bin").unwrap();
        assert!(o.fit_weights && o.model_out == Some(PathBuf::from("m.bin")) && o.write_rust.is_none());
        assert_eq!(o.out, PathBuf::from("replay-out"));
        assert!(parse("--train a --fit-weights --write-rust w.rs").is_ok());
        assert!(parse("--train a --fit-weights --weights-out w.rs").is_err());
        let o = parse("--train a --test b --model m.bin").unwrap();
        assert_eq!(o.model, Some(PathBuf::from("m.bin")));
        assert!(parse("--train a --test b --k 0").is_err());
        assert!(parse("--train a --test b --bogus").is_err());
        assert!(parse("--train a --test b --k x").is_err());
        let o = parse("--train a --off-policy --epsilon 0.3").unwrap();
        assert!(o.off_policy && (o.epsilon - 0.3).abs() < 1e-6);
        assert!(parse("--train a --off-policy --epsilon 0").is_err());
        assert_eq!(
            parse("--train a --test b --embeddings cooc").unwrap().embeddings,
            Some(EmbeddingSource::CoOccurrence)
        );
        let next = NextItemConfig { epochs: 2, negatives: 30, scale: 8.0, tied: true, ..NextItemConfig::default() };
        let o = parse("--train a --test b --embeddings next:2:30:8:0.05:tied").unwrap();
        assert_eq!(o.embeddings, Some(EmbeddingSource::NextItem(next)));
        let o = parse("--train a --test b --embeddings next").unwrap();
        assert_eq!(o.embeddings, Some(EmbeddingSource::NextItem(NextItemConfig::default())));
        let o = parse("--train a --test b --neighbours vmis:50:400:noidf").unwrap();
        assert_eq!(o.neighbours, Some(NeighbourSource::Vmis(VmisConfig { k: 50, m: 400, idf: false })));
        assert_eq!(
            parse("--train a --test b --neighbours covisit").unwrap().neighbours,
            Some(NeighbourSource::CoVisitation)
        );
        assert!(parse("--train a --test b --neighbours vmis:x").is_err());
        assert!(parse("--train a --test b --neighbours knn").is_err());
        let o = parse("--train a --test b --two-hop-fill off --two-hop-reserve 5").unwrap();
        assert_eq!((o.two_hop_fill, o.two_hop_reserve), (Some(false), Some(5)));
        assert!(parse("--train a --test b --two-hop-fill yes").is_err());
        let o = parse("--train a --test b").unwrap();
        assert!(o.popularity_half_life.is_off() && o.covisit_half_life.is_off());
        let o = parse("--train a --test b --popularity-half-life 0.05 --covisit-half-life 0.5").unwrap();
        assert_eq!((o.popularity_half_life.get(), o.covisit_half_life.get()), (0.05, 0.5));
        for flag in ["--popularity-half-life", "--covisit-half-life"] {
            for bad in ["-0.5", "NaN", "inf", "-inf", "x"] {
                match parse(&format!("--train a --test b {flag} {bad}")) {
                    Err(ReplayError::HalfLife(e)) => assert_eq!((e.code(), e.flag), ("recency_bad_half_life", flag)),
                    other => panic!("{flag} {bad}: {other:?}"),
                }
            }
        }
        for bad in ["next:0", "next:2:x", "next:2:3:4:0.1:untied", "cooc:1", "ri", "next:1:1:0"] {
            assert!(parse(&format!("--train a --test b --embeddings {bad}")).is_err(), "{bad}");
        }
    }
}
