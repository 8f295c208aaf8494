//! A page render that stalls is rendered again.
//!
//! Leptos's server rendering can, rarely and only under concurrent load, stop before a page's
//! first resource is even asked for, and never finish: the request's page reads were never made,
//! no lock is held, the process stays healthy, and nothing wakes it (seen about once in a few
//! hundred renders of the time-travel pages while the PostgreSQL suite ran on a busy machine; the
//! Leptos tracker has reports of the same shape). Rendering the same request afresh succeeds, so a
//! render that has not finished after the deadline is dropped and started once more; a second
//! stall is answered 503, which a browser's reload retries. Each stall is logged and counted.
//!
//! Only pages: every other route (the API, streams, the socket, files) is bounded on its own, and
//! an event stream must never be cut.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{metrics::STALLED, state::AppState};

/// The deadline of one render of a page.
#[derive(Clone, Copy, Debug)]
pub struct RenderDeadline(pub Duration);

/// Whether `path` is one of the pages' (rendered by Leptos), not the API's or a file's.
fn is_page(path: &str) -> bool {
    const NOT_PAGES: &[&str] = &["/api/", "/v1/", "/pkg/", "/artifacts/", "/ws", "/metrics", "/healthz", "/readyz"];
    !NOT_PAGES.iter().any(|p| path.starts_with(p))
}

pub async fn rerender_stalled(
    State((state, deadline)): State<(AppState, RenderDeadline)>,
    request: Request,
    next: Next,
) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) || !is_page(request.uri().path()) {
        return next.run(request).await;
    }
    // A page request has no body: its head is all there is to send again.
    let (parts, _) = request.into_parts();
    for attempt in 1..=2 {
        let again = Request::from_parts(parts.clone(), Body::empty());
        match tokio::time::timeout(deadline.0, next.clone().run(again)).await {
            Ok(response) => return response,
            Err(_) => {
                state.metrics.counter(STALLED, &[]).increment(1);
                tracing::warn!(path = %parts.uri.path(), attempt, "a page render stalled; dropped it");
            }
        }
    }
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "The page could not be rendered in time; reload it.")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_page;

    #[test]
    fn only_pages_are_watched() {
        for page in ["/", "/tasks/t1", "/sessions/s1?at=3", "/login", "/events"] {
            assert!(is_page(page), "{page}");
        }
        for other in ["/api/events/stream", "/ws", "/pkg/flightdeck.wasm", "/v1/traces", "/metrics", "/artifacts/x"] {
            assert!(!is_page(other), "{other}");
        }
    }
}
