//! Endpoints in the shapes of the reference systems' own documents (`../shared/seeds/`). Each file
//! translates its system's requests into canonical events, hands them to [`super::ingest::accept`],
//! and translates the answer back. No other logic lives here.

pub mod mission_control;
pub mod sprint;
pub mod tickets;

use app::domain::{entity::Query, Entity};

use super::error::ApiError;
use crate::state::AppState;

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
