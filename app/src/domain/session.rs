//! Sessions: an agent's run at a task (persistent, sub-agent, or a design session with a human),
//! from start through updates, iterations and heartbeats to its end.
//!
//! Every session event after the first names only the session; its projection fills in the task
//! and agent from the stored session, so the logged event reaches the task's page and the agent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    check,
    entity::Index,
    task::{Task, Usage},
    Entity, EntitySet, EventBody, Invalid, Payload, Refusal, Seq, Stamp, Step,
};
use crate::topics;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Persistent,
    Subagent,
    Design,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Persistent => "persistent",
            SessionKind::Subagent => "subagent",
            SessionKind::Design => "design",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    #[default]
    Completed,
    Failed,
    Cancelled,
}

impl SessionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOutcome::Completed => "completed",
            SessionOutcome::Failed => "failed",
            SessionOutcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub kind: SessionKind,
    pub task_id: Option<String>,
    pub agent: Option<String>,
    /// The session that started this one (a sub-agent's parent).
    #[serde(default)]
    pub parent_id: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<SessionOutcome>,
    #[serde(default)]
    pub summary: Option<String>,
    /// The last thing the session said about itself.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub progress: Option<u8>,
    #[serde(default)]
    pub iteration: u32,
    #[serde(default)]
    pub last_heartbeat: Option<String>,
    /// Where a design session is (`clarifying`, `spec_ready`…), as its agent says.
    #[serde(default)]
    pub state: Option<String>,
    /// The spec a design session generated.
    #[serde(default)]
    pub spec: Option<Value>,
    #[serde(default)]
    pub title: Option<String>,
    /// Tokens and cost its telemetry reported (`usage:reported`), and where they came from.
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub usage_source: Option<String>,
    /// The last totals of each series cumulative reports continue (see `usage`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub usage_totals: std::collections::BTreeMap<String, Usage>,
    #[serde(default)]
    pub started_seq: Seq,
    #[serde(default)]
    pub last_seq: Seq,
}

impl Entity for Session {
    const KIND: &'static str = "session";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        let state = if self.ended_at.is_none() { "active" } else { "ended" };
        Index {
            parent: self.task_id.clone(),
            status: Some(format!("{}:{state}", self.kind.as_str())),
            sort: self.started_seq as i64,
        }
    }
}

/// The status the index gives running sub-agent sessions: what "Active Sub-Agents" counts.
pub const ACTIVE_SUBAGENT: &str = "subagent:active";

impl Session {
    pub fn started(e: &SessionStarted, at: &Stamp) -> Session {
        Session {
            id: e.id.clone(),
            kind: e.kind,
            task_id: e.task_id.clone(),
            agent: e.agent.clone(),
            parent_id: e.parent_id.clone(),
            started_at: at.ts.clone(),
            ended_at: None,
            outcome: None,
            summary: None,
            message: None,
            progress: None,
            iteration: 0,
            last_heartbeat: None,
            state: None,
            spec: None,
            title: e.title.clone(),
            usage: Usage::default(),
            usage_source: None,
            usage_totals: Default::default(),
            started_seq: at.seq,
            last_seq: at.seq,
        }
    }

    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }

    /// Applies a session event to this session; others leave it as it is.
    pub fn apply(&mut self, body: &EventBody, at: &Stamp) {
        match body {
            EventBody::SessionUpdated(e) if e.id == self.id => {
                if e.message.is_some() {
                    self.message = e.message.clone();
                }
                if e.progress.is_some() {
                    self.progress = e.progress;
                }
                if e.state.is_some() {
                    self.state = e.state.clone();
                }
            }
            EventBody::SessionSpec(e) if e.id == self.id => {
                self.spec = Some(e.spec.clone());
                if e.state.is_some() {
                    self.state = e.state.clone();
                }
            }
            EventBody::SessionIteration(e) if e.id == self.id => {
                self.iteration = e.iteration;
                if e.message.is_some() {
                    self.message = e.message.clone();
                }
            }
            EventBody::SessionHeartbeat(e) if e.id == self.id => {
                self.last_heartbeat = Some(at.ts.clone());
                if e.progress.is_some() {
                    self.progress = e.progress;
                }
                if e.message.is_some() {
                    self.message = e.message.clone();
                }
            }
            EventBody::UsageReported(e) if e.session_id.as_deref() == Some(&self.id) => {
                if self.usage_source.is_none() {
                    self.usage_source = e.source.clone();
                }
                super::usage::add(&mut self.usage, &e.added());
            }
            EventBody::SessionAttributed(e) if e.id == self.id => {
                if e.agent.is_some() {
                    self.agent = e.agent.clone();
                }
                if e.title.is_some() {
                    self.title = e.title.clone();
                }
                if e.parent_id.is_some() {
                    self.parent_id = e.parent_id.clone();
                    self.kind = SessionKind::Subagent;
                }
            }
            EventBody::SessionEnded(e) if e.id == self.id => {
                self.ended_at = Some(at.ts.clone());
                self.outcome = Some(e.outcome);
                self.summary = e.summary.clone();
            }
            _ => return,
        }
        self.last_seq = at.seq;
    }
}

/// Where a session's events go: the session, its task, its agent, and its parent session, whose
/// page lists its sub-agents.
fn session_topics(id: &str, task_id: Option<&str>, agent: Option<&str>, parent_id: Option<&str>) -> Vec<String> {
    let mut topics = vec![topics::AGENTS.to_string(), topics::session(id)];
    topics.extend(task_id.map(topics::task));
    topics.extend(agent.map(topics::agent));
    topics.extend(parent_id.map(topics::session));
    topics
}

/// The task, agent and parent of a stored session, which later events carry.
struct Owners {
    task_id: Option<String>,
    agent: Option<String>,
    parent_id: Option<String>,
}

fn owners(set: &EntitySet, id: &str) -> Result<Owners, Step> {
    let session = set.require::<Session>(id)?;
    Ok(Owners { task_id: session.task_id, agent: session.agent, parent_id: session.parent_id })
}

/// Applies a later session event (its task and agent filled in): the session must exist and still
/// run, and its agent hears of it too.
fn project_later(body: EventBody, id: &str, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
    let mut session = set.require::<Session>(id)?;
    if !session.is_active() {
        return Err(Refusal::Conflict(format!("session `{id}` has already ended")).into());
    }
    session.apply(&body, at);
    set.put(&session);
    match &body {
        EventBody::SessionMessage(e) => {
            let message = Message::said(e, at);
            set.absent::<Message>(&message.id)?;
            set.put(&message);
        }
        EventBody::SessionDelivered(e) => deliver(e, set, at)?,
        _ => {}
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStarted {
    pub id: String,
    pub kind: SessionKind,
    /// What a design session is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The session that started this one: a sub-agent's parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

impl Payload for SessionStarted {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::name("agent", self.agent.as_deref())?;
        check::text("title", self.title.as_deref(), check::MAX_TITLE)?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::opt_id("parent_id", self.parent_id.as_deref())?;
        if self.parent_id.as_deref() == Some(&self.id) {
            return Err(check::field("parent_id", "a session cannot be its own parent"));
        }
        Ok(())
    }
    fn topics(&self) -> Vec<String> {
        session_topics(&self.id, self.task_id.as_deref(), self.agent.as_deref(), self.parent_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        set.absent::<Session>(&self.id)?;
        if let Some(task_id) = &self.task_id {
            set.require::<Task>(task_id)?;
        }
        if let Some(parent_id) = &self.parent_id {
            set.require::<Session>(parent_id)?;
        }
        set.put(&Session::started(self, at));
        Ok(())
    }
}

/// An event about a running session: its own fields, and the task and agent the server fills in
/// from the stored session.
macro_rules! later_session_event {
    ($(#[$doc:meta])* $name:ident { $($(#[$attr:meta])* $field:ident : $ty:ty),* $(,)? }, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub id: String,
            $($(#[$attr])* pub $field: $ty,)*
            /// Filled in by the server from the session.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub task_id: Option<String>,
            /// Filled in by the server from the session.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub agent: Option<String>,
            /// Filled in by the server from the session.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub parent_id: Option<String>,
        }

        impl Payload for $name {
            fn validate(&self) -> Result<(), Invalid> {
                check::id("id", &self.id)?;
                check::opt_id("task_id", self.task_id.as_deref())?;
                check::name("agent", self.agent.as_deref())?;
                check::opt_id("parent_id", self.parent_id.as_deref())?;
                let check: fn(&$name) -> Result<(), Invalid> = $check;
                check(self)
            }
            fn topics(&self) -> Vec<String> {
                session_topics(&self.id, self.task_id.as_deref(), self.agent.as_deref(), self.parent_id.as_deref())
            }
            fn task_id(&self) -> Option<&str> {
                self.task_id.as_deref()
            }
            fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
                let Owners { task_id, agent, parent_id } = owners(set, &self.id)?;
                (self.task_id, self.agent, self.parent_id) = (task_id, agent, parent_id);
                project_later(EventBody::$name(self.clone()), &self.id.clone(), set, at)
            }
        }
    };
}

later_session_event!(SessionUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<u8>,
    /// A design session's state: a word such as `clarifying`, `generating`, `spec_ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}, |e| {
    check::text("message", e.message.as_deref(), check::MAX_TEXT)?;
    check::opt_word("state", e.state.as_deref())?;
    check::percent("progress", e.progress)
});

later_session_event!(
    /// A design session generated its spec.
    SessionSpec {
        /// The spec: a JSON object, or text.
        spec: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
    },
    |e| {
        check::opt_word("state", e.state.as_deref())?;
        match &e.spec {
            Value::String(text) => check::required("spec", text, check::MAX_TEXT),
            object @ Value::Object(_) => check::json_object("spec", Some(object)),
            _ => Err(check::field("spec", "must be a JSON object or text")),
        }
    }
);

later_session_event!(SessionHeartbeat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<u8>,
}, |e| {
    check::text("message", e.message.as_deref(), check::MAX_TEXT)?;
    check::percent("progress", e.progress)
});

later_session_event!(
    /// One more round of an agent's loop.
    SessionIteration {
        iteration: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    |e| check::text("message", e.message.as_deref(), check::MAX_TEXT)
);

later_session_event!(
    /// The session is over; its agent is told, and a failure marks the agent crashed.
    SessionEnded {
        #[serde(default)]
        outcome: SessionOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    |e| check::text("summary", e.summary.as_deref(), check::MAX_TEXT)
);

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Agent,
    Human,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Human => "human",
            Role::System => "system",
        }
    }
}

/// One chat message of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub role: Role,
    pub author: Option<String>,
    pub text: String,
    /// A person's message that asks the agent to stop: delivered as the denial of its next tool call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop: bool,
    /// When a person's message reached the agent, and through which hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_via: Option<String>,
    pub created_at: String,
    pub seq: Seq,
}

impl Entity for Message {
    const KIND: &'static str = "message";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: Some(self.session_id.clone()), status: Some(self.role.as_str().into()), sort: self.seq as i64 }
    }
}

impl Message {
    pub fn said(e: &SessionMessage, at: &Stamp) -> Message {
        Message {
            id: e.message_id.clone().unwrap_or_else(|| super::generated_id("msg", at)),
            session_id: e.id.clone(),
            role: e.role,
            author: e.author.clone(),
            text: e.text.clone(),
            stop: e.stop,
            delivered_at: None,
            delivered_via: None,
            created_at: at.ts.clone(),
            seq: at.seq,
        }
    }
}

later_session_event!(
    /// A chat message in a session, from its agent or a person.
    SessionMessage {
        /// `msg-<seq>` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        #[serde(default)]
        role: Role,
        /// Who wrote it: the agent's or the person's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        text: String,
        /// Asks the agent to stop (a person's message only).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stop: bool,
    },
    |e| {
        check::opt_id("message_id", e.message_id.as_deref())?;
        if e.stop && e.role != Role::Human {
            return Err(check::field("stop", "only a person's message can ask an agent to stop"));
        }
        check::name("author", e.author.as_deref())?;
        check::required("text", &e.text, check::MAX_TEXT)
    }
);

later_session_event!(
    /// A person's message reached the session's agent: exactly once, through the hook named.
    SessionDelivered {
        message_id: String,
        /// The hook that carried it (`PostToolUse`, `Stop`, …).
        via: String,
    },
    |e| {
        check::id("message_id", &e.message_id)?;
        check::required("via", &e.via, check::MAX_LABEL)
    }
);

/// Marks a person's message delivered, once.
fn deliver(e: &SessionDelivered, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
    let mut message = set.require::<Message>(&e.message_id)?;
    if message.session_id != e.id || message.role != Role::Human {
        return Err(
            Refusal::Unknown(format!("session `{}` has no message `{}` from a person", e.id, e.message_id)).into()
        );
    }
    if let Some(when) = &message.delivered_at {
        let via = message.delivered_via.as_deref().unwrap_or("a hook");
        return Err(
            Refusal::Conflict(format!("message `{}` was delivered already, at {when} by {via}", e.message_id)).into()
        );
    }
    (message.delivered_at, message.delivered_via) = (Some(at.ts.clone()), Some(e.via.clone()));
    set.put(&message);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_agent_needs_a_parent_that_exists_and_is_not_itself() {
        let start = |id: &str, parent: &str| SessionStarted {
            id: id.into(),
            kind: SessionKind::Subagent,
            title: None,
            task_id: None,
            agent: None,
            parent_id: Some(parent.into()),
        };
        assert!(start("s1", "s1").validate().unwrap_err().to_string().contains("its own parent"));
        let mut set = EntitySet::default();
        set.provide("session", "s2".into(), None);
        set.provide("session", "ghost".into(), None);
        let at = Stamp { seq: 1, ts: "2026-01-01T00:00:00.000Z".into(), by: None };
        let refused = start("s2", "ghost").project(&mut set, &at).unwrap_err();
        assert!(matches!(refused, Step::Refuse(Refusal::Unknown(ref m)) if m.contains("ghost")), "{refused:?}");
        assert!(start("s2", "ghost").topics().contains(&topics::session("ghost")), "the parent hears of it");
    }
}
