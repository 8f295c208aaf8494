//! Drop-in feeds: the events real agent tools already emit, taken as they are and turned into
//! canonical events through the one ingest step. A feed never refuses what it does not know: an
//! unknown hook or field ends up in an activity's metadata. Each file reads one tool's shape.
//!
//! - `claude_code`: Claude Code's hook input, `POST /api/feeds/claude-code`.
//! - `observability`: the body of the multi-agent observability hook script, `POST /api/feeds/observability`.
//! - `codex`: Codex's `notify` JSON, `POST /api/feeds/codex` (what `flightdeck notify codex` posts).
//! - `otlp`: OpenTelemetry, `POST /v1/traces`, `/v1/logs`, `/v1/metrics`.

pub mod claude_code;
pub mod codex;
pub mod observability;
pub mod otlp;

use app::domain::{check, session::Session, EventBody};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::{error::ApiError, ingest::accept_once, ingest::Intake};
use crate::{state::AppState, store::TokenRecord};

/// The answer every feed gives: no body, since a hook's answer text can reach the agent's context.
pub const DONE: StatusCode = StatusCode::NO_CONTENT;

/// A tool's own identifier as one of ours: characters outside the id alphabet become `-`, and an
/// over-long one keeps its end (where uuids and counters differ).
pub fn id_of(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') { c } else { '-' })
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "unnamed" } else { clean };
    let skip = clean.len().saturating_sub(check::MAX_ID);
    clean[skip..].to_string()
}

/// The agent a feed URL names (`?agent=`), checked, or the one the tool's own fields make.
pub fn agent_param(named: Option<&str>, otherwise: impl FnOnce() -> String) -> Result<String, ApiError> {
    match named {
        Some(name) => {
            check::id("agent", name).map_err(|e| ApiError::Invalid(format!("query {e}; nothing was stored")))?;
            Ok(name.to_string())
        }
        None => Ok(otherwise()),
    }
}

/// The last part of a working directory: what a project is called.
pub fn project_of(cwd: Option<&str>) -> Option<String> {
    let name = cwd?.trim_end_matches(['/', '\\']).rsplit(['/', '\\']).next()?;
    (!name.is_empty()).then(|| id_of(name))
}

/// Text cut to `max` characters, marked where it was cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A string field of a body.
pub fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// Largest single value kept whole in metadata, as JSON.
const MAX_VALUE: usize = 4_000;

/// Fields as metadata within the store's limit: a large value (a file the tool read) is kept as
/// the start of its JSON text, and when they still do not fit, the smallest are kept and the
/// largest named but dropped. Half the limit is left for what an update merges in later.
pub fn metadata(fields: Map<String, Value>) -> Option<Value> {
    if fields.is_empty() {
        return None;
    }
    let fields: Vec<(String, Value, usize)> = fields
        .into_iter()
        .map(|(key, value)| {
            let json = value.to_string();
            let value = if json.len() > MAX_VALUE { Value::String(clip(&json, MAX_VALUE / 2)) } else { value };
            (key, value, json.len())
        })
        .collect();
    let mut by_size: Vec<usize> = (0..fields.len()).collect();
    by_size.sort_by_key(|&i| fields[i].1.to_string().len());
    let mut keep = vec![false; fields.len()];
    let mut used = 2;
    for i in by_size {
        let size = fields[i].1.to_string().len() + fields[i].0.len() + 4;
        if used + size + 40 * fields.len() <= check::MAX_JSON / 2 {
            used += size;
            keep[i] = true;
        }
    }
    let kept = fields.into_iter().zip(keep).map(|((key, value, bytes), kept)| match kept {
        true => (key, value),
        false => (key, Value::String(format!("({bytes} bytes, not kept)"))),
    });
    Some(Value::Object(kept.collect()))
}

/// The request body as a JSON object, or the refusal saying why it is not one.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Invalid("the body must be a JSON object; nothing was stored".into())),
        Err(e) => Err(ApiError::BadJson(format!("the body is not valid JSON: {e}"))),
    }
}

/// Commits what a feed made of one request. What the tool named may have been created by a
/// concurrent request of the same tool (two hooks at once): then the events are made again from
/// what is stored now, once.
pub async fn commit<F, Fut>(state: &AppState, caller: &TokenRecord, intake: Intake, make: F) -> Result<(), ApiError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<EventBody>, ApiError>>,
{
    let mut tries = 0;
    loop {
        let events = make().await?;
        if events.is_empty() {
            return Ok(());
        }
        for (i, e) in events.iter().enumerate() {
            e.validate().map_err(|e| ApiError::Invalid(format!("event {i}: {e}; nothing was stored")))?;
        }
        match accept_once(state, caller, events, intake.clone()).await {
            Err(ApiError::Conflict(_)) if tries == 0 => tries += 1,
            other => return other.map(drop),
        }
    }
}

/// The stored session with this id, if any.
pub async fn session(state: &AppState, caller: &TokenRecord, id: &str) -> Result<Option<Session>, ApiError> {
    super::compat::find::<Session>(state, &caller.workspace, id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_and_projects_keep_to_the_id_alphabet() {
        assert_eq!(id_of("0b9e6c1a-77f2-4c3e-9a57-0c1f1b6c2d9e"), "0b9e6c1a-77f2-4c3e-9a57-0c1f1b6c2d9e");
        assert_eq!(id_of("my task #1"), "my-task--1");
        assert_eq!(id_of("x".repeat(200).as_str()).len(), check::MAX_ID);
        assert_eq!(project_of(Some("/home/ann/src/flight deck/")), Some("flight-deck".into()));
        assert_eq!(project_of(Some("/")), None);
    }

    #[test]
    fn metadata_stays_within_the_store_limit() {
        let mut fields = Map::new();
        fields.insert("small".into(), json!("ok"));
        for i in 0..10 {
            fields.insert(format!("big{i}"), json!("y".repeat(50_000)));
        }
        let kept = metadata(fields).unwrap();
        assert!(kept.to_string().len() <= check::MAX_JSON / 2 + 500, "{}", kept.to_string().len());
        assert_eq!(kept["small"], "ok");
        assert!(kept["big9"].as_str().unwrap().contains("not kept"));
        assert!(clip("héllo", 2).ends_with('…'));
    }
}
