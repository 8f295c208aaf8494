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
use app::domain::Seq;

use crate::{
    auth::Caller,
    state::AppState,
    store::{Batch, Committed, LogQuery, Once, Role, StoreError, TokenRecord, SMALL_EVENT_BYTES},
};

/// Most events one request may carry.
pub const MAX_BATCH: usize = 1_000;

pub async fn post_events(
    State(state): State<AppState>,
    Caller(token): Caller,
    posted: Posted,
) -> Result<impl IntoResponse, ApiError> {
    may_ingest(&token)?;
    let Parsed { events, keys, if_seq } = parse_events(&posted.body)?;
    let mut intake = posted.intake();
    intake.if_seq = if_seq;
    if keys.iter().any(Option::is_some) {
        let not_before = window_start(&state);
        let once = |(key, hash): (String, String)| Once::for_event(&key, hash, not_before.clone());
        intake.event_keys = keys.into_iter().map(|k| k.map(once)).collect();
    }
    let committed = accept_once(&state, &token, events, intake).await?;
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
    let bytes = events.len() * SMALL_EVENT_BYTES;
    accept_once(state, caller, events, Intake { bytes, ..Intake::default() }).await
}

/// [`accept`], once per idempotency key: a retry gets the first commit back and stores nothing.
pub async fn accept_once(
    state: &AppState,
    caller: &TokenRecord,
    events: Vec<EventBody>,
    intake: Intake,
) -> Result<Vec<Committed>, ApiError> {
    may_ingest(caller)?;
    if let Some((i, e)) = events.iter().enumerate().find(|(_, e)| e.derived()) {
        let kind = e.kind();
        return Err(ApiError::Invalid(format!(
            "event {i}: `{kind}` is derived by the server and cannot be posted; nothing was stored"
        )));
    }
    if let Some(e) = events.iter().find(|e| e.admin_only()).filter(|_| caller.role != Role::Admin) {
        let (kind, role) = (e.kind(), caller.role.as_str());
        return Err(ApiError::Forbidden(format!("`{kind}` needs an admin; a {role} token cannot post it")));
    }
    if let Err(retry_after) = state.limits.take_ingest(&caller.id, events.len()).await? {
        let message = format!("this token is over its ingest rate; retry in {retry_after} s; nothing was stored");
        return Err(ApiError::TooMany { message, retry_after });
    }
    let Intake { once, event_keys, if_seq, by, bytes } = intake;
    let workspace = caller.workspace.clone();
    let batch = Batch { workspace: workspace.clone(), events, once, event_keys, if_seq, by, bytes };
    match state.writer.submit(batch).await {
        Ok(committed) => Ok(committed),
        Err(StoreError::Stale { message, current }) => Err(stale(state, &workspace, message, current).await),
        Err(e) => Err(e.into()),
    }
}

/// The refusal of a change based on an old copy of its task: the task's seq now, and the event
/// that moved it there, so the writer can show what happened and decide again.
async fn stale(state: &AppState, workspace: &str, message: String, current: Seq) -> ApiError {
    let query = LogQuery {
        workspace: workspace.into(),
        after: current.saturating_sub(1),
        upto: current,
        topics: None,
        limit: 1,
        newest: false,
        max_bytes: None,
    };
    let changed_by = match state.store.read_log(&query).await {
        Ok(page) => page.into_iter().next().and_then(|(_, frame)| serde_json::from_str::<Value>(&frame).ok()),
        Err(e) => {
            tracing::warn!(error = %e, "the event behind a stale write could not be read");
            None
        }
    };
    ApiError::Stale { message, current_seq: current, changed_by }
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

/// What a request brings to the writer besides its events: its idempotency, and how many bytes it
/// holds while it waits (the writer's queue is bounded in bytes as well as requests).
#[derive(Clone, Debug, Default)]
pub struct Intake {
    pub once: Option<Once>,
    /// Per event, for batches whose events carry `idempotency_key`.
    pub event_keys: Vec<Option<Once>>,
    /// Per event, for batches whose events carry `if_seq`.
    pub if_seq: Vec<Option<Seq>>,
    /// The person acting, for an action taken on a page.
    pub by: Option<String>,
    pub bytes: usize,
}

impl Posted {
    pub fn intake(&self) -> Intake {
        Intake { once: self.once.clone(), bytes: self.body.len(), ..Intake::default() }
    }

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
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(valid_key)
                    .ok_or_else(|| ApiError::BadJson(format!("`Idempotency-Key` {KEY_RULE}")))?,
            ),
        };
        let what = format!("{} {}", parts.method, parts.uri.path());
        let request = axum::extract::Request::from_parts(parts, body);
        let body = body_bytes(Bytes::from_request(request, state).await)?;
        let once =
            key.map(|key| Once { key, hash: hash(&[what.as_bytes(), b"\n", &body]), not_before: window_start(state) });
        Ok(Posted { body, once })
    }
}

const KEY_RULE: &str = "must be 1 to 255 visible ASCII characters";

/// A key as given, trimmed, when it is 1 to 255 visible ASCII characters.
fn valid_key(key: &str) -> Option<String> {
    let key = key.trim();
    let visible = key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    (!key.is_empty() && key.len() <= 255 && visible).then(|| key.to_string())
}

fn hash(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(parts.iter().fold(Sha256::new(), |h, part| h.chain_update(part)).finalize())
}

/// Keys remembered from before this moment are forgotten.
fn window_start(state: &AppState) -> String {
    let window = state.idempotency_window.as_millis() as i64;
    app::domain::time::format(state.clock.now_millis() - window)
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

/// An event's own idempotency key, and a hash of the rest of the event.
pub type EventKey = (String, String);

/// Posted events, with what each may carry beside `type` and `payload`.
pub struct Parsed {
    pub events: Vec<EventBody>,
    /// Its own `idempotency_key` and a hash of the rest of it.
    pub keys: Vec<Option<EventKey>>,
    /// The seq of its task its writer saw: stored only if the task is still there.
    pub if_seq: Vec<Option<Seq>>,
}

/// Parses one event object or an array of them, each with its own `idempotency_key` and `if_seq`
/// (beside `type` and `payload`) when it has them.
pub fn parse_events(body: &[u8]) -> Result<Parsed, ApiError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadJson(format!("the body is not valid JSON: {e}")))?;
    let mut keys = Vec::new();
    let mut if_seq = Vec::new();
    let items: Vec<&mut Value> = match &mut value {
        Value::Array(items) => items.iter_mut().collect(),
        single => vec![single],
    };
    for (i, item) in items.into_iter().enumerate() {
        let guard = item.as_object_mut().and_then(|o| o.remove("if_seq"));
        if_seq.push(match guard {
            None => None,
            Some(seen) => Some(seen.as_u64().ok_or_else(|| {
                ApiError::Invalid(format!("event {i}: `if_seq` must be a seq, a whole number ≥ 0; nothing was stored"))
            })?),
        });
        let key = item.as_object_mut().and_then(|o| o.remove("idempotency_key"));
        keys.push(match key {
            None => None,
            Some(key) => {
                let key = key.as_str().and_then(valid_key).ok_or_else(|| {
                    ApiError::Invalid(format!("event {i}: `idempotency_key` {KEY_RULE}; nothing was stored"))
                })?;
                Some((key, hash(&[item.to_string().as_bytes()])))
            }
        });
    }
    if if_seq.iter().all(Option::is_none) {
        if_seq.clear();
    }
    Ok(Parsed { events: parse_event_value(value)?, keys, if_seq })
}

fn parse_event_value(value: Value) -> Result<Vec<EventBody>, ApiError> {
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
