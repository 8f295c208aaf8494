//! Liveness and readiness probes, and who the caller is.

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::{auth::Caller, state::AppState};

/// `GET /api/session`: the caller's token as the gate sees it (401 when signed out). The page asks
/// when its socket keeps failing, to tell "server away" from "signed out".
pub async fn session(Caller(caller): Caller) -> Json<Value> {
    Json(json!({ "workspace": caller.workspace, "role": caller.role.as_str(), "name": caller.name }))
}

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers: the server can take events.
/// Anyone may ask, so the answer says ready or not and nothing about what is stored or who is
/// connected; the reason for "not" goes to the log.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Some(trouble) = state.writer.trouble() {
        tracing::warn!(trouble, "not ready");
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })));
    }
    match state.store.head().await {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
        }
    }
}
