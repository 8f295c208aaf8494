//! HTTP endpoints other than the pages: ingest, history, the SSE stream, probes.

pub mod artifacts;
pub mod error;
pub mod health;
pub mod history;
pub mod ingest;
pub mod limits;
pub mod ws;

use axum::{
    routing::{get, post},
    Router,
};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/events", post(ingest::post_events).get(history::history))
        .route("/api/events/stream", get(history::stream))
        .route("/artifacts/{*path}", get(artifacts::artifact))
        .route("/api/session", get(health::session))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}
