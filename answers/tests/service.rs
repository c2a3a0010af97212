//! The HTTP API against a small generated shop: the protocol's columns, accepted by the core's
//! answer checks; caching, CORS, JSON errors, no cookies; the atomic index swap; the export.

use std::sync::Arc;

use answers::answer::Answer;
use answers::catalogue::CatalogueFormat;
use answers::http::{router, HttpConfig, IndexSlot};
use answers::index::{AnswerIndex, IndexConfig, Inputs};
use answers::sessions::LogFormat;
use answers::{EmbeddingSource, NextItemConfig, ServerConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use shop_personalizer::config::PersonalizerConfig;
use shop_personalizer::personalizer::{Environment, Personalizer, ANSWER_FIELDS};
use shop_personalizer::storage::MemoryStore;
use tower::ServiceExt;

const ORIGIN: &str = "http://shop.test";

/// 40 products in 4 categories; sessions browse within a category (seeded, deterministic).
fn shop(log_extra: &str) -> (String, String) {
    let categories = ["Shoes", "Coffee", "Pharmacy", "Books"];
    let mut catalogue = String::new();
    for i in 0..40 {
        let category = categories[i % 4];
        let in_stock = i != 5;
        catalogue.push_str(&format!(
            "{{\"id\":\"sku-{i}\",\"title\":\"{category} item {i}\",\"categoryPath\":[\"{category}\"],\"brand\":\"B{b}\",\"price\":{p},\"tags\":[\"t{t}\"],\"inStock\":{in_stock}}}\n",
            b = i % 3,
            p = 5 + i,
            t = i % 2
        ));
    }
    let mut log = String::new();
    for s in 0..200 {
        let c = s % 4;
        let items: Vec<String> = (0..5).map(|k| format!("sku-{}", c + 4 * ((s * 7 + k * 3) % 10))).collect();
        log.push_str(&items.join(" "));
        log.push('\n');
    }
    log.push_str(log_extra);
    (log, catalogue)
}

fn index(log: &str, catalogue: &str, neighbours: usize) -> AnswerIndex {
    let inputs = Inputs { log, log_format: LogFormat::Text, catalogue: Some((catalogue, CatalogueFormat::JsonLines)) };
    let config = IndexConfig {
        server: ServerConfig {
            candidates: 20,
            embedding_dim: 16,
            candidate_neighbours: neighbours,
            ..ServerConfig::default()
        },
        ..IndexConfig::default()
    };
    AnswerIndex::build(inputs, &config).expect("the fixture builds").0
}

fn app(slot: Arc<IndexSlot>) -> Router {
    router(slot, &HttpConfig { allowed_origins: vec![ORIGIN.to_owned()], max_age_seconds: 60 })
}

async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder().uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn item_answers_are_the_protocol_columns_and_the_core_accepts_them() {
    let (log, catalogue) = shop("");
    let app = app(Arc::new(IndexSlot::new(index(&log, &catalogue, 3))));
    let (status, headers, body) = get(&app, "/v1/answers/item/sku-0", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(headers.get(header::SET_COOKIE).is_none());
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut fields: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    let mut expected = ANSWER_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(fields, expected, "every column of the protocol, and no other");
    let answer: Answer = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer.about.as_deref(), Some("sku-0"));
    assert_eq!(answer.ids.len(), 20);
    assert!(!answer.ids.contains(&"sku-5".to_owned()), "out of stock items are not offered");
    assert!(!answer.ids.contains(&"sku-0".to_owned()), "the item itself is not its own candidate");
    assert_eq!(answer.embeddings.as_ref().unwrap().len(), 20 * 16);
    // Same-category items lead (the log browses within categories).
    assert!(answer.attributes.as_ref().unwrap()[0].category_path == vec!["Shoes".to_owned()]);
    // The next column: a share of sku-0's direct steps per candidate, at least one of them taken.
    let next = answer.next.as_ref().expect("an item answer carries its next column");
    assert_eq!(next.len(), 20);
    assert!(next.iter().all(|p| (0.0..=1.0).contains(p)) && next.iter().sum::<f32>() < 1.0, "{next:?}");
    assert!(next.iter().any(|p| *p > 0.0), "{next:?}");
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    let mut personalizer = Personalizer::open(MemoryStore::new(), config, Environment::default()).unwrap();
    personalizer.register_candidates(&answer.columns()).expect("the core accepts the served answer");
    // Without the column (`--next-column off`, or an older service) the core reads the answer too.
    let inputs = Inputs { log: &log, log_format: LogFormat::Text, catalogue: None };
    let server = ServerConfig { candidates: 20, embedding_dim: 16, next_column: false, ..ServerConfig::default() };
    let without = AnswerIndex::build(inputs, &IndexConfig { server, ..IndexConfig::default() }).unwrap().0;
    let mut out = Vec::new();
    assert!(without.item_answer_json("sku-0", &mut out));
    let old: Answer = serde_json::from_slice(&out).unwrap();
    assert!(old.next.is_none() && old.about.as_deref() == Some("sku-0"));
    personalizer.register_candidates(&old.columns()).expect("an answer without the next column is read");
}

#[tokio::test]
async fn search_caching_cors_and_errors() {
    let (log, catalogue) = shop("");
    let app = app(Arc::new(IndexSlot::new(index(&log, &catalogue, 0))));
    let (status, headers, body) = get(&app, "/v1/answers/search?q=pharmacy", &[("origin", ORIGIN)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
    let answer: Answer = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer.ids.len(), 10, "the ten pharmacy items");
    assert!(answer.titles.unwrap().iter().all(|t| t.starts_with("Pharmacy")));
    assert!(answer.about.is_none() && answer.neighbours.is_none());
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let (status, _, body) = get(&app, "/v1/answers/search?q=pharmacy", &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let (_, headers, _) = get(&app, "/v1/answers/item/sku-1", &[("origin", "http://elsewhere.test")]).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    for (uri, status, code) in [
        ("/v1/answers/item/nope", StatusCode::NOT_FOUND, "unknown_item"),
        ("/v1/answers/search", StatusCode::BAD_REQUEST, "bad_query"),
        ("/v1/answers/search?q=%20", StatusCode::BAD_REQUEST, "bad_query"),
        ("/elsewhere", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (got, _, body) = get(&app, uri, &[]).await;
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((got, value["error"].as_str().unwrap()), (status, code), "{uri}");
    }
    let long = format!("/v1/answers/search?q={}", "a".repeat(300));
    assert_eq!(get(&app, &long, &[]).await.0, StatusCode::BAD_REQUEST);
    let (status, _, body) = get(&app, "/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"], "ok");
}

#[tokio::test]
async fn the_popular_answer_is_the_protocol_columns_cached_and_the_core_accepts_it() {
    let (log, catalogue) = shop("");
    for neighbours in [0, 3] {
        let app = app(Arc::new(IndexSlot::new(index(&log, &catalogue, neighbours))));
        let (status, headers, body) = get(&app, "/v1/answers/popular", &[("origin", ORIGIN)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
        assert!(headers.get(header::SET_COOKIE).is_none());
        let answer: Answer = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer.ids.len(), 20);
        assert!(!answer.ids.contains(&"sku-5".to_owned()), "out of stock items are not offered");
        assert!(answer.about.is_none() && answer.about_embedding.is_none());
        let scores = answer.scores.as_ref().unwrap();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "most viewed first: {scores:?}");
        assert_eq!(answer.popularity.as_ref().unwrap(), scores, "scored by views");
        assert_eq!(answer.neighbours.is_some(), neighbours > 0);
        let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
        let mut personalizer = Personalizer::open(MemoryStore::new(), config, Environment::default()).unwrap();
        personalizer.register_candidates(&answer.columns()).expect("the core accepts the popular answer");
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, _, body) = get(&app, "/v1/answers/popular", &[("if-none-match", &etag)]).await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
        let post = Request::post("/v1/answers/popular").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(post).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, value["error"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    }
}

#[tokio::test]
async fn a_rebuild_swaps_the_whole_index_at_once() {
    let (log, catalogue) = shop("");
    let slot = Arc::new(IndexSlot::new(index(&log, &catalogue, 0)));
    let app = app(Arc::clone(&slot));
    let (_, old_headers, _) = get(&app, "/v1/answers/item/sku-1", &[]).await;
    assert_eq!(get(&app, "/v1/answers/item/new-item", &[]).await.0, StatusCode::NOT_FOUND);
    let held = slot.get();
    let (log, catalogue) = shop("sku-1 new-item\nsku-1 new-item\n");
    let old = slot.swap(index(&log, &catalogue, 0));
    assert!(Arc::ptr_eq(&old, &held), "a request in flight keeps the index it started with");
    let (status, new_headers, _) = get(&app, "/v1/answers/item/new-item", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(old_headers[header::ETAG], new_headers[header::ETAG], "a new index is a new version");
    assert!(held.item_answer("new-item").is_none());
}

#[test]
fn export_writes_one_file_per_item_and_a_manifest() {
    let (log, catalogue) = shop("");
    let index = index(&log, &catalogue, 0);
    let dir = std::env::temp_dir().join(format!("answers-export-test-{}", std::process::id()));
    let (count, _) = answers::export::export(&index, &dir).unwrap();
    assert_eq!(count, 40);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["count"], 40);
    assert_eq!(manifest["version"], index.version());
    let path = manifest["items"]["sku-3"].as_str().unwrap();
    let file = std::fs::read(dir.join(path)).unwrap();
    assert_eq!(file, index.item_answer("sku-3").unwrap().to_json(), "the bytes the server serves");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn answers_written_from_pieces_are_the_serde_bytes() {
    let (log, catalogue) = shop("");
    // Untied next-item vectors: the about vector differs from the candidate vector.
    let next = EmbeddingSource::NextItem(NextItemConfig { epochs: 1, ..NextItemConfig::default() });
    for (with_catalogue, embedding_source) in
        [(true, EmbeddingSource::CoOccurrence), (false, EmbeddingSource::CoOccurrence), (true, next)]
    {
        let inputs = Inputs {
            log: &log,
            log_format: LogFormat::Text,
            catalogue: with_catalogue.then_some((catalogue.as_str(), CatalogueFormat::JsonLines)),
        };
        let server = ServerConfig {
            candidates: 20,
            embedding_dim: 8,
            embedding_source,
            two_hop_fill: true,
            ..ServerConfig::default()
        };
        let config = IndexConfig { server, ..IndexConfig::default() };
        let index = AnswerIndex::build(inputs, &config).unwrap().0;
        let mut out = Vec::new();
        let mut compared = 0;
        for id in ["sku-0", "sku-5", "sku-39"] {
            assert!(index.item_answer_json(id, &mut out));
            let answer = index.item_answer(id).unwrap();
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&answer.to_json()));
            // The about vector against the item's candidate vector in the answer about one of its neighbours.
            // (An out-of-stock item is never a candidate, so it has no candidate vector to compare.)
            let about = answer.about_embedding.expect("an item answer carries its vector");
            let listed = answer.ids.iter().find_map(|n| {
                let other = index.item_answer(n)?;
                let row = other.ids.iter().position(|c| c == id)?;
                Some(other.embeddings?[row * 8..(row + 1) * 8].to_vec())
            });
            if let Some(candidate) = listed {
                let untied = matches!(embedding_source, EmbeddingSource::NextItem(_));
                assert_eq!(candidate != about, untied, "{id}");
                compared += 1;
            }
        }
        assert!(compared >= 2, "{compared} about vectors compared");
        assert!(!index.item_answer_json("nope", &mut out));
        if with_catalogue {
            index.search_answer_json("coffee", &mut out).unwrap();
            assert_eq!(out, index.search_answer("coffee").unwrap().to_json());
        }
    }
}
