//! A server answer in columns, as a storefront holds it, turned into a checked [`CandidateSet`].

use crate::catalog::{price_band, AttributeKey, ItemAttributes, CATEGORY_SEPARATOR};
use crate::rank::{CandidateRow, CandidateSet, RankError, Ranker, MAX_CANDIDATES};

use super::RankingError;

/// Co-visitation neighbours of every candidate in three columns: candidate `r`'s neighbours are
/// `ids[offsets[r]..offsets[r + 1]]` with `scores[offsets[r]..offsets[r + 1]]`. Ids are any
/// string type (`String`, or text borrowed from the JSON the facade read).
#[derive(Debug)]
pub struct NeighbourColumns<'a, S = String> {
    /// `candidates + 1` non-decreasing offsets, starting at 0 and ending at `ids.len()`.
    pub offsets: &'a [u32],
    pub ids: &'a [S],
    pub scores: &'a [f32],
}

impl<S> Clone for NeighbourColumns<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for NeighbourColumns<'_, S> {}

impl<S> Default for NeighbourColumns<'_, S> {
    fn default() -> Self {
        NeighbourColumns { offsets: &[], ids: &[], scores: &[] }
    }
}

/// The fields of a server answer as JS writes them, in the order of the README's "Server
/// protocol" table: the camelCase names of [`AnswerColumns`]' fields. The one list of them: the
/// facade refuses any other field with it, and tests check the README table, the struct and the
/// generated `.d.ts` (`js-tests/ranking.test.mjs`) against it.
pub const ANSWER_FIELDS: [&str; 10] = [
    field::IDS,
    field::SCORES,
    field::ATTRIBUTES,
    field::TITLES,
    field::POPULARITY,
    field::EMBEDDINGS,
    field::NEIGHBOURS,
    field::ABOUT,
    field::ABOUT_EMBEDDING,
    field::NEXT,
];

/// The fields of an answer's `neighbours` object as JS writes them.
pub const NEIGHBOUR_FIELDS: [&str; 3] = [field::OFFSETS, field::IDS, field::SCORES];

/// Each answer field's name as JS writes it: the one spelling the facade reads by, and that
/// errors name (`neighbours.` prefixes the fields of `neighbours`).
pub mod field {
    pub const IDS: &str = "ids";
    pub const SCORES: &str = "scores";
    pub const ATTRIBUTES: &str = "attributes";
    pub const TITLES: &str = "titles";
    pub const POPULARITY: &str = "popularity";
    pub const EMBEDDINGS: &str = "embeddings";
    pub const NEIGHBOURS: &str = "neighbours";
    pub const ABOUT: &str = "about";
    pub const ABOUT_EMBEDDING: &str = "aboutEmbedding";
    pub const NEXT: &str = "next";
    /// Of `neighbours` (with `ids` and `scores`).
    pub const OFFSETS: &str = "offsets";
    pub const NEIGHBOUR_OFFSETS: &str = "neighbours.offsets";
    pub const NEIGHBOUR_IDS: &str = "neighbours.ids";
    pub const NEIGHBOUR_SCORES: &str = "neighbours.scores";
}

/// One answer of the shop's server about the current item or query (see the README's "Server
/// protocol"). Every column but `ids` is optional; present columns hold one entry per candidate.
/// The string columns hold any string type `S` (`String` by default).
#[derive(Debug)]
pub struct AnswerColumns<'a, S = String> {
    /// The item the answer is about (the product page's item): the device remembers the answer
    /// as that item's neighbours for the rest of the session.
    pub about: Option<&'a str>,
    /// The embedding of `about` itself, in the same space as `embeddings`.
    pub about_embedding: Option<&'a [f32]>,
    pub ids: &'a [S],
    /// The server's relevance scores, higher is better; without them the server's order counts.
    pub scores: Option<&'a [f32]>,
    /// Display names for reasons; an empty string means none.
    pub titles: Option<&'a [S]>,
    /// Shop-wide popularity (views or orders), ≥ 0.
    pub popularity: Option<&'a [f32]>,
    pub attributes: Option<&'a [ItemAttributes]>,
    /// `candidates × dimension` numbers, row after row.
    pub embeddings: Option<&'a [f32]>,
    pub neighbours: Option<NeighbourColumns<'a, S>>,
    /// Per candidate, the share of `about`'s views in the shop's logs that it came directly
    /// after (0..=1): the one directional signal of the answer (co-visitation counts both ways).
    pub next: Option<&'a [f32]>,
}

impl<S> Clone for AnswerColumns<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for AnswerColumns<'_, S> {}

impl<S> Default for AnswerColumns<'_, S> {
    fn default() -> Self {
        AnswerColumns {
            about: None,
            about_embedding: None,
            ids: &[],
            scores: None,
            titles: None,
            popularity: None,
            attributes: None,
            embeddings: None,
            neighbours: None,
            next: None,
        }
    }
}

fn check_column<T>(column: &'static str, values: Option<&[T]>, expected: usize) -> Result<(), RankingError> {
    match values {
        Some(values) if values.len() != expected => {
            Err(RankingError::ColumnLength { column, expected, got: values.len() })
        }
        _ => Ok(()),
    }
}

/// The embedding dimension of the answer (0 without embeddings).
fn embedding_dim<S>(answer: &AnswerColumns<'_, S>) -> Result<usize, RankingError> {
    let n = answer.ids.len();
    match answer.embeddings {
        None => Ok(0),
        Some([]) => Ok(0),
        Some(e) if n == 0 || e.len() % n != 0 => Err(RankingError::EmbeddingColumns { len: e.len(), candidates: n }),
        Some(e) => Ok(e.len() / n),
    }
}

fn check_offsets<S>(neighbours: &NeighbourColumns<'_, S>, candidates: usize) -> Result<(), RankingError> {
    check_column(field::NEIGHBOUR_OFFSETS, Some(neighbours.offsets), candidates + 1)?;
    check_column(field::NEIGHBOUR_SCORES, Some(neighbours.scores), neighbours.ids.len())?;
    let ids = neighbours.ids.len();
    let mut previous = 0u32;
    for (index, &value) in neighbours.offsets.iter().enumerate() {
        let bad_start = index == 0 && value != 0;
        let bad_end = index == candidates && value as usize != ids;
        if bad_start || bad_end || value < previous || value as usize > ids {
            return Err(RankingError::NeighbourOffsets { index, value, ids });
        }
        previous = value;
    }
    Ok(())
}

/// Checks every column and builds the set. Nothing of the answer is kept when it fails.
pub(super) fn build_set<S: AsRef<str>>(
    answer: &AnswerColumns<'_, S>,
    ranker: &mut Ranker,
) -> Result<CandidateSet, RankingError> {
    let n = answer.ids.len();
    if n > MAX_CANDIDATES {
        return Err(RankError::TooManyCandidates { len: n, max: MAX_CANDIDATES }.into());
    }
    check_column(field::SCORES, answer.scores, n)?;
    check_column(field::TITLES, answer.titles, n)?;
    check_column(field::POPULARITY, answer.popularity, n)?;
    check_column(field::ATTRIBUTES, answer.attributes, n)?;
    check_column(field::NEXT, answer.next, n)?;
    let dim = embedding_dim(answer)?;
    if let Some(neighbours) = &answer.neighbours {
        check_offsets(neighbours, n)?;
    }
    if let Some(attributes) = answer.attributes {
        for (id, item) in answer.ids.iter().zip(attributes) {
            item.validate().map_err(|source| RankingError::Attributes { id: id.as_ref().to_owned(), source })?;
        }
    }
    let mut keys = KeyBuffer::default();
    let mut neighbour_rows: Vec<(&str, f32)> = Vec::new();
    let mut builder = ranker.builder();
    let neighbour_count = answer.neighbours.map_or(0, |nb| nb.ids.len());
    builder.reserve(n, neighbour_count, answer.embeddings.map_or(0, <[f32]>::len));
    for (row, id) in answer.ids.iter().enumerate() {
        let keys = match answer.attributes.and_then(|a| a.get(row)) {
            Some(item) => keys.fill(item),
            None => keys.fill(&ItemAttributes::default()),
        };
        neighbour_rows.clear();
        if let Some(nb) = &answer.neighbours {
            let (start, end) = (nb.offsets[row] as usize, nb.offsets[row + 1] as usize);
            neighbour_rows
                .extend(nb.ids[start..end].iter().map(AsRef::as_ref).zip(nb.scores[start..end].iter().copied()));
        }
        let score = match answer.scores {
            Some(scores) => scores[row],
            // The server's order: the first candidate is the best.
            None => (n - row) as f32,
        };
        builder.push(CandidateRow {
            id: id.as_ref(),
            score,
            title: answer.titles.map(|t| t[row].as_ref()).filter(|t| !t.is_empty()),
            popularity: answer.popularity.map(|p| p[row]),
            attributes: keys,
            embedding: answer.embeddings.filter(|_| dim > 0).map(|e| &e[row * dim..(row + 1) * dim]),
            neighbours: &neighbour_rows,
            next: answer.next.map(|p| p[row]),
        })?;
    }
    Ok(builder.finish())
}

/// The attribute keys of one candidate at a time, reusing their strings from row to row (an
/// answer of 200 candidates would otherwise allocate about a thousand).
#[derive(Debug, Default)]
struct KeyBuffer {
    keys: Vec<AttributeKey>,
    spare: Vec<String>,
    path: String,
}

impl KeyBuffer {
    /// The keys of `item`, as [`ItemAttributes::keys`] lists them.
    fn fill(&mut self, item: &ItemAttributes) -> &[AttributeKey] {
        for key in self.keys.drain(..) {
            match key {
                AttributeKey::Category(text) | AttributeKey::Brand(text) | AttributeKey::Tag(text) => {
                    self.spare.push(text)
                }
                AttributeKey::PriceBand(_) => {}
            }
        }
        let spare = &mut self.spare;
        let mut text = |value: &str| {
            let mut text = spare.pop().unwrap_or_default();
            text.clear();
            text.push_str(value);
            text
        };
        self.path.clear();
        for level in &item.category_path {
            if !self.path.is_empty() {
                self.path.push_str(CATEGORY_SEPARATOR);
            }
            self.path.push_str(level);
            self.keys.push(AttributeKey::Category(text(&self.path)));
        }
        if let Some(brand) = &item.brand {
            self.keys.push(AttributeKey::Brand(text(brand)));
        }
        if let Some(price) = item.price {
            self.keys.push(AttributeKey::PriceBand(price_band(price)));
        }
        for tag in &item.tags {
            self.keys.push(AttributeKey::Tag(text(tag)));
        }
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[a-zA-Z ]{1,8}", 0..4)
    }

    proptest! {
        #[test]
        fn reused_keys_are_the_keys_of_each_item(
            items in prop::collection::vec((labels(), prop::option::of("[a-z]{1,6}"), prop::option::of(0.0f64..2000.0), labels()), 1..6)
        ) {
            let mut buffer = KeyBuffer::default();
            for (category_path, brand, price, tags) in items {
                let item = ItemAttributes { category_path, brand, price, tags };
                let expected = item.keys();
                prop_assert_eq!(buffer.fill(&item), expected.as_slice());
            }
        }
    }

    #[test]
    fn keys_of_a_hand_made_item() {
        let item = ItemAttributes {
            category_path: vec!["Shoes".into(), "Trail".into()],
            brand: Some("Acme".into()),
            price: Some(89.0),
            tags: vec!["waterproof".into()],
        };
        let mut buffer = KeyBuffer::default();
        buffer.fill(&ItemAttributes {
            category_path: vec!["A".into(), "B".into(), "C".into()],
            ..ItemAttributes::default()
        });
        assert_eq!(
            buffer.fill(&item),
            [
                AttributeKey::Category("Shoes".into()),
                AttributeKey::Category("Shoes > Trail".into()),
                AttributeKey::Brand("Acme".into()),
                AttributeKey::PriceBand(price_band(89.0)),
                AttributeKey::Tag("waterproof".into()),
            ]
        );
    }

    fn camel(snake: &str) -> String {
        let mut parts = snake.split('_');
        let first = parts.next().unwrap_or_default().to_owned();
        parts.fold(first, |name, part| name + &part[..1].to_uppercase() + &part[1..])
    }

    /// Names every field of `AnswerColumns` by destructuring it: a field added to the struct
    /// and not here fails to compile, so the list is the struct's, not a copy.
    macro_rules! struct_fields {
        ($($field:ident),*) => {{
            let AnswerColumns::<String> { $($field: _),* } = AnswerColumns::default();
            vec![$(camel(stringify!($field))),*]
        }};
    }

    #[test]
    fn the_field_list_is_the_structs() {
        let mut fields = struct_fields!(
            about,
            about_embedding,
            ids,
            scores,
            titles,
            popularity,
            attributes,
            embeddings,
            neighbours,
            next
        );
        let mut listed: Vec<String> = ANSWER_FIELDS.iter().map(|&f| f.to_owned()).collect();
        fields.sort();
        listed.sort();
        assert_eq!(fields, listed);
    }

    #[test]
    fn the_readme_table_lists_the_fields_in_order() {
        let readme = include_str!("../../../README.md");
        let section = readme.split("## Server protocol").nth(1).expect("README has a Server protocol section");
        let table: Vec<&str> = section
            .lines()
            .skip_while(|line| !line.starts_with("| field |"))
            .skip(2)
            .take_while(|line| line.starts_with("| `"))
            .filter_map(|line| line.split('`').nth(1))
            .collect();
        assert_eq!(table, ANSWER_FIELDS);
    }

    /// The facade's JS snippet reads the plain columns by name; each name must be a field.
    #[test]
    fn the_facade_snippet_reads_only_answer_fields() {
        let source = include_str!("../../wasm/core/answer_json.rs");
        let snippet = source.split("export function answerJson").nth(1).expect("the snippet is there");
        let snippet = snippet.split("\"#)]").next().expect("the snippet ends");
        let read = |prefix: &str| -> Vec<String> {
            snippet
                .split(prefix)
                .skip(1)
                .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect())
                .collect()
        };
        let top = read("answer.");
        assert!(top.len() >= 5, "the snippet reads {top:?}");
        for name in &top {
            assert!(ANSWER_FIELDS.contains(&name.as_str()), "answer.{name} is not an answer field");
        }
        for name in read("neighbours.") {
            assert!(NEIGHBOUR_FIELDS.contains(&name.as_str()), "neighbours.{name} is not a neighbours field");
        }
    }
}
