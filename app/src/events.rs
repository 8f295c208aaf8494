//! The canonical events: one enum shared by ingest, the log, the hub, SSE and the browser.
//!
//! On the wire an event body is `{"type": "entity:verb", "payload": {...}}`; stored and pushed it is
//! wrapped in an [`Event`] that adds the log's `seq`, the commit time `ts` and the `topics` it is
//! delivered on. Seed-specific endpoints are adapters that produce an [`EventBody`].

use serde::{Deserialize, Serialize};

use crate::model::{AgentState, SessionKind, SessionOutcome, TaskStatus};

/// Position in the event log: gapless and increasing, 1 for the first event ever stored.
pub type Seq = u64;

/// An event as stored in the log and pushed to subscribers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: Seq,
    /// Commit time, RFC 3339 in UTC.
    pub ts: String,
    pub topics: Vec<String>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened. `type` strings are namespaced `entity:verb`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum EventBody {
    #[serde(rename = "task:created")]
    TaskCreated(TaskCreated),
    #[serde(rename = "task:updated")]
    TaskUpdated(TaskUpdated),
    #[serde(rename = "task:assigned")]
    TaskAssigned(TaskAssigned),
    #[serde(rename = "task:progress")]
    TaskProgress(TaskProgress),
    #[serde(rename = "task:completed")]
    TaskCompleted(TaskCompleted),
    #[serde(rename = "task:failed")]
    TaskFailed(TaskFailed),
    #[serde(rename = "agent:status")]
    AgentStatus(AgentStatus),
    #[serde(rename = "agent:heartbeat")]
    AgentHeartbeat(AgentHeartbeat),
    #[serde(rename = "session:started")]
    SessionStarted(SessionStarted),
    #[serde(rename = "session:ended")]
    SessionEnded(SessionEnded),
}

/// Every `type` string [`EventBody`] accepts, for error messages and documentation.
pub const EVENT_TYPES: &[&str] = &[
    "task:created",
    "task:updated",
    "task:assigned",
    "task:progress",
    "task:completed",
    "task:failed",
    "agent:status",
    "agent:heartbeat",
    "session:started",
    "session:ended",
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCreated {
    /// Chosen by the caller so later events can name the task; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// A partial update: absent fields keep their value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdated {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskAssigned {
    pub id: String,
    pub agent: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskProgress {
    pub id: String,
    /// Percent done, 0 to 100.
    pub progress: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCompleted {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFailed {
    pub id: String,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStatus {
    pub id: String,
    pub status: AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentHeartbeat {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStarted {
    pub id: String,
    pub kind: SessionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEnded {
    pub id: String,
    #[serde(default)]
    pub outcome: SessionOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// Why an event was refused before anything was stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Invalid {
    #[error("unknown event type `{0}`; known types: {known}", known = EVENT_TYPES.join(", "))]
    UnknownType(String),
    #[error("{0}")]
    Shape(String),
    #[error("field `{field}`: {reason}")]
    Field { field: &'static str, reason: String },
}

const MAX_ID: usize = 128;
const MAX_TITLE: usize = 500;
const MAX_TEXT: usize = 20_000;
const MAX_URL: usize = 2_048;
const MAX_LABELS: usize = 20;
const MAX_LABEL: usize = 64;

impl EventBody {
    /// Parses one event from a JSON value `{"type": ..., "payload": {...}}`, naming the problem on failure.
    pub fn from_json(value: serde_json::Value) -> Result<EventBody, Invalid> {
        let Some(object) = value.as_object() else {
            return Err(Invalid::Shape("an event must be a JSON object with `type` and `payload`".into()));
        };
        let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
            return Err(Invalid::Shape("missing string field `type`".into()));
        };
        if !EVENT_TYPES.contains(&kind) {
            return Err(Invalid::UnknownType(kind.to_string()));
        }
        if let Some(extra) = object.keys().find(|k| *k != "type" && *k != "payload") {
            return Err(Invalid::Shape(format!("unknown field `{extra}` next to `type` and `payload`")));
        }
        if !object.contains_key("payload") {
            return Err(Invalid::Shape(format!("missing field `payload` for `{kind}`")));
        }
        let kind = kind.to_string();
        let body: EventBody =
            serde_json::from_value(value).map_err(|e| Invalid::Shape(format!("invalid payload for `{kind}`: {e}")))?;
        body.validate()?;
        Ok(body)
    }

    /// The `type` string of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::TaskCreated(_) => "task:created",
            EventBody::TaskUpdated(_) => "task:updated",
            EventBody::TaskAssigned(_) => "task:assigned",
            EventBody::TaskProgress(_) => "task:progress",
            EventBody::TaskCompleted(_) => "task:completed",
            EventBody::TaskFailed(_) => "task:failed",
            EventBody::AgentStatus(_) => "agent:status",
            EventBody::AgentHeartbeat(_) => "agent:heartbeat",
            EventBody::SessionStarted(_) => "session:started",
            EventBody::SessionEnded(_) => "session:ended",
        }
    }

    /// The task this event is about, if any.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            EventBody::TaskCreated(e) => e.id.as_deref(),
            EventBody::TaskUpdated(e) => Some(&e.id),
            EventBody::TaskAssigned(e) => Some(&e.id),
            EventBody::TaskProgress(e) => Some(&e.id),
            EventBody::TaskCompleted(e) => Some(&e.id),
            EventBody::TaskFailed(e) => Some(&e.id),
            EventBody::AgentStatus(e) => e.task_id.as_deref(),
            EventBody::AgentHeartbeat(e) => e.task_id.as_deref(),
            EventBody::SessionStarted(e) => e.task_id.as_deref(),
            EventBody::SessionEnded(_) => None,
        }
    }

    /// The topics this event is delivered on (besides `events`, which matches everything).
    pub fn topics(&self) -> Vec<String> {
        match self {
            EventBody::TaskCreated(_)
            | EventBody::TaskUpdated(_)
            | EventBody::TaskAssigned(_)
            | EventBody::TaskProgress(_)
            | EventBody::TaskCompleted(_)
            | EventBody::TaskFailed(_) => {
                let mut topics = vec!["board".to_string()];
                topics.extend(self.task_id().map(|id| format!("task:{id}")));
                topics
            }
            EventBody::AgentStatus(e) => vec!["agents".into(), format!("agent:{}", e.id)],
            EventBody::AgentHeartbeat(e) => vec!["agents".into(), format!("agent:{}", e.id)],
            EventBody::SessionStarted(e) => {
                let mut topics = vec!["agents".to_string(), format!("session:{}", e.id)];
                topics.extend(e.task_id.as_ref().map(|id| format!("task:{id}")));
                topics
            }
            EventBody::SessionEnded(e) => vec!["agents".into(), format!("session:{}", e.id)],
        }
    }

    /// Checks the limits serde cannot express: lengths, ranges, identifier syntax.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            EventBody::TaskCreated(e) => {
                if let Some(id) = &e.id {
                    check_id("id", id)?;
                }
                check_title(&e.title)?;
                check_text("description", e.description.as_deref(), MAX_TEXT)?;
                check_name("assignee", e.assignee.as_deref())?;
                check_labels(&e.labels)
            }
            EventBody::TaskUpdated(e) => {
                check_id("id", &e.id)?;
                if let Some(title) = &e.title {
                    check_title(title)?;
                }
                check_text("description", e.description.as_deref(), MAX_TEXT)?;
                check_name("assignee", e.assignee.as_deref())?;
                check_progress(e.progress)?;
                check_text("pr_url", e.pr_url.as_deref(), MAX_URL)?;
                e.labels.as_deref().map_or(Ok(()), check_labels)
            }
            EventBody::TaskAssigned(e) => {
                check_id("id", &e.id)?;
                check_name("agent", Some(&e.agent))
            }
            EventBody::TaskProgress(e) => {
                check_id("id", &e.id)?;
                check_progress(Some(e.progress))?;
                check_text("message", e.message.as_deref(), MAX_TEXT)
            }
            EventBody::TaskCompleted(e) => {
                check_id("id", &e.id)?;
                check_text("pr_url", e.pr_url.as_deref(), MAX_URL)?;
                check_text("summary", e.summary.as_deref(), MAX_TEXT)
            }
            EventBody::TaskFailed(e) => {
                check_id("id", &e.id)?;
                check_required("error", &e.error, MAX_TEXT)
            }
            EventBody::AgentStatus(e) => {
                check_id("id", &e.id)?;
                check_name("name", e.name.as_deref())?;
                e.task_id.as_deref().map_or(Ok(()), |t| check_id("task_id", t))
            }
            EventBody::AgentHeartbeat(e) => {
                check_id("id", &e.id)?;
                e.task_id.as_deref().map_or(Ok(()), |t| check_id("task_id", t))
            }
            EventBody::SessionStarted(e) => {
                check_id("id", &e.id)?;
                check_name("agent", e.agent.as_deref())?;
                e.task_id.as_deref().map_or(Ok(()), |t| check_id("task_id", t))
            }
            EventBody::SessionEnded(e) => {
                check_id("id", &e.id)?;
                check_text("summary", e.summary.as_deref(), MAX_TEXT)
            }
        }
    }
}

/// Identifiers appear in topics and URLs, so they keep to a small, unambiguous alphabet.
pub fn check_id(field: &'static str, id: &str) -> Result<(), Invalid> {
    let fail = |reason: &str| Err(Invalid::Field { field, reason: reason.to_string() });
    if id.is_empty() {
        return fail("must not be empty");
    }
    if id.len() > MAX_ID {
        return fail(&format!("must be at most {MAX_ID} characters"));
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) {
        return fail("may contain only letters, digits, `-`, `_`, `.` and `:`");
    }
    Ok(())
}

fn check_title(title: &str) -> Result<(), Invalid> {
    check_required("title", title, MAX_TITLE)
}

fn check_required(field: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::Field { field, reason: "must not be empty".into() });
    }
    check_text(field, Some(value), max)
}

fn check_text(field: &'static str, value: Option<&str>, max: usize) -> Result<(), Invalid> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(Invalid::Field { field, reason: format!("must be at most {max} characters") })
        }
        _ => Ok(()),
    }
}

fn check_name(field: &'static str, value: Option<&str>) -> Result<(), Invalid> {
    match value {
        Some(v) => check_required(field, v, MAX_ID),
        None => Ok(()),
    }
}

fn check_progress(progress: Option<u8>) -> Result<(), Invalid> {
    match progress {
        Some(p) if p > 100 => {
            Err(Invalid::Field { field: "progress", reason: format!("must be between 0 and 100, got {p}") })
        }
        _ => Ok(()),
    }
}

fn check_labels(labels: &[String]) -> Result<(), Invalid> {
    if labels.len() > MAX_LABELS {
        return Err(Invalid::Field { field: "labels", reason: format!("at most {MAX_LABELS} labels") });
    }
    labels.iter().try_for_each(|l| check_required("labels", l, MAX_LABEL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frame_has_the_documented_shape_and_round_trips() {
        let event = Event {
            seq: 7,
            ts: "2026-01-01T00:00:00Z".into(),
            topics: vec!["board".into(), "task:t1".into()],
            body: EventBody::TaskProgress(TaskProgress { id: "t1".into(), progress: 40, message: None }),
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(
            value,
            json!({"seq": 7, "ts": "2026-01-01T00:00:00Z", "topics": ["board", "task:t1"],
                   "type": "task:progress", "payload": {"id": "t1", "progress": 40}})
        );
        let back: Event = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn unknown_type_is_named() {
        let err = EventBody::from_json(json!({"type": "task:exploded", "payload": {}})).unwrap_err();
        assert!(matches!(err, Invalid::UnknownType(ref t) if t == "task:exploded"));
        assert!(err.to_string().contains("task:created"));
    }

    #[test]
    fn bad_fields_are_named() {
        let missing = EventBody::from_json(json!({"type": "task:created", "payload": {}})).unwrap_err();
        assert!(missing.to_string().contains("title"), "{missing}");
        let typo =
            EventBody::from_json(json!({"type": "task:created", "payload": {"title": "x", "titel": "y"}})).unwrap_err();
        assert!(typo.to_string().contains("titel"), "{typo}");
        let range = EventBody::from_json(json!({"type": "task:progress", "payload": {"id": "a", "progress": 101}}))
            .unwrap_err();
        assert!(range.to_string().contains("progress"), "{range}");
        let id =
            EventBody::from_json(json!({"type": "task:failed", "payload": {"id": "a b", "error": "x"}})).unwrap_err();
        assert!(id.to_string().contains("`id`"), "{id}");
        let blank = EventBody::from_json(json!({"type": "task:created", "payload": {"title": "  "}})).unwrap_err();
        assert!(blank.to_string().contains("title"), "{blank}");
    }

    #[test]
    fn topics_follow_the_entity() {
        let body = EventBody::TaskAssigned(TaskAssigned { id: "t9".into(), agent: "ada".into() });
        assert_eq!(body.topics(), vec!["board", "task:t9"]);
        let hb = EventBody::AgentHeartbeat(AgentHeartbeat { id: "ada".into(), task_id: None });
        assert_eq!(hb.topics(), vec!["agents", "agent:ada"]);
    }
}
