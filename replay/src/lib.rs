//! Replay evaluation of the on-device ranker on real session logs.
//!
//! The server side is built from the training sessions only (what the protocol allows: per-item
//! co-visitation neighbours with scores, popularity, co-occurrence embeddings, categories). Each
//! test prefix is replayed through the real device code path (`InMemoryShopper` + `Ranker`); the
//! label is read only when scoring.

pub mod args;
pub mod baselines;
pub mod cases;
pub mod data;
pub mod device;
pub mod fit;
pub mod metrics;
pub mod model;
pub mod off_policy;
pub mod progress;
pub mod report;
pub mod run;
pub mod server;
pub mod trees;

use thiserror::Error;

use shop_personalizer::rank::RankError;
use shop_personalizer::sync::ModelFileError;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{path} holds no {what}: check the file and its format")]
    Empty { path: String, what: &'static str },
    #[error("{0}\n\n{usage}", usage = args::USAGE)]
    Args(String),
    /// A refused `--popularity-half-life` or `--covisit-half-life` (code `recency_bad_half_life`).
    #[error("{0}")]
    HalfLife(#[from] answers::HalfLifeError),
    #[error("[{code}] {path}: {error}", code = error.code())]
    ModelFile { path: String, error: ModelFileError },
    #[error("ranking failed: {0}")]
    Rank(#[from] RankError),
    #[error("a replay worker stopped unexpectedly: run again, and report it if it repeats")]
    Worker,
}
