//! The HTTP API.
//!
//! * `POST /v1/updates` — binary update body; `202 {"status":"accepted"}` once durably stored,
//!   `200 {"status":"alreadyReceived"}` for an update whose nonce was accepted before (a device
//!   resending after a lost answer, e.g. the keepalive send of a closed page): counted once, and
//!   a success, so the device drops it and the browser logs no error.
//! * `GET /v1/model` — the signed model (binary), `ETag: "<version>"`, `304` on `If-None-Match`.
//! * `GET /v1/model-key` — `{"algorithm":"ed25519","publicKey":"<hex>"}` for device configs.
//! * `GET /v1/rounds/current` — JSON status of the open round and the last closed one.
//! * `POST /v1/lift-reports` — binary lift report body; `202 {"status":"accepted"}` once stored.
//! * `GET /v1/lift` — the lift estimate, or `notEnoughReports` below the release threshold.
//! * `POST /v1/lift-shares` — one server's share of a `sharedSums` lift report (leader or helper).
//! * `POST /v1/lift-shares/fold`, `POST /v1/lift-shares/sums` — the leader asking the helper.
//! * `GET /healthz` — `{"status":"ok"}`, or `503 storage_unavailable` while the store is unreachable.
//!
//! Every request passes a per-address rate limit first (`client`); every refusal, including
//! unknown paths, wrong methods and oversized or slow bodies, is `{ "error", "message" }` JSON.

mod body;
pub mod client;
mod error;
pub mod lift;
pub mod rate_limit;
mod shares;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use shop_personalizer::sync::UpdateMessage;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use body::read_body;
use client::ClientLimits;
pub use error::ApiError;

use crate::config::CheckedConfig;
use crate::ingest::{IngestError, IngestHandle, SharedState, StoreHealth};
use crate::lift_ingest::LiftHandle;
use crate::policy::{admit, round_privacy};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<CheckedConfig>,
    pub state: Arc<SharedState>,
    pub ingest: IngestHandle,
    pub lift: LiftHandle,
    pub limits: Arc<ClientLimits>,
    /// The store's state as the writer last saw it.
    pub health: Arc<StoreHealth>,
    pub public_key_hex: Arc<str>,
    /// Shared lift sums, when this server has a `--lift-role`.
    pub shares: Option<crate::shares::SharesState>,
}

/// The router with CORS for the configured origins.
pub fn router(app: AppState) -> Router {
    let origins: Vec<HeaderValue> =
        app.config.allowed_origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::IF_NONE_MATCH])
        .expose_headers([header::ETAG])
        .max_age(std::time::Duration::from_secs(3_600));
    Router::new()
        .route("/v1/updates", post(post_update))
        .route("/v1/model", get(get_model))
        .route("/v1/model-key", get(get_model_key))
        .route("/v1/rounds/current", get(get_round))
        .route("/v1/lift-reports", post(lift::post_lift_report))
        .route("/v1/lift", get(lift::get_lift))
        .route("/v1/lift-shares", post(shares::post_lift_share))
        .route("/v1/lift-shares/fold", post(shares::post_fold))
        .route("/v1/lift-shares/sums", post(shares::post_sums))
        .route("/healthz", get(get_health))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&app.limits), client::limit))
        .layer(cors)
        .with_state(app)
}

async fn get_health(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.health.check().map_err(ApiError::StoreUnreachable)?;
    Ok(Json(json!({ "status": "ok" })).into_response())
}

async fn post_update(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let limit = app.config.max_body_bytes();
    let body = read_body(request, limit, app.config.read_timeout).await?;
    let update = UpdateMessage::decode(&body).map_err(ApiError::Malformed)?;
    let current = app.state.get().ok_or(ApiError::Overloaded)?;
    admit(&update, &app.config, current.model.version)?;
    match app.ingest.submit(update).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response()),
        // Idempotent: the first copy counted; this one changes nothing and is not an error.
        Err(IngestError::Replayed) => {
            Ok((StatusCode::OK, Json(json!({ "status": "alreadyReceived" }))).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').map(str::trim).any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
    })
}

async fn get_model(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let current = app.state.get().ok_or(ApiError::Overloaded)?;
    let etag = format!("\"{}\"", current.model.version);
    let cache = format!("public, max-age={}, must-revalidate", app.config.model_max_age_seconds);
    let common = [(header::ETAG, etag.clone()), (header::CACHE_CONTROL, cache)];
    if etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common, Body::empty()).into_response());
    }
    let body = Bytes::copy_from_slice(&current.model.signed);
    Ok((common, [(header::CONTENT_TYPE, "application/octet-stream".to_owned())], body).into_response())
}

async fn get_model_key(State(app): State<AppState>) -> Response {
    Json(json!({ "algorithm": "ed25519", "publicKey": &*app.public_key_hex })).into_response()
}

async fn get_round(State(app): State<AppState>) -> Result<Response, ApiError> {
    let current = app.state.get().ok_or(ApiError::Overloaded)?;
    let config = &app.config;
    let last_closed = current.last_closed.map(|(version, updates)| {
        json!({ "version": version, "updates": updates, "privacy": round_privacy(config, updates) })
    });
    Ok(Json(json!({
        "modelVersion": current.model.version,
        "dimension": config.dimension,
        "updatesReceived": current.round_updates,
        "minUpdatesPerRound": config.min_updates_per_round,
        "clipBound": config.clip_bound,
        "noiseMultiplier": config.noise_multiplier,
        "centralNoiseMultiplier": config.central_noise_multiplier,
        "serverLearningRate": config.server_learning_rate,
        "privacy": round_privacy(config, config.min_updates_per_round),
        "lastClosedRound": last_closed,
    }))
    .into_response())
}
