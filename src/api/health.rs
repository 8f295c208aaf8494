//! Liveness and readiness probes.

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::server::AppState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers: the server can take events.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.head().await {
        Ok(seq) => {
            (StatusCode::OK, Json(json!({ "status": "ready", "seq": seq, "connections": state.hub.connections() })))
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "message": e.to_string() }))),
    }
}
