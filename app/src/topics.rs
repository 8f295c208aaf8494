//! The one vocabulary of topics: how events name them, how a subscription is checked, and how a
//! subscriber's set matches an event.
//!
//! `board` (task-level changes), `agents` (agents and sessions), `runs`, `events` (everything),
//! `workspace:<own id>` (everything, named explicitly), and per entity `task:<id>`, `session:<id>`,
//! `agent:<id>`. Every topic is within the subscriber's own workspace.

use std::collections::BTreeSet;

use crate::domain::check;

pub const BOARD: &str = "board";
pub const AGENTS: &str = "agents";
pub const RUNS: &str = "runs";
pub const APPROVALS: &str = "approvals";
pub const EVENTS: &str = "events";

pub fn task(id: &str) -> String {
    format!("task:{id}")
}

pub fn session(id: &str) -> String {
    format!("session:{id}")
}

pub fn agent(id: &str) -> String {
    format!("agent:{id}")
}

pub fn workspace(id: &str) -> String {
    format!("workspace:{id}")
}

/// Kinds of per-entity topic, `<kind>:<id>`.
const ENTITY_KINDS: &[&str] = &["task", "session", "agent", "workspace"];

/// Whether a client of `workspace` may subscribe to `topic`.
pub fn check(topic: &str, workspace: &str) -> Result<(), String> {
    if matches!(topic, BOARD | AGENTS | RUNS | APPROVALS | EVENTS) {
        return Ok(());
    }
    let (kind, id) = topic.split_once(':').ok_or_else(|| unknown(topic))?;
    if !ENTITY_KINDS.contains(&kind) {
        return Err(unknown(topic));
    }
    if kind == "workspace" && id != workspace {
        return Err(format!("topic `{topic}`: not your workspace"));
    }
    check::id("topic", id).map_err(|e| format!("topic `{topic}`: {e}"))
}

fn unknown(topic: &str) -> String {
    format!(
        "unknown topic `{topic}`; expected board, agents, runs, approvals, events, workspace:<id>, task:<id>, \
         session:<id> or agent:<id>"
    )
}

/// The topics one subscriber follows. `events` (or `workspace:<own>`) matches everything; any other
/// topic matches events that carry it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicSet {
    topics: BTreeSet<String>,
    /// `workspace:<own id>`, which means the same as `events`.
    own_workspace: String,
}

impl TopicSet {
    pub fn new(topics: impl IntoIterator<Item = String>, workspace: &str) -> TopicSet {
        TopicSet { topics: topics.into_iter().collect(), own_workspace: self::workspace(workspace) }
    }

    pub fn everything(&self) -> bool {
        self.topics.contains(EVENTS) || self.topics.contains(&self.own_workspace)
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn matches(&self, event_topics: &[String]) -> bool {
        self.everything() || event_topics.iter().any(|t| self.topics.contains(t))
    }

    pub fn remove(&mut self, topics: &[String]) {
        for t in topics {
            self.topics.remove(t);
        }
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// For a log query: `None` when every event matches.
    pub fn filter(&self) -> Option<Vec<String>> {
        (!self.everything()).then(|| self.to_vec())
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.topics.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_checked() {
        assert!(check("board", "w").is_ok());
        assert!(check("task:abc-1", "w").is_ok());
        assert!(check("workspace:w", "w").is_ok());
        assert!(check("workspace:other", "w").unwrap_err().contains("not your workspace"));
        assert!(check("boards", "w").is_err());
        assert!(check("task:", "w").is_err());
        assert!(check("room:1", "w").is_err());
    }

    #[test]
    fn sets_match() {
        let set = TopicSet::new([BOARD.to_string()], "default");
        assert!(set.matches(&[BOARD.into(), task("1")]));
        assert!(!set.matches(&[AGENTS.into()]));
        let all = TopicSet::new([EVENTS.to_string()], "default");
        assert!(all.matches(&[AGENTS.into()]));
        assert_eq!(all.filter(), None);
        let own = TopicSet::new([workspace("default")], "default");
        assert_eq!(own.filter(), None);
        assert_eq!(set.filter(), Some(vec![BOARD.to_string()]));
    }
}
