//! Reading the log over HTTP: `GET /api/events` (a page of history) and `GET /api/events/stream`
//! (the same events as Server-Sent Events, resumable). Both see only the caller's workspace.

use std::{convert::Infallible, time::Duration};

use app::{
    domain::Seq,
    topics::{self, TopicSet},
};
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::{
        sse::{Event as SseEvent, KeepAlive, Sse},
        IntoResponse,
    },
};
use futures::Stream;
use serde::Deserialize;

use super::{compat::mission_control::Translator, error::ApiError};
use crate::{
    auth::Caller,
    hub::feed::{Feed, Item, Start},
    state::AppState,
    store::LogQuery,
};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1_000;
/// How much a page of history holds, whatever its `limit`: a page ends with the event that reaches
/// it (so it holds at least one, and passes it by at most one event), and `next_since` says where
/// the next one starts.
pub const PAGE_BYTES: usize = 4 << 20;

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    since: Seq,
    limit: Option<u32>,
    topic: Option<String>,
}

/// `GET /api/events?since=&limit=&topic=`: events after `since`, oldest first.
pub async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<HistoryQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let topics = topic_filter(q.topic.as_deref(), &caller.workspace)?;
    let head = state.store.head().await?;
    let query = LogQuery {
        workspace: caller.workspace,
        after: q.since,
        upto: head,
        topics,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        newest: false,
        max_bytes: Some(PAGE_BYTES),
    };
    let page = state.store.read_log(&query).await?;
    let next = page.last().map_or(q.since, |(seq, _)| *seq);
    let frames: Vec<&str> = page.iter().map(|(_, f)| f.as_str()).collect();
    let epoch = serde_json::to_string(state.store.epoch()).unwrap_or_default();
    // The workspace's own position: the global head would tell how busy other workspaces are.
    let position = state.store.position(&query.workspace, head).await?;
    let body = format!(r#"{{"head":{position},"epoch":{epoch},"next_since":{next},"events":[{}]}}"#, frames.join(","));
    Ok(([("content-type", "application/json")], body))
}

#[derive(Deserialize)]
pub struct StreamQuery {
    since: Option<Seq>,
    topic: Option<String>,
    /// `mission-control`: frames in Mission Control's names (see `compat::mission_control`).
    format: Option<String>,
    /// The log `since` (or `Last-Event-ID`) was read from: another one gets `reset`.
    epoch: Option<String>,
}

/// `GET /api/events/stream?since=&topic=&format=`: replay then live, as SSE with `id` = seq,
/// resumable with `Last-Event-ID`. A resume the log cannot serve whole gets an `event: reset`.
pub async fn stream(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let topics = match q.topic {
        Some(topic) => {
            topics::check(&topic, &caller.workspace).map_err(ApiError::Invalid)?;
            vec![topic]
        }
        None => vec![topics::EVENTS.to_string()],
    };
    // A stream holds a connection slot of its token, like a socket.
    let guard = state.open_connection(&caller.id).await.map_err(|r| ApiError::from_connect(r, "streams"))?;
    let dialect = match q.format.as_deref() {
        None | Some("") | Some("canonical") => None,
        Some("mission-control") => Some(Translator::start(&state, &caller.workspace).await?),
        Some(other) => {
            return Err(ApiError::Invalid(format!("unknown format `{other}`; expected canonical or mission-control")))
        }
    };
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let since = last_event_id.or(q.since);
    let set = TopicSet::new(topics, &caller.workspace);
    let (feed, start) =
        Feed::start(state.store.clone(), state.hub.clone(), caller.workspace, set, since, q.epoch.as_deref()).await?;
    let first = match start {
        Start::Reset { seq, reason } => Some(reset_event(seq, &reason)),
        Start::Replay { .. } => None,
    };
    let every = state.hub.settings().heartbeat;
    let ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let shutdown = state.hub.shutdown_signal();
    let metrics = state.metrics.clone();
    let watch = Watch { store: state.store.clone(), token_id: caller.id, ticks, dialect, shutdown, metrics };
    let events =
        futures::stream::unfold((feed, first, guard, watch), |(mut feed, first, guard, mut watch)| async move {
            if let Some(event) = first {
                return Some((Ok(event), (feed, None, guard, watch)));
            }
            let event = loop {
                let item = tokio::select! {
                    // A stream ends at shutdown, so the server can finish; the client resumes.
                    _ = watch.shutdown.changed() => return None,
                    item = feed.next() => item,
                    // Like a socket, a stream ends within one heartbeat of its token being revoked.
                    _ = watch.ticks.tick() => {
                        if !watch.store.is_token_live(&watch.token_id).await.unwrap_or(true) {
                            return None;
                        }
                        continue;
                    }
                };
                match item {
                    Ok(Item::Frame(seq, frame, live)) => match &mut watch.dialect {
                        None => {
                            // Handed to the response body; the write itself is hyper's.
                            if let Some(live) = live {
                                watch.metrics.delivered(live.elapsed());
                            }
                            break SseEvent::default().id(seq.to_string()).data(frame.as_str());
                        }
                        Some(dialect) => match dialect.translate(frame.as_str()) {
                            Some(text) => break SseEvent::default().id(seq.to_string()).data(text),
                            // An event the dialect has no name for.
                            None => continue,
                        },
                    },
                    Ok(Item::Reset { seq, reason }) => break reset_event(seq, &reason),
                    // The client resumes with `Last-Event-ID` when it reconnects.
                    Ok(Item::TooSlow(reason)) => {
                        tracing::info!(%reason, "an event stream fell behind; ended");
                        return None;
                    }
                    Err(_) => return None,
                }
            };
            Some((Ok(event), (feed, None, guard, watch)))
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive")))
}

/// What a stream keeps besides its feed: how to notice its token was revoked, and its dialect.
struct Watch {
    store: std::sync::Arc<dyn crate::store::Store>,
    token_id: String,
    /// One check per heartbeat, however busy the stream is.
    ticks: tokio::time::Interval,
    dialect: Option<Translator>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

fn reset_event(seq: Seq, reason: &str) -> SseEvent {
    let data = serde_json::json!({ "type": "reset", "seq": seq, "reason": reason }).to_string();
    SseEvent::default().event("reset").id(seq.to_string()).data(data)
}

fn topic_filter(topic: Option<&str>, workspace: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(topic) = topic else { return Ok(None) };
    topics::check(topic, workspace).map_err(ApiError::Invalid)?;
    Ok(TopicSet::new([topic.to_string()], workspace).filter())
}
