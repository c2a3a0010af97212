//! Rank: order the candidates a shop's server sends, for this shopper, on the device.
//!
//! ## The protocol (the privacy boundary)
//! The shop's server answers one request per page view about the current item or query only,
//! never about the session or the profile: a list of candidates, each with an id, the server's
//! score, attributes, and optionally aggregate item data the server computed from its own
//! catalogue and orders (an embedding, co-visitation neighbours with scores, popularity).
//! The device registers each answer once as a columnar [`CandidateSet`], remembers earlier
//! answers of the same session in [`SessionMemory`] (the answer about item `s` *is* `s`'s
//! neighbour list), and combines them with the private profile ([`ShopperSignals`]) in
//! [`Ranker::rank`]. Nothing ranking learns leaves the device except, through the privacy
//! module, clipped and noised deltas of the shared weights ([`RankModel::shared_delta`]).
//!
//! ## The model
//! A log-linear model over [`features::NUM_FEATURES`] features in signal families
//! ([`features::Family`]); shipped default weights were learned offline by
//! `replay --fit-weights` on a validation split cut from training sessions, and the device keeps
//! learning from clicks with listwise softmax SGD ([`Ranker::feedback`]). Exploration draws a
//! Plackett-Luce sample with probability ε and logs the exact propensity of the shown order.
//!
//! ## The server's order is respected
//! The server's score is its relevance or its business judgement. Holding every other signal
//! equal, a candidate the server placed higher (higher score; the earlier position on equal or
//! absent scores) never ranks lower: the features that rise with the server's placement keep
//! weights ≥ 0 in the offline fit, in on-device learning and in any weights the model is given
//! (projected gradient, [`sources::project_monotone`]), and equal scores fall back to the server's
//! order. When nothing personal fires (a new shopper, or a profile that says nothing about these
//! candidates) only the server's features count, so the answer comes back in the server's order
//! with the reason [`ReasonCode::ServerPick`] (business rules and diversity still apply). Search
//! leaves shop-wide popularity to the server's relevance: results the profile says nothing about
//! keep their relative order. See [`sources`].

pub mod candidates;
pub mod context;
mod context_tree;
mod default_weights;
mod explain;
pub mod extract;
pub mod features;
pub mod feedback;
pub mod ids;
pub mod model;
pub mod params;
mod pooling;
pub mod ranker;
pub mod reasons;
pub mod select;
pub mod session;
pub mod shopper;
pub mod sources;

use thiserror::Error;

use crate::catalog::CatalogError;
use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

pub use candidates::{CandidateInput, CandidateRow, CandidateSet, CandidateSetBuilder, NeighbourInput, MAX_CANDIDATES};
pub use context::{BusinessRules, Diversity, Pin, Placement, RankContext};
pub use default_weights::DEFAULT_WEIGHTS;
pub use explain::{Explanation, ExplanationCode, EXPLANATION_CODES};
pub use extract::fill_interactions;
pub use features::{
    feature_name, interaction_inputs, Family, FamilyMask, FEATURE_NAMES, NUM_BASE_FEATURES, NUM_FEATURES,
};
pub use feedback::Outcome;
pub use ids::ItemIds;
pub use model::RankModel;
pub use params::{RankConfig, RankParams};
pub use ranker::{RankedItem, Ranker, Ranking};
pub use reasons::{ReasonCode, ReasonSet};
pub use session::SessionMemory;
pub use shopper::{InMemoryShopper, SessionItem, ShopperSignals};
pub use sources::{project_monotone, Source, RISES_WITH_SERVER, SOURCES};

/// Why a candidate set, a ranking request or a model update was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RankError {
    #[error("{0}")]
    Item(#[from] CatalogError),
    #[error("candidate {id:?} appears twice in the answer: send each item once")]
    DuplicateId { id: String },
    #[error("{len} candidates; at most {max} can be ranked: cut the server's list first (a few hundred is plenty)")]
    TooManyCandidates { len: usize, max: usize },
    #[error("{field} of candidate {id:?} is {}: send finite numbers (popularity ≥ 0, next 0 to 1)", Decimal(*.value))]
    BadNumber { id: String, field: &'static str, value: f32 },
    #[error("embedding of candidate {id:?} has {got} numbers where {expected} were expected: send one dimension (1 to 1024) for the whole answer")]
    EmbeddingLength { id: String, expected: usize, got: usize },
    #[error("candidate {id:?} has {len} neighbours; the limit is {max}: send the strongest ones")]
    TooManyNeighbours { id: String, len: usize, max: usize },
    #[error("{name} is {}; it must be {rule}", Decimal(*.value))]
    BadParam { name: &'static str, value: f64, rule: &'static str },
    #[error("weights have {got} entries; the model has {expected}: send weights of the same model version")]
    WeightsLength { expected: usize, got: usize },
    #[error("weight {index} is not a finite number: send finite weights")]
    NonFiniteWeight { index: usize },
    #[error("two items are pinned to position {position}: pin one item per position")]
    ConflictingPins { position: u32 },
    #[error("item {id:?} is pinned twice: pin each item once")]
    DuplicatePin { id: String },
    #[error("impression {0} is unknown or too old: report feedback for one of the last 16 rankings")]
    UnknownImpression(u64),
    #[error("item {id:?} was not shown in impression {impression}: report feedback only for shown items")]
    NotShown { id: String, impression: u64 },
}

impl Coded for RankError {
    fn code(&self) -> ErrorCode {
        match self {
            RankError::Item(_)
            | RankError::DuplicateId { .. }
            | RankError::TooManyCandidates { .. }
            | RankError::BadNumber { .. }
            | RankError::EmbeddingLength { .. }
            | RankError::TooManyNeighbours { .. } => ErrorCode::InvalidAnswer,
            RankError::BadParam { .. } | RankError::ConflictingPins { .. } | RankError::DuplicatePin { .. } => {
                ErrorCode::InvalidArgument
            }
            // Weights come from the stored model or the shared one; the loaders say which.
            RankError::WeightsLength { .. } | RankError::NonFiniteWeight { .. } => ErrorCode::InvalidSyncData,
            RankError::UnknownImpression(_) | RankError::NotShown { .. } => ErrorCode::UnknownDecision,
        }
    }
}
