//! `POST /api/events`: one event or an array of them, committed as one batch.
//!
//! Parsing and validation happen before anything reaches the store, so a bad event anywhere in a
//! batch refuses the whole batch with a message naming the event and the problem. The answer is
//! sent only after the commit: an acknowledged event is durable. [`accept`] is the one step every
//! entry point (this one, the compatible endpoints) hands its events to.

use app::domain::EventBody;
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::{
    auth::Caller,
    state::AppState,
    store::{Batch, Committed, TokenRecord},
};

/// Most events one request may carry.
pub const MAX_BATCH: usize = 1_000;

pub async fn post_events(
    State(state): State<AppState>,
    Caller(token): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body_bytes(body)?;
    may_ingest(&token)?;
    let events = parse_events(&body)?;
    let committed = accept(&state, &token, events).await?;
    // The stored frames are JSON already: the answer is assembled from them, not serialised again.
    let seqs: Vec<String> = committed.iter().map(|c| c.seq.to_string()).collect();
    let frames: Vec<&str> = committed.iter().map(|c| &*c.frame).collect();
    let answer = format!(r#"{{"seqs":[{}],"events":[{}]}}"#, seqs.join(","), frames.join(","));
    Ok((StatusCode::CREATED, [("content-type", "application/json")], answer))
}

/// Commits a caller's events as one batch, all or nothing, once it may: the caller's role allows
/// posting, no event is one only the server derives, and the caller is within its rate.
pub async fn accept(
    state: &AppState,
    caller: &TokenRecord,
    events: Vec<EventBody>,
) -> Result<Vec<Committed>, ApiError> {
    may_ingest(caller)?;
    if let Some((i, e)) = events.iter().enumerate().find(|(_, e)| e.derived()) {
        let kind = e.kind();
        return Err(ApiError::Invalid(format!(
            "event {i}: `{kind}` is derived by the server and cannot be posted; nothing was stored"
        )));
    }
    if let Err(retry_after) = state.limiter.take(&caller.id, events.len()) {
        let message = format!("this token is over its ingest rate; retry in {retry_after} s; nothing was stored");
        return Err(ApiError::TooMany { message, retry_after });
    }
    Ok(state.writer.submit(Batch { workspace: caller.workspace.clone(), events }).await?)
}

fn may_ingest(caller: &TokenRecord) -> Result<(), ApiError> {
    if caller.role.can_ingest() {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!("a {} token cannot post events", caller.role.as_str())))
}

/// The request body, or the refusal for one that is too large or unreadable.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("{}; nothing was stored", rejection.body_text())),
        _ => ApiError::BadJson(rejection.body_text()),
    })
}

/// A JSON body of any content type (clients written for other systems often send none): 400 when
/// it is not JSON, 422 naming the field when it is the wrong shape.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body_bytes(body)?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadJson(format!("the body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner();
        match path.as_str() {
            "." => ApiError::Invalid(format!("{reason}; nothing was stored")),
            _ => ApiError::Invalid(format!("field `{path}`: {reason}; nothing was stored")),
        }
    })
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
