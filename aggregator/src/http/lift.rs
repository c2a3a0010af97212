//! `POST /v1/lift-reports` and `GET /v1/lift`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use shop_personalizer::sync::lift_wire::{LiftReportMessage, LIFT_HEADER_LEN};

use super::{ApiError, AppState};
use crate::lift::{admit_lift, lift_answer, LiftError};
use crate::lift_ingest::LiftIngestError;
use crate::store::LiftEntry;

/// Validates a lift report (size, layout, version, configuration, values) and adds it to its
/// bucket's sums: `202 {"status":"accepted"}` once committed, `200 {"status":"alreadyReceived"}`
/// for a resend of one already counted (counted once); refusals store nothing.
pub async fn post_lift_report(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if app.shares.is_some() {
        return Err(ApiError::WrongRole("plain lift reports (this server sums shares: POST /v1/lift-shares)"));
    }
    let lift = &app.config.lift;
    let limit = LIFT_HEADER_LEN + 4 * lift.dimension();
    let body = super::read_body(request, limit, app.config.read_timeout).await?;
    let message = LiftReportMessage::decode(&body).map_err(ApiError::MalformedLiftReport)?;
    let report = admit_lift(&message, lift)?;
    let entry = LiftEntry {
        fingerprint: message.fingerprint,
        bucket: report.bucket,
        nonce: message.nonce,
        values: report.values,
    };
    match app.lift.add(entry).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response()),
        // Idempotent as updates are: a device resends a report whose answer it never saw (its
        // page closed with the request in flight); the first copy counted, this one changes
        // nothing and is not an error (no 409 in the shopper's console).
        Err(LiftIngestError::Replayed) => {
            Ok((StatusCode::OK, Json(json!({ "status": "alreadyReceived" }))).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct LiftQuery {
    pub confidence: Option<f64>,
}

/// The lift estimate with confidence intervals, or `notEnoughReports` while a bucket holds
/// fewer than the configured minimum (see `crate::lift`).
pub async fn get_lift(
    State(app): State<AppState>,
    query: Result<Query<LiftQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadQuery(rejection.body_text()))?;
    let confidence = query.confidence.unwrap_or(0.95);
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(LiftError::BadConfidence(confidence).into());
    }
    let lift = &app.config.lift;
    let answer = if app.shares.is_some() {
        super::shares::get_shared_lift(&app, confidence).await?
    } else {
        let (personalized, holdout) = app.lift.sums(lift.fingerprint(), lift.dimension()).await?;
        lift_answer(&app.config, personalized, holdout, confidence)?
    };
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}
