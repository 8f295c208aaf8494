//! The multi-agent observability hook script's body, `POST /api/feeds/observability`:
//! `{source_app, session_id, hook_event_type, payload, timestamp, model_name?, summary?, chat?}`,
//! where `payload` is Claude Code's own hook input. Its users point `--server-url` here (with
//! `?token=`, since the script sends no header) and get what `claude_code` makes of the hook; the
//! `source_app` names the agent. A `chat` transcript is not kept: the session's events say it.

use axum::{
    extract::{Query as UrlQuery, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    claude_code::{deliver, FeedParams, Hook},
    id_of,
};
use crate::{
    api::{error::ApiError, ingest::Posted},
    auth::Caller,
    state::AppState,
};

/// What the script sends, as far as the feed reads it. Everything else, the `chat` transcript
/// first, is passed over as it is parsed, never held.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    hook_event_type: Option<String>,
    #[serde(default)]
    source_app: Option<String>,
    #[serde(default)]
    session_id: Option<Value>,
    #[serde(default)]
    model_name: Option<Value>,
    #[serde(default)]
    summary: Option<Value>,
}

/// Answered 200 with no body: the script reports any other status on every hook.
pub async fn post(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlQuery(params): UrlQuery<FeedParams>,
    posted: Posted,
) -> Result<StatusCode, ApiError> {
    let outer: Envelope = serde_json::from_slice(&posted.body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::Invalid(format!("the body is not the script's event object: {e}; nothing was stored"))
        }
        _ => ApiError::BadJson(format!("the body is not valid JSON: {e}")),
    })?;
    let mut body: Map<String, Value> = match outer.payload {
        Some(Value::Object(payload)) => payload,
        None | Some(Value::Null) => Default::default(),
        Some(_) => {
            return Err(ApiError::Invalid("field `payload`: must be the hook's JSON object; nothing was stored".into()))
        }
    };
    let event = outer.hook_event_type.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        ApiError::Invalid("field `hook_event_type`: the script names the hook there; nothing was stored".into())
    })?;
    body.insert("hook_event_name".into(), Value::String(event));
    for (field, value) in
        [("session_id", outer.session_id), ("model_name", outer.model_name), ("summary", outer.summary)]
    {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            body.entry(field.to_string()).or_insert(value);
        }
    }
    let source = outer.source_app.filter(|s| !s.trim().is_empty());
    let agent = params.agent.or_else(|| source.as_deref().map(id_of));
    let hook = Hook { answered: false, ..Hook::read(body, agent.as_deref())? };
    deliver(&state, &caller, &hook, posted.intake()).await?;
    Ok(StatusCode::OK)
}
