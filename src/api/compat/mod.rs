//! Endpoints in the shapes of the reference systems' own documents (`../shared/seeds/`). Each file
//! translates its system's requests into canonical events, hands them to [`super::ingest::accept`],
//! and translates the answer back. No other logic lives here.

pub mod mission_control;
pub mod sprint;
pub mod tickets;

use app::domain::{entity::Query, Entity, EventBody};

use super::{
    error::ApiError,
    ingest::{accept_once, Posted},
};
use crate::{
    state::AppState,
    store::{Committed, TokenRecord},
};

/// One stored entity of the caller's workspace, if it exists.
pub(crate) async fn find<T: Entity>(state: &AppState, workspace: &str, id: &str) -> Result<Option<T>, ApiError> {
    let snapshot = state.store.read(workspace, &[Query::one::<T>(id)]).await?;
    let rows = app::domain::entity::decode_rows::<T>(&snapshot.rows[0]).map_err(ApiError::Unavailable)?;
    Ok(rows.into_iter().next())
}

/// Rows a query selects in the caller's workspace.
pub(crate) async fn list<T: Entity>(state: &AppState, workspace: &str, query: Query) -> Result<Vec<T>, ApiError> {
    let snapshot = state.store.read(workspace, &[query]).await?;
    app::domain::entity::decode_rows::<T>(&snapshot.rows[0]).map_err(ApiError::Unavailable)
}

/// One event through the ingest step, with the request's idempotency: the event as committed.
pub(crate) async fn submit(
    state: &AppState,
    caller: &TokenRecord,
    body: EventBody,
    posted: &Posted,
) -> Result<Committed, ApiError> {
    body.validate().map_err(|e| ApiError::Invalid(format!("{e}; nothing was stored")))?;
    let mut committed = accept_once(state, caller, vec![body], posted.intake()).await?;
    committed.pop().ok_or_else(|| ApiError::Unavailable("nothing was committed".into()))
}
