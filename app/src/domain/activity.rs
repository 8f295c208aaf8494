//! Activities: the timeline of a task or a session, one entry per thing that happened (execution,
//! agent, git, review, spawned, file_created, a tool call…), with who did it and free-form metadata.
//! An entry that takes time (a tool call) starts `running` and is finished by `activity:updated`,
//! so one thing done is one entry, whichever feed reports its parts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    check, entity::Index, generated_id, session::Session, task::Task, Entity, EntitySet, EventBody, Invalid, Payload,
    Seq, Stamp, Step,
};
use crate::topics;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityStatus {
    Running,
    Succeeded,
    Failed,
}

impl ActivityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityStatus::Running => "running",
            ActivityStatus::Succeeded => "succeeded",
            ActivityStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub id: String,
    /// The task's timeline it is on; filled in from the session when the session has a task.
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    pub category: String,
    pub message: String,
    pub actor: Option<String>,
    pub metadata: Option<Value>,
    /// For entries that take time: running until it is updated.
    #[serde(default)]
    pub status: Option<ActivityStatus>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    pub created_at: String,
    pub seq: Seq,
    #[serde(default)]
    pub last_seq: Seq,
}

/// The index parent of a session's entries that belong to no task. Ids cannot contain `/`, so it
/// never names a task.
pub fn session_parent(session_id: &str) -> String {
    format!("session/{session_id}")
}

impl Entity for Activity {
    const KIND: &'static str = "activity";
    fn id(&self) -> &str {
        &self.id
    }
    /// On its task's timeline when it has a task, else on its session's.
    fn index(&self) -> Index {
        let parent = self.task_id.clone().or_else(|| self.session_id.as_deref().map(session_parent));
        Index { parent, status: Some(self.category.clone()), sort: self.seq as i64 }
    }
}

impl Activity {
    /// The entry an `activity:logged` event makes, as the browser and the store both build it.
    pub fn logged(e: &ActivityLogged, at: &Stamp) -> Activity {
        Activity {
            id: e.id.clone().unwrap_or_else(|| generated_id("act", at)),
            task_id: e.task_id.clone(),
            session_id: e.session_id.clone(),
            category: e.category.clone(),
            message: e.message.clone(),
            actor: e.actor.clone(),
            metadata: e.metadata.clone(),
            status: e.status,
            duration_ms: e.duration_ms,
            created_at: at.ts.clone(),
            seq: at.seq,
            last_seq: at.seq,
        }
    }

    /// Applies an update of this entry; other events leave it as it is.
    pub fn apply(&mut self, body: &EventBody, at: &Stamp) {
        let EventBody::ActivityUpdated(e) = body else { return };
        if e.id != self.id {
            return;
        }
        if e.status.is_some() {
            self.status = e.status;
        }
        if e.duration_ms.is_some() {
            self.duration_ms = e.duration_ms;
        }
        if let Some(message) = &e.message {
            self.message = message.clone();
        }
        if let Some(Value::Object(more)) = &e.metadata {
            let mut merged = match self.metadata.take() {
                Some(Value::Object(old)) => old,
                _ => serde_json::Map::new(),
            };
            merged.extend(more.clone());
            self.metadata = Some(Value::Object(merged));
        }
        self.last_seq = at.seq;
    }
}

fn activity_topics(task_id: Option<&str>, session_id: Option<&str>) -> Vec<String> {
    let mut topics: Vec<String> = task_id.map(topics::task).into_iter().collect();
    topics.extend(session_id.map(topics::session));
    topics
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityLogged {
    /// `act-<seq>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The task it belongs to; with only a session, the session's task (if any) is filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// A lowercase word: execution, agent, git, review, spawned, updated, completed, file_created, tool…
    pub category: String,
    pub message: String,
    /// Who did it: an agent's id, `system`, a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ActivityStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl Payload for ActivityLogged {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("id", self.id.as_deref())?;
        if self.task_id.is_none() && self.session_id.is_none() {
            return Err(check::field("task_id", "give the task or the session (`session_id`) it belongs to"));
        }
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::opt_id("session_id", self.session_id.as_deref())?;
        check::word("category", &self.category)?;
        check::required("message", &self.message, check::MAX_TEXT)?;
        check::name("actor", self.actor.as_deref())?;
        check::json_object("metadata", self.metadata.as_ref())
    }
    fn topics(&self) -> Vec<String> {
        activity_topics(self.task_id.as_deref(), self.session_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        if let Some(session_id) = &self.session_id {
            let session = set.require::<Session>(session_id)?;
            if self.task_id.is_none() {
                self.task_id = session.task_id;
            }
        }
        if let Some(task_id) = &self.task_id {
            set.require::<Task>(task_id)?;
        }
        self.id.get_or_insert_with(|| generated_id("act", at));
        set.absent::<Activity>(self.id.as_deref().unwrap_or_default())?;
        set.put(&Activity::logged(self, at));
        Ok(())
    }
}

/// A timeline entry finished or amended: its status, duration, message, more metadata (merged
/// into what it has).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityUpdated {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ActivityStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Filled in by the server from the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Filled in by the server from the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Payload for ActivityUpdated {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::opt_id("session_id", self.session_id.as_deref())?;
        check::text("message", self.message.as_deref(), check::MAX_TEXT)?;
        if self.message.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(check::field("message", "must not be empty"));
        }
        check::json_object("metadata", self.metadata.as_ref())
    }
    fn topics(&self) -> Vec<String> {
        activity_topics(self.task_id.as_deref(), self.session_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut activity = set.require::<Activity>(&self.id)?;
        (self.task_id, self.session_id) = (activity.task_id.clone(), activity.session_id.clone());
        activity.apply(&EventBody::ActivityUpdated(self.clone()), at);
        if activity.metadata.as_ref().is_some_and(|m| m.to_string().len() > check::MAX_JSON) {
            return Err(super::Refusal::Conflict(format!(
                "activity `{}`: its metadata would grow past {} bytes of JSON",
                self.id,
                check::MAX_JSON
            ))
            .into());
        }
        set.put(&activity);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entry_is_finished_by_its_update_and_keeps_its_metadata() {
        let at = Stamp { seq: 1, ts: "2026-01-01T00:00:00.000Z".into(), by: None };
        let logged = ActivityLogged {
            id: Some("tool-1".into()),
            session_id: Some("s1".into()),
            category: "tool".into(),
            message: "Bash: cargo test".into(),
            metadata: Some(json!({"tool_use_id": "1"})),
            status: Some(ActivityStatus::Running),
            ..Default::default()
        };
        let mut entry = Activity::logged(&logged, &at);
        assert_eq!(entry.index().parent.as_deref(), Some("session/s1"), "no task: on the session's timeline");
        let update = ActivityUpdated {
            id: "tool-1".into(),
            status: Some(ActivityStatus::Failed),
            duration_ms: Some(1_200),
            metadata: Some(json!({"error": "exit 101"})),
            ..Default::default()
        };
        entry.apply(&EventBody::ActivityUpdated(update), &Stamp { seq: 2, ..at });
        assert_eq!(entry.status, Some(ActivityStatus::Failed));
        assert_eq!(entry.duration_ms, Some(1_200));
        assert_eq!(entry.metadata, Some(json!({"tool_use_id": "1", "error": "exit 101"})));
        assert_eq!(entry.last_seq, 2);
    }

    #[test]
    fn an_update_needs_its_entry_and_keeps_metadata_within_the_limit() {
        let at = Stamp { seq: 1, ts: "2026-01-01T00:00:00.000Z".into(), by: None };
        let mut set = EntitySet::default();
        set.provide("activity", "nope".into(), None);
        let mut missing = ActivityUpdated { id: "nope".into(), ..Default::default() };
        let refused = missing.project(&mut set, &at).unwrap_err();
        assert!(
            matches!(refused, Step::Refuse(super::super::Refusal::Unknown(ref m)) if m.contains("nope")),
            "{refused:?}"
        );

        let logged = ActivityLogged {
            id: Some("big".into()),
            session_id: Some("s1".into()),
            category: "tool".into(),
            message: "m".into(),
            metadata: Some(json!({"a": "x".repeat(check::MAX_JSON - 100)})),
            ..Default::default()
        };
        set.preload(&Activity::logged(&logged, &at));
        let mut grow =
            ActivityUpdated { id: "big".into(), metadata: Some(json!({"b": "y".repeat(1_000)})), ..Default::default() };
        let refused = grow.project(&mut set, &at).unwrap_err();
        assert!(matches!(refused, Step::Refuse(ref r) if r.to_string().contains("metadata would grow")), "{refused:?}");
        let blank = ActivityUpdated { id: "big".into(), message: Some(" ".into()), ..Default::default() };
        assert!(blank.validate().unwrap_err().to_string().contains("message"));
    }

    #[test]
    fn an_entry_needs_a_task_or_a_session() {
        let orphan = ActivityLogged { category: "tool".into(), message: "m".into(), ..Default::default() };
        assert!(orphan.validate().unwrap_err().to_string().contains("session_id"));
    }
}
