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
    store::{Batch, Committed, Once, TokenRecord},
};

/// Most events one request may carry.
pub const MAX_BATCH: usize = 1_000;

pub async fn post_events(
    State(state): State<AppState>,
    Caller(token): Caller,
    posted: Posted,
) -> Result<impl IntoResponse, ApiError> {
    may_ingest(&token)?;
    let events = parse_events(&posted.body)?;
    let committed = accept_once(&state, &token, events, posted.once).await?;
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
    accept_once(state, caller, events, None).await
}

/// [`accept`], once per idempotency key: a retry gets the first commit back and stores nothing.
pub async fn accept_once(
    state: &AppState,
    caller: &TokenRecord,
    events: Vec<EventBody>,
    once: Option<Once>,
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
    Ok(state.writer.submit(Batch { workspace: caller.workspace.clone(), events, once }).await?)
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

/// The header a client names a request by, so that a retry of it is not stored twice.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A posted body, and the idempotency its request asked for (`Idempotency-Key`): the key, a hash of
/// method, path and body, and the start of the retention window.
pub struct Posted {
    pub body: Bytes,
    pub once: Option<Once>,
}

impl Posted {
    /// The body as JSON of any content type (see [`json_body`]).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        json_body(Ok(self.body.clone()))
    }
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &AppState) -> Result<Posted, ApiError> {
        let (parts, body) = request.into_parts();
        let key = match parts.headers.get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => {
                let key = value.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= 255);
                Some(
                    key.ok_or_else(|| {
                        ApiError::BadJson("`Idempotency-Key` must be 1 to 255 visible ASCII characters".into())
                    })?
                    .to_string(),
                )
            }
        };
        let what = format!("{} {}", parts.method, parts.uri.path());
        let request = axum::extract::Request::from_parts(parts, body);
        let body = body_bytes(Bytes::from_request(request, state).await)?;
        let once = key.map(|key| {
            use sha2::{Digest, Sha256};
            let hash = hex::encode(
                Sha256::new().chain_update(what.as_bytes()).chain_update(b"\n").chain_update(&body).finalize(),
            );
            let window = state.idempotency_window.as_millis() as i64;
            let not_before = app::domain::time::format(state.clock.now_millis() - window);
            Once { key, hash, not_before }
        });
        Ok(Posted { body, once })
    }
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
