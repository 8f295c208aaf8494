//! The ticket engine's bridge (seeds/000): `POST /api/internal/ticket-event` with
//! `{ticketId, event: state_change|progress|pr_created|activity, ...}`, answered with
//! `{"success": true, "event": ...}`. A ticket is a task with the same id; a ticket the server has
//! never seen is created by its first event, so the engine needs no separate "create" call. On
//! `/ws`, a client joins the room `ticket:<id>` (`{"type": "join", "room": …}`, a `subscribe` op,
//! or `?room=` in the URL) and gets the task's events as `ticket:update|progress|pr|activity`.
//!
//! States map onto task statuses: `ready`, `pending`, `open`, `backlog`, `todo` → inbox;
//! `assigned`, `claimed` → assigned; `in_progress`, `vm_assigned`, `executing`, `running` →
//! in_progress; `pr_created`, `in_review`, `review`, `sentinel_review` → review; `done`,
//! `completed`, `merged` → done; `failed`, `error`, `cancelled` → failed.

use app::domain::{
    activity::ActivityLogged,
    check,
    task::{ErrorDetails, Task, TaskCompleted, TaskCreated, TaskFailed, TaskProgress, TaskStatus, TaskUpdated},
    Event, EventBody, Invalid,
};
use axum::{extract::State, Json};
use serde_json::{json, Map, Value};

use super::find;
use crate::{
    api::{
        error::ApiError,
        ingest::{accept_once, Intake, Posted},
    },
    auth::Caller,
    hub::socket::Dialect,
    state::AppState,
    store::TokenRecord,
};

/// Rooms `ticket:<id>` on `/ws`: the task's events, in the frame names of the document's client
/// (`ticket:update`, `ticket:progress`, `ticket:pr`, `ticket:activity`).
pub const ROOMS: Dialect = Dialect { room: "ticket:", topic: "task:", translate: ticket_frame };

/// One event frame as the document's client reads it: `{type, room, data, seq, timestamp}`.
pub fn ticket_frame(frame: &str) -> Option<String> {
    let event: Event = serde_json::from_str(frame).ok()?;
    let ticket = event.body.task_id()?.to_string();
    let (kind, data) = match &event.body {
        EventBody::TaskUpdated(e) if e.pr_url.is_some() => {
            ("ticket:pr", json!({ "ticketId": ticket, "prUrl": e.pr_url, "branch": e.branch }))
        }
        EventBody::TaskCreated(e) => (
            "ticket:update",
            json!({ "ticketId": ticket, "state": e.status.unwrap_or_default().as_str(), "title": e.title }),
        ),
        EventBody::TaskUpdated(e) => (
            "ticket:update",
            json!({ "ticketId": ticket, "state": e.status.map(TaskStatus::as_str), "phase": e.phase,
                    "message": e.message, "vmId": e.vm_id }),
        ),
        EventBody::TaskAssigned(e) => {
            ("ticket:update", json!({ "ticketId": ticket, "state": "assigned", "agentId": e.agent }))
        }
        EventBody::TaskProgress(e) => (
            "ticket:progress",
            json!({ "ticketId": ticket, "phase": e.phase, "message": e.message, "progress": e.progress, "vmId": e.vm_id }),
        ),
        EventBody::TaskCompleted(e) => {
            ("ticket:update", json!({ "ticketId": ticket, "state": "done", "message": e.summary, "prUrl": e.pr_url }))
        }
        EventBody::TaskFailed(e) => (
            "ticket:update",
            json!({ "ticketId": ticket, "state": "failed", "error": e.error.message, "errorKind": e.error.kind }),
        ),
        EventBody::ActivityLogged(e) => (
            "ticket:activity",
            json!({ "ticketId": ticket, "ticket_id": ticket, "entry": { "category": e.category, "message": e.message,
                    "actor_id": e.actor, "metadata": e.metadata, "timestamp": event.ts } }),
        ),
        _ => return None,
    };
    let room = format!("ticket:{ticket}");
    Some(json!({ "type": kind, "room": room, "data": data, "seq": event.seq, "timestamp": event.ts }).to_string())
}

const STATES: &[(&str, TaskStatus)] = &[
    ("ready", TaskStatus::Inbox),
    ("pending", TaskStatus::Inbox),
    ("open", TaskStatus::Inbox),
    ("backlog", TaskStatus::Inbox),
    ("todo", TaskStatus::Inbox),
    ("assigned", TaskStatus::Assigned),
    ("claimed", TaskStatus::Assigned),
    ("in_progress", TaskStatus::InProgress),
    ("vm_assigned", TaskStatus::InProgress),
    ("executing", TaskStatus::InProgress),
    ("running", TaskStatus::InProgress),
    ("pr_created", TaskStatus::Review),
    ("in_review", TaskStatus::Review),
    ("review", TaskStatus::Review),
    ("sentinel_review", TaskStatus::Review),
    ("done", TaskStatus::Done),
    ("completed", TaskStatus::Done),
    ("merged", TaskStatus::Done),
    ("failed", TaskStatus::Failed),
    ("error", TaskStatus::Failed),
    ("cancelled", TaskStatus::Failed),
];

pub async fn ticket_event(
    State(state): State<AppState>,
    Caller(caller): Caller,
    posted: Posted,
) -> Result<Json<Value>, ApiError> {
    let request: Map<String, Value> = posted.json()?;
    let ticket = text(&request, "ticketId")?.ok_or_else(|| missing("ticketId"))?;
    check::id("ticketId", &ticket).map_err(invalid)?;
    let event = text(&request, "event")?.ok_or_else(|| missing("event"))?;
    let mut events = translate(&ticket, &event, &request)?;
    let known = find::<Task>(&state, &caller.workspace, &ticket).await?.is_some();
    if !known {
        events.insert(0, first_sight(&ticket, &request)?);
    }
    let intake = posted.intake();
    let committed = match submit(&state, &caller, events.clone(), intake.clone()).await {
        // Another request created the ticket in the meantime: it exists now, so go on without.
        Err(ApiError::Conflict(_)) if !known => submit(&state, &caller, events.split_off(1), intake).await?,
        other => other?,
    };
    let seqs: Vec<u64> = committed.into_iter().map(|c| c.seq).collect();
    Ok(Json(json!({ "success": true, "event": event, "ticketId": ticket, "seqs": seqs })))
}

async fn submit(
    state: &AppState,
    caller: &TokenRecord,
    events: Vec<EventBody>,
    intake: Intake,
) -> Result<Vec<crate::store::Committed>, ApiError> {
    for e in &events {
        e.validate().map_err(invalid)?;
    }
    accept_once(state, caller, events, intake).await
}

/// The canonical events one ticket event stands for.
fn translate(ticket: &str, event: &str, r: &Map<String, Value>) -> Result<Vec<EventBody>, ApiError> {
    let id = ticket.to_string();
    let message = text(r, "message")?;
    let actor = text(r, "actorId")?.or(text(r, "agentId")?);
    match event {
        "state_change" => {
            let name = text(r, "state")?.ok_or_else(|| missing("state"))?;
            let status = map_state(&name)?;
            let change = match status {
                TaskStatus::Failed => {
                    let message = text(r, "error")?.or(message.clone()).unwrap_or_else(|| format!("ticket {name}"));
                    let kind = text(r, "errorKind")?.or(Some(name.clone()));
                    EventBody::TaskFailed(TaskFailed {
                        id: id.clone(),
                        error: ErrorDetails { message, kind, context: None },
                    })
                }
                TaskStatus::Done => EventBody::TaskCompleted(TaskCompleted {
                    id: id.clone(),
                    pr_url: text(r, "prUrl")?,
                    branch: text(r, "branch")?,
                    summary: message.clone(),
                }),
                _ => EventBody::TaskUpdated(TaskUpdated {
                    id: id.clone(),
                    status: Some(status),
                    phase: text(r, "phase")?,
                    message: message.clone(),
                    vm_id: text(r, "vmId")?,
                    ..TaskUpdated::default()
                }),
            };
            let said = message.map_or(String::new(), |m| format!(": {m}"));
            let entry = activity(&id, "state", format!("State → {name}{said}"), actor, None);
            Ok(vec![change, entry])
        }
        "progress" => Ok(vec![EventBody::TaskProgress(TaskProgress {
            id,
            progress: percent(r)?,
            phase: text(r, "phase")?,
            message,
            vm_id: text(r, "vmId")?,
        })]),
        "pr_created" => {
            let url = text(r, "prUrl")?.ok_or_else(|| missing("prUrl"))?;
            let branch = text(r, "branch")?;
            let update = TaskUpdated {
                id: id.clone(),
                status: Some(TaskStatus::Review),
                pr_url: Some(url.clone()),
                branch: branch.clone(),
                ..TaskUpdated::default()
            };
            let metadata = json!({ "prUrl": url, "branch": branch });
            let entry =
                activity(&id, "git", format!("PR created: {url}"), actor.or(Some("system".into())), Some(metadata));
            Ok(vec![EventBody::TaskUpdated(update), entry])
        }
        "activity" => {
            let category = text(r, "category")?.ok_or_else(|| missing("category"))?;
            let message = message.ok_or_else(|| missing("message"))?;
            let metadata = r.get("metadata").filter(|m| !m.is_null()).cloned();
            Ok(vec![activity(&id, &category, message, actor, metadata)])
        }
        other => Err(ApiError::Invalid(format!(
            "field `event`: unknown ticket event `{other}`; expected state_change, progress, pr_created or activity"
        ))),
    }
}

/// The task a ticket becomes the first time the server hears of it.
fn first_sight(ticket: &str, r: &Map<String, Value>) -> Result<EventBody, ApiError> {
    Ok(EventBody::TaskCreated(TaskCreated {
        id: Some(ticket.to_string()),
        title: text(r, "title")?.unwrap_or_else(|| ticket.to_string()),
        assignee: text(r, "assigneeId")?,
        ..TaskCreated::default()
    }))
}

fn activity(id: &str, category: &str, message: String, actor: Option<String>, metadata: Option<Value>) -> EventBody {
    EventBody::ActivityLogged(ActivityLogged {
        task_id: Some(id.to_string()),
        category: category.to_string(),
        message,
        actor,
        metadata,
        ..ActivityLogged::default()
    })
}

fn map_state(name: &str) -> Result<TaskStatus, ApiError> {
    STATES.iter().find(|(s, _)| *s == name).map(|(_, status)| *status).ok_or_else(|| {
        let known: Vec<&str> = STATES.iter().map(|(s, _)| *s).collect();
        ApiError::Invalid(format!("field `state`: unknown state `{name}`; known states: {}", known.join(", ")))
    })
}

/// A string field, absent when missing or null; a 422 naming it when it is another type.
fn text(r: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match r.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::Invalid(format!("field `{field}`: must be a string"))),
    }
}

fn percent(r: &Map<String, Value>) -> Result<Option<u8>, ApiError> {
    match r.get("progress").or_else(|| r.get("percent")) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|p| *p <= 100)
            .map(|p| Some(p as u8))
            .ok_or_else(|| ApiError::Invalid("field `progress`: must be a whole number from 0 to 100".into())),
    }
}

fn missing(field: &str) -> ApiError {
    ApiError::Invalid(format!("field `{field}`: required"))
}

fn invalid(e: Invalid) -> ApiError {
    ApiError::Invalid(format!("{e}; nothing was stored"))
}
