//! The DAP-09 endpoints of the slice: `GET /hpke_config`, and on the leader
//! `PUT /tasks/{task}/reports`, on the helper `PUT /tasks/{task}/aggregation_jobs/{job}` and
//! `POST /tasks/{task}/aggregate_shares` (with `DAP-Auth-Token`); `GET /dap/rejections` on both
//! counts rejected reports by reason. Refusals are `application/problem+json` with DAP's types.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use janus_messages::{AggregationJobId, AggregationJobResp, HpkeConfigList, TaskId};
use prio::codec::Encode;

use super::helper::{aggregate_share, aggregation_job, DapRequestError, HelperState};
use super::leader::{upload, LeaderState};
use super::DapTaskConfig;

/// One aggregator's DAP role.
#[derive(Clone)]
pub enum DapServer {
    Leader(Arc<LeaderState>),
    Helper(Arc<HelperState>),
}

impl DapServer {
    fn task(&self) -> &DapTaskConfig {
        match self {
            Self::Leader(state) => &state.task,
            Self::Helper(state) => &state.task,
        }
    }

    fn store(&self) -> &crate::store::sqlite::SqliteStore {
        match self {
            Self::Leader(state) => &state.store,
            Self::Helper(state) => &state.store,
        }
    }
}

/// The DAP router of `server`.
pub fn dap_router(server: DapServer) -> Router {
    let router = Router::new().route("/hpke_config", get(hpke_config)).route("/dap/rejections", get(rejections));
    let router = match &server {
        DapServer::Leader(_) => router.route("/tasks/{task}/reports", put(put_report)),
        DapServer::Helper(_) => router
            .route("/tasks/{task}/aggregation_jobs/{job}", put(put_aggregation_job))
            .route("/tasks/{task}/aggregate_shares", post(post_aggregate_share)),
    };
    router.with_state(server)
}

fn problem(status: StatusCode, kind: &str, detail: String) -> Response {
    let body = serde_json::json!({ "type": format!("urn:ietf:params:ppm:dap:error:{kind}"), "title": detail });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

fn refusal(error: DapRequestError) -> Response {
    let (status, kind) = match &error {
        DapRequestError::InvalidMessage(_) => (StatusCode::BAD_REQUEST, "invalidMessage"),
        DapRequestError::JobChanged => (StatusCode::CONFLICT, "invalidMessage"),
        DapRequestError::BatchMismatch => (StatusCode::BAD_REQUEST, "batchMismatch"),
        DapRequestError::InvalidBatchSize { .. } => (StatusCode::BAD_REQUEST, "invalidBatchSize"),
        DapRequestError::Conflict => (StatusCode::CONFLICT, "invalidMessage"),
        DapRequestError::Store(_) | DapRequestError::Internal(_) => (StatusCode::SERVICE_UNAVAILABLE, "internal"),
    };
    problem(status, kind, error.to_string())
}

/// The refusal of a request for another task, if it is one.
fn wrong_task(server: &DapServer, task: &str) -> Option<Response> {
    match task.parse::<TaskId>() {
        Ok(id) if id == server.task().task_id => None,
        _ => Some(problem(StatusCode::NOT_FOUND, "unrecognizedTask", format!("no task {task:?} here"))),
    }
}

/// The refusal of a peer request without the right token, if it is one.
fn not_the_peer(server: &DapServer, headers: &HeaderMap) -> Option<Response> {
    let token = headers.get("DAP-Auth-Token").and_then(|value| value.to_str().ok());
    (token != Some(server.task().peer_token.as_str()))
        .then(|| problem(StatusCode::FORBIDDEN, "unauthorizedRequest", "missing or wrong DAP-Auth-Token".into()))
}

fn binary(media_type: &'static str, bytes: Vec<u8>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, media_type)], bytes).into_response()
}

async fn hpke_config(State(server): State<DapServer>) -> Response {
    match HpkeConfigList::new(vec![server.task().hpke.config.clone()]).get_encoded() {
        Ok(bytes) => binary(HpkeConfigList::MEDIA_TYPE, bytes),
        Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string()),
    }
}

async fn rejections(State(server): State<DapServer>) -> Response {
    match server.store().dap_rejections().await {
        Ok(counts) => axum::Json(counts.into_iter().collect::<std::collections::BTreeMap<_, _>>()).into_response(),
        Err(error) => problem(StatusCode::SERVICE_UNAVAILABLE, "internal", error.to_string()),
    }
}

async fn put_report(State(server): State<DapServer>, Path(task): Path<String>, body: Bytes) -> Response {
    if let Some(refused) = wrong_task(&server, &task) {
        return refused;
    }
    let DapServer::Leader(state) = &server else { return StatusCode::NOT_FOUND.into_response() };
    match upload(state, body.to_vec()).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => refusal(error),
    }
}

async fn put_aggregation_job(
    State(server): State<DapServer>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = wrong_task(&server, &task).or_else(|| not_the_peer(&server, &headers)) {
        return refused;
    }
    let DapServer::Helper(state) = &server else { return StatusCode::NOT_FOUND.into_response() };
    let Ok(job) = job.parse::<AggregationJobId>() else {
        return problem(StatusCode::BAD_REQUEST, "invalidMessage", "bad aggregation job id".into());
    };
    match aggregation_job(Arc::clone(state), *job.as_ref(), body.to_vec()).await {
        Ok(bytes) => binary(AggregationJobResp::MEDIA_TYPE, bytes),
        Err(error) => refusal(error),
    }
}

async fn post_aggregate_share(
    State(server): State<DapServer>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = wrong_task(&server, &task).or_else(|| not_the_peer(&server, &headers)) {
        return refused;
    }
    let DapServer::Helper(state) = &server else { return StatusCode::NOT_FOUND.into_response() };
    match aggregate_share(Arc::clone(state), body.to_vec()).await {
        Ok(bytes) => binary(janus_messages::AggregateShare::MEDIA_TYPE, bytes),
        Err(error) => refusal(error),
    }
}
