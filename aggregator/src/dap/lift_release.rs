//! `GET /v1/lift` on the leader of the lift tasks (one per bucket): for each bucket's task the
//! sum of every batch it collected (each of at least `minBatchSize` ≥ K reports of that bucket,
//! verified by both aggregators), decoded into that bucket's sums, and the same estimate and release rule the other lift modes
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

/// The two lift tasks' leaders, one per bucket.
#[derive(Clone)]
pub struct LiftLeaders {
    pub personalized: Arc<LeaderState>,
    pub holdout: Arc<LeaderState>,
}

/// The lift leader's `GET /v1/lift` over the personalized and the holdout task.
pub fn lift_router(personalized: Arc<LeaderState>, holdout: Arc<LeaderState>) -> Router {
    Router::new().route("/v1/lift", get(get_lift)).with_state(LiftLeaders { personalized, holdout })
}

/// One bucket's sums from all `collections` of its lift task (each decoded as one block; their
/// report counts are the task's, so exact).
pub fn bucket_sums(lift: &LiftTask, collections: &[Collection]) -> Result<LiftSums, LiftError> {
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
    let sums = lift.encoding.decode(&total, reports).map_err(|_| LiftError::Storage)?;
    Ok(LiftSums::from_parts(sums.reports, sums.sums, &sums.products))
}

/// The lift task of a leader, and every batch it collected.
async fn collected(state: &LeaderState) -> Result<(&LiftTask, Vec<Collection>), ApiError> {
    let TaskKind::Lift(lift) = &state.task.kind else {
        return Err(ApiError::WrongRole("lift estimates (this leader aggregates model updates)"));
    };
    let collections = state.store.dap_collections(usize::MAX >> 1).await.map_err(|_| LiftError::Storage)?;
    Ok((lift, collections))
}

async fn get_lift(
    State(leaders): State<LiftLeaders>,
    query: Result<Query<LiftQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadQuery(rejection.body_text()))?;
    let confidence = query.confidence.unwrap_or(0.95);
    let (lift, personalized) = collected(&leaders.personalized).await?;
    let (holdout_lift, holdout) = collected(&leaders.holdout).await?;
    let personalized = bucket_sums(lift, &personalized)?;
    let holdout = bucket_sums(holdout_lift, &holdout)?;
    let (min, k, bits) = (lift.min_reports_per_bucket, lift.min_cohort, lift.encoding.bits());
    let rule = format!(
        "secure aggregation (DAP-09, Prio3SumVec of {bits}-bit entries), one task per bucket: each device's \
         measurement goes to its bucket's task, split between this leader and the helper; both verify its proof, and \
         only sums of batches of at least {k} reports of one task are collected; as long as the two do not collude \
         they are (epsilon {:.2}, delta {:e})-DP; nothing is released before each bucket holds {min} reports",
        lift.config.booked_epsilon(),
        lift.config.config().delta
    );
    let tasks = json!({
        "personalized": leaders.personalized.task.task_id.to_string(),
        "holdout": leaders.holdout.task.task_id.to_string(),
    });
    let noise = json!({ "kind": "secureAggregation", "minCohort": k, "tasks": tasks });
    let answer = lift_release(&lift.config, Release { noise, rule, min }, personalized, holdout, confidence)?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}
