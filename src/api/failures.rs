//! `GET /api/errors/summary`: failed tasks grouped by error kind, the largest group first.

use app::{
    domain::{
        entity::{decode_rows, Query},
        task::{Task, TaskStatus},
    },
    server_fns::events::{summarize, FailedTask},
};
use axum::{extract::State, Json};
use serde_json::{json, Value};

use super::error::ApiError;
use crate::{auth::Caller, state::AppState};

pub async fn summary(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let query = Query::all::<Task>().with_status(&[TaskStatus::Failed.as_str()]);
    let snapshot = state.store.read(&caller.workspace, &[query]).await?;
    let failed: Vec<FailedTask> = decode_rows::<Task>(&snapshot.rows[0])
        .map_err(ApiError::Unavailable)?
        .iter()
        .filter_map(FailedTask::of)
        .collect();
    let groups = summarize(&failed);
    Ok(Json(json!({ "seq": snapshot.seq, "total": failed.len(), "groups": groups })))
}
