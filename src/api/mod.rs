//! HTTP endpoints other than the pages: ingest, probes.

pub mod error;
pub mod health;
pub mod ingest;
pub mod limits;

use axum::{
    routing::{get, post},
    Router,
};

use crate::server::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/events", post(ingest::post_events))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}
