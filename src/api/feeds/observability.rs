//! The multi-agent observability hook script's body, `POST /api/feeds/observability`:
//! `{source_app, session_id, hook_event_type, payload, timestamp, model_name?, summary?, chat?}`,
//! where `payload` is Claude Code's own hook input. Its users point `--server-url` here (with
//! `?token=`, since the script sends no header) and get what `claude_code` makes of the hook; the
//! `source_app` names the agent. A `chat` transcript is not kept: the session's events say it.

use axum::{
    extract::{Query as UrlQuery, State},
    http::StatusCode,
};
use serde_json::Value;

use super::{
    claude_code::{deliver, FeedParams, Hook},
    id_of, object, text,
};
use crate::{
    api::{error::ApiError, ingest::Posted},
    auth::Caller,
    state::AppState,
};

pub async fn post(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlQuery(params): UrlQuery<FeedParams>,
    posted: Posted,
) -> Result<StatusCode, ApiError> {
    let outer = object(&posted.body)?;
    let mut body = match outer.get("payload") {
        Some(Value::Object(payload)) => payload.clone(),
        None | Some(Value::Null) => Default::default(),
        Some(_) => {
            return Err(ApiError::Invalid("field `payload`: must be the hook's JSON object; nothing was stored".into()))
        }
    };
    let event = text(&outer, "hook_event_type").ok_or_else(|| {
        ApiError::Invalid("field `hook_event_type`: the script names the hook there; nothing was stored".into())
    })?;
    body.insert("hook_event_name".into(), Value::String(event.to_string()));
    for field in ["session_id", "model_name", "summary"] {
        if let Some(value) = outer.get(field).filter(|v| !v.is_null()) {
            body.entry(field.to_string()).or_insert_with(|| value.clone());
        }
    }
    let agent = params.agent.or_else(|| text(&outer, "source_app").map(id_of));
    let hook = Hook::read(body, agent.as_deref())?;
    deliver(&state, &caller, &hook, posted.intake()).await
}
