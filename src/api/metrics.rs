//! `GET /metrics` in Prometheus' text format, and the middleware that counts every refusal. A
//! scrape sets the gauges (connections, followers, rooms, the writer's queue) and the hub's and
//! the writer's own counters from what they hold now, then renders what was recorded.

use axum::{extract::State, http::StatusCode, response::IntoResponse};

use super::error::{ApiError, Refused};
use crate::{auth::Caller, metrics::REFUSALS, state::AppState, store::Role};

/// `GET /metrics`: for an admin token (a scrape sees every workspace's figures).
pub async fn scrape(State(state): State<AppState>, Caller(caller): Caller) -> Result<impl IntoResponse, ApiError> {
    if caller.role != Role::Admin {
        return Err(ApiError::Forbidden("metrics are for admin tokens".into()));
    }
    read_gauges(&state);
    Ok((StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], state.metrics.render()))
}

/// Sets what is read rather than recorded: the hub's, the writer's and the store's figures now.
fn read_gauges(state: &AppState) {
    let (metrics, hub) = (&state.metrics, &state.hub);
    metrics.gauge("flightdeck_connections", &[]).set(hub.connections() as f64);
    let (live, behind) = hub.followers();
    metrics.gauge("flightdeck_followers", &[("state", "live")]).set(live as f64);
    metrics.gauge("flightdeck_followers", &[("state", "catching_up")]).set(behind as f64);
    for (kind, n) in hub.rooms_by_kind() {
        metrics.gauge("flightdeck_subscriptions", &[("topic", &kind)]).set(n as f64);
    }
    metrics.gauge("flightdeck_writer_queued_bytes", &[]).set(state.writer.queued_bytes() as f64);
    metrics.gauge("flightdeck_live_ring_bytes", &[]).set(hub.ring_bytes() as f64);
    let counts = [
        ("flightdeck_lagged_total", hub.lagged()),
        ("flightdeck_too_slow_total", hub.too_slow()),
        ("flightdeck_resumes_total", hub.resumes()),
        ("flightdeck_replays_total", hub.replays()),
        ("flightdeck_resets_total", hub.resets()),
        ("flightdeck_commits_total", state.writer.commits()),
    ];
    for (name, value) in counts {
        metrics.counter(name, &[]).absolute(value);
    }
    for (path, value) in state.store.commit_paths() {
        metrics.counter("flightdeck_store_commits_total", &[("path", path)]).absolute(value);
    }
}

/// Counts every refusal by its reason, as the answer names it.
pub async fn count_refusals(
    State(state): State<AppState>,
    response: axum::response::Response,
) -> axum::response::Response {
    if let Some(reason) = response.extensions().get::<Refused>() {
        state.metrics.counter(REFUSALS, &[("reason", reason.0)]).increment(1);
    }
    response
}
