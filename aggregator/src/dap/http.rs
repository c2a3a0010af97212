//! The DAP-09 endpoints of the slice: `GET /hpke_config`, and on the leader
//! `PUT /tasks/{task}/reports` (CORS for the shop's origins: devices upload from its pages), on
//! the helper `PUT /tasks/{task}/aggregation_jobs/{job}` and `POST /tasks/{task}/aggregate_shares`
//! (with `DAP-Auth-Token`); on both `GET /dap/rejections` counts rejected reports by reason and
//! `GET /dap/status` counts reports and batches; the leader's `GET /dap/collections` lists the
//! collected sums the models were published from. For a DAP collector the leader serves
//! `PUT`/`POST`/`DELETE /tasks/{task}/collection_jobs/{job}` (with the task file's `collectorToken`, as
//! `Authorization: Bearer` or `DAP-Auth-Token`; see [`super::collection`]). Refusals are `application/problem+json` with
//! DAP's types. Bodies are bounded: one report, or one job of at most a batch of reports.
//! A process may run several tasks of one role (the two lift tasks, one per bucket, sharing
//! their HPKE keys and tokens): requests go to the task they name, and `/dap/status`,
//! `/dap/rejections` and `/dap/collections` add up (or list) every task's, with `tasks` (the
//! status of each) and `taskId` (of each collection) beside.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use janus_messages::{AggregationJobId, AggregationJobResp, CollectionJobId, HpkeConfigList, TaskId};
use prio::codec::Encode;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::collection::{self, CollectionError, Poll};
use super::helper::{aggregate_share, aggregation_job, DapRequestError, HelperState};
use super::leader::{upload, LeaderState};
use super::DapTaskConfig;

/// One aggregator's DAP role, for one task or several (each with its own state and store).
#[derive(Clone)]
pub enum DapServer {
    Leader(Arc<LeaderState>),
    Helper(Arc<HelperState>),
    /// Several tasks' leaders in one process (at least one).
    Leaders(Vec<Arc<LeaderState>>),
    /// Several tasks' helpers in one process (at least one).
    Helpers(Vec<Arc<HelperState>>),
}

impl DapServer {
    /// The first task (the one whose HPKE config `/hpke_config` serves: a process's tasks share it).
    fn task(&self) -> &DapTaskConfig {
        match self {
            Self::Leader(state) => &state.task,
            Self::Helper(state) => &state.task,
            Self::Leaders(states) => &states[0].task,
            Self::Helpers(states) => &states[0].task,
        }
    }

    /// Each task as a server of its own.
    fn each(&self) -> Vec<DapServer> {
        match self {
            Self::Leader(_) | Self::Helper(_) => vec![self.clone()],
            Self::Leaders(states) => states.iter().map(|s| Self::Leader(Arc::clone(s))).collect(),
            Self::Helpers(states) => states.iter().map(|s| Self::Helper(Arc::clone(s))).collect(),
        }
    }

    fn is_leader(&self) -> bool {
        matches!(self, Self::Leader(_) | Self::Leaders(_))
    }

    fn store(&self) -> &crate::store::dap_store::DapStore {
        match self {
            Self::Leader(state) => &state.store,
            Self::Helper(state) => &state.store,
            Self::Leaders(states) => &states[0].store,
            Self::Helpers(states) => &states[0].store,
        }
    }
}

/// Largest report upload: a dimension-4096 report is about 1 MB; dimension 90 about 25 KB.
pub const MAX_REPORT_BYTES: usize = 2 << 20;
/// Largest aggregation job or aggregate share request the helper reads.
pub const MAX_JOB_BYTES: usize = 32 << 20;
/// Largest `CollectionReq` the leader reads (a fixed-size query is at most 34 bytes).
pub const MAX_COLLECTION_REQ_BYTES: usize = 1_024;
/// `GET /dap/collections` lists at most this many (the most recent).
pub const MAX_LISTED_COLLECTIONS: usize = 100;

/// The DAP router of `server`, without CORS (see [`dap_router_for_origins`]).
pub fn dap_router(server: DapServer) -> Router {
    let router = Router::new()
        .route("/hpke_config", get(hpke_config))
        .route("/dap/rejections", get(rejections))
        .route("/dap/status", get(status));
    let router = match server.is_leader() {
        true => router
            .route("/tasks/{task}/reports", put(put_report))
            .route("/dap/collections", get(collections))
            .route(
                "/tasks/{task}/collection_jobs/{job}",
                put(put_collection_job).post(poll_collection_job).delete(delete_collection_job),
            )
            .layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        false => router
            .route("/tasks/{task}/aggregation_jobs/{job}", put(put_aggregation_job))
            .route("/tasks/{task}/aggregate_shares", post(post_aggregate_share))
            .layer(DefaultBodyLimit::max(MAX_JOB_BYTES)),
    };
    router.with_state(server)
}

/// The DAP router of `server` with CORS for `origins` (the pages devices upload from).
pub fn dap_router_for_origins(server: DapServer, origins: &[String]) -> Router {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::PUT])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(3_600));
    dap_router(server).layer(cors)
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

/// The server of the task a request names, or the refusal of a task this process does not run.
fn task_server(server: &DapServer, task: &str) -> Result<DapServer, Box<Response>> {
    let id = task.parse::<TaskId>().ok();
    let found = server.each().into_iter().find(|one| Some(one.task().task_id) == id);
    found.ok_or_else(|| Box::new(problem(StatusCode::NOT_FOUND, "unrecognizedTask", format!("no task {task:?} here"))))
}

/// The refusal of a peer request without the right token, if it is one.
fn not_the_peer(server: &DapServer, headers: &HeaderMap) -> Option<Response> {
    let token = headers.get("DAP-Auth-Token").and_then(|value| value.to_str().ok());
    (token != Some(server.task().peer_token.as_str()))
        .then(|| problem(StatusCode::FORBIDDEN, "unauthorizedRequest", "missing or wrong DAP-Auth-Token".into()))
}

/// The refusal of a collector request without the task's collector token, if it is one.
fn not_the_collector(server: &DapServer, headers: &HeaderMap) -> Option<Response> {
    let header = |name| headers.get(name).and_then(|value: &HeaderValue| value.to_str().ok());
    let bearer = header(header::AUTHORIZATION.as_str()).and_then(|value| value.strip_prefix("Bearer "));
    let presented = bearer.or_else(|| header("DAP-Auth-Token"));
    let expected = server.task().collector_token.as_deref();
    (expected.is_none() || presented != expected)
        .then(|| problem(StatusCode::FORBIDDEN, "unauthorizedRequest", "missing or wrong collector token".into()))
}

fn collection_refusal(error: CollectionError) -> Response {
    let text = error.to_string();
    match error {
        CollectionError::Request(error) => refusal(error),
        CollectionError::UnknownJob(_) => problem(StatusCode::NOT_FOUND, "unrecognizedCollectionJob", text),
        CollectionError::Leader(_) | CollectionError::TooManyJobs => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "internal", text)
        }
    }
}

/// The leader and collection job id of a collector request, or its refusal.
fn collector_request(
    server: &DapServer,
    task: &str,
    job: &str,
    headers: &HeaderMap,
) -> Result<(Arc<LeaderState>, [u8; 16]), Box<Response>> {
    let server = task_server(server, task)?;
    if let Some(refused) = not_the_collector(&server, headers) {
        return Err(Box::new(refused));
    }
    let DapServer::Leader(state) = server else { return Err(Box::new(StatusCode::NOT_FOUND.into_response())) };
    let job = job
        .parse::<CollectionJobId>()
        .map_err(|_| Box::new(problem(StatusCode::BAD_REQUEST, "invalidMessage", "bad collection job id".into())))?;
    Ok((state, *job.as_ref()))
}

async fn put_collection_job(
    State(server): State<DapServer>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, job) = match collector_request(&server, &task, &job, &headers) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    if body.len() > MAX_COLLECTION_REQ_BYTES {
        return problem(StatusCode::BAD_REQUEST, "invalidMessage", "the collection request is too large".into());
    }
    match collection::start(&state, job, body.to_vec()).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(error) => collection_refusal(error),
    }
}

async fn poll_collection_job(
    State(server): State<DapServer>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (state, job) = match collector_request(&server, &task, &job, &headers) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match collection::poll(&state, job, now).await {
        Ok(Poll::Ready(bytes)) => {
            binary(janus_messages::Collection::<janus_messages::query_type::FixedSize>::MEDIA_TYPE, bytes)
        }
        Ok(Poll::NotReady) => (StatusCode::ACCEPTED, [(header::RETRY_AFTER, "5")]).into_response(),
        Err(error) => collection_refusal(error),
    }
}

async fn delete_collection_job(
    State(server): State<DapServer>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (state, job) = match collector_request(&server, &task, &job, &headers) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    match collection::delete(&state, job).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => collection_refusal(error),
    }
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
    let mut total = std::collections::BTreeMap::<String, u64>::new();
    for one in server.each() {
        match one.store().dap_rejections().await {
            Ok(counts) => counts.into_iter().for_each(|(reason, count)| *total.entry(reason).or_default() += count),
            Err(error) => return problem(StatusCode::SERVICE_UNAVAILABLE, "internal", error.to_string()),
        }
    }
    axum::Json(total).into_response()
}

/// One task's counts as `GET /dap/status` shows them.
async fn task_status(server: &DapServer) -> Result<serde_json::Value, crate::store::StoreError> {
    Ok(match server {
        DapServer::Leader(state) => serde_json::json!(state.store.dap_leader_counts().await?),
        DapServer::Helper(state) => {
            let mut counts = serde_json::json!(state.store.dap_helper_counts().await?);
            counts["running"] = state.running.load(std::sync::atomic::Ordering::SeqCst).into();
            counts
        }
        DapServer::Leaders(_) | DapServer::Helpers(_) => serde_json::Value::Null,
    })
}

async fn status(State(server): State<DapServer>) -> Response {
    let mut each = Vec::new();
    for one in server.each() {
        match task_status(&one).await {
            Ok(mut counts) => {
                counts["taskId"] = one.task().task_id.to_string().into();
                each.push(counts);
            }
            Err(error) => return problem(StatusCode::SERVICE_UNAVAILABLE, "internal", error.to_string()),
        }
    }
    if let [one] = each.as_mut_slice() {
        one.as_object_mut().map(|counts| counts.remove("taskId"));
        return axum::Json(one.take()).into_response();
    }
    // Several tasks: every count added up, and each task's counts under `tasks`.
    let mut total = serde_json::Map::new();
    for counts in &each {
        for (name, value) in counts.as_object().into_iter().flatten() {
            if let Some(n) = value.as_u64() {
                let sum = total.get(name).and_then(serde_json::Value::as_u64).unwrap_or(0) + n;
                total.insert(name.clone(), sum.into());
            }
        }
    }
    total.insert("tasks".into(), each.into());
    axum::Json(total).into_response()
}

async fn collections(State(server): State<DapServer>) -> Response {
    let several = server.each().len() > 1;
    let mut listed = Vec::new();
    for one in server.each() {
        let DapServer::Leader(state) = &one else { return StatusCode::NOT_FOUND.into_response() };
        match state.store.dap_collections(MAX_LISTED_COLLECTIONS).await {
            Ok(list) => listed.extend(list.into_iter().map(|collection| {
                let mut collection = serde_json::json!(collection);
                if several {
                    collection["taskId"] = state.task.task_id.to_string().into();
                }
                collection
            })),
            Err(error) => return problem(StatusCode::SERVICE_UNAVAILABLE, "internal", error.to_string()),
        }
    }
    axum::Json(listed).into_response()
}

async fn put_report(State(server): State<DapServer>, Path(task): Path<String>, body: Bytes) -> Response {
    let server = match task_server(&server, &task) {
        Ok(server) => server,
        Err(refused) => return *refused,
    };
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
    let server = match task_server(&server, &task) {
        Ok(server) => server,
        Err(refused) => return *refused,
    };
    if let Some(refused) = not_the_peer(&server, &headers) {
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
    let server = match task_server(&server, &task) {
        Ok(server) => server,
        Err(refused) => return *refused,
    };
    if let Some(refused) = not_the_peer(&server, &headers) {
        return refused;
    }
    let DapServer::Helper(state) = &server else { return StatusCode::NOT_FOUND.into_response() };
    match aggregate_share(Arc::clone(state), body.to_vec()).await {
        Ok(bytes) => binary(janus_messages::AggregateShare::MEDIA_TYPE, bytes),
        Err(error) => refusal(error),
    }
}
