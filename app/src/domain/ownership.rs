//! What telemetry learns late: whose a session is, and which session a timeline entry belongs to.
//!
//! OpenTelemetry exporters send a span when it ends, in batches, so an agent that runs longer than
//! one batch's delay has its tool calls exported before the agent span that made them. The calls
//! land where Flightdeck could place them then (the trace's session, named after the service);
//! when the agent's span arrives these events say where they belong, so the log tells the whole
//! story and every page follows it.

use serde::{Deserialize, Serialize};

use super::{
    activity::Activity, check, session::Session, EntitySet, EventBody, Invalid, Payload, Refusal, Stamp, Step,
};
use crate::topics;

/// How far up a session's parents are followed to refuse a cycle.
const MAX_DEPTH: usize = 64;

/// A session's agent, title or parent, learned after it started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionAttributed {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Filled in by the server: the agent the session had, which no longer runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_agent: Option<String>,
    /// Filled in by the server from the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Payload for SessionAttributed {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::name("agent", self.agent.as_deref())?;
        check::text("title", self.title.as_deref(), check::MAX_TITLE)?;
        check::opt_id("parent_id", self.parent_id.as_deref())?;
        check::name("previous_agent", self.previous_agent.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        if self.parent_id.as_deref() == Some(&self.id) {
            return Err(check::field("parent_id", "a session cannot be its own parent"));
        }
        if self.agent.is_none() && self.title.is_none() && self.parent_id.is_none() {
            return Err(check::field("agent", "say what is learned: `agent`, `title` or `parent_id`"));
        }
        Ok(())
    }
    fn topics(&self) -> Vec<String> {
        let mut topics = vec![topics::AGENTS.to_string(), topics::session(&self.id)];
        topics.extend(self.task_id.as_deref().map(topics::task));
        topics.extend(self.agent.iter().chain(&self.previous_agent).map(|a| topics::agent(a)));
        topics.extend(self.parent_id.as_deref().map(topics::session));
        topics
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut session = set.require::<Session>(&self.id)?;
        if let Some(parent) = &self.parent_id {
            // The new parent must exist and must not descend from this session.
            let mut at_id = parent.clone();
            for _ in 0..MAX_DEPTH {
                if at_id == self.id {
                    return Err(Refusal::Conflict(format!(
                        "session `{}` cannot move under `{parent}`, which it started",
                        self.id
                    ))
                    .into());
                }
                match set.require::<Session>(&at_id)?.parent_id {
                    Some(up) => at_id = up,
                    None => break,
                }
            }
        }
        self.previous_agent = session.agent.clone().filter(|old| self.agent.as_ref().is_some_and(|new| new != old));
        self.task_id = session.task_id.clone();
        session.apply(&EventBody::SessionAttributed(self.clone()), at);
        set.put(&session);
        Ok(())
    }
}

/// A timeline entry moved to the session it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityMoved {
    pub id: String,
    pub session_id: String,
    /// Filled in by the server: the session it was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_session_id: Option<String>,
    /// Filled in by the server: the task it is on (the new session's, else the one it had).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Filled in by the server: the entry as it is now, for the pages of the session it joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Activity>,
}

impl Payload for ActivityMoved {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::id("session_id", &self.session_id)?;
        check::opt_id("from_session_id", self.from_session_id.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        let mut topics = vec![topics::session(&self.session_id)];
        topics.extend(self.from_session_id.as_deref().map(topics::session));
        topics.extend(self.task_id.as_deref().map(topics::task));
        topics
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut entry = set.require::<Activity>(&self.id)?;
        let session = set.require::<Session>(&self.session_id)?;
        self.from_session_id = entry.session_id.clone();
        entry.session_id = Some(self.session_id.clone());
        if session.task_id.is_some() {
            entry.task_id = session.task_id;
        }
        entry.last_seq = at.seq;
        self.task_id = entry.task_id.clone();
        set.put(&entry);
        self.entry = Some(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        activity::ActivityLogged,
        session::{SessionKind, SessionStarted},
    };

    fn stamp(seq: u64) -> Stamp {
        Stamp { seq, ts: format!("2026-01-01T00:00:0{seq}.000Z"), by: None }
    }

    fn started(set: &mut EntitySet, id: &str, parent: Option<&str>, seq: u64) {
        set.provide("session", id.into(), None);
        let mut start = SessionStarted {
            id: id.into(),
            kind: SessionKind::Persistent,
            title: Some("svc · trace".into()),
            task_id: None,
            agent: Some("svc".into()),
            parent_id: parent.map(str::to_string),
        };
        start.project(set, &stamp(seq)).unwrap();
    }

    #[test]
    fn a_session_learns_its_agent_and_cannot_move_under_its_own_child() {
        let mut set = EntitySet::default();
        started(&mut set, "root", None, 1);
        started(&mut set, "child", Some("root"), 2);
        let mut named = SessionAttributed { id: "root".into(), agent: Some("planner".into()), ..Default::default() };
        named.project(&mut set, &stamp(3)).unwrap();
        assert_eq!(named.previous_agent.as_deref(), Some("svc"));
        assert!(named.topics().contains(&topics::agent("svc")), "the agent it leaves hears of it");
        let root = set.get::<Session>("root").unwrap().unwrap();
        assert_eq!(root.agent.as_deref(), Some("planner"));

        let mut cycle = SessionAttributed { id: "root".into(), parent_id: Some("child".into()), ..Default::default() };
        assert!(matches!(cycle.project(&mut set, &stamp(4)), Err(Step::Refuse(Refusal::Conflict(_)))));
        let empty = SessionAttributed { id: "root".into(), ..Default::default() };
        assert!(empty.validate().is_err(), "an attribution says something");
    }

    #[test]
    fn an_entry_moves_with_everything_it_had() {
        let mut set = EntitySet::default();
        started(&mut set, "trace", None, 1);
        started(&mut set, "agent", Some("trace"), 2);
        set.provide("activity", "tool-1".into(), None);
        let mut logged = ActivityLogged {
            id: Some("tool-1".into()),
            session_id: Some("trace".into()),
            category: "tool".into(),
            message: "Bash".into(),
            ..Default::default()
        };
        logged.project(&mut set, &stamp(3)).unwrap();
        let mut moved = ActivityMoved { id: "tool-1".into(), session_id: "agent".into(), ..Default::default() };
        moved.project(&mut set, &stamp(4)).unwrap();
        assert_eq!(moved.from_session_id.as_deref(), Some("trace"));
        let entry = moved.entry.clone().unwrap();
        assert_eq!((entry.session_id.as_deref(), entry.message.as_str()), (Some("agent"), "Bash"));
        assert_eq!(moved.topics(), vec![topics::session("agent"), topics::session("trace")]);
    }
}
