//! Shared lift sums over HTTP: `POST /v1/lift-shares` (devices, both roles),
//! `POST /v1/lift-shares/fold` and `POST /v1/lift-shares/sums` (the leader asking the helper),
//! and the leader's `GET /v1/lift` (see `crate::shares`).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use shop_personalizer::measure::shares::shared_length;
use shop_personalizer::measure::LiftSums;
use shop_personalizer::sync::share_wire::{LiftShareMessage, SHARE_HEADER_LEN};

use super::{ApiError, AppState};
use crate::config::LiftRole;
use crate::lift::lift_answer;
use crate::shares::{
    add_share, admit_share, blocking, check_fingerprint, helper_sums, id_from_hex, leader_sums, SharesState, FOLD_BATCH,
};
use crate::store::shares::ReportRef;
use crate::store::unix_now;

/// Largest fold request: `FOLD_BATCH` ids of 32 hex characters and their buckets, quoted and
/// separated, plus the fingerprint.
const FOLD_BODY_LIMIT: usize = FOLD_BATCH * 40 + 1_024;
/// Largest sums request: a fingerprint, two counts and two digests.
const SUMS_BODY_LIMIT: usize = 4_096;

fn shares_of(app: &AppState) -> Result<&SharesState, ApiError> {
    app.shares.as_ref().ok_or(ApiError::WrongRole("lift report shares (no --lift-role)"))
}

/// Validates a share (size, layout, version, server, dimension, settings fingerprint) and stores
/// it as pending: `202 {"status":"accepted"}` once committed; refusals store nothing.
pub async fn post_lift_share(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let shares = shares_of(&app)?.clone();
    let lift = &app.config.lift;
    let limit = SHARE_HEADER_LEN + 8 * shared_length(lift.dimension());
    let body = super::read_body(request, limit, app.config.read_timeout).await?;
    let message = LiftShareMessage::decode(&body).map_err(ApiError::MalformedShare)?;
    let entry = admit_share(message, shares.role, lift)?;
    add_share(&shares, entry).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response())
}

/// The helper's state, for a request that carries the peer token when one is configured.
fn helper_of<'a>(app: &'a AppState, headers: &HeaderMap) -> Result<&'a SharesState, ApiError> {
    let shares = shares_of(app).and_then(|s| match s.role {
        LiftRole::Helper => Ok(s),
        LiftRole::Leader => Err(ApiError::WrongRole("leader-to-helper requests on the leader")),
    })?;
    if let Some(token) = &app.config.lift_peer_token {
        let sent =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        // Compared in constant time: the token is a secret.
        let equal = sent.is_some_and(|sent| {
            sent.len() == token.len() && sent.bytes().zip(token.bytes()).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if !equal {
            return Err(ApiError::PeerUnauthorized);
        }
    }
    Ok(shares)
}

/// Parses a leader-to-helper JSON body (any or no `Content-Type`).
fn peer_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::BadPeerRequest(error.to_string()))
}

#[derive(Debug, Deserialize)]
pub struct FoldRequest {
    fingerprint: String,
    ids: Vec<String>,
    /// The bucket the leader holds each id in (0 personalized, 1 holdout).
    buckets: Vec<i64>,
}

/// Helper: counts the pending shares among the leader's ids; `{"counted": [ids]}`.
pub async fn post_fold(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let shares = helper_of(&app, request.headers())?.clone();
    let body = super::read_body(request, FOLD_BODY_LIMIT, app.config.read_timeout).await?;
    let request: FoldRequest = peer_json(&body)?;
    check_fingerprint(&app.config.lift, &request.fingerprint)?;
    if request.ids.len() > FOLD_BATCH {
        return Err(ApiError::BadPeerRequest(format!("{} ids, at most {FOLD_BATCH} per request", request.ids.len())));
    }
    if request.buckets.len() != request.ids.len() || request.buckets.iter().any(|b| !(0..=1).contains(b)) {
        return Err(ApiError::BadPeerRequest("one bucket (0 or 1) per id".to_owned()));
    }
    let ids: Option<Vec<ReportRef>> =
        request.ids.iter().zip(&request.buckets).map(|(id, bucket)| Some((id_from_hex(id)?, *bucket))).collect();
    let ids = ids.ok_or_else(|| ApiError::BadPeerRequest("report ids are 32 hex characters".to_owned()))?;
    let (fingerprint, length) = (app.config.lift.fingerprint(), shared_length(app.config.lift.dimension()));
    let ttl = app.config.lift_share_ttl_seconds;
    blocking(&shares.store, move |s| s.expire_pending_shares(unix_now(), ttl)).await?;
    let counted = blocking(&shares.store, move |s| s.fold_shares(fingerprint, &ids, length)).await?;
    Ok(Json(json!({ "counted": counted.iter().map(|(id, _)| hex::encode(id)).collect::<Vec<_>>() })).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SumsRequest {
    fingerprint: String,
    reports: [u64; 2],
    digests: [String; 2],
}

/// Helper: its share sums over exactly the leader's reports, when the release rule allows.
pub async fn post_sums(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let shares = helper_of(&app, request.headers())?.clone();
    let body = super::read_body(request, SUMS_BODY_LIMIT, app.config.read_timeout).await?;
    let request: SumsRequest = peer_json(&body)?;
    check_fingerprint(&app.config.lift, &request.fingerprint)?;
    Ok(Json(helper_sums(&shares, &app.config, request.reports, request.digests).await?).into_response())
}

/// Leader: `GET /v1/lift` from the released shared sums.
pub async fn get_shared_lift(app: &AppState, confidence: f64) -> Result<serde_json::Value, ApiError> {
    let shares = shares_of(app)?;
    let helper = shares.helper.as_ref().ok_or(ApiError::WrongRole("GET /v1/lift on a helper"))?;
    let d = app.config.lift.dimension();
    let answer = match leader_sums(shares, helper, &app.config).await? {
        Ok((personalized, holdout)) => lift_answer(&app.config, personalized, holdout, confidence),
        // Below the threshold `lift_answer` reads only the counts.
        Err([p, h]) => lift_answer(
            &app.config,
            LiftSums::from_parts(p, vec![0.0; d], &[]),
            LiftSums::from_parts(h, vec![0.0; d], &[]),
            confidence,
        ),
    };
    Ok(answer?)
}
