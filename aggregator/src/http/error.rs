//! API errors: each maps to a status and a JSON body `{ "error": code, "message": text }`. The
//! domain modules return their own errors (`policy::AdmitError`, `ingest::IngestError`,
//! `lift::LiftError`, `lift_ingest::LiftIngestError`, `shares::SharedSumsError`); this is the one
//! place that maps each to its status and stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shop_personalizer::sync::SyncError;
use thiserror::Error;

use crate::ingest::IngestError;
use crate::lift::LiftError;
use crate::lift_ingest::LiftIngestError;
use crate::policy::AdmitError;
use crate::shares::SharedSumsError;

/// Why a request was refused. Nothing of a refused update or lift report is stored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ApiError {
    #[error("the body is not a valid update: {0}")]
    Malformed(SyncError),
    #[error("the body is larger than {limit} bytes, the largest this endpoint accepts for the configured dimension")]
    BodyTooLarge { limit: usize },
    #[error("the body did not arrive within {seconds} s: send it at once")]
    BodyTimeout { seconds: f64 },
    #[error("the body could not be read: the connection broke")]
    BodyUnreadable,
    #[error("no such endpoint: see the aggregator README for the API")]
    NotFound,
    #[error("this endpoint does not take that method: see the aggregator README for the API")]
    MethodNotAllowed,
    #[error("the query string is invalid: {0}")]
    BadQuery(String),
    #[error("the store is unreachable (the server reconnects on its own): {0}")]
    StoreUnreachable(String),
    #[error("the body is not a valid lift report: {0}")]
    MalformedLiftReport(SyncError),
    #[error("too many updates from this address: retry later")]
    RateLimited,
    /// No model is loaded yet (startup has not finished).
    #[error("the server is overloaded: retry later")]
    Overloaded,
    #[error("the body is not a valid lift report share: {0}")]
    MalformedShare(SyncError),
    #[error("this server does not take {0}: check --lift-role and the device's liftReport.noise")]
    WrongRole(&'static str),
    #[error("the request between leader and helper is invalid: {0}")]
    BadPeerRequest(String),
    #[error("leader-to-helper requests need the shared --lift-peer-token as Authorization: Bearer")]
    PeerUnauthorized,
    #[error(transparent)]
    Admit(#[from] AdmitError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Lift(#[from] LiftError),
    #[error(transparent)]
    LiftIngest(#[from] LiftIngestError),
    #[error(transparent)]
    SharedSums(#[from] SharedSumsError),
}

impl ApiError {
    /// HTTP status and machine-readable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_update"),
            Self::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            Self::BodyUnreadable => (StatusCode::BAD_REQUEST, "body_unreadable"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::BadQuery(_) => (StatusCode::BAD_REQUEST, "bad_query"),
            Self::StoreUnreachable(_) => STORAGE_UNAVAILABLE,
            Self::MalformedLiftReport(_) => (StatusCode::BAD_REQUEST, "malformed_lift_report"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Overloaded => OVERLOADED,
            Self::MalformedShare(_) => (StatusCode::BAD_REQUEST, "malformed_lift_share"),
            Self::WrongRole(_) => (StatusCode::NOT_FOUND, "wrong_role"),
            Self::BadPeerRequest(_) => (StatusCode::BAD_REQUEST, "bad_peer_request"),
            Self::PeerUnauthorized => (StatusCode::UNAUTHORIZED, "peer_unauthorized"),
            Self::Admit(error) => admit(error),
            Self::Ingest(error) => ingest(error),
            Self::Lift(error) => lift(error),
            Self::LiftIngest(error) => match error {
                LiftIngestError::Replayed => REPLAYED,
                LiftIngestError::Storage => STORAGE_UNAVAILABLE,
                LiftIngestError::Overloaded => OVERLOADED,
            },
            Self::SharedSums(error) => shared_sums(error),
        }
    }
}

const STORAGE_UNAVAILABLE: (StatusCode, &str) = (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable");
const OVERLOADED: (StatusCode, &str) = (StatusCode::SERVICE_UNAVAILABLE, "overloaded");
const REPLAYED: (StatusCode, &str) = (StatusCode::CONFLICT, "replayed_nonce");

fn admit(error: &AdmitError) -> (StatusCode, &'static str) {
    match error {
        AdmitError::WrongModelVersion { .. } => (StatusCode::CONFLICT, "wrong_model_version"),
        AdmitError::WrongDimension { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_dimension"),
        AdmitError::ParameterMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "parameter_mismatch"),
        AdmitError::NormTooLarge { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "norm_too_large"),
        AdmitError::ScaleOutOfRange { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "scale_out_of_range"),
    }
}

fn ingest(error: &IngestError) -> (StatusCode, &'static str) {
    match error {
        IngestError::Stale(error) => admit(error),
        IngestError::Replayed => REPLAYED,
        IngestError::SumOverflow => (StatusCode::UNPROCESSABLE_ENTITY, "sum_overflow"),
        IngestError::Storage => STORAGE_UNAVAILABLE,
        IngestError::Overloaded => OVERLOADED,
    }
}

fn lift(error: &LiftError) -> (StatusCode, &'static str) {
    match error {
        LiftError::WrongDimension { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_dimension"),
        LiftError::ConfigMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "config_mismatch"),
        LiftError::ValueOutOfRange { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "value_out_of_range"),
        LiftError::BadConfidence(_) => (StatusCode::BAD_REQUEST, "bad_confidence"),
        LiftError::Storage => STORAGE_UNAVAILABLE,
    }
}

fn shared_sums(error: &SharedSumsError) -> (StatusCode, &'static str) {
    match error {
        SharedSumsError::Lift(error) => lift(error),
        SharedSumsError::WrongServer { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_server"),
        SharedSumsError::Replayed => REPLAYED,
        SharedSumsError::Storage => STORAGE_UNAVAILABLE,
        SharedSumsError::ReportSetsDiffer => (StatusCode::CONFLICT, "report_sets_differ"),
        SharedSumsError::ReleaseTooSoon => (StatusCode::CONFLICT, "release_too_soon"),
        SharedSumsError::HelperUnavailable(_) => (StatusCode::BAD_GATEWAY, "helper_unavailable"),
        SharedSumsError::ImpossibleSums(_) => (StatusCode::INTERNAL_SERVER_ERROR, "impossible_sums"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        (status, Json(json!({ "error": code, "message": self.to_string() }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The domain errors reach the wire with the status and code the API documents.
    #[test]
    fn domain_errors_keep_their_status_code_and_message() {
        let cases: [(ApiError, u16, &str, &str); 8] = [
            (
                AdmitError::WrongModelVersion { got: 1, current: 2 }.into(),
                409,
                "wrong_model_version",
                "the update was computed against model version 1; the current version is 2: download GET /v1/model and recompute",
            ),
            (
                IngestError::Stale(AdmitError::WrongModelVersion { got: 3, current: 4 }).into(),
                409,
                "wrong_model_version",
                "the update was computed against model version 3; the current version is 4: download GET /v1/model and recompute",
            ),
            (IngestError::SumOverflow.into(), 422, "sum_overflow", "the round's fixed-point sum cannot take this update without overflowing: it was not added"),
            (LiftIngestError::Replayed.into(), 409, "replayed_nonce", "this nonce was already received: each update or lift report is accepted once"),
            (LiftError::Storage.into(), 503, "storage_unavailable", "the update could not be stored: retry later"),
            (
                SharedSumsError::Lift(LiftError::WrongDimension { got: 5, expected: 11 }).into(),
                422,
                "wrong_dimension",
                "the update has 5 values; the shared model has 11",
            ),
            (SharedSumsError::HelperUnavailable("down".to_owned()).into(), 502, "helper_unavailable", "the helper is unavailable, and nothing was released before: down"),
            (ApiError::Overloaded, 503, "overloaded", "the server is overloaded: retry later"),
        ];
        for (error, status, code, message) in cases {
            assert_eq!(error.status_and_code(), (StatusCode::from_u16(status).expect("status"), code), "{error:?}");
            assert_eq!(error.to_string(), message);
        }
    }
}
