//! Mission Control's API (seeds/003): tasks, their activities, deliverables and sub-agent sessions,
//! with the document's field names (`activity_type`, `deliverable_type`, `openclaw_session_id`,
//! `agent_name`), and its live stream: `GET /api/events/stream?format=mission-control` sends
//! `task_created`, `task_updated` (the whole task), `activity_logged`, `deliverable_added`,
//! `agent_spawned` and `agent_completed`.

use std::collections::HashMap;

use app::domain::{
    activity::{Activity, ActivityLogged},
    deliverable::{Deliverable, DeliverableAdded, DeliverableKind},
    entity::Query,
    session::{Session, SessionEnded, SessionKind, SessionOutcome, SessionStarted},
    task::{Task, TaskCreated, TaskStatus, TaskUpdated},
    Event, EventBody, Seq,
};
use axum::{
    extract::{Path, Query as UrlQuery, State},
    http::{header, HeaderMap, StatusCode},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{find, list, submit};
use crate::{
    api::{
        error::ApiError,
        ingest::{accept_once, Intake, Posted},
    },
    auth::Caller,
    state::AppState,
    store::TokenRecord,
};

#[derive(Deserialize)]
pub struct TaskFilter {
    status: Option<String>,
    assignee: Option<String>,
}

/// `GET /api/tasks?status=&assignee=`: the workspace's tasks, oldest first. An agent asks for
/// `?assignee=<itself>&status=assigned` to learn what operators gave it.
pub async fn list_tasks(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlQuery(q): UrlQuery<TaskFilter>,
) -> Result<Json<Vec<Task>>, ApiError> {
    let mut query = Query::all::<Task>();
    if let Some(status) = q.status.filter(|s| !s.is_empty()) {
        TaskStatus::parse(&status).ok_or_else(|| {
            let known: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::Invalid(format!("unknown status `{status}`; expected one of {}", known.join(", ")))
        })?;
        query = query.with_status(&[status.as_str()]);
    }
    let mut tasks: Vec<Task> = list(&state, &caller.workspace, query).await?;
    if let Some(agent) = q.assignee.filter(|a| !a.is_empty()) {
        tasks.retain(|t| t.assignee.as_deref() == Some(agent.as_str()));
    }
    Ok(Json(tasks))
}

/// `GET /api/tasks/{id}`: the task, with its seq as the `ETag` a guarded `PATCH` gives back in
/// `If-Match`.
pub async fn get_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let task = stored_task(&state, &caller, &id).await?;
    Ok(([(header::ETAG, format!("\"{}\"", task.last_seq))], Json(task)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    id: Option<String>,
    title: String,
    description: Option<String>,
    status: Option<TaskStatus>,
    #[serde(alias = "assigned_agent_id")]
    assignee: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

/// `POST /api/tasks`: 201 with the task as stored.
pub async fn create_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    posted: Posted,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let t: NewTask = posted.json()?;
    let created = TaskCreated {
        id: t.id,
        title: t.title,
        description: t.description,
        status: t.status,
        assignee: t.assignee,
        labels: t.labels,
        session_id: None,
    };
    let committed = submit(&state, &caller, EventBody::TaskCreated(created), &posted).await?;
    let id = committed.body.task_id().unwrap_or_default().to_string();
    Ok((StatusCode::CREATED, Json(stored_task(&state, &caller, &id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    title: Option<String>,
    description: Option<String>,
    status: Option<TaskStatus>,
    #[serde(alias = "assigned_agent_id")]
    assignee: Option<String>,
    progress: Option<u8>,
    pr_url: Option<String>,
    labels: Option<Vec<String>>,
}

/// `PATCH /api/tasks/{id}`: the task after the change. With `If-Match: <seq>` (the task's
/// `last_seq`, or its `ETag`), only while the task is still at that seq: else a 409 naming the
/// seq it is at and the event that changed it.
pub async fn update_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    posted: Posted,
) -> Result<Json<Task>, ApiError> {
    let if_seq = if_match(&headers)?;
    let p: TaskPatch = posted.json()?;
    stored_task(&state, &caller, &id).await?;
    let update = TaskUpdated {
        id: id.clone(),
        title: p.title,
        description: p.description,
        status: p.status,
        assignee: p.assignee,
        progress: p.progress,
        pr_url: p.pr_url,
        labels: p.labels,
        ..TaskUpdated::default()
    };
    let update = EventBody::TaskUpdated(update);
    update.validate().map_err(|e| ApiError::Invalid(format!("{e}; nothing was stored")))?;
    let intake = Intake { if_seq: vec![if_seq], ..posted.intake() };
    accept_once(&state, &caller, vec![update], intake).await?;
    Ok(Json(stored_task(&state, &caller, &id).await?))
}

/// The seq an `If-Match` header names: `42` or the ETag `"42"`; none without the header.
fn if_match(headers: &HeaderMap) -> Result<Option<Seq>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let seq = value.to_str().ok().map(|v| v.trim().trim_start_matches("W/").trim_matches('"'));
    match seq.and_then(|s| s.parse::<Seq>().ok()) {
        Some(seq) => Ok(Some(seq)),
        None => Err(ApiError::Invalid(
            "`If-Match` must be the task's seq (its `last_seq`, or its ETag); nothing was stored".into(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    activity_type: String,
    message: String,
    agent_id: Option<String>,
    metadata: Option<Value>,
}

/// `POST /api/tasks/{id}/activities`: 201 with the activity.
pub async fn log_activity(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let a: NewActivity = posted.json()?;
    stored_task(&state, &caller, &id).await?;
    let logged = ActivityLogged {
        task_id: Some(id),
        category: a.activity_type,
        message: a.message,
        actor: a.agent_id,
        metadata: a.metadata,
        ..ActivityLogged::default()
    };
    let committed = submit(&state, &caller, EventBody::ActivityLogged(logged), &posted).await?;
    let EventBody::ActivityLogged(e) = &committed.body else { unreachable!("committed as logged") };
    Ok((StatusCode::CREATED, Json(activity_json(&Activity::logged(e, &committed.stamp())))))
}

/// `GET /api/tasks/{id}/activities`: newest first.
pub async fn list_activities(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    stored_task(&state, &caller, &id).await?;
    let activities: Vec<Activity> =
        list(&state, &caller.workspace, Query::children::<Activity>(&id).newest(10_000)).await?;
    Ok(Json(activities.iter().map(activity_json).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeliverable {
    deliverable_type: DeliverableKind,
    title: String,
    path: String,
    description: Option<String>,
}

/// `POST /api/tasks/{id}/deliverables`: 201 with the deliverable.
pub async fn add_deliverable(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d: NewDeliverable = posted.json()?;
    stored_task(&state, &caller, &id).await?;
    let added = DeliverableAdded {
        id: None,
        task_id: id,
        kind: d.deliverable_type,
        title: d.title,
        path: d.path,
        description: d.description,
    };
    let committed = submit(&state, &caller, EventBody::DeliverableAdded(added), &posted).await?;
    let EventBody::DeliverableAdded(e) = &committed.body else { unreachable!("committed as added") };
    Ok((StatusCode::CREATED, Json(deliverable_json(&Deliverable::added(e, &committed.stamp())))))
}

/// `GET /api/tasks/{id}/deliverables`: oldest first.
pub async fn list_deliverables(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    stored_task(&state, &caller, &id).await?;
    let deliverables: Vec<Deliverable> = list(&state, &caller.workspace, Query::children::<Deliverable>(&id)).await?;
    Ok(Json(deliverables.iter().map(deliverable_json).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubagent {
    openclaw_session_id: String,
    agent_name: String,
}

/// `POST /api/tasks/{id}/subagent`: registers a running sub-agent session; 201 with it.
pub async fn register_subagent(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s: NewSubagent = posted.json()?;
    stored_task(&state, &caller, &id).await?;
    let started = SessionStarted {
        id: s.openclaw_session_id,
        kind: SessionKind::Subagent,
        title: None,
        task_id: Some(id),
        agent: Some(s.agent_name),
        parent_id: None,
    };
    let committed = submit(&state, &caller, EventBody::SessionStarted(started), &posted).await?;
    let EventBody::SessionStarted(e) = &committed.body else { unreachable!("committed as started") };
    Ok((StatusCode::CREATED, Json(session_json(&Session::started(e, &committed.stamp())))))
}

/// `GET /api/tasks/{id}/subagent`: the task's sessions.
pub async fn list_subagents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    stored_task(&state, &caller, &id).await?;
    let sessions: Vec<Session> = list(&state, &caller.workspace, Query::children::<Session>(&id)).await?;
    Ok(Json(sessions.iter().map(session_json).collect()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SubagentEnd {
    #[serde(default)]
    status: Option<SessionOutcome>,
    summary: Option<String>,
}

/// `POST /api/tasks/{id}/subagent/{session}/complete`: the sub-agent finished (`status`:
/// completed, failed or cancelled; completed when absent).
pub async fn complete_subagent(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, session)): Path<(String, String)>,
    posted: Posted,
) -> Result<Json<Value>, ApiError> {
    let end: SubagentEnd = if posted.body.is_empty() { SubagentEnd::default() } else { posted.json()? };
    let stored = find::<Session>(&state, &caller.workspace, &session)
        .await?
        .filter(|s| s.task_id.as_deref() == Some(&id))
        .ok_or_else(|| ApiError::NotFound(format!("task `{id}` has no session `{session}`")))?;
    let ended = SessionEnded {
        id: stored.id,
        outcome: end.status.unwrap_or_default(),
        summary: end.summary,
        ..SessionEnded::default()
    };
    submit(&state, &caller, EventBody::SessionEnded(ended), &posted).await?;
    let after = find::<Session>(&state, &caller.workspace, &session).await?.ok_or(ApiError::NotFound(session))?;
    Ok(Json(session_json(&after)))
}

/// Commits one event and returns it as committed.
async fn stored_task(state: &AppState, caller: &TokenRecord, id: &str) -> Result<Task, ApiError> {
    find::<Task>(state, &caller.workspace, id).await?.ok_or_else(|| ApiError::NotFound(format!("no task `{id}`")))
}

fn activity_json(a: &Activity) -> Value {
    json!({
        "id": a.id, "task_id": a.task_id, "agent_id": a.actor, "activity_type": a.category,
        "message": a.message, "metadata": a.metadata, "created_at": a.created_at,
    })
}

fn deliverable_json(d: &Deliverable) -> Value {
    json!({
        "id": d.id, "task_id": d.task_id, "deliverable_type": d.kind.as_str(), "title": d.title,
        "path": d.path, "description": d.description, "created_at": d.created_at, "href": d.href(),
    })
}

fn session_json(s: &Session) -> Value {
    json!({
        "id": s.id, "openclaw_session_id": s.id, "task_id": s.task_id, "agent_name": s.agent,
        "session_type": s.kind.as_str(), "status": if s.is_active() { "active" } else { s.outcome.map_or("ended", |o| o.as_str()) },
        "created_at": s.started_at, "ended_at": s.ended_at, "summary": s.summary,
    })
}

/// Turns canonical frames into Mission Control's, keeping each task as the events leave it so
/// `task_updated` can carry the whole task.
pub struct Translator {
    tasks: HashMap<String, Task>,
    /// Events up to here are already in `tasks`.
    seq: u64,
}

impl Translator {
    pub async fn start(state: &AppState, workspace: &str) -> Result<Translator, ApiError> {
        let snapshot = state.store.read(workspace, &[Query::all::<Task>()]).await?;
        let tasks = app::domain::entity::decode_rows::<Task>(&snapshot.rows[0]).map_err(ApiError::Unavailable)?;
        Ok(Translator { tasks: tasks.into_iter().map(|t| (t.id.clone(), t)).collect(), seq: snapshot.seq })
    }

    /// The frame in Mission Control's terms, or `None` for events it has no name for.
    pub fn translate(&mut self, frame: &str) -> Option<String> {
        let event: Event = serde_json::from_str(frame).ok()?;
        let at = event.stamp();
        let fresh = event.seq > self.seq;
        self.seq = self.seq.max(event.seq);
        let (kind, payload) = match &event.body {
            EventBody::TaskCreated(e) => {
                let id = e.id.clone().unwrap_or_default();
                let task = self.tasks.entry(id.clone()).or_insert_with(|| Task::created(e, id, &at));
                ("task_created", serde_json::to_value(&*task).ok()?)
            }
            EventBody::TaskUpdated(_)
            | EventBody::TaskAssigned(_)
            | EventBody::TaskProgress(_)
            | EventBody::TaskCompleted(_)
            | EventBody::TaskFailed(_) => {
                let task = self.tasks.get_mut(event.body.task_id()?)?;
                if fresh {
                    task.apply(&event.body, &at);
                }
                ("task_updated", serde_json::to_value(&*task).ok()?)
            }
            // Its events are a task's: a coding agent's session without a task has no place there.
            EventBody::ActivityLogged(e) if e.task_id.is_some() => {
                ("activity_logged", activity_json(&Activity::logged(e, &at)))
            }
            EventBody::DeliverableAdded(e) => ("deliverable_added", deliverable_json(&Deliverable::added(e, &at))),
            EventBody::SessionStarted(e) if e.kind == SessionKind::Subagent && e.task_id.is_some() => {
                ("agent_spawned", json!({ "taskId": e.task_id, "sessionId": e.id, "agentName": e.agent }))
            }
            EventBody::SessionEnded(e) if e.task_id.is_some() => (
                "agent_completed",
                json!({ "taskId": e.task_id, "sessionId": e.id, "summary": e.summary, "outcome": e.outcome.as_str() }),
            ),
            _ => return None,
        };
        Some(json!({ "type": kind, "payload": payload, "seq": event.seq, "timestamp": event.ts }).to_string())
    }
}
