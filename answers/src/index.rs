//! The answer index: the candidate index over the shop's sessions, the catalogue's data per
//! item and its search index, turned into protocol answers.

use std::time::Instant;

use sha2::{Digest, Sha256};
use shop_personalizer::catalog::ItemAttributes;
use thiserror::Error;

use crate::answer::{Answer, Neighbours};
use crate::candidates::{CandidateIndex, ServerConfig};
use crate::catalogue::{parse_catalogue, CatalogueFormat, Product};
use crate::encode::{Columns, EncodedItems, ItemView};
use crate::input::{BadLine, InputError, LineReport, OnBadLine, Vocabulary};
use crate::search::{CatalogueSearch, SearchError};
use crate::sessions::{parse_timed_log, LogFormat};

/// How the index is built.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexConfig {
    pub server: ServerConfig,
    pub on_bad_line: OnBadLine,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self { server: ServerConfig::default(), on_bad_line: OnBadLine::Skip }
    }
}

/// The shop's data as text.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub log: &'a str,
    pub log_format: LogFormat,
    pub catalogue: Option<(&'a str, CatalogueFormat)>,
}

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl BuildError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(e) => e.code(),
            Self::Search(_) => "search_failed",
        }
    }
}

/// What a build read and skipped.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub sessions: usize,
    pub items: usize,
    pub products: usize,
    pub bad_log_lines: Vec<BadLine>,
    pub bad_catalogue_lines: Vec<BadLine>,
    pub seconds: f64,
}

/// What the catalogue says about one item.
#[derive(Debug, Clone)]
struct Listing {
    title: String,
    attributes: ItemAttributes,
    in_stock: bool,
}

/// Everything the service answers from; read-only once built.
#[derive(Debug)]
pub struct AnswerIndex {
    vocab: Vocabulary,
    /// Per dense item id; `None` for items only the log knows.
    listings: Vec<Option<Listing>>,
    has_catalogue: bool,
    candidates: CandidateIndex,
    search: Option<CatalogueSearch>,
    encoded: EncodedItems,
    version: String,
}

impl AnswerIndex {
    /// Builds the index. Malformed lines are skipped or refused as `config.on_bad_line` says.
    pub fn build(inputs: Inputs<'_>, config: &IndexConfig) -> Result<(Self, BuildReport), BuildError> {
        let started = Instant::now();
        let mut vocab = Vocabulary::default();
        let mut log_report = LineReport::new("session log", config.on_bad_line);
        let (sessions, times) = parse_timed_log(inputs.log, inputs.log_format, &mut vocab, &mut log_report)?;
        let mut catalogue_report = LineReport::new("catalogue", config.on_bad_line);
        let products: Vec<Product> = match inputs.catalogue {
            Some((text, format)) => parse_catalogue(text, format, &mut catalogue_report)?,
            None => Vec::new(),
        };
        let product_ids: Vec<u32> = products.iter().map(|p| vocab.intern(&p.id)).collect();
        let mut listings: Vec<Option<Listing>> = vec![None; vocab.len()];
        let mut keys = vec![Vec::new(); vocab.len()];
        for (product, &id) in products.iter().zip(&product_ids) {
            keys[id as usize] = product.attributes.keys();
            listings[id as usize] = Some(Listing {
                title: product.title.clone(),
                attributes: product.attributes.clone(),
                in_stock: product.in_stock,
            });
        }
        let candidates =
            CandidateIndex::build_with_keys(&sessions, times.as_deref(), vocab.len(), keys, config.server.clone());
        let search = if products.is_empty() { None } else { Some(CatalogueSearch::build(&products, &product_ids)?) };
        let mut hash = Sha256::new();
        hash.update(inputs.log.as_bytes());
        hash.update([0xff]);
        hash.update(inputs.catalogue.map_or("", |c| c.0).as_bytes());
        hash.update(format!("{config:?}").as_bytes());
        let version: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        let report = BuildReport {
            sessions: sessions.len(),
            items: vocab.len(),
            products: products.len(),
            bad_log_lines: log_report.bad,
            bad_catalogue_lines: catalogue_report.bad,
            seconds: started.elapsed().as_secs_f64(),
        };
        let mut encoded = EncodedItems::default();
        let no_attributes = ItemAttributes::default();
        for item in 0..vocab.len() as u32 {
            let listing = listings[item as usize].as_ref();
            encoded.push(ItemView {
                id: vocab.name(item),
                title: listing.map_or("", |l| l.title.as_str()),
                attributes: listing.map_or(&no_attributes, |l| &l.attributes),
                embedding: candidates.embedding(item).unwrap_or(&[]),
                about_embedding: candidates.about_embedding(item).unwrap_or(&[]),
            });
        }
        let has_catalogue = !products.is_empty();
        let index = Self { vocab, listings, has_catalogue, candidates, search, encoded, version };
        Ok((index, report))
    }

    /// Changes with the inputs and the settings: the ETag of every answer.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every item id an answer exists for.
    pub fn item_ids(&self) -> impl Iterator<Item = &str> {
        (0..self.vocab.len() as u32).map(|i| self.vocab.name(i))
    }

    pub fn items(&self) -> usize {
        self.vocab.len()
    }

    /// Bytes the index holds on the heap, roughly (the search index is not counted).
    pub fn heap_bytes(&self) -> usize {
        let listings: usize = self
            .listings
            .iter()
            .flatten()
            .map(|l| 96 + l.title.capacity() + l.attributes.category_path.iter().map(|c| 24 + c.len()).sum::<usize>())
            .sum::<usize>()
            + self.listings.capacity() * std::mem::size_of::<Option<Listing>>();
        self.vocab.heap_bytes() + listings + self.candidates.heap_bytes() + self.encoded.heap_bytes()
    }

    /// Whether an item may be recommended: in the catalogue and in stock (any item without a catalogue).
    fn offerable(&self, item: u32) -> bool {
        !self.has_catalogue || self.listings[item as usize].as_ref().is_some_and(|l| l.in_stock)
    }

    /// The answer about item `id`, or `None` for an item the index does not know.
    pub fn item_answer(&self, id: &str) -> Option<Answer> {
        let item = self.vocab.get(id)?;
        let scored = self.item_candidates(item);
        let mut answer = self.columns(&scored);
        answer.about = Some(id.to_owned());
        answer.about_embedding = self.candidates.about_embedding(item).map(<[f32]>::to_vec);
        answer.next = self.next_column(item, &scored);
        Some(answer)
    }

    /// [`AnswerIndex::item_answer`] as JSON into `out` (the same bytes, written from pieces
    /// encoded at build time); false for an unknown item.
    pub fn item_answer_json(&self, id: &str, out: &mut Vec<u8>) -> bool {
        let Some(item) = self.vocab.get(id) else { return false };
        if self.candidates.config().candidate_neighbours > 0 {
            *out = self.item_answer(id).map(|a| a.to_json()).unwrap_or_default();
            return true;
        }
        let scored = self.item_candidates(item);
        self.write_json(out, &scored, Some(item));
        true
    }

    /// [`AnswerIndex::search_answer`] as JSON into `out`.
    pub fn search_answer_json(&self, query: &str, out: &mut Vec<u8>) -> Result<(), SearchError> {
        if self.candidates.config().candidate_neighbours > 0 {
            *out = self.search_answer(query)?.to_json();
            return Ok(());
        }
        let hits = self.search_hits(query)?;
        self.write_json(out, &hits, None);
        Ok(())
    }

    /// The `next` column of the answer about `item` (None without [`ServerConfig::next_column`]).
    fn next_column(&self, item: u32, scored: &[(u32, f32)]) -> Option<Vec<f32>> {
        scored.iter().map(|&(c, _)| self.candidates.next_share(item, c)).collect()
    }

    fn write_json(&self, out: &mut Vec<u8>, scored: &[(u32, f32)], about: Option<u32>) {
        let popularity: Vec<f32> = scored.iter().map(|&(c, _)| self.candidates.popularity(c)).collect();
        let next = about.and_then(|item| self.next_column(item, scored));
        let columns = Columns {
            scored,
            popularity: &popularity,
            next: next.as_deref(),
            catalogue: self.has_catalogue,
            embeddings: self.candidates.config().embedding_dim > 0,
            about,
        };
        self.encoded.write(out, columns);
    }

    /// The candidates about `item`: its answer ids, offerable ones only, filled up again.
    fn item_candidates(&self, item: u32) -> Vec<(u32, f32)> {
        let mut scored = Vec::new();
        self.candidates.answer_ids(item, &mut scored);
        scored.retain(|&(c, _)| self.offerable(c));
        // Filled up again past what was left out, with popular items below every score.
        let limit = self.candidates.config().candidates;
        let mut floor = scored.last().map_or(0.0, |l| l.1.min(0.0)) - 1.0;
        for (p, _) in self.candidates.popular() {
            if scored.len() >= limit {
                break;
            }
            if p != item && self.offerable(p) && !scored.iter().any(|s| s.0 == p) {
                scored.push((p, floor));
                floor -= 1e-3;
            }
        }
        scored
    }

    /// The answer for a page about no item and no query (a home page): the most viewed
    /// offerable items, best first, each scored by its views. The same for every shopper.
    pub fn popular_answer(&self) -> Answer {
        self.columns(&self.popular_candidates())
    }

    /// [`AnswerIndex::popular_answer`] as JSON into `out`.
    pub fn popular_answer_json(&self, out: &mut Vec<u8>) {
        if self.candidates.config().candidate_neighbours > 0 {
            *out = self.popular_answer().to_json();
            return;
        }
        self.write_json(out, &self.popular_candidates(), None);
    }

    fn popular_candidates(&self) -> Vec<(u32, f32)> {
        let limit = self.candidates.config().candidates;
        self.candidates.popular().filter(|&(c, _)| self.offerable(c)).take(limit).collect()
    }

    /// The answer for a search query: catalogue matches by relevance, in-stock only.
    pub fn search_answer(&self, query: &str) -> Result<Answer, SearchError> {
        Ok(self.columns(&self.search_hits(query)?))
    }

    fn search_hits(&self, query: &str) -> Result<Vec<(u32, f32)>, SearchError> {
        let limit = self.candidates.config().candidates;
        let hits = match &self.search {
            Some(search) => search.search(query, 2 * limit)?,
            None if query.trim().is_empty() => return Err(SearchError::Empty),
            None => Vec::new(),
        };
        let mut hits: Vec<(u32, f32)> = hits.into_iter().filter(|&(c, _)| self.offerable(c)).collect();
        hits.truncate(limit);
        Ok(hits)
    }

    fn columns(&self, scored: &[(u32, f32)]) -> Answer {
        let config = self.candidates.config();
        let ids = scored.iter().map(|&(c, _)| self.vocab.name(c).to_owned()).collect();
        let scores = Some(scored.iter().map(|c| c.1).collect());
        let popularity = Some(scored.iter().map(|&(c, _)| self.candidates.popularity(c)).collect());
        let embeddings = (config.embedding_dim > 0).then(|| {
            scored.iter().flat_map(|&(c, _)| self.candidates.embedding(c).unwrap_or(&[]).iter().copied()).collect()
        });
        let (titles, attributes) = if self.has_catalogue {
            let listing = |c: u32| self.listings[c as usize].as_ref();
            let titles = scored.iter().map(|&(c, _)| listing(c).map(|l| l.title.clone()).unwrap_or_default()).collect();
            let attributes =
                scored.iter().map(|&(c, _)| listing(c).map(|l| l.attributes.clone()).unwrap_or_default()).collect();
            (Some(titles), Some(attributes))
        } else {
            (None, None)
        };
        let neighbours = (config.candidate_neighbours > 0).then(|| {
            let mut n = Neighbours { offsets: vec![0], ..Neighbours::default() };
            for &(c, _) in scored {
                for &(b, s) in self.candidates.neighbours(c).iter().take(config.candidate_neighbours) {
                    n.ids.push(self.vocab.name(b).to_owned());
                    n.scores.push(s);
                }
                n.offsets.push(n.ids.len() as u32);
            }
            n
        });
        Answer {
            ids,
            scores,
            attributes,
            titles,
            popularity,
            embeddings,
            neighbours,
            about: None,
            about_embedding: None,
            next: None,
        }
    }
}
