//! Codex's `notify` program input, `POST /api/feeds/codex` (what `flightdeck notify codex '<json>'`
//! forwards): `{"type": "agent-turn-complete", "thread-id", "turn-id", "cwd", "input-messages",
//! "last-assistant-message"}`. A thread is a session of the agent `codex:<project>`; a finished
//! turn is an activity, and the agent is idle until its next turn.

use app::domain::{
    activity::ActivityLogged,
    agent::{AgentHeartbeat, AgentState, AgentStatus},
    check,
    session::{Session, SessionKind, SessionStarted, SessionUpdated},
    EventBody,
};
use axum::{
    extract::{Query as UrlQuery, State},
    http::StatusCode,
};
use serde_json::{Map, Value};

use super::{
    agent_param, claude_code::FeedParams, clip, commit, id_of, metadata, object, project_of, session, text, DONE,
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
    let body = object(&posted.body)?;
    let kind = text(&body, "type")
        .ok_or_else(|| {
            ApiError::Invalid("field `type`: a Codex notification names its type; nothing was stored".into())
        })?
        .to_string();
    let project = project_of(text(&body, "cwd"));
    let agent = agent_param(params.agent.as_deref(), || format!("codex:{}", project.as_deref().unwrap_or("unknown")))?;
    let thread = id_of(text(&body, "thread-id").unwrap_or(&agent));
    commit(&state, &caller, posted.intake(), || async {
        let known = session(&state, &caller, &thread).await?;
        Ok(turn(&body, &kind, &thread, &agent, project.as_deref(), known.as_ref()))
    })
    .await?;
    Ok(DONE)
}

/// The events one notification stands for.
fn turn(
    body: &Map<String, Value>,
    kind: &str,
    thread: &str,
    agent: &str,
    project: Option<&str>,
    known: Option<&Session>,
) -> Vec<EventBody> {
    let mut out = Vec::new();
    if known.is_none() {
        out.push(EventBody::SessionStarted(SessionStarted {
            id: thread.to_string(),
            kind: SessionKind::Persistent,
            title: Some(format!("Codex · {}", project.unwrap_or("thread"))),
            task_id: None,
            agent: Some(agent.to_string()),
            parent_id: None,
        }));
    }
    out.push(EventBody::AgentHeartbeat(AgentHeartbeat { id: agent.to_string(), task_id: None }));
    let reply = text(body, "last-assistant-message");
    let finished = kind == "agent-turn-complete";
    if finished {
        let name = Some(format!("Codex ({})", project.unwrap_or("?")));
        out.push(EventBody::AgentStatus(AgentStatus {
            id: agent.to_string(),
            status: AgentState::Idle,
            name,
            task_id: None,
        }));
        if let (Some(reply), true) = (reply, known.is_none_or(Session::is_active)) {
            let message = Some(clip(reply, 500));
            out.push(EventBody::SessionUpdated(SessionUpdated {
                id: thread.to_string(),
                message,
                ..Default::default()
            }));
        }
    }
    let skip = ["type", "thread-id", "cwd", "last-assistant-message"];
    let rest = body.iter().filter(|(k, _)| !skip.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone()));
    let message = match (finished, reply) {
        (true, Some(reply)) => clip(reply, check::MAX_TEXT / 2),
        (true, None) => "Finished its turn".to_string(),
        (false, _) => kind.to_string(),
    };
    let category = if finished { "turn".to_string() } else { id_of(kind).to_ascii_lowercase().replace(':', "-") };
    let category = if check::word("category", &category).is_ok() { category } else { "notification".into() };
    out.push(EventBody::ActivityLogged(ActivityLogged {
        session_id: Some(thread.to_string()),
        category,
        message,
        actor: Some(agent.to_string()),
        metadata: metadata(rest.collect()),
        ..ActivityLogged::default()
    }));
    out
}
