//! One answer in exactly the protocol's columns (README "Server protocol"; the field list is
//! the core crate's `ANSWER_FIELDS`), as JSON.

use serde::{Deserialize, Serialize};
use shop_personalizer::catalog::ItemAttributes;
use shop_personalizer::personalizer::{AnswerColumns, NeighbourColumns};

/// Co-visitation neighbours of every candidate: candidate `r`'s are `ids[offsets[r]..offsets[r + 1]]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbours {
    pub offsets: Vec<u32>,
    pub ids: Vec<String>,
    pub scores: Vec<f32>,
}

/// A server answer. Absent columns are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Answer {
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<ItemAttributes>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub titles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popularity: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<Neighbours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_embedding: Option<Vec<f32>>,
    /// Per candidate, the share of `about`'s views that it came directly after (item answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Vec<f32>>,
}

impl Answer {
    /// The answer as the core's columns, ready for `Personalizer::register_candidates`.
    pub fn columns(&self) -> AnswerColumns<'_> {
        AnswerColumns {
            about: self.about.as_deref(),
            about_embedding: self.about_embedding.as_deref(),
            ids: &self.ids,
            scores: self.scores.as_deref(),
            titles: self.titles.as_deref(),
            popularity: self.popularity.as_deref(),
            attributes: self.attributes.as_deref(),
            embeddings: self.embeddings.as_deref(),
            neighbours: self.neighbours.as_ref().map(|n| NeighbourColumns {
                offsets: &n.offsets,
                ids: &n.ids,
                scores: &n.scores,
            }),
            next: self.next.as_deref(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain vectors, strings and finite floats cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
