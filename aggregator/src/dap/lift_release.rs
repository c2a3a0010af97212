//! `GET /v1/lift` on the leader of a lift task: the sum of every collected batch of lift DAP
//! reports (each of at least `minBatchSize` ≥ K reports, verified by both aggregators), decoded
//! into the two buckets' sums, and the same estimate and release rule the other lift modes
//! serve (`crate::lift::lift_release`). Nothing is released before each bucket holds
//! `minReportsPerBucket` reports.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use shop_personalizer::measure::LiftSums;

use super::leader::LeaderState;
use super::{LiftTask, TaskKind};
use crate::http::lift::LiftQuery;
use crate::http::ApiError;
use crate::lift::{lift_release, LiftError, Release};
use crate::store::dap_leader::Collection;

/// The lift leader's `GET /v1/lift` (no route for a model-update task).
pub fn lift_router(state: Arc<LeaderState>) -> Router {
    Router::new().route("/v1/lift", get(get_lift)).with_state(state)
}

/// The two buckets' sums of all `collections` of a lift task.
pub fn lift_sums(lift: &LiftTask, collections: &[Collection]) -> Result<(LiftSums, LiftSums), LiftError> {
    let length = lift.encoding.length();
    let mut total = vec![0_u128; length];
    let mut reports = 0_u64;
    for collection in collections {
        if collection.sum.len() != length {
            return Err(LiftError::Storage);
        }
        reports += collection.reports;
        for (sum, value) in total.iter_mut().zip(&collection.sum) {
            *sum += *value as u128;
        }
    }
    let [p, h] = lift.encoding.decode(&total, reports).map_err(|_| LiftError::Storage)?;
    Ok((LiftSums::from_parts(p.reports, p.sums, &p.products), LiftSums::from_parts(h.reports, h.sums, &h.products)))
}

async fn get_lift(
    State(state): State<Arc<LeaderState>>,
    query: Result<Query<LiftQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadQuery(rejection.body_text()))?;
    let confidence = query.confidence.unwrap_or(0.95);
    let TaskKind::Lift(lift) = &state.task.kind else {
        return Err(ApiError::WrongRole("lift estimates (this leader aggregates model updates)"));
    };
    let collections = state.store.dap_collections(usize::MAX >> 1).await.map_err(|_| LiftError::Storage)?;
    let (personalized, holdout) = lift_sums(lift, &collections)?;
    let (min, k, bits) = (lift.min_reports_per_bucket, lift.min_cohort, lift.encoding.bits());
    let rule = format!(
        "secure aggregation (DAP-09, Prio3SumVec of {bits}-bit entries): each device's measurement is split between \
         this leader and the helper, both verify its proof, and only sums of batches of at least {k} reports are \
         collected; as long as the two do not collude they are (epsilon {:.2}, delta {:e})-DP; nothing is released \
         before each bucket holds {min} reports",
        lift.config.booked_epsilon(),
        lift.config.config().delta
    );
    let noise = json!({ "kind": "secureAggregation", "minCohort": k, "task": state.task.task_id.to_string() });
    let answer = lift_release(&lift.config, Release { noise, rule, min }, personalized, holdout, confidence)?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}
