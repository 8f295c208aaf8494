//! `POST /api/events`: one event or an array of them, committed as one batch.
//!
//! Parsing and validation happen before anything reaches the store, so a bad event anywhere in a
//! batch refuses the whole batch with a message naming the event and the problem. The answer is
//! sent only after the commit: an acknowledged event is durable.

use app::events::EventBody;
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde_json::Value;

use super::error::ApiError;
use crate::{auth::Caller, server::AppState, store::Batch};

/// Most events one request may carry.
pub const MAX_BATCH: usize = 1_000;

pub async fn post_events(
    State(state): State<AppState>,
    Caller(token): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("{}; nothing was stored", rejection.body_text())),
        _ => ApiError::BadJson(rejection.body_text()),
    })?;
    if !token.role.can_ingest() {
        return Err(ApiError::Forbidden(format!("a {} token cannot post events", token.role.as_str())));
    }
    let events = parse_events(&body)?;
    if let Err(retry_after) = state.limiter.take(&token.id, events.len()) {
        let message = format!("this token is over its ingest rate; retry in {retry_after} s; nothing was stored");
        return Err(ApiError::TooMany { message, retry_after });
    }
    let committed = state.writer.submit(Batch { workspace: token.workspace, events }).await?;
    // The stored frames are JSON already: the answer is assembled from them, not serialised again.
    let seqs: Vec<String> = committed.iter().map(|c| c.seq.to_string()).collect();
    let frames: Vec<&str> = committed.iter().map(|c| c.frame.as_str()).collect();
    let answer = format!(r#"{{"seqs":[{}],"events":[{}]}}"#, seqs.join(","), frames.join(","));
    Ok((StatusCode::CREATED, [("content-type", "application/json")], answer))
}

/// Parses one event object or an array of them.
pub fn parse_events(body: &[u8]) -> Result<Vec<EventBody>, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadJson(format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::Invalid("the batch is empty".into()));
            }
            if items.len() > MAX_BATCH {
                return Err(ApiError::Invalid(format!(
                    "a batch holds at most {MAX_BATCH} events, got {}",
                    items.len()
                )));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    EventBody::from_json(item)
                        .map_err(|e| ApiError::Invalid(format!("event {i}: {e}; nothing was stored")))
                })
                .collect()
        }
        single => Ok(vec![EventBody::from_json(single).map_err(|e| ApiError::Invalid(e.to_string()))?]),
    }
}
