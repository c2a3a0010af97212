//! The command line of the `answers` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::candidates::{NeighbourSource, ServerConfig};
use crate::catalogue::{parse_catalogue, CatalogueFormat};
use crate::index::{IndexConfig, Inputs};
use crate::input::{read_text, InputError, LineReport, OnBadLine};
use crate::recency::HalfLife;
use crate::sessions::LogFormat;
use crate::synthetic::synthetic_log;
use crate::vmis::VmisConfig;

pub const USAGE: &str = "\
answers build  --sessions FILE | --synthetic-sessions N [options]            build the index, print what was read, the time and the memory
answers serve  --sessions FILE [options] [--listen 127.0.0.1:18090] [--allowed-origin URL]... [--max-age 300]
answers export --sessions FILE [options] --out DIR  one JSON per item plus manifest.json

options:
  --synthetic-sessions N           no log: N seeded synthetic sessions over the catalogue (the demo's)
  --log-format text|jsonl          default: jsonl for .jsonl/.ndjson files, else text
  --catalogue FILE                 JSON Lines or CSV (id,title,category_path,brand,price,tags,in_stock)
  --catalogue-format jsonl|csv|storefront  default: csv for .csv files, else jsonl;
                                   storefront: the demo's www/catalog.json
  --on-bad-line skip|refuse        a malformed line is reported and skipped (default) or stops the build
  --candidates N                   candidates per answer (default 100)
  --embedding-dim D                embedding dimension, 0 for none (default 64)
  --candidate-neighbours N         neighbours sent with each candidate (default 0: no neighbours column)
  --neighbours covisit|vmis[:k[:m]]  neighbour source (default covisit)
  --two-hop-fill on|off            fill answers short of --candidates neighbours with two-hop
                                   neighbours before popular items (default on)
  --two-hop-reserve N              with two-hop fill, slots of every answer kept for two-hop
                                   neighbours (default 0)
  --next-column on|off             send each item answer's next column: the share of the item's
                                   views each candidate came directly after (default on)
  --popularity-half-life H         weigh each view behind an item's popularity 2^(-age/H): an event
                                   H old counts half (default 0: off, plain counts)
  --covisit-half-life H            the same for co-visitations (the neighbours and embeddings);
                                   H in days for a JSON Lines log (its timestamps), in shares of
                                   the log for a text log (no timestamps: its sessions in order
                                   span one unit); negative, NaN or infinite H is refused

serve rebuilds from the same files on SIGHUP and swaps the index at once; it stops on SIGTERM or Ctrl-C.";

/// The seed of `--synthetic-sessions`.
const SYNTHETIC_SEED: u64 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Build,
    Serve,
    Export,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub command: Command,
    pub sessions: Option<PathBuf>,
    pub synthetic_sessions: usize,
    pub log_format: Option<String>,
    pub catalogue: Option<PathBuf>,
    pub catalogue_format: Option<String>,
    pub index: IndexConfig,
    pub listen: SocketAddr,
    pub allowed_origins: Vec<String>,
    pub max_age_seconds: u64,
    pub out: Option<PathBuf>,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{flag} takes a number, got {value:?}"))
}

fn neighbours(value: &str) -> Result<NeighbourSource, String> {
    let mut parts = value.split(':');
    match parts.next() {
        Some("covisit") if parts.next().is_none() => Ok(NeighbourSource::CoVisitation),
        Some("vmis") => {
            let defaults = VmisConfig::default();
            let k = parts.next().map_or(Ok(defaults.k), |p| number("--neighbours vmis:k", p))?;
            let m = parts.next().map_or(Ok(defaults.m), |p| number("--neighbours vmis:k:m", p))?;
            Ok(NeighbourSource::Vmis(VmisConfig { k, m, ..defaults }))
        }
        _ => Err(format!("--neighbours {value}: use covisit or vmis[:k[:m]]")),
    }
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut args = args.into_iter();
        let command = match args.next().as_deref() {
            Some("build") => Command::Build,
            Some("serve") => Command::Serve,
            Some("export") => Command::Export,
            other => return Err(format!("unknown command {other:?}")),
        };
        let mut sessions = None;
        let mut synthetic_sessions = 0;
        let (mut log_format, mut catalogue, mut catalogue_format, mut out) = (None, None, None, None);
        let mut server = ServerConfig::default();
        let mut on_bad_line = OnBadLine::Skip;
        let mut listen: SocketAddr = ([127, 0, 0, 1], 18090).into();
        let mut allowed_origins = Vec::new();
        let mut max_age_seconds = 300;
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--sessions" => sessions = Some(PathBuf::from(value)),
                "--synthetic-sessions" => synthetic_sessions = number(&flag, &value)?,
                "--log-format" => log_format = Some(value),
                "--catalogue" => catalogue = Some(PathBuf::from(value)),
                "--catalogue-format" => catalogue_format = Some(value),
                "--on-bad-line" => {
                    on_bad_line = OnBadLine::parse(&value).ok_or("--on-bad-line takes skip or refuse")?;
                }
                "--candidates" => server.candidates = number(&flag, &value)?,
                "--embedding-dim" => server.embedding_dim = number(&flag, &value)?,
                "--candidate-neighbours" => server.candidate_neighbours = number(&flag, &value)?,
                "--neighbours" => server.source = neighbours(&value)?,
                "--two-hop-fill" => {
                    server.two_hop_fill = match value.as_str() {
                        "on" => true,
                        "off" => false,
                        _ => return Err("--two-hop-fill takes on or off".to_owned()),
                    }
                }
                "--two-hop-reserve" => server.two_hop_reserve = number(&flag, &value)?,
                "--next-column" => {
                    server.next_column = match value.as_str() {
                        "on" => true,
                        "off" => false,
                        _ => return Err("--next-column takes on or off".to_owned()),
                    }
                }
                "--popularity-half-life" => {
                    server.recency.popularity =
                        HalfLife::parse("--popularity-half-life", &value).map_err(|e| e.to_string())?
                }
                "--covisit-half-life" => {
                    server.recency.covisit =
                        HalfLife::parse("--covisit-half-life", &value).map_err(|e| e.to_string())?
                }
                "--listen" => listen = value.parse().map_err(|_| format!("--listen {value}: use host:port"))?,
                "--allowed-origin" => allowed_origins.push(value),
                "--max-age" => max_age_seconds = number(&flag, &value)?,
                "--out" => out = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if !(1..=10_000).contains(&server.candidates) {
            return Err("--candidates takes 1 to 10,000".to_owned());
        }
        if server.embedding_dim > 1024 {
            return Err("--embedding-dim takes 0 to 1024".to_owned());
        }
        if command == Command::Export && out.is_none() {
            return Err("export needs --out DIR".to_owned());
        }
        if sessions.is_none() && (synthetic_sessions == 0 || catalogue.is_none()) {
            return Err("pass --sessions FILE, or --synthetic-sessions N with --catalogue FILE".to_owned());
        }
        Ok(Self {
            command,
            sessions,
            synthetic_sessions,
            log_format,
            catalogue,
            catalogue_format,
            index: IndexConfig { server, on_bad_line },
            listen,
            allowed_origins,
            max_age_seconds,
            out,
        })
    }

    /// Reads the input files: (log text, catalogue text and format).
    pub fn read_inputs(&self) -> Result<InputTexts, InputError> {
        let catalogue = match &self.catalogue {
            Some(path) => {
                let format = CatalogueFormat::choose(self.catalogue_format.as_deref(), &path.to_string_lossy())?;
                Some((read_text(path)?, format))
            }
            None => None,
        };
        let Some(sessions) = &self.sessions else {
            let (text, format) = catalogue.as_ref().ok_or(InputError::Empty { what: "the catalogue" })?;
            let mut report = LineReport::new("catalogue", self.index.on_bad_line);
            let products: Vec<(String, Vec<String>)> = parse_catalogue(text, *format, &mut report)?
                .into_iter()
                .map(|p| (p.id, p.attributes.category_path))
                .collect();
            let log = synthetic_log(&products, self.synthetic_sessions, SYNTHETIC_SEED);
            return Ok(InputTexts { log, log_format: LogFormat::Text, catalogue });
        };
        let log_format = LogFormat::choose(self.log_format.as_deref(), &sessions.to_string_lossy())?;
        Ok(InputTexts { log: read_text(sessions)?, log_format, catalogue })
    }
}

/// The input files' text, owned.
pub struct InputTexts {
    pub log: String,
    pub log_format: LogFormat,
    pub catalogue: Option<(String, CatalogueFormat)>,
}

impl InputTexts {
    pub fn inputs(&self) -> Inputs<'_> {
        Inputs {
            log: &self.log,
            log_format: self.log_format,
            catalogue: self.catalogue.as_ref().map(|(t, f)| (t.as_str(), *f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Options, String> {
        Options::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn two_hop_flags_set_the_server_config() {
        let o = parse("build --sessions s.txt").unwrap();
        assert_eq!(o.index.server.two_hop_fill, ServerConfig::default().two_hop_fill);
        let o = parse("build --sessions s.txt --two-hop-fill off --two-hop-reserve 7").unwrap();
        assert!(!o.index.server.two_hop_fill);
        assert_eq!(o.index.server.two_hop_reserve, 7);
        assert!(parse("build --sessions s.txt --two-hop-fill maybe").is_err());
        assert!(parse("build --sessions s.txt --two-hop-reserve x").is_err());
    }

    #[test]
    fn half_life_flags_default_to_off_and_refuse_bad_values_with_their_code() {
        let o = parse("build --sessions s.txt").unwrap();
        assert!(o.index.server.recency.is_off());
        let o = parse("build --sessions s.txt --popularity-half-life 0.05 --covisit-half-life 2").unwrap();
        assert_eq!(o.index.server.recency.popularity.get(), 0.05);
        assert_eq!(o.index.server.recency.covisit.get(), 2.0);
        for flag in ["--popularity-half-life", "--covisit-half-life"] {
            for bad in ["-1", "NaN", "inf", "-inf", "week"] {
                let error = parse(&format!("build --sessions s.txt {flag} {bad}")).unwrap_err();
                assert!(error.starts_with(&format!("recency_bad_half_life: {flag} got")), "{error}");
            }
        }
    }
}
