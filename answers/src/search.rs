//! Text search over the catalogue for `search` answers: a tantivy index in RAM over each
//! product's title, category path, brand and tags (BM25).

use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, Schema, Value, INDEXED, STORED, TEXT};
use tantivy::{doc, Index, IndexReader, TantivyDocument};
use thiserror::Error;

use crate::catalogue::Product;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// Memory budget of the index writer (tantivy wants at least 15 MB per thread).
const WRITER_BYTES: usize = 32_000_000;

#[derive(Debug, Error)]
pub enum SearchError {
    #[error("bad_query: the query is empty: pass ?q=words")]
    Empty,
    #[error("bad_query: the query is over {MAX_QUERY_BYTES} bytes")]
    TooLong,
    #[error("search_failed: the search index failed: {0}")]
    Index(String),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(e.to_string())
    }
}

/// The catalogue's search index.
pub struct CatalogueSearch {
    reader: IndexReader,
    parser: QueryParser,
    item: Field,
}

impl std::fmt::Debug for CatalogueSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogueSearch")
    }
}

impl CatalogueSearch {
    /// Indexes `products`, each under its dense item id (`items[i]` for `products[i]`).
    pub fn build(products: &[Product], items: &[u32]) -> Result<Self, SearchError> {
        let mut schema = Schema::builder();
        let item = schema.add_u64_field("item", INDEXED | STORED);
        let title = schema.add_text_field("title", TEXT);
        let category = schema.add_text_field("category", TEXT);
        let brand = schema.add_text_field("brand", TEXT);
        let tags = schema.add_text_field("tags", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, WRITER_BYTES)?;
        for (product, &id) in products.iter().zip(items) {
            let a = &product.attributes;
            writer.add_document(doc!(
                item => u64::from(id),
                title => product.title.as_str(),
                category => a.category_path.join(" "),
                brand => a.brand.clone().unwrap_or_default(),
                tags => a.tags.join(" "),
            ))?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let mut parser = QueryParser::for_index(&index, vec![title, category, brand, tags]);
        parser.set_field_boost(title, 2.0);
        Ok(Self { reader, parser, item })
    }

    /// The best `limit` items for `query` with their BM25 scores, best first. Query syntax
    /// errors are forgiven (the words still count); an empty or over-long query is refused.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<(u32, f32)>, SearchError> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(SearchError::TooLong);
        }
        if query.trim().is_empty() {
            return Err(SearchError::Empty);
        }
        let (parsed, _forgiven) = self.parser.parse_query_lenient(query);
        let searcher = self.reader.searcher();
        let top = searcher.search(&parsed, &TopDocs::with_limit(limit.max(1)))?;
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = document.get_first(self.item).and_then(|v| v.as_u64()) {
                out.push((id as u32, score));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_personalizer::catalog::ItemAttributes;

    fn product(id: &str, title: &str, path: &[&str]) -> Product {
        Product {
            id: id.to_owned(),
            title: title.to_owned(),
            attributes: ItemAttributes {
                category_path: path.iter().map(|p| p.to_string()).collect(),
                ..ItemAttributes::default()
            },
            in_stock: true,
        }
    }

    #[test]
    fn finds_by_title_and_category_and_refuses_empty_queries() {
        let products =
            vec![product("a", "Alpine Grip Shoe", &["Shoes", "Trail"]), product("b", "Vitamin C", &["Pharmacy"])];
        let search = CatalogueSearch::build(&products, &[10, 11]).unwrap();
        assert_eq!(search.search("grip", 5).unwrap().iter().map(|h| h.0).collect::<Vec<_>>(), vec![10]);
        assert_eq!(search.search("pharmacy", 5).unwrap()[0].0, 11);
        assert_eq!(search.search("trail (", 5).unwrap()[0].0, 10, "syntax errors are forgiven");
        assert!(search.search("nothing-like-it", 5).unwrap().is_empty());
        assert!(matches!(search.search("  ", 5), Err(SearchError::Empty)));
        assert!(matches!(search.search(&"x".repeat(300), 5), Err(SearchError::TooLong)));
    }
}
