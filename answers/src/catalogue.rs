//! The shop's catalogue, as JSON Lines or CSV.
//!
//! JSON Lines: `{"id": "sku-1", "title": "Alpine Grip Shoe", "categoryPath": ["Shoes", "Trail"],
//! "brand": "Acme", "price": 89.0, "tags": ["waterproof"], "inStock": true}` (only `id` is
//! required; `categoryPath` may also be one `"Shoes > Trail"` string).
//! CSV with a header row naming the columns `id,title,category_path,brand,price,tags,in_stock`
//! (any order, only `id` required): the category path is split at `>`, tags at `|`, in-stock is
//! `true`/`false`/`1`/`0`/`yes`/`no`.

use serde::Deserialize;
use shop_personalizer::catalog::{validate_item_id, ItemAttributes};

use crate::input::{InputError, LineReport};

/// One product.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Product {
    pub id: String,
    pub title: String,
    pub attributes: ItemAttributes,
    pub in_stock: bool,
}

/// A catalogue format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueFormat {
    JsonLines,
    Csv,
    /// The demo storefront's `www/catalog.json`: `{"products": [{"id", "name", "categoryPath",
    /// "brand", "price", "tags", ...}]}` (other fields ignored; every product in stock).
    Storefront,
}

impl CatalogueFormat {
    /// From a flag value, or from the file name (`.csv` is CSV, anything else JSON Lines).
    pub fn choose(flag: Option<&str>, path: &str) -> Result<Self, InputError> {
        match flag {
            Some("jsonl") => Ok(Self::JsonLines),
            Some("csv") => Ok(Self::Csv),
            Some("storefront") => Ok(Self::Storefront),
            Some(other) => Err(InputError::Format(format!("catalogue format {other}: use jsonl, csv or storefront"))),
            None if path.ends_with(".csv") => Ok(Self::Csv),
            None => Ok(Self::JsonLines),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Path {
    Levels(Vec<String>),
    Joined(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Row {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    category_path: Option<Path>,
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    price: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "in_stock_default")]
    in_stock: bool,
}

fn in_stock_default() -> bool {
    true
}

fn split_path(text: &str) -> Vec<String> {
    text.split('>').map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn product(row: Row) -> Result<Product, String> {
    if row.id.trim().is_empty() {
        return Err("empty id".to_owned());
    }
    validate_item_id(&row.id).map_err(|e| e.to_string())?;
    let category_path = match row.category_path {
        Some(Path::Levels(levels)) => levels,
        Some(Path::Joined(text)) => split_path(&text),
        None => Vec::new(),
    };
    let attributes =
        ItemAttributes { category_path, brand: row.brand.filter(|b| !b.is_empty()), price: row.price, tags: row.tags };
    attributes.validate().map_err(|e| e.to_string())?;
    Ok(Product { id: row.id, title: row.title, attributes, in_stock: row.in_stock })
}

/// Parses a catalogue. A repeated id is a bad line (the first one counts).
pub fn parse_catalogue(
    text: &str,
    format: CatalogueFormat,
    report: &mut LineReport,
) -> Result<Vec<Product>, InputError> {
    let rows = match format {
        CatalogueFormat::JsonLines => json_rows(text),
        CatalogueFormat::Csv => csv_rows(text)?,
        CatalogueFormat::Storefront => storefront_rows(text)?,
    };
    let mut seen = std::collections::HashSet::new();
    let mut products = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        match row.and_then(product) {
            Ok(p) if !seen.insert(p.id.clone()) => report.bad(line, format!("id {:?} listed twice", p.id))?,
            Ok(p) => products.push(p),
            Err(reason) => report.bad(line, reason)?,
        }
    }
    if products.is_empty() {
        return Err(InputError::Empty { what: "the catalogue" });
    }
    Ok(products)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StorefrontProduct {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category_path: Vec<String>,
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    price: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Storefront {
    products: Vec<StorefrontProduct>,
}

fn storefront_rows(text: &str) -> Result<Rows, InputError> {
    let shop: Storefront = serde_json::from_str(text).map_err(|e| InputError::Malformed {
        what: "catalogue",
        line: e.line(),
        reason: e.to_string(),
    })?;
    let rows = shop.products.into_iter().enumerate().map(|(n, p)| {
        let row = Row {
            id: p.id,
            title: p.name,
            category_path: Some(Path::Levels(p.category_path)),
            brand: p.brand,
            price: p.price,
            tags: p.tags,
            in_stock: true,
        };
        // Numbered by product: the document is one JSON value.
        (n + 1, Ok(row))
    });
    Ok(rows.collect())
}

/// Each line's row or why it is malformed, in line order.
type Rows = Vec<(usize, Result<Row, String>)>;

fn json_rows(text: &str) -> Rows {
    let rows = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| (n + 1, serde_json::from_str::<Row>(line).map_err(|e| e.to_string())))
        .collect();
    rows
}

fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn csv_rows(text: &str) -> Result<Rows, InputError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| InputError::Malformed { what: "catalogue", line: 1, reason: e.to_string() })?
        .clone();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let id =
        column("id").ok_or(InputError::Malformed { what: "catalogue", line: 1, reason: "no id column".to_owned() })?;
    let (title, path, brand, price, tags, stock) = (
        column("title"),
        column("category_path"),
        column("brand"),
        column("price"),
        column("tags"),
        column("in_stock"),
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                rows.push((line, Err(e.to_string())));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        if record.len() != header.len() {
            rows.push((line, Err(format!("{} fields, the header has {}", record.len(), header.len()))));
            continue;
        }
        let price_text = get(price);
        let price = if price_text.is_empty() {
            None
        } else {
            match price_text.parse::<f64>() {
                Ok(p) => Some(p),
                Err(_) => {
                    rows.push((line, Err(format!("price {price_text:?} is not a number"))));
                    continue;
                }
            }
        };
        let Some(in_stock) = flag(get(stock)) else {
            rows.push((line, Err(format!("in_stock {:?} is not true/false", get(stock)))));
            continue;
        };
        let tags = get(tags).split('|').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
        let brand = Some(get(brand).to_owned()).filter(|b| !b.is_empty());
        rows.push((
            line,
            Ok(Row {
                id: get(Some(id)).to_owned(),
                title: get(title).to_owned(),
                category_path: Some(Path::Joined(get(path).to_owned())),
                brand,
                price,
                tags,
                in_stock,
            }),
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::OnBadLine;

    #[test]
    fn csv_and_json_lines_read_the_same_product() {
        let csv = "id,title,category_path,brand,price,tags,in_stock\nsku-1,Alpine Grip Shoe,Shoes > Trail,Acme,89,waterproof|grip,true\nsku-2,,,,cheap,,\nsku-3,x,,,1,,maybe\n";
        let mut report = LineReport::new("catalogue", OnBadLine::Skip);
        let from_csv = parse_catalogue(csv, CatalogueFormat::Csv, &mut report).unwrap();
        assert_eq!(report.bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3, 4]);
        let json = "{\"id\":\"sku-1\",\"title\":\"Alpine Grip Shoe\",\"categoryPath\":[\"Shoes\",\"Trail\"],\"brand\":\"Acme\",\"price\":89,\"tags\":[\"waterproof\",\"grip\"]}\n{\"id\":\"sku-1\"}\n{\"title\":\"no id\"}\n";
        let mut report = LineReport::new("catalogue", OnBadLine::Skip);
        let from_json = parse_catalogue(json, CatalogueFormat::JsonLines, &mut report).unwrap();
        assert_eq!(from_csv, from_json);
        assert_eq!(from_json[0].attributes.category_path, vec!["Shoes", "Trail"]);
        assert_eq!(report.bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 3]);
        let mut refuse = LineReport::new("catalogue", OnBadLine::Refuse);
        let error = parse_catalogue(json, CatalogueFormat::JsonLines, &mut refuse).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }
}
