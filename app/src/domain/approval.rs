//! Approvals: a human decision an agent waits for, requested with an expiry, resolved exactly once —
//! approved or rejected by a person, or timed out by the server when its time is up.

use serde::{Deserialize, Serialize};

use super::{
    check, entity::Index, generated_id, session::Session, task::Task, time, Entity, EntitySet, EventBody, Invalid,
    Payload, Refusal, Seq, Stamp, Step,
};
use crate::topics;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    #[default]
    Pending,
    Approved,
    Rejected,
    /// Nobody decided before it expired.
    Timeout,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Timeout => "timeout",
        }
    }
}

/// Who resolves approvals that time out.
pub const SERVER: &str = "flightdeck";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub session_id: Option<String>,
    pub task_id: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub requested_by: Option<String>,
    pub expires_at: Option<String>,
    pub status: ApprovalStatus,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub comment: Option<String>,
    /// What a tool call asks to run, for approvals of an agent's tool call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolCall>,
    /// Who waits for the answer: `None` when nobody is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The input the operator approved instead of the one asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_input: Option<serde_json::Value>,
    /// Approved for the rest of the agent's session, not only this once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub for_session: bool,
    pub created_at: String,
    pub seq: Seq,
    pub last_seq: Seq,
}

/// The tool call an approval is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    /// The tool's input as the agent gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// The directory the agent works in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// What the agent offers to remember when approved for its session (Claude Code's
    /// `permission_suggestions`); an approval without them cannot be approved for a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<serde_json::Value>,
    /// The activity of the call on its session's timeline, marked failed when the call is denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
}

impl ToolCall {
    fn validate(&self) -> Result<(), Invalid> {
        check::required("tool.name", &self.name, check::MAX_LABEL)?;
        check::text("tool.cwd", self.cwd.as_deref(), check::MAX_URL)?;
        check::opt_id("tool.activity_id", self.activity_id.as_deref())?;
        for (name, value) in [("tool.input", &self.input), ("tool.suggestions", &self.suggestions)] {
            if value.as_ref().is_some_and(|v| v.to_string().len() > check::MAX_JSON) {
                return Err(check::field(name, format!("must be at most {} bytes of JSON", check::MAX_JSON)));
            }
        }
        Ok(())
    }

    /// What the call is about, in a line: the command, the file, the pattern, the URL.
    pub fn subject(&self) -> String {
        let input = self.input.as_ref().and_then(serde_json::Value::as_object);
        let named = ["command", "file_path", "path", "pattern", "url", "query", "description", "prompt"]
            .iter()
            .find_map(|k| input.and_then(|i| i.get(*k)).and_then(serde_json::Value::as_str));
        let line = named.or_else(|| input.and_then(|i| i.values().find_map(serde_json::Value::as_str)));
        line.map(str::to_string).unwrap_or_else(|| self.input.as_ref().map(|i| i.to_string()).unwrap_or_default())
    }
}

impl Entity for Approval {
    const KIND: &'static str = "approval";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: self.session_id.clone(), status: Some(self.status.as_str().into()), sort: self.seq as i64 }
    }
}

impl Approval {
    pub fn requested(e: &ApprovalRequested, at: &Stamp) -> Approval {
        Approval {
            id: e.id.clone().unwrap_or_else(|| generated_id("apr", at)),
            session_id: e.session_id.clone(),
            task_id: e.task_id.clone(),
            title: e.title.clone(),
            description: e.description.clone(),
            requested_by: e.requested_by.clone(),
            expires_at: e.expires_at.clone(),
            status: ApprovalStatus::Pending,
            resolved_by: None,
            resolved_at: None,
            comment: None,
            tool: e.tool.clone(),
            held: e.held.clone(),
            updated_input: None,
            for_session: false,
            created_at: at.ts.clone(),
            seq: at.seq,
            last_seq: at.seq,
        }
    }

    /// Applies its resolution; other events leave it as it is.
    pub fn apply(&mut self, body: &EventBody, at: &Stamp) {
        if let EventBody::ApprovalResolved(e) = body {
            if e.id == self.id {
                self.status = e.status;
                self.resolved_by = e.by.clone();
                self.comment = e.comment.clone();
                self.updated_input = e.updated_input.clone();
                self.for_session = e.for_session;
                self.resolved_at = Some(at.ts.clone());
                self.last_seq = at.seq;
            }
        }
    }

    pub fn is_pending(&self) -> bool {
        self.status == ApprovalStatus::Pending
    }

    /// Whether its time is up at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.is_pending() && self.expires_at.as_deref().and_then(time::millis).is_some_and(|at| at <= now_ms)
    }
}

fn approval_topics(session_id: Option<&str>, task_id: Option<&str>) -> Vec<String> {
    let mut topics = vec![topics::APPROVALS.to_string()];
    topics.extend(session_id.map(topics::session));
    topics.extend(task_id.map(topics::task));
    topics
}

/// Longest an approval may wait: a week.
const MAX_TTL_MS: u64 = 7 * 24 * 3_600_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequested {
    /// `apr-<seq>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "details")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// When it times out (RFC 3339, UTC); the server fills it in from `ttl_ms` when that is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How long it may wait, in milliseconds: instead of `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// The agent's tool call it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolCall>,
    /// Who waits for the answer (`claude-code`, `poll`): set by the server for a held request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl Payload for ApprovalRequested {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("id", self.id.as_deref())?;
        check::opt_id("session_id", self.session_id.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::required("title", &self.title, check::MAX_TITLE)?;
        check::text("description", self.description.as_deref(), check::MAX_TEXT)?;
        check::name("requested_by", self.requested_by.as_deref())?;
        check::opt_word("held", self.held.as_deref())?;
        if let Some(tool) = &self.tool {
            tool.validate()?;
        }
        if let Some(at) = &self.expires_at {
            if time::millis(at).is_none() {
                return Err(check::field("expires_at", "must be an RFC 3339 UTC time like 2026-01-01T12:00:00Z"));
            }
        }
        match (self.expires_at.is_some(), self.ttl_ms) {
            (true, Some(_)) => Err(check::field("ttl_ms", "give `expires_at` or `ttl_ms`, not both")),
            (_, Some(ttl)) if ttl == 0 || ttl > MAX_TTL_MS => {
                Err(check::field("ttl_ms", format!("must be between 1 and {MAX_TTL_MS} milliseconds")))
            }
            _ => Ok(()),
        }
    }
    fn topics(&self) -> Vec<String> {
        approval_topics(self.session_id.as_deref(), self.task_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let id = self.id.get_or_insert_with(|| generated_id("apr", at)).clone();
        set.absent::<Approval>(&id)?;
        if let Some(session) = &self.session_id {
            set.require::<Session>(session)?;
        }
        if let Some(task) = &self.task_id {
            set.require::<Task>(task)?;
        }
        if let Some(ttl) = self.ttl_ms.take() {
            self.expires_at = time::add(&at.ts, ttl as i64);
        }
        set.put(&Approval::requested(self, at));
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalResolved {
    pub id: String,
    /// `approved` or `rejected` from a person; `timeout` only from the server.
    pub status: ApprovalStatus,
    /// Who decided: the person signed in, or `flightdeck` for a timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// An approval with an edited input: the agent runs this one instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_input: Option<serde_json::Value>,
    /// Approved for the rest of the agent's session (only where the agent offered it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub for_session: bool,
    /// Filled in by the server from the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Filled in by the server from the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Payload for ApprovalResolved {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        if self.status == ApprovalStatus::Pending {
            return Err(check::field("status", "must be approved, rejected or timeout"));
        }
        check::name("by", self.by.as_deref())?;
        check::text("comment", self.comment.as_deref(), check::MAX_TEXT)?;
        let approved = self.status == ApprovalStatus::Approved;
        if (self.updated_input.is_some() || self.for_session) && !approved {
            return Err(check::field("status", "an edited input or a session-wide approval must be `approved`"));
        }
        check::json_object("updated_input", self.updated_input.as_ref())
    }
    fn topics(&self) -> Vec<String> {
        approval_topics(self.session_id.as_deref(), self.task_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    /// A timeout is the server's to declare.
    fn derived(&self) -> bool {
        self.status == ApprovalStatus::Timeout
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut approval = set.require::<Approval>(&self.id)?;
        if !approval.is_pending() {
            let by = approval.resolved_by.as_deref().map_or(String::new(), |b| format!(" by {b}"));
            let what = approval.status.as_str();
            return Err(Refusal::Conflict(format!("approval `{}` was already resolved: {what}{by}", self.id)).into());
        }
        (self.session_id, self.task_id) = (approval.session_id.clone(), approval.task_id.clone());
        if self.for_session && approval.tool.as_ref().is_none_or(|t| t.suggestions.is_none()) {
            let why = "the agent offered nothing to remember for its session; approve it this once";
            return Err(Refusal::Conflict(format!("approval `{}`: {why}", self.id)).into());
        }
        if self.updated_input.is_some() && approval.tool.is_none() {
            return Err(Refusal::Conflict(format!("approval `{}` is not about a tool call", self.id)).into());
        }
        approval.apply(&EventBody::ApprovalResolved(self.clone()), at);
        set.put(&approval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_is_resolved_exactly_once() {
        let mut set = EntitySet::default();
        let at = Stamp { seq: 1, ts: "2026-01-01T00:00:00.000Z".into(), by: None };
        let mut asked = ApprovalRequested {
            id: Some("a1".into()),
            title: "Ship?".into(),
            ttl_ms: Some(3_000),
            ..Default::default()
        };
        set.provide("approval", "a1".into(), None);
        asked.project(&mut set, &at).unwrap();
        assert_eq!(asked.expires_at.as_deref(), Some("2026-01-01T00:00:03.000Z"), "a ttl becomes a time");
        let stored = set.get::<Approval>("a1").unwrap().unwrap();
        assert!(!stored.expired(time::millis("2026-01-01T00:00:02.999Z").unwrap()));
        assert!(stored.expired(time::millis("2026-01-01T00:00:03.000Z").unwrap()));

        let later = Stamp { seq: 2, ts: "2026-01-01T00:00:01.000Z".into(), by: None };
        let mut yes = ApprovalResolved {
            id: "a1".into(),
            status: ApprovalStatus::Approved,
            by: Some("ann".into()),
            ..Default::default()
        };
        yes.project(&mut set, &later).unwrap();
        let mut again = ApprovalResolved {
            id: "a1".into(),
            status: ApprovalStatus::Rejected,
            by: Some("bob".into()),
            ..Default::default()
        };
        let refused = again.project(&mut set, &later).unwrap_err();
        assert!(
            matches!(refused, Step::Refuse(Refusal::Conflict(ref m)) if m.contains("approved by ann")),
            "{refused:?}"
        );
        assert!(ApprovalResolved { status: ApprovalStatus::Timeout, ..Default::default() }.derived());
    }
}
