//! The HTTP API (axum on tokio, as the aggregator):
//!
//! * `GET /v1/answers/item/{id}` — the answer about one item; `404 unknown_item` for an id the
//!   index does not know.
//! * `GET /v1/answers/search?q=words` — the answer for a query; `400 bad_query` when `q` is
//!   missing, empty or over 256 bytes.
//! * `GET /v1/answers/popular` — the answer for a page about no item or query (a home page):
//!   the most viewed offerable items, the same for everyone.
//! * `GET /healthz` — `{"status":"ok","version","items"}`.
//!
//! Answers carry `ETag: "<index version>"` (`304` on `If-None-Match`) and
//! `Cache-Control: public, max-age=<--max-age>`; CORS allows the configured origins only. Every
//! refusal is `{ "error", "message" }` JSON. No cookie is read or set, and nothing about a
//! request (path, query, address, headers) is logged. The index sits behind one pointer that a
//! rebuild replaces at once ([`IndexSlot::swap`]): a request answers from the old index or the
//! new one, never a mix.

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::index::AnswerIndex;
use crate::search::SearchError;

/// The index the service answers from, replaced whole on rebuild.
#[derive(Debug)]
pub struct IndexSlot(RwLock<Arc<AnswerIndex>>);

impl IndexSlot {
    pub fn new(index: AnswerIndex) -> Self {
        Self(RwLock::new(Arc::new(index)))
    }

    /// The current index (requests in flight keep theirs until they finish).
    pub fn get(&self) -> Arc<AnswerIndex> {
        Arc::clone(&self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Installs `index`; returns the one it replaced.
    pub fn swap(&self, index: AnswerIndex) -> Arc<AnswerIndex> {
        let mut slot = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *slot, Arc::new(index))
    }
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Storefront origins allowed by CORS, e.g. `https://shop.example`.
    pub allowed_origins: Vec<String>,
    /// `Cache-Control: max-age` of answers, seconds.
    pub max_age_seconds: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { allowed_origins: Vec::new(), max_age_seconds: 300 }
    }
}

#[derive(Clone)]
struct AppState {
    slot: Arc<IndexSlot>,
    cache_control: HeaderValue,
}

/// A refusal as `{ "error", "message" }` JSON.
#[derive(Debug)]
enum ApiError {
    UnknownItem,
    BadQuery(String),
    NotFound,
    MethodNotAllowed,
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::UnknownItem => (
                StatusCode::NOT_FOUND,
                "unknown_item",
                "no answer for this item: it is in neither the log nor the catalogue".to_owned(),
            ),
            ApiError::BadQuery(message) => (StatusCode::BAD_REQUEST, "bad_query", message),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such path: see /v1/answers/item/{id}, /v1/answers/search?q= and /v1/answers/popular".to_owned(),
            ),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "only GET is served".to_owned())
            }
            ApiError::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "the answer could not be computed".to_owned())
            }
        };
        (status, Json(json!({ "error": code, "message": message }))).into_response()
    }
}

/// The router with CORS for `config.allowed_origins`.
pub fn router(slot: Arc<IndexSlot>, config: &HttpConfig) -> Router {
    let origins: Vec<HeaderValue> =
        config.allowed_origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET])
        .allow_headers([header::IF_NONE_MATCH])
        .expose_headers([header::ETAG])
        .max_age(std::time::Duration::from_secs(3_600));
    let cache_control = HeaderValue::from_str(&format!("public, max-age={}", config.max_age_seconds))
        .unwrap_or(HeaderValue::from_static("public, max-age=300"));
    Router::new()
        .route("/v1/answers/item/{id}", get(get_item))
        .route("/v1/answers/search", get(get_search))
        .route("/v1/answers/popular", get(get_popular))
        .route("/healthz", get(get_health))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(cors)
        .with_state(AppState { slot, cache_control })
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').map(str::trim).any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
    })
}

/// Answers with `body()` unless the client holds the current version.
fn answer(
    app: &AppState,
    index: &AnswerIndex,
    headers: &HeaderMap,
    body: impl FnOnce() -> Result<Vec<u8>, ApiError>,
) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&format!("\"{}\"", index.version())).map_err(|_| ApiError::Internal)?;
    let common = [(header::ETAG, etag.clone()), (header::CACHE_CONTROL, app.cache_control.clone())];
    if etag_matches(headers, &format!("\"{}\"", index.version())) {
        return Ok((StatusCode::NOT_MODIFIED, common, Body::empty()).into_response());
    }
    let body = body()?;
    Ok((common, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

async fn get_item(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let index = app.slot.get();
    answer(&app, &index, &headers, || {
        let mut body = Vec::new();
        index.item_answer_json(&id, &mut body).then_some(body).ok_or(ApiError::UnknownItem)
    })
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
}

async fn get_search(
    State(app): State<AppState>,
    params: Result<Query<SearchParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Ok(Query(SearchParams { q: Some(q) })) = params else {
        return Err(ApiError::BadQuery("pass the query as ?q=words".to_owned()));
    };
    let index = app.slot.get();
    let mut body = Vec::new();
    answer(&app, &index, &headers, || match index.search_answer_json(&q, &mut body) {
        Ok(()) => Ok(body),
        Err(e @ (SearchError::Empty | SearchError::TooLong)) => Err(ApiError::BadQuery(e.to_string())),
        Err(SearchError::Index(_)) => Err(ApiError::Internal),
    })
}

async fn get_popular(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let index = app.slot.get();
    answer(&app, &index, &headers, || {
        let mut body = Vec::new();
        index.popular_answer_json(&mut body);
        Ok(body)
    })
}

async fn get_health(State(app): State<AppState>) -> Response {
    let index = app.slot.get();
    Json(json!({ "status": "ok", "version": index.version(), "items": index.items() })).into_response()
}
