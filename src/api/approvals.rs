//! Approvals for any agent, no SDK: ask with `POST /api/approvals`, wait for the decision with
//! `GET /api/approvals/{id}?wait=60` (a long-poll held without a thread, see `held`), decide with
//! `POST /api/approvals/{id}/decision`. The workspace's policy is `GET`/`PUT /api/policy`, the
//! latter an admin's. Everything goes through the one ingest step, as events.

use std::time::Duration;

use app::domain::{
    approval::{Approval, ApprovalRequested, ApprovalResolved, ApprovalStatus},
    entity::Query,
    policy::{Policy, PolicyUpdated, POLICY_ID},
    EventBody,
};
use axum::{
    extract::{Path, Query as UrlQuery, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;

use super::{
    compat::{find, list, submit},
    error::ApiError,
    ingest::Posted,
};
use crate::{auth::Caller, held::Outcome, state::AppState, store::TokenRecord};

/// Longest a long-poll is held.
pub const MAX_WAIT_S: u64 = 120;

/// `POST /api/approvals`: asks for a decision; answered 201 with the approval as stored.
pub async fn ask(
    State(state): State<AppState>,
    Caller(caller): Caller,
    posted: Posted,
) -> Result<(StatusCode, Json<Approval>), ApiError> {
    let mut asked: ApprovalRequested = posted.json()?;
    asked.held = Some("poll".into());
    if asked.requested_by.is_none() {
        asked.requested_by = Some(caller.name.clone()).filter(|n| app::domain::check::name("by", Some(n)).is_ok());
    }
    let committed = submit(&state, &caller, EventBody::ApprovalRequested(asked), &posted).await?;
    let EventBody::ApprovalRequested(asked) = &committed.body else { unreachable!("the event asked") };
    let id = asked.id.clone().unwrap_or_default();
    Ok((StatusCode::CREATED, Json(stored(&state, &caller, &id).await?)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// Seconds to wait for a decision while it is pending (at most [`MAX_WAIT_S`]).
    pub wait: Option<u64>,
}

/// `GET /api/approvals/{id}?wait=N`: the approval; while it is pending, held up to `N` seconds
/// for its decision. A poll that ends pending answers the approval as it is (status `pending`).
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    UrlQuery(q): UrlQuery<Wait>,
) -> Result<Json<Approval>, ApiError> {
    let approval = stored(&state, &caller, &id).await?;
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_S {
        return Err(ApiError::Invalid(format!("query `wait`: at most {MAX_WAIT_S} seconds")));
    }
    if !approval.is_pending() || wait == 0 {
        return Ok(Json(approval));
    }
    let Some(waiter) = state.held.enter(&caller.workspace, &id) else {
        return Err(ApiError::Busy { message: "too many requests wait for approvals now".into(), retry_after: 1 });
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(wait);
    match waiter.until_resolved(&*state.store, &state.hub, Some(until)).await? {
        Outcome::Resolved(approval) | Outcome::Pending(approval) => Ok(Json(approval)),
        Outcome::Released => Ok(Json(stored(&state, &caller, &id).await?)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    pub status: Option<String>,
}

/// `GET /api/approvals?status=pending`: the workspace's approvals, oldest first.
pub async fn list_all(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlQuery(q): UrlQuery<ListFilter>,
) -> Result<Json<Vec<Approval>>, ApiError> {
    let mut query = Query::all::<Approval>();
    if let Some(status) = q.status.filter(|s| !s.is_empty()) {
        query = query.with_status(&[status.as_str()]);
    }
    Ok(Json(list(&state, &caller.workspace, query).await?))
}

/// A decision as posted: `approve` or `reject`, with a reason, an edited input, or for the session.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub decision: Verdict,
    #[serde(default, alias = "reason")]
    pub comment: Option<String>,
    #[serde(default)]
    pub updated_input: Option<serde_json::Value>,
    #[serde(default)]
    pub for_session: bool,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[serde(alias = "approved", alias = "allow")]
    Approve,
    #[serde(alias = "rejected", alias = "deny")]
    Reject,
}

/// `POST /api/approvals/{id}/decision`: decides, once; a second decision is a 409 naming the first.
pub async fn decide(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Json<Approval>, ApiError> {
    let d: Decision = posted.json()?;
    let status = match d.decision {
        Verdict::Approve => ApprovalStatus::Approved,
        Verdict::Reject => ApprovalStatus::Rejected,
    };
    let by = Some(caller.name.clone()).filter(|n| app::domain::check::name("by", Some(n)).is_ok());
    let resolved = ApprovalResolved {
        id: id.clone(),
        status,
        by,
        comment: d.comment,
        updated_input: d.updated_input,
        for_session: d.for_session,
        ..Default::default()
    };
    submit(&state, &caller, EventBody::ApprovalResolved(resolved), &posted).await?;
    Ok(Json(stored(&state, &caller, &id).await?))
}

/// `GET /api/policy`: the workspace's approval policy (the default when none was set).
pub async fn policy(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Policy>, ApiError> {
    Ok(Json(find::<Policy>(&state, &caller.workspace, POLICY_ID).await?.unwrap_or_default()))
}

/// `PUT /api/policy`: replaces the policy whole (rules, `on_timeout`, `ttl_seconds`); admins only.
pub async fn set_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    posted: Posted,
) -> Result<Json<Policy>, ApiError> {
    let mut updated: PolicyUpdated = posted.json()?;
    updated.by = Some(caller.name.clone()).filter(|n| app::domain::check::name("by", Some(n)).is_ok());
    submit(&state, &caller, EventBody::PolicyUpdated(updated), &posted).await?;
    Ok(Json(find::<Policy>(&state, &caller.workspace, POLICY_ID).await?.unwrap_or_default()))
}

async fn stored(state: &AppState, caller: &TokenRecord, id: &str) -> Result<Approval, ApiError> {
    find::<Approval>(state, &caller.workspace, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no approval `{id}`")))
}
