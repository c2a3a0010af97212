//! The columnar candidate set: one server answer, converted once when it arrives and then
//! ranked as often as the page likes, without touching strings again.

use std::sync::atomic::AtomicU64;

use serde::{Deserialize, Serialize};

use super::ids::ItemIds;
use super::RankError;
use crate::catalog::{AttributeKey, ItemAttributes};

/// Most candidates one set may hold; a server that has more should cut its list first.
pub const MAX_CANDIDATES: usize = 10_000;
/// Longest accepted embedding.
pub const MAX_EMBEDDING_DIM: usize = 1024;
/// Most co-visitation neighbours one candidate may carry.
pub const MAX_NEIGHBOURS: usize = 1000;
/// `positions` value of a row that was not in the current server answer.
pub const NOT_IN_ANSWER: u32 = u32::MAX;
/// `primary_category` value of a row without a category.
pub const NO_CATEGORY: u32 = u32::MAX;

/// A co-visitation neighbour the server computed from its own orders and sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct NeighbourInput {
    pub id: String,
    pub score: f32,
}

/// One candidate as the shop's server sends it (the row form; JS may also hand columns).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct CandidateInput {
    pub id: String,
    /// The server's relevance score; higher is better. Its order is the server's order.
    #[serde(default)]
    pub score: f32,
    /// Display name, used in reasons ("because you viewed Trail shoes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub title: Option<String>,
    /// How often the item was viewed or bought shop-wide, if the server shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub popularity: Option<f32>,
    #[serde(default)]
    pub attributes: ItemAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub embedding: Option<Vec<f32>>,
    #[serde(default)]
    pub neighbours: Vec<NeighbourInput>,
    /// The share of the answer's item's views in the shop's logs that this candidate came
    /// directly after (0..=1), if the server sends it (the answer's `next` column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub next: Option<f32>,
}

/// Where a row of a set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateOrigin {
    /// The server's answer for the current page.
    CurrentAnswer,
    /// An earlier answer of the same session, pooled in by the session memory.
    EarlierAnswer,
}

/// One row handed to [`CandidateSetBuilder::push`], borrowed so that no string is copied twice.
#[derive(Debug, Clone, Copy, Default)]
pub struct CandidateRow<'a> {
    pub id: &'a str,
    pub score: f32,
    pub title: Option<&'a str>,
    pub popularity: Option<f32>,
    pub attributes: &'a [AttributeKey],
    pub embedding: Option<&'a [f32]>,
    pub neighbours: &'a [(&'a str, f32)],
    /// See [`CandidateInput::next`].
    pub next: Option<f32>,
}

/// Serials of finished sets; 0 is never handed out.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// Candidates in columns. Rows keep the server's order; row `r`'s data sits at index `r` of every
/// column (`offsets[r]..offsets[r + 1]` for the ragged ones). A finished set never changes.
#[derive(Debug, Clone, Default)]
pub struct CandidateSet {
    /// Tells finished sets apart, so that what depends on a set alone can be computed once per
    /// set (see the feature extractor); 0 for a set no builder finished.
    pub(crate) serial: u64,
    pub(crate) ids: Vec<u32>,
    pub(crate) server_scores: Vec<f32>,
    pub(crate) positions: Vec<u32>,
    pub(crate) origins: Vec<CandidateOrigin>,
    pub(crate) popularity: Vec<f32>,
    /// Every row's title, one after another: row `r`'s is `title_text[title_ends[r - 1]..title_ends[r]]`
    /// (from 0 for row 0); an empty title is none.
    pub(crate) title_text: String,
    pub(crate) title_ends: Vec<u32>,
    pub(crate) attr_offsets: Vec<u32>,
    pub(crate) attr_refs: Vec<u32>,
    pub(crate) attr_keys: Vec<AttributeKey>,
    pub(crate) primary_category: Vec<u32>,
    pub(crate) embedding_dim: usize,
    pub(crate) embeddings: Vec<f32>,
    pub(crate) inv_norms: Vec<f32>,
    pub(crate) nb_offsets: Vec<u32>,
    pub(crate) nb_ids: Vec<u32>,
    pub(crate) nb_scores: Vec<f32>,
    /// Per row, its `next` value in the answer (0 where the server sent none), or empty when no
    /// row of the answer had one. A pooled set has none: the values are about the item the
    /// answer is about, which only the session memory's own copy of that answer knows.
    pub(crate) next: Vec<f32>,
}

impl CandidateSet {
    /// Converts a server answer given as rows. Errors name the first bad candidate.
    pub fn from_inputs(inputs: &[CandidateInput], ids: &mut ItemIds) -> Result<Self, RankError> {
        if inputs.len() > MAX_CANDIDATES {
            return Err(RankError::TooManyCandidates { len: inputs.len(), max: MAX_CANDIDATES });
        }
        let mut builder = CandidateSetBuilder::new(ids);
        for input in inputs {
            let keys = input.attributes.keys();
            let neighbours: Vec<(&str, f32)> = input.neighbours.iter().map(|n| (n.id.as_str(), n.score)).collect();
            builder.push(CandidateRow {
                id: &input.id,
                score: input.score,
                title: input.title.as_deref(),
                popularity: input.popularity,
                attributes: &keys,
                embedding: input.embedding.as_deref(),
                neighbours: &neighbours,
                next: input.next,
            })?;
        }
        Ok(builder.finish())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Dense item id of row `row`.
    pub fn id(&self, row: usize) -> Option<u32> {
        self.ids.get(row).copied()
    }

    /// Row of a dense item id (a linear scan; the ranker uses its own index).
    pub fn row_of(&self, id: u32) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }

    /// Embedding dimension, 0 when no candidate carried one.
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    pub(crate) fn embedding(&self, row: usize) -> &[f32] {
        let d = self.embedding_dim;
        self.embeddings.get(row * d..row * d + d).unwrap_or(&[])
    }

    pub(crate) fn attribute_refs(&self, row: usize) -> &[u32] {
        let (a, b) = (self.attr_offsets[row] as usize, self.attr_offsets[row + 1] as usize);
        &self.attr_refs[a..b]
    }

    pub(crate) fn neighbours(&self, row: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.nb_offsets[row] as usize, self.nb_offsets[row + 1] as usize);
        (&self.nb_ids[a..b], &self.nb_scores[a..b])
    }

    /// Title of row `row`, if the server sent one.
    pub fn title(&self, row: usize) -> Option<&str> {
        let end = *self.title_ends.get(row)? as usize;
        let start = row.checked_sub(1).map_or(0, |r| self.title_ends[r] as usize);
        self.title_text.get(start..end).filter(|t| !t.is_empty())
    }

    /// The category shown in reasons for row `row` (its deepest category level).
    pub fn category(&self, row: usize) -> Option<&AttributeKey> {
        match self.primary_category.get(row) {
            Some(&k) if k != NO_CATEGORY => self.attr_keys.get(k as usize),
            _ => None,
        }
    }
}

mod builder;

pub use builder::CandidateSetBuilder;

#[cfg(test)]
mod tests {
    //! The candidate set: what is computed once per set, titles, reserving.

    use super::*;
    use crate::rank::{InMemoryShopper, RankConfig, Ranker};

    fn answer(prefix: &str, scores: &[f32]) -> Vec<CandidateInput> {
        let row = |(i, &score): (usize, &f32)| CandidateInput {
            id: format!("{prefix}{i}"),
            score,
            popularity: Some(i as f32 * 7.0),
            ..Default::default()
        };
        scores.iter().enumerate().map(row).collect()
    }

    #[test]
    fn what_depends_on_a_set_alone_is_reused_only_for_that_set() {
        let mut ranker = Ranker::new(RankConfig::default());
        let first = ranker.register(&answer("a", &[0.2, 0.9, 0.5, 0.1])).expect("valid");
        let second = ranker.register(&answer("b", &[3.0, 1.0, 2.0])).expect("valid");
        assert!(first.serial != 0 && second.serial != 0 && first.serial != second.serial);
        assert_eq!(first.clone().serial, first.serial, "a copy has the same rows");
        let shopper = InMemoryShopper::new(1.0);
        let before = ranker.extract_features(&first, &shopper).to_vec();
        let other = ranker.extract_features(&second, &shopper).to_vec();
        assert_eq!(ranker.extract_features(&first, &shopper), before.as_slice());
        let fresh = Ranker::new(RankConfig::default()).extract_features(&second, &shopper).to_vec();
        assert_eq!(other, fresh);
        // Row 1 has the best server score: place 0, rank feature 1 / log2(2) = 1.
        let rank_of = |m: &[f32], row: usize| m[row * crate::rank::NUM_FEATURES + crate::rank::features::SERVER_RANK];
        assert!((rank_of(&before, 1) - 1.0).abs() < 1e-6);
        assert!((rank_of(&other, 0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn titles_are_kept_per_row_and_empty_means_none() {
        let mut ids = ItemIds::new();
        let mut builder = CandidateSetBuilder::new(&mut ids);
        builder.reserve(3, 0, 0);
        for (id, title) in [("a", Some("Trail shoe")), ("b", None), ("c", Some("Caf\u{e9} \u{2615}"))] {
            builder.push(CandidateRow { id, title, ..CandidateRow::default() }).expect("valid row");
        }
        let set = builder.finish();
        assert_eq!(
            (set.title(0), set.title(1), set.title(2), set.title(3)),
            (Some("Trail shoe"), None, Some("Caf\u{e9} \u{2615}"), None)
        );
        let mut ids = ItemIds::new();
        let mut copy = CandidateSetBuilder::new(&mut ids);
        for row in [2, 1, 0] {
            copy.push_copy(&set, row, row as u32, CandidateOrigin::EarlierAnswer);
        }
        let copy = copy.finish();
        assert_eq!(
            (copy.title(0), copy.title(1), copy.title(2)),
            (Some("Caf\u{e9} \u{2615}"), None, Some("Trail shoe"))
        );
    }

    #[test]
    fn extending_a_set_is_copying_each_of_its_rows() {
        let mut ids = ItemIds::new();
        let inputs: Vec<CandidateInput> = (0..6)
            .map(|i| CandidateInput {
                id: format!("x{i}"),
                score: 1.0 / (i as f32 + 1.0),
                title: (i % 2 == 0).then(|| format!("Item {i}")),
                popularity: Some(i as f32),
                attributes: crate::catalog::ItemAttributes {
                    category_path: vec!["A".into(), format!("B{}", i % 2)],
                    brand: Some("Z".into()),
                    ..Default::default()
                },
                embedding: (i != 3).then(|| vec![i as f32, 1.0, -0.5]),
                neighbours: vec![NeighbourInput { id: format!("x{}", (i + 1) % 6), score: 0.5 }],
                next: (i % 3 == 1).then_some(0.25),
            })
            .collect();
        let set = CandidateSet::from_inputs(&inputs, &mut ids).expect("valid");
        // The next column: one value per row, 0 where none was sent.
        assert_eq!(set.next, vec![0.0, 0.25, 0.0, 0.0, 0.25, 0.0]);
        let whole = CandidateSetBuilder::extending(&set, &mut ids).finish();
        let mut by_row = CandidateSetBuilder::new(&mut ids);
        for row in 0..set.len() {
            assert!(by_row.push_copy(&set, row, row as u32, CandidateOrigin::CurrentAnswer));
        }
        let by_row = by_row.finish();
        let keys = |s: &CandidateSet, r: usize| {
            s.attribute_refs(r).iter().map(|&k| s.attr_keys[k as usize].clone()).collect::<Vec<_>>()
        };
        assert_eq!(whole.ids, by_row.ids);
        assert_eq!(whole.positions, by_row.positions);
        assert_eq!(whole.origins, by_row.origins);
        assert_eq!(whole.embeddings, by_row.embeddings);
        assert_eq!(whole.inv_norms, by_row.inv_norms);
        // A pooled set carries no next column: its values are about the answer's own item.
        assert!(whole.next.is_empty() && by_row.next.is_empty());
        assert_eq!(
            (whole.nb_ids.clone(), whole.nb_scores.clone(), whole.nb_offsets.clone()),
            (by_row.nb_ids.clone(), by_row.nb_scores.clone(), by_row.nb_offsets.clone())
        );
        for r in 0..set.len() {
            assert_eq!(
                (whole.title(r), whole.category(r), keys(&whole, r)),
                (by_row.title(r), by_row.category(r), keys(&by_row, r))
            );
        }
        assert_ne!(whole.serial, set.serial, "a new set");
    }
}
