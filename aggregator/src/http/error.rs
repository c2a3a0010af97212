//! API errors: each maps to a status and a JSON body `{ "error": code, "message": text }`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shop_personalizer::sync::SyncError;
use thiserror::Error;

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
    #[error("the update was computed against model version {got}; the current version is {current}: download GET /v1/model and recompute")]
    WrongModelVersion { got: u64, current: u64 },
    #[error("the update has {got} values; the shared model has {expected}")]
    WrongDimension { got: usize, expected: usize },
    #[error(
        "the update declares clip bound {clip_bound} and noise multiplier {noise_multiplier}; this server \
         aggregates clip bound {expected_clip_bound} and noise multiplier {expected_noise_multiplier}: align the device config"
    )]
    ParameterMismatch {
        clip_bound: f32,
        noise_multiplier: f32,
        expected_clip_bound: f64,
        expected_noise_multiplier: f64,
    },
    #[error("the update's L2 norm {norm:.3} exceeds {bound:.3}, the most a clipped and noised update can have")]
    NormTooLarge { norm: f64, bound: f64 },
    #[error(
        "the update declares quantization scale {scale:e}; an honest device under this server's clip bound and noise \
         multiplier declares at most {max:e} (its largest noised coordinate over 127)"
    )]
    ScaleOutOfRange { scale: f64, max: f64 },
    #[error("the round's fixed-point sum cannot take this update without overflowing: it was not added")]
    SumOverflow,
    #[error("this nonce was already received: each update or lift report is accepted once")]
    Replayed,
    #[error("the body is not a valid lift report: {0}")]
    MalformedLiftReport(SyncError),
    #[error(
        "the lift report was made under another lift configuration (placements, caps, epsilon, delta or noise \
         differ from this server's): align liftReport on the devices with the aggregator's --lift-* flags"
    )]
    LiftConfigMismatch,
    #[error(
        "lift value {index} is {value}, outside [{low:.1}, {high:.1}], the range of an honest clipped and noised count"
    )]
    LiftValueOutOfRange { index: usize, value: f64, low: f64, high: f64 },
    #[error("confidence {0} is not in (0, 1): ask for e.g. ?confidence=0.95")]
    BadConfidence(f64),
    #[error("too many updates from this address: retry later")]
    RateLimited,
    #[error("the update could not be stored: retry later")]
    Storage,
    #[error("the server is overloaded: retry later")]
    Overloaded,
    #[error("the body is not a valid lift report share: {0}")]
    MalformedShare(SyncError),
    #[error("this share is for the {expected} server's counterpart: send the leader's share to the aggregator and the helper's to the helper")]
    WrongServer { expected: &'static str },
    #[error("this server does not take {0}: check --lift-role and the device's liftReport.noise")]
    WrongRole(&'static str),
    #[error("the request between leader and helper is invalid: {0}")]
    BadPeerRequest(String),
    #[error("the leader and the helper have not counted the same reports yet: retry after the next fold")]
    ReportSetsDiffer,
    #[error("fewer new reports per bucket than --lift-min-reports-per-bucket since the last release: nothing new is released")]
    ReleaseTooSoon,
    #[error("the helper is unavailable, and nothing was released before: {0}")]
    HelperUnavailable(String),
    #[error("leader-to-helper requests need the shared --lift-peer-token as Authorization: Bearer")]
    PeerUnauthorized,
    #[error("{0}")]
    ImpossibleSums(shop_personalizer::measure::ShareError),
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
            Self::StoreUnreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::WrongModelVersion { .. } => (StatusCode::CONFLICT, "wrong_model_version"),
            Self::WrongDimension { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_dimension"),
            Self::ParameterMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "parameter_mismatch"),
            Self::NormTooLarge { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "norm_too_large"),
            Self::ScaleOutOfRange { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "scale_out_of_range"),
            Self::SumOverflow => (StatusCode::UNPROCESSABLE_ENTITY, "sum_overflow"),
            Self::Replayed => (StatusCode::CONFLICT, "replayed_nonce"),
            Self::MalformedLiftReport(_) => (StatusCode::BAD_REQUEST, "malformed_lift_report"),
            Self::LiftConfigMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "config_mismatch"),
            Self::LiftValueOutOfRange { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "value_out_of_range"),
            Self::BadConfidence(_) => (StatusCode::BAD_REQUEST, "bad_confidence"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Storage => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::MalformedShare(_) => (StatusCode::BAD_REQUEST, "malformed_lift_share"),
            Self::WrongServer { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_server"),
            Self::WrongRole(_) => (StatusCode::NOT_FOUND, "wrong_role"),
            Self::BadPeerRequest(_) => (StatusCode::BAD_REQUEST, "bad_peer_request"),
            Self::ReportSetsDiffer => (StatusCode::CONFLICT, "report_sets_differ"),
            Self::ReleaseTooSoon => (StatusCode::CONFLICT, "release_too_soon"),
            Self::HelperUnavailable(_) => (StatusCode::BAD_GATEWAY, "helper_unavailable"),
            Self::PeerUnauthorized => (StatusCode::UNAUTHORIZED, "peer_unauthorized"),
            Self::ImpossibleSums(_) => (StatusCode::INTERNAL_SERVER_ERROR, "impossible_sums"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        (status, Json(json!({ "error": code, "message": self.to_string() }))).into_response()
    }
}
