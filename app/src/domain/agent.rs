//! Agents: what they say they are doing (`agent:status`), proof they are alive (`agent:heartbeat`),
//! and the health the server derives from both (`agent:health`), with the rule that fired.

use serde::{Deserialize, Serialize};

use super::{
    check,
    entity::Index,
    session::{SessionKind, SessionOutcome},
    task::Task,
    time, Entity, EntitySet, EventBody, Invalid, Payload, Refusal, Seq, Stamp, Step,
};
use crate::topics;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    #[default]
    Idle,
    Working,
    Blocked,
    Offline,
    Error,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Idle => "idle",
            AgentState::Working => "working",
            AgentState::Blocked => "blocked",
            AgentState::Offline => "offline",
            AgentState::Error => "error",
        }
    }
}

/// What the server concludes from an agent's heartbeats and sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    #[default]
    Healthy,
    /// No heartbeat for two intervals.
    Stale,
    /// Heartbeating, but no progress for too long.
    Stuck,
    /// A session ended in failure, or silent past the limit.
    Crashed,
    /// The agent said it is offline.
    Offline,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Stale => "stale",
            Health::Stuck => "stuck",
            Health::Crashed => "crashed",
            Health::Offline => "offline",
        }
    }

    /// Whether a task this agent works on must not look like it is running fine.
    pub fn is_alarming(self) -> bool {
        matches!(self, Health::Stale | Health::Stuck | Health::Crashed)
    }
}

/// The thresholds health is judged by (settings of the server).
#[derive(Clone, Debug, PartialEq)]
pub struct HealthRules {
    /// The interval agents heartbeat at; two missed make an agent stale.
    pub heartbeat_ms: i64,
    /// Heartbeating without progress for this long makes a working agent stuck.
    pub stuck_after_ms: i64,
    /// Silent for this long makes an agent crashed.
    pub crashed_after_ms: i64,
}

impl Default for HealthRules {
    fn default() -> HealthRules {
        HealthRules { heartbeat_ms: 30_000, stuck_after_ms: 10 * 60_000, crashed_after_ms: 5 * 60_000 }
    }
}

/// One session of an agent, for its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRef {
    pub id: String,
    pub kind: SessionKind,
    pub task_id: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<SessionOutcome>,
}

/// Sessions an agent's history keeps, newest first.
const HISTORY: usize = 20;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: Option<String>,
    pub status: AgentState,
    /// The task it works on now.
    pub task_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub sessions: Vec<SessionRef>,
    pub last_heartbeat: Option<String>,
    /// Last time the agent showed progress: a status, a task step, a session iteration.
    #[serde(default)]
    pub last_progress_at: Option<String>,
    /// Set when one of its sessions ended in failure, until it starts again.
    #[serde(default)]
    pub crash: Option<String>,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub health_reason: Option<String>,
    #[serde(default)]
    pub health_since: Option<String>,
    pub last_seq: Seq,
}

impl Entity for Agent {
    const KIND: &'static str = "agent";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: None, status: Some(self.health.as_str().into()), sort: 0 }
    }
}

impl Agent {
    pub fn new(id: &str) -> Agent {
        Agent { id: id.to_string(), ..Agent::default() }
    }

    /// Applies an agent or session event to this agent; others leave it as it is.
    pub fn apply(&mut self, body: &EventBody, at: &Stamp) {
        match body {
            EventBody::AgentStatus(e) if e.id == self.id => {
                self.status = e.status;
                if e.name.is_some() {
                    self.name = e.name.clone();
                }
                self.task_id = e.task_id.clone();
                // A status report proves the agent is alive as much as a heartbeat does.
                self.last_heartbeat = Some(at.ts.clone());
                self.last_progress_at = Some(at.ts.clone());
                if e.status != AgentState::Error {
                    self.crash = None;
                }
            }
            EventBody::AgentHeartbeat(e) if e.id == self.id => {
                if e.task_id.is_some() {
                    self.task_id = e.task_id.clone();
                }
                self.last_heartbeat = Some(at.ts.clone());
            }
            EventBody::AgentHealth(e) if e.id == self.id => {
                self.health = e.health;
                self.health_reason = e.reason.clone();
                self.health_since = Some(at.ts.clone());
            }
            EventBody::SessionStarted(e) if e.agent.as_deref() == Some(&self.id) => {
                self.session_id = Some(e.id.clone());
                self.crash = None;
                self.last_progress_at = Some(at.ts.clone());
                self.sessions.insert(
                    0,
                    SessionRef {
                        id: e.id.clone(),
                        kind: e.kind,
                        task_id: e.task_id.clone(),
                        started_at: at.ts.clone(),
                        ended_at: None,
                        outcome: None,
                    },
                );
                self.sessions.truncate(HISTORY);
            }
            EventBody::SessionEnded(e) if e.agent.as_deref() == Some(&self.id) => {
                if let Some(s) = self.sessions.iter_mut().find(|s| s.id == e.id) {
                    s.ended_at = Some(at.ts.clone());
                    s.outcome = Some(e.outcome);
                }
                if self.session_id.as_deref() == Some(&e.id) {
                    self.session_id = None;
                }
                if e.outcome == SessionOutcome::Failed {
                    self.crash = Some(format!("session {} ended in failure", e.id));
                }
            }
            EventBody::SessionHeartbeat(e) if e.agent.as_deref() == Some(&self.id) => {
                self.last_heartbeat = Some(at.ts.clone());
                if e.progress.is_some() || e.message.is_some() {
                    self.last_progress_at = Some(at.ts.clone());
                }
            }
            EventBody::SessionIteration(e) if e.agent.as_deref() == Some(&self.id) => {
                self.last_progress_at = Some(at.ts.clone());
            }
            _ => return,
        }
        self.last_seq = at.seq;
    }

    /// The health the rules give this agent at `now_ms`, and the rule that fired.
    pub fn assess(&self, now_ms: i64, rules: &HealthRules) -> (Health, Option<String>) {
        if self.status == AgentState::Offline {
            return (Health::Offline, Some("reported itself offline".into()));
        }
        if let Some(crash) = &self.crash {
            return (Health::Crashed, Some(crash.clone()));
        }
        let Some(last) = self.last_heartbeat.as_deref().and_then(time::millis) else {
            return (Health::Healthy, None);
        };
        let silent = now_ms - last;
        if silent > rules.crashed_after_ms {
            let limit = time::duration(rules.crashed_after_ms);
            return (Health::Crashed, Some(format!("silent for {} (limit {limit})", time::duration(silent))));
        }
        if silent > 2 * rules.heartbeat_ms {
            return (Health::Stale, Some(format!("no heartbeat for {}", time::duration(silent))));
        }
        let working = self.status == AgentState::Working || self.task_id.is_some();
        let progress = self.last_progress_at.as_deref().and_then(time::millis).unwrap_or(last);
        if working && now_ms - progress > rules.stuck_after_ms {
            let quiet = time::duration(now_ms - progress);
            return (Health::Stuck, Some(format!("heartbeating, but no progress for {quiet}")));
        }
        (Health::Healthy, None)
    }
}

/// What other entities' events (already projected, with what they filled in) do to the agents
/// they concern: a task assigned becomes the agent's current task, a step or a timeline entry is
/// progress, a finished task is no longer current, and session events reach the session's agent.
/// The one place agents are changed by events that are not their own.
pub fn follow(body: &EventBody, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
    let progress = |a: &mut Agent| a.last_progress_at = Some(at.ts.clone());
    match body {
        EventBody::TaskAssigned(e) => touch(set, &e.agent, at, |a| {
            a.task_id = Some(e.id.clone());
            progress(a);
        }),
        EventBody::TaskProgress(e) => match set.require::<Task>(&e.id)?.assignee {
            Some(name) => touch(set, &name, at, progress),
            None => Ok(()),
        },
        EventBody::ActivityLogged(e) => {
            let assignee = match &e.task_id {
                Some(task_id) => set.require::<Task>(task_id)?.assignee,
                None => None,
            };
            for name in assignee.iter().chain(e.actor.iter()) {
                touch(set, name, at, progress)?;
            }
            Ok(())
        }
        EventBody::TaskRetried(super::task::TaskRetried { id, assignee: Some(agent) }) => touch(set, agent, at, |a| {
            a.task_id = Some(id.clone());
            progress(a);
        }),
        EventBody::TaskCompleted(_) | EventBody::TaskFailed(_) | EventBody::TaskCancelled(_) => {
            finish_task(set, body.task_id(), at)
        }
        EventBody::TaskUpdated(e) if e.status.is_some_and(|s| s.finished()) => finish_task(set, Some(&e.id), at),
        // An agent that starts a session is real, whether or not it ever reported itself: it
        // appears on the agents page with that session, alive as of the start.
        EventBody::SessionStarted(e) => match e.agent.as_deref() {
            Some(name) => {
                let mut agent = set
                    .get::<Agent>(name)?
                    .unwrap_or_else(|| Agent { last_heartbeat: Some(at.ts.clone()), ..Agent::new(name) });
                agent.apply(body, at);
                set.put(&agent);
                Ok(())
            }
            None => Ok(()),
        },
        EventBody::SessionAttributed(e) => reattribute(set, e, at),
        EventBody::SessionUpdated(e) => session_agent(set, e.agent.as_deref(), body, at),
        EventBody::SessionIteration(e) => session_agent(set, e.agent.as_deref(), body, at),
        EventBody::SessionHeartbeat(e) => session_agent(set, e.agent.as_deref(), body, at),
        EventBody::SessionEnded(e) => session_agent(set, e.agent.as_deref(), body, at),
        _ => Ok(()),
    }
}

/// A session that changed agents leaves the one it had and joins the new one's history.
fn reattribute(set: &mut EntitySet, e: &super::ownership::SessionAttributed, at: &Stamp) -> Result<(), Step> {
    if let Some(old) = &e.previous_agent {
        touch(set, old, at, |a| {
            a.sessions.retain(|s| s.id != e.id);
            if a.session_id.as_deref() == Some(&e.id) {
                a.session_id = None;
            }
        })?;
    }
    let Some(name) = e.agent.as_deref() else { return Ok(()) };
    let session = set.require::<super::session::Session>(&e.id)?;
    let mut agent = set.get::<Agent>(name)?.unwrap_or_else(|| Agent::new(name));
    if !agent.sessions.iter().any(|s| s.id == e.id) {
        let at_position = agent.sessions.iter().position(|s| s.started_at < session.started_at);
        let entry = SessionRef {
            id: session.id.clone(),
            kind: session.kind,
            task_id: session.task_id.clone(),
            started_at: session.started_at.clone(),
            ended_at: session.ended_at.clone(),
            outcome: session.outcome,
        };
        agent.sessions.insert(at_position.unwrap_or(agent.sessions.len()), entry);
        agent.sessions.truncate(HISTORY);
    }
    if session.is_active() {
        agent.session_id = Some(session.id);
    }
    agent.last_seq = at.seq;
    set.put(&agent);
    Ok(())
}

fn session_agent(set: &mut EntitySet, agent: Option<&str>, body: &EventBody, at: &Stamp) -> Result<(), Step> {
    match agent {
        Some(name) => touch(set, name, at, |a| a.apply(body, at)),
        None => Ok(()),
    }
}

/// Applies `change` to the agent with this id, if Flightdeck knows it; unknown names (a task's
/// assignee that never reported) are left alone rather than invented.
fn touch(set: &mut EntitySet, id: &str, at: &Stamp, change: impl FnOnce(&mut Agent)) -> Result<(), Step> {
    if let Some(mut agent) = set.get::<Agent>(id)? {
        change(&mut agent);
        agent.last_seq = at.seq;
        set.put(&agent);
    }
    Ok(())
}

/// A finished task is no longer its agent's current task.
fn finish_task(set: &mut EntitySet, task_id: Option<&str>, at: &Stamp) -> Result<(), Step> {
    let Some(task_id) = task_id else { return Ok(()) };
    let Some(assignee) = set.require::<Task>(task_id)?.assignee else { return Ok(()) };
    touch(set, &assignee, at, |a| {
        if a.task_id.as_deref() == Some(task_id) {
            a.task_id = None;
        }
        a.last_progress_at = Some(at.ts.clone());
    })
}

/// Applies an event to the agent it is about, creating the agent on its first report.
fn project_on_agent(body: EventBody, id: &str, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
    let mut agent = set.get::<Agent>(id)?.unwrap_or_else(|| Agent::new(id));
    agent.apply(&body, at);
    set.put(&agent);
    Ok(())
}

fn agent_topics(id: &str, task_id: Option<&str>) -> Vec<String> {
    let mut topics = vec![topics::AGENTS.to_string(), topics::agent(id)];
    topics.extend(task_id.map(topics::task));
    topics
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

impl Payload for AgentStatus {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::name("name", self.name.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        agent_topics(&self.id, self.task_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_on_agent(EventBody::AgentStatus(self.clone()), &self.id.clone(), set, at)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentHeartbeat {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Payload for AgentHeartbeat {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        agent_topics(&self.id, self.task_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_on_agent(EventBody::AgentHeartbeat(self.clone()), &self.id.clone(), set, at)
    }
}

/// Emitted by the server's health job when an agent's health changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentHealth {
    pub id: String,
    pub health: Health,
    /// The rule that fired, in words: "no heartbeat for 2 m 10 s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The agent's `last_seq` the judgement was made from: if the agent has changed since, the
    /// judgement is stale and refused (the job judges again).
    pub as_of: Seq,
    /// The task the agent was working on, so its page and card hear of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Payload for AgentHealth {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::text("reason", self.reason.as_deref(), check::MAX_TITLE)?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        let mut topics = agent_topics(&self.id, self.task_id.as_deref());
        if self.task_id.is_some() {
            topics.push(topics::BOARD.to_string());
        }
        topics
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn derived(&self) -> bool {
        true
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut agent = set.require::<Agent>(&self.id)?;
        if agent.last_seq > self.as_of {
            return Err(Refusal::Conflict(format!("agent `{}` changed after seq {}", self.id, self.as_of)).into());
        }
        agent.apply(&EventBody::AgentHealth(self.clone()), at);
        set.put(&agent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2026-01-01T00:00:00.000Z";

    fn agent() -> Agent {
        Agent {
            id: "ada".into(),
            status: AgentState::Working,
            task_id: Some("t1".into()),
            last_heartbeat: Some(T0.into()),
            last_progress_at: Some(T0.into()),
            ..Agent::default()
        }
    }

    #[test]
    fn health_follows_the_rules_and_says_which_fired() {
        let rules = HealthRules { heartbeat_ms: 30_000, stuck_after_ms: 600_000, crashed_after_ms: 300_000 };
        let t0 = time::millis(T0).unwrap();
        assert_eq!(agent().assess(t0 + 59_000, &rules), (Health::Healthy, None));
        let (health, reason) = agent().assess(t0 + 130_000, &rules);
        assert_eq!((health, reason.as_deref()), (Health::Stale, Some("no heartbeat for 2 m 10 s")));
        let (health, reason) = agent().assess(t0 + 301_000, &rules);
        assert_eq!(health, Health::Crashed);
        assert!(reason.unwrap().contains("silent for 5 m 1 s"));

        let mut beating = agent();
        beating.last_heartbeat = Some("2026-01-01T00:11:00.000Z".into());
        let (health, reason) = beating.assess(t0 + 661_000, &rules);
        assert_eq!(health, Health::Stuck);
        assert!(reason.unwrap().contains("no progress for 11 m 1 s"));

        let mut idle = beating.clone();
        idle.status = AgentState::Idle;
        idle.task_id = None;
        assert_eq!(idle.assess(t0 + 661_000, &rules).0, Health::Healthy, "an idle agent is not stuck");

        let mut crashed = agent();
        crashed.crash = Some("session s1 ended in failure".into());
        assert_eq!(crashed.assess(t0, &rules).0, Health::Crashed);
    }

    #[test]
    fn a_stale_judgement_is_refused() {
        let mut set = EntitySet::default();
        let mut stored = agent();
        stored.last_seq = 9;
        set.put(&stored);
        let mut health = AgentHealth { id: "ada".into(), health: Health::Stale, reason: None, as_of: 8, task_id: None };
        let at = Stamp { seq: 10, ts: T0.into(), by: None };
        assert!(matches!(health.project(&mut set, &at), Err(Step::Refuse(Refusal::Conflict(_)))));
        health.as_of = 9;
        health.project(&mut set, &at).unwrap();
        assert_eq!(set.get::<Agent>("ada").unwrap().unwrap().health, Health::Stale);
    }
}
