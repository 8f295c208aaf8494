//! HTTP endpoints other than the pages: ingest, history and the SSE stream, the socket upgrade, approvals,
//! the compatible endpoints of the reference systems, artifacts, rooms, errors, probes.

pub mod approvals;
pub mod artifacts;
pub mod compat;
pub mod error;
pub mod failures;
pub mod feeds;
pub mod health;
pub mod history;
pub mod ingest;
pub mod metrics;
pub mod pages;
pub mod rooms;
pub mod ws;

use axum::{
    routing::{get, post},
    Router,
};

use self::compat::{mission_control as mc, tickets};
use crate::state::AppState;

/// `max_feed_body`: the body limit of the hook feeds, whose scripts may send whole transcripts.
pub fn routes(max_feed_body: usize) -> Router<AppState> {
    Router::new()
        .route("/api/events", post(ingest::post_events).get(history::history))
        .route("/api/events/stream", get(history::stream))
        .route("/api/rooms", get(rooms::rooms))
        .route("/api/errors/summary", get(failures::summary))
        .route("/api/internal/ticket-event", post(tickets::ticket_event))
        .merge(feed_routes(max_feed_body))
        .merge(otlp_routes())
        .route("/api/approvals", get(approvals::list_all).post(approvals::ask))
        .route("/api/approvals/{id}", get(approvals::get))
        .route("/api/approvals/{id}/decision", post(approvals::decide))
        .route("/api/policy", get(approvals::policy).put(approvals::set_policy))
        .route("/api/tasks", get(mc::list_tasks).post(mc::create_task))
        .route("/api/tasks/{id}", get(mc::get_task).patch(mc::update_task))
        .route("/api/tasks/{id}/activities", get(mc::list_activities).post(mc::log_activity))
        .route("/api/tasks/{id}/deliverables", get(mc::list_deliverables).post(mc::add_deliverable))
        .route("/api/tasks/{id}/subagent", get(mc::list_subagents).post(mc::register_subagent))
        .route("/api/tasks/{id}/subagent/{session}/complete", post(mc::complete_subagent))
        .route("/artifacts/{*path}", get(artifacts::artifact))
        .route("/api/session", get(health::session))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

/// The hook feeds, with a body limit of their own.
fn feed_routes(max_feed_body: usize) -> Router<AppState> {
    Router::new()
        .route("/api/feeds/claude-code", post(feeds::claude_code::post))
        .route("/api/feeds/observability", post(feeds::observability::post))
        .route("/api/feeds/codex", post(feeds::codex::post))
        .layer(axum::extract::DefaultBodyLimit::max(max_feed_body))
}

/// OTLP/HTTP: exporters may gzip their bodies, so these routes take gzip. The body limit applies
/// to the body as decompressed.
fn otlp_routes() -> Router<AppState> {
    use feeds::otlp;
    Router::new()
        .route("/v1/traces", post(otlp::post_traces))
        .route("/v1/logs", post(otlp::post_logs))
        .route("/v1/metrics", post(otlp::post_metrics))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
}
