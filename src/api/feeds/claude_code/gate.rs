//! What Claude Code is answered. Most hooks get no body. These answer:
//!
//! - `PreToolUse` and `PermissionRequest`: an operator's "Stop this agent" denies the call with the
//!   operator's words; else the workspace policy's first matching rule allows or denies it at once;
//!   a rule that says `ask` (and, for `PermissionRequest`, no rule at all) holds the request open
//!   as an approval until a person decides it, it times out (then the policy's `on_timeout`), or
//!   the terminal answered first (then no decision).
//! - `PostToolUse` and `UserPromptSubmit` carry what operators wrote to the agent since its last
//!   hook, as `additionalContext`; `Stop` carries it as a block with the messages as the reason,
//!   so the agent goes on with them. Each message is delivered once (`session:delivered` is
//!   refused the second time, and the hook is then made again without it).

use app::domain::{
    approval::{Approval, ApprovalStatus, ToolCall},
    policy::{matching::Decided, OnTimeout, Policy, RuleAction},
    session::Message,
};
use serde_json::{json, Value};

use super::{Hook, Known};

/// Who is answered for a resolution the terminal made: the agent already went on.
pub const TERMINAL: &str = "terminal";

/// What a tool call's hook meets before it runs.
pub enum Gate<'a> {
    /// Nothing here decides: the agent's own permissions do.
    Pass,
    /// An operator asked the agent to stop.
    Stop(&'a Message),
    /// A policy rule allows or denies it.
    Rule(Decided<'a>),
    /// Held as the approval with this id, waiting this long for a person.
    Hold { id: String, ttl_ms: u64 },
}

/// The answer a hook gets now, or once its approval is resolved.
pub enum Reply {
    Nothing,
    Now(Value),
    Hold { id: String },
}

impl Hook {
    /// What decides this hook's tool call, given the policy and the messages stored.
    pub fn gate<'a>(&self, known: &'a Known) -> Gate<'a> {
        let held = self.event == "PermissionRequest";
        if !held && self.event != "PreToolUse" {
            return Gate::Pass;
        }
        if let Some(stop) = known.undelivered().find(|m| m.stop) {
            return Gate::Stop(stop);
        }
        let call = self.tool();
        let hold = || match (known.room, self.ask_id()) {
            (true, Some(id)) => Gate::Hold { id, ttl_ms: u64::from(known.policy.ttl_seconds) * 1_000 },
            _ => Gate::Pass,
        };
        match known.policy.decide(&call.name, &call.subject(), call.cwd.as_deref()) {
            Some(decided) if decided.rule.action != RuleAction::Ask => Gate::Rule(decided),
            Some(_) => hold(),
            None if held => hold(),
            None => Gate::Pass,
        }
    }

    /// The tool call this hook is about.
    pub fn tool(&self) -> ToolCall {
        ToolCall {
            name: self.field("tool_name").unwrap_or("tool").to_string(),
            input: self.body.get("tool_input").cloned(),
            cwd: self.field("cwd").map(str::to_string),
            suggestions: self.body.get("permission_suggestions").filter(|s| !s.is_null()).cloned(),
            activity_id: None,
        }
    }

    /// The activity of this hook's tool call: named by `PreToolUse`; for a `PermissionRequest`,
    /// which names no call, the running call of the same tool and input.
    pub fn call_activity(&self, known: &Known) -> Option<String> {
        match self.event.as_str() {
            "PermissionRequest" => {
                let input = self.body.get("tool_input");
                let same = |a: &&app::domain::activity::Activity| {
                    a.status == Some(app::domain::activity::ActivityStatus::Running)
                        && a.metadata.as_ref().and_then(|m| m.get("tool_input")) == input
                };
                known.running.iter().find(same).map(|a| a.id.clone())
            }
            _ => self.tool_activity_id(),
        }
    }

    /// The event that marks this hook's tool call denied on the timeline, when it has one.
    pub fn denied(&self, activity: Option<String>, reason: &str) -> Option<app::domain::EventBody> {
        Some(app::domain::EventBody::ActivityUpdated(app::domain::activity::ActivityUpdated {
            id: activity?,
            status: Some(app::domain::activity::ActivityStatus::Failed),
            metadata: Some(json!({ "denied": reason })),
            ..Default::default()
        }))
    }

    /// The id of the approval this hook's call is held as: per tool call for `PreToolUse`, per
    /// request for `PermissionRequest` (which names no call).
    pub fn ask_id(&self) -> Option<String> {
        match self.event.as_str() {
            "PreToolUse" => self.tool_activity_id().map(|t| super::id_of(&format!("perm-{t}"))),
            "PermissionRequest" => Some(self.request_id.clone()),
            _ => None,
        }
    }

    /// What the hook is answered now.
    pub fn reply(&self, known: &Known) -> Reply {
        match self.event.as_str() {
            "PreToolUse" | "PermissionRequest" => match self.gate(known) {
                Gate::Pass => Reply::Nothing,
                Gate::Stop(m) => Reply::Now(self.deny(&stop_reason(m))),
                Gate::Rule(d) if d.rule.action == RuleAction::Allow => Reply::Now(self.allow(None, None)),
                Gate::Rule(d) => Reply::Now(self.deny(&rule_reason(&d))),
                Gate::Hold { id, .. } => Reply::Hold { id },
            },
            "PostToolUse" | "UserPromptSubmit" if known.active_here() => match messages(known) {
                Some(text) => Reply::Now(json!({"hookSpecificOutput": {
                    "hookEventName": self.event, "additionalContext": text}})),
                None => Reply::Nothing,
            },
            "Stop" if known.active_here() => match messages(known) {
                Some(text) => Reply::Now(json!({"decision": "block", "reason": text})),
                None => Reply::Nothing,
            },
            _ => Reply::Nothing,
        }
    }

    /// The answer to a held hook once its approval is resolved; `None` is no decision.
    pub fn decided(&self, approval: &Approval, policy: &Policy) -> Option<Value> {
        let by = approval.resolved_by.as_deref().unwrap_or("an operator");
        match approval.status {
            ApprovalStatus::Pending => None,
            _ if by == TERMINAL => None,
            ApprovalStatus::Approved => {
                let remember = approval.for_session.then(|| approval.tool.as_ref()?.suggestions.clone()).flatten();
                Some(self.allow(approval.updated_input.clone(), remember))
            }
            ApprovalStatus::Rejected => {
                let reason = approval.comment.clone().unwrap_or_else(|| "no reason given".into());
                Some(self.deny(&format!("Denied by {by} in Flightdeck: {reason}")))
            }
            ApprovalStatus::Timeout => match policy.on_timeout {
                OnTimeout::NoDecision => None,
                OnTimeout::Deny => Some(self.deny(&format!(
                    "Nobody decided in Flightdeck within {} s, and the workspace's policy denies then",
                    policy.ttl_seconds
                ))),
            },
        }
    }

    fn allow(&self, updated_input: Option<Value>, remember: Option<Value>) -> Value {
        if self.event == "PreToolUse" {
            let mut out = json!({"hookEventName": "PreToolUse", "permissionDecision": "allow"});
            if let Some(input) = updated_input {
                out["updatedInput"] = input;
            }
            return json!({ "hookSpecificOutput": out });
        }
        let mut decision = json!({"behavior": "allow"});
        if let Some(input) = updated_input {
            decision["updatedInput"] = input;
        }
        if let Some(rules) = remember {
            decision["updatedPermissions"] = rules;
        }
        json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}})
    }

    fn deny(&self, reason: &str) -> Value {
        match self.event.as_str() {
            "PreToolUse" => json!({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                "permissionDecision": "deny", "permissionDecisionReason": reason}}),
            _ => json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                "decision": {"behavior": "deny", "message": reason}}}),
        }
    }
}

/// What an agent reads when an operator stopped it.
pub fn stop_reason(m: &Message) -> String {
    format!("{} asked you to stop, through Flightdeck: {}", m.author.as_deref().unwrap_or("An operator"), m.text)
}

pub fn rule_reason(d: &Decided) -> String {
    let why = d.rule.reason.as_deref().map_or(String::new(), |r| format!(": {r}"));
    format!("Denied by the workspace policy, rule {} ({}){why}", d.at + 1, d.rule.describe())
}

/// The messages operators wrote that this hook carries, as the agent reads them.
fn messages(known: &Known) -> Option<String> {
    let lines: Vec<String> = known
        .undelivered()
        .filter(|m| !m.stop)
        .map(|m| format!("Message from {} (via Flightdeck): {}", m.author.as_deref().unwrap_or("an operator"), m.text))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n\n"))
}
