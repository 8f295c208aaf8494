//! Claude Code's hooks, `POST /api/feeds/claude-code`: the JSON object a hook gets on its stdin
//! (or, as an http hook, in its request body), taken as it is. Answered 204 with no body, except
//! where Flightdeck decides something for the agent ([`gate`]).
//!
//! - A session per `session_id`, of the agent `claude-code:<project>` (the last part of `cwd`;
//!   `?agent=` names it instead). Events fired inside a sub-agent (`agent_id`) go to a child
//!   session of it, started by `SubagentStart` and ended by `SubagentStop`.
//! - A tool call is one activity `tool-<tool_use_id>`: running from `PreToolUse`, then succeeded or
//!   failed with its duration from `PostToolUse` / `PostToolUseFailure`.
//! - `PermissionRequest` asks an approval and is held until it is decided ([`gate`]); so is a
//!   `PreToolUse` that a policy rule says to ask about. A `Notification` of type
//!   `permission_prompt` asks one that is answered in the terminal; the next hook tells which way:
//!   the tool ran (approved), or the agent stopped or got a new prompt without running it
//!   (rejected). A held approval the terminal answered first is resolved the same way.
//! - `TaskCreated` / `TaskCompleted` are tasks on the board, `cc-<team or session>-<task_id>`.
//! - `UserPromptSubmit` and tool calls make the agent working, a permission wait blocked, `Stop`
//!   and `SessionEnd` idle, `StopFailure` (an API error ended the turn) error; every hook is a
//!   heartbeat.
//! - Any other hook, and every field not read here, is kept in an activity's metadata.

pub mod gate;
mod hold;

use app::domain::{
    activity::{Activity, ActivityLogged, ActivityStatus, ActivityUpdated},
    agent::{AgentHeartbeat, AgentState, AgentStatus},
    approval::{Approval, ApprovalRequested, ApprovalResolved, ApprovalStatus, ToolCall},
    check,
    entity::{decode_rows, Query},
    policy::{Policy, RuleAction, POLICY_ID},
    session::{
        Message, Role, Session, SessionDelivered, SessionEnded, SessionHeartbeat, SessionKind, SessionStarted,
        SessionUpdated,
    },
    task::{Task, TaskCompleted, TaskCreated},
    time, EventBody,
};
use axum::{
    extract::{Query as UrlQuery, State},
    response::{IntoResponse, Response},
    Json,
};
use gate::{Gate, Reply};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{agent_param, clip, commit, id_of, metadata, object, project_of, text, DONE};
use crate::{
    api::{error::ApiError, ingest::Intake, ingest::Posted},
    auth::Caller,
    state::AppState,
    store::TokenRecord,
};

/// Fields every hook has, which the session and agent already say.
const COMMON: &[&str] = &["session_id", "transcript_path", "cwd", "hook_event_name", "permission_mode"];

/// Longest prompt or reply kept as a session's latest message.
const HEADLINE: usize = 500;

/// What the feed URL may say: the agent's name, for when the project's directory name will not do.
#[derive(Debug, Default, Deserialize)]
pub struct FeedParams {
    pub agent: Option<String>,
}

pub async fn post(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlQuery(params): UrlQuery<FeedParams>,
    posted: Posted,
) -> Result<Response, ApiError> {
    let hook = Hook::read(object(&posted.body)?, params.agent.as_deref())?;
    deliver(&state, &caller, &hook, posted.intake()).await
}

/// Commits what one hook stands for, and answers it: at once, or once its approval is resolved.
pub async fn deliver(
    state: &AppState,
    caller: &TokenRecord,
    hook: &Hook,
    intake: Intake,
) -> Result<Response, ApiError> {
    let reply = std::sync::Mutex::new((Reply::Nothing, Policy::default()));
    commit(state, caller, intake, || async {
        let known = Known::look(state, caller, hook).await?;
        *reply.lock().expect("reply") = (hook.reply(&known), known.policy.clone());
        Ok(hook.events(&known, state.clock.now_millis()))
    })
    .await?;
    let (reply, policy) = reply.into_inner().expect("reply");
    let answer = match reply {
        Reply::Nothing => None,
        Reply::Now(answer) => Some(answer),
        Reply::Hold { id } => hold::answer(state, caller, hook, &id, &policy).await?,
    };
    Ok(match answer {
        Some(answer) => Json(answer).into_response(),
        None => DONE.into_response(),
    })
}

/// One hook's input.
#[derive(Debug)]
pub struct Hook {
    pub event: String,
    pub session: String,
    /// The main agent's id.
    pub agent: String,
    pub project: Option<String>,
    pub body: Map<String, Value>,
    /// The approval id a `PermissionRequest` is held as, made when it is read.
    pub request_id: String,
    /// Whether the agent reads the answer (Claude Code's own http hook): only then does a policy
    /// decide, a request wait, or a message go with it. The observability script's does not.
    pub answered: bool,
}

impl Hook {
    /// Reads a hook's input; only `hook_event_name` and `session_id` are required.
    pub fn read(body: Map<String, Value>, agent: Option<&str>) -> Result<Hook, ApiError> {
        let missing = |field: &str| {
            ApiError::Invalid(format!("field `{field}`: a Claude Code hook input names it; nothing was stored"))
        };
        let event = text(&body, "hook_event_name").ok_or_else(|| missing("hook_event_name"))?.to_string();
        let session = id_of(text(&body, "session_id").ok_or_else(|| missing("session_id"))?);
        let project = project_of(text(&body, "cwd"));
        let agent = agent_param(agent, || format!("claude-code:{}", project.as_deref().unwrap_or("unknown")))?;
        let request_id = format!("perm-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        Ok(Hook { event, session, agent, project, body, request_id, answered: true })
    }

    fn field(&self, name: &str) -> Option<&str> {
        text(&self.body, name)
    }

    /// The sub-agent this hook fired in, if any: its session id and its agent's id.
    fn subagent(&self) -> Option<(String, String)> {
        let agent_id = self.field("agent_id")?;
        let kind = self.field("agent_type").unwrap_or("subagent");
        Some((id_of(&format!("{}:{agent_id}", self.session)), id_of(&format!("{}:{kind}", self.agent))))
    }

    fn tool_activity_id(&self) -> Option<String> {
        self.field("tool_use_id").map(|id| id_of(&format!("tool-{id}")))
    }

    fn task_id(&self) -> Option<String> {
        let task = self.body.get("task_id").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))?;
        let scope = self.field("team_name").map_or_else(|| self.session.chars().take(8).collect(), str::to_string);
        Some(id_of(&format!("cc-{scope}-{task}")))
    }

    /// What the hook says beyond the common fields, less what `skip` names.
    fn rest(&self, skip: &[&str]) -> Option<Value> {
        let fields = self.body.iter().filter(|(k, _)| !COMMON.contains(&k.as_str()) && !skip.contains(&k.as_str()));
        metadata(fields.map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// The canonical events this hook stands for, given what is stored.
    pub fn events(&self, known: &Known, now_ms: i64) -> Vec<EventBody> {
        let mut out = Vec::new();
        let main = self.session.clone();
        if known.session.is_none() {
            out.push(EventBody::SessionStarted(SessionStarted {
                id: main.clone(),
                kind: SessionKind::Persistent,
                title: Some(format!("Claude Code · {}", self.project.as_deref().unwrap_or("session"))),
                task_id: None,
                agent: Some(self.agent.clone()),
                parent_id: None,
            }));
        }
        let main_active = known.session.as_ref().is_none_or(Session::is_active);
        // Where this hook happened: the sub-agent's session, or the main one.
        let sub = self.subagent();
        let (here, actor) = match &sub {
            Some((id, agent)) => (id.clone(), agent.clone()),
            None => (main.clone(), self.agent.clone()),
        };
        let here_active = match &sub {
            Some(_) => known.sub.as_ref().is_none_or(Session::is_active),
            None => main_active,
        };
        if let (Some((id, agent)), None) = (&sub, &known.sub) {
            out.push(EventBody::SessionStarted(SessionStarted {
                id: id.clone(),
                kind: SessionKind::Subagent,
                title: self.field("agent_type").map(str::to_string),
                task_id: None,
                agent: Some(agent.clone()),
                parent_id: Some(main.clone()),
            }));
        }
        out.push(EventBody::AgentHeartbeat(AgentHeartbeat { id: actor.clone(), task_id: None }));
        if here_active {
            out.push(EventBody::SessionHeartbeat(SessionHeartbeat { id: here.clone(), ..Default::default() }));
        }
        let status = |state: AgentState, id: &str| {
            let name = (id == self.agent).then(|| format!("Claude Code ({})", self.project.as_deref().unwrap_or("?")));
            EventBody::AgentStatus(AgentStatus { id: id.to_string(), status: state, name, task_id: None })
        };
        let entry = |category: &str, message: String, meta: Option<Value>| {
            EventBody::ActivityLogged(ActivityLogged {
                session_id: Some(here.clone()),
                category: category.to_string(),
                message,
                actor: Some(actor.clone()),
                metadata: meta,
                ..ActivityLogged::default()
            })
        };
        // The approvals this hook answers: those the hooks asked (not an agent's own through the
        // API), and of a held tool call only once that very call ran.
        let ran = (self.event.starts_with("PostToolUse")).then(|| self.tool());
        let resolve = |status: ApprovalStatus, comment: &'static str| {
            let ran = ran.clone();
            known
                .pending
                .iter()
                .filter(|a| a.requested_by.as_deref() == Some(actor.as_str()))
                .filter(move |a| match (&a.tool, &ran, &a.held) {
                    (Some(asked), Some(ran), Some(_)) => asked.name == ran.name && asked.input == ran.input,
                    _ => true,
                })
                .map(move |a| {
                    EventBody::ApprovalResolved(ApprovalResolved {
                        id: a.id.clone(),
                        status,
                        by: Some(gate::TERMINAL.into()),
                        comment: Some(comment.to_string()),
                        ..Default::default()
                    })
                })
        };
        // What operators wrote to the agent, delivered by this hook (see `gate`).
        let delivered = |m: &Message| {
            EventBody::SessionDelivered(SessionDelivered {
                id: here.clone(),
                message_id: m.id.clone(),
                via: self.event.clone(),
                ..Default::default()
            })
        };
        let carried: Vec<EventBody> = match self.reply(known) {
            Reply::Now(_) if matches!(self.event.as_str(), "PostToolUse" | "UserPromptSubmit" | "Stop") => {
                known.undelivered().filter(|m| !m.stop).map(delivered).collect()
            }
            _ => vec![],
        };
        match self.event.as_str() {
            "SessionStart" => {
                out.push(status(AgentState::Idle, &self.agent));
                let source = self.field("source").unwrap_or("startup");
                out.push(entry("session", format!("Session started ({source})"), self.rest(&[])));
            }
            "UserPromptSubmit" => {
                out.extend(resolve(ApprovalStatus::Rejected, "a new prompt came instead"));
                out.push(status(AgentState::Working, &actor));
                let prompt = self.field("prompt").unwrap_or("(empty prompt)");
                if here_active {
                    let message = Some(clip(prompt, HEADLINE));
                    out.push(EventBody::SessionUpdated(SessionUpdated {
                        id: here.clone(),
                        message,
                        ..Default::default()
                    }));
                }
                let mut prompt_entry = entry("prompt", clip(prompt, check::MAX_TEXT / 2), self.rest(&["prompt"]));
                if let EventBody::ActivityLogged(a) = &mut prompt_entry {
                    a.actor = Some("user".into());
                }
                out.push(prompt_entry);
                out.extend(carried);
            }
            "PreToolUse" => {
                let gate = self.gate(known);
                let held = matches!(gate, Gate::Hold { .. });
                out.push(status(if held { AgentState::Blocked } else { AgentState::Working }, &actor));
                if known.tool.is_none() {
                    out.push(self.tool_call(&here, &actor, ActivityStatus::Running, None));
                }
                out.extend(self.gated(gate, &here, &actor, known, delivered));
            }
            "PostToolUse" | "PostToolUseFailure" => {
                out.extend(resolve(ApprovalStatus::Approved, "the tool ran"));
                let failed = self.event == "PostToolUseFailure";
                let outcome = if failed { ActivityStatus::Failed } else { ActivityStatus::Succeeded };
                let duration = self.body.get("duration_ms").and_then(Value::as_u64).or_else(|| {
                    let started = time::millis(&known.tool.as_ref()?.created_at)?;
                    u64::try_from(now_ms - started).ok()
                });
                match (&known.tool, self.tool_activity_id()) {
                    (Some(_), Some(id)) => out.push(EventBody::ActivityUpdated(ActivityUpdated {
                        id,
                        status: Some(outcome),
                        duration_ms: duration,
                        metadata: self.rest(&["tool_name", "tool_input", "tool_use_id", "duration_ms"]),
                        ..Default::default()
                    })),
                    _ => out.push(self.tool_call(&here, &actor, outcome, duration)),
                }
                out.extend(carried);
            }
            "PermissionRequest" => {
                let gate = self.gate(known);
                let waits = matches!(gate, Gate::Hold { .. } | Gate::Pass);
                out.push(status(if waits { AgentState::Blocked } else { AgentState::Working }, &actor));
                out.extend(self.gated(gate, &here, &actor, known, delivered));
            }
            "Notification" => {
                let message = self.field("message").unwrap_or("Notification").to_string();
                match self.field("notification_type") {
                    Some("permission_prompt") => {
                        out.push(status(AgentState::Blocked, &actor));
                        if known.pending.is_empty() {
                            out.push(self.ask_in_terminal(&here, &actor, clip(&message, check::MAX_TITLE - 10)));
                        }
                    }
                    Some("agent_needs_input") => out.push(status(AgentState::Blocked, &actor)),
                    Some("idle_prompt" | "agent_completed") => out.push(status(AgentState::Idle, &actor)),
                    _ => {}
                }
                out.push(entry("notification", clip(&message, check::MAX_TEXT / 2), self.rest(&["message"])));
            }
            "Stop" => {
                out.extend(resolve(ApprovalStatus::Rejected, "the agent stopped without running it"));
                // Messages carried by a stop make the agent go on with them.
                let goes_on = !carried.is_empty();
                out.push(status(if goes_on { AgentState::Working } else { AgentState::Idle }, &actor));
                out.extend(carried);
                let reply = self.field("last_assistant_message");
                if let (Some(reply), true) = (reply, here_active) {
                    let message = Some(clip(reply, HEADLINE));
                    out.push(EventBody::SessionUpdated(SessionUpdated {
                        id: here.clone(),
                        message,
                        ..Default::default()
                    }));
                }
                let said = reply.map_or_else(|| "Finished its turn".to_string(), |r| clip(r, check::MAX_TEXT / 2));
                out.push(entry("turn", said, self.rest(&["last_assistant_message"])));
            }
            "StopFailure" => {
                out.push(status(AgentState::Error, &actor));
                let error = self.field("error").unwrap_or("the turn failed");
                out.push(entry("error", clip(error, check::MAX_TEXT / 2), self.rest(&["error"])));
            }
            "SubagentStart" => {
                out.push(status(AgentState::Working, &actor));
                let kind = self.field("agent_type").unwrap_or("sub-agent");
                out.push(EventBody::ActivityLogged(ActivityLogged {
                    session_id: Some(main.clone()),
                    category: "spawned".into(),
                    message: format!("Started sub-agent {kind}"),
                    actor: Some(self.agent.clone()),
                    metadata: self.rest(&[]),
                    ..ActivityLogged::default()
                }));
            }
            "SubagentStop" => {
                out.push(status(AgentState::Idle, &actor));
                if here_active && sub.is_some() {
                    let summary = self.field("last_assistant_message").map(|m| clip(m, check::MAX_TEXT / 2));
                    out.push(EventBody::SessionEnded(SessionEnded { id: here.clone(), summary, ..Default::default() }));
                }
            }
            "TaskCreated" | "TaskCompleted" => {
                let Some(task_id) = self.task_id() else {
                    out.push(entry("task", format!("{} without a task_id", self.event), self.rest(&[])));
                    return out;
                };
                if known.task.is_none() {
                    let subject = self.field("task_subject").unwrap_or(&task_id);
                    out.push(EventBody::TaskCreated(TaskCreated {
                        id: Some(task_id.clone()),
                        title: clip(subject, check::MAX_TITLE - 10),
                        description: self.field("task_description").map(|d| clip(d, check::MAX_TEXT / 2)),
                        assignee: self.field("teammate_name").map(id_of),
                        session_id: Some(main.clone()),
                        ..TaskCreated::default()
                    }));
                }
                let finished = known.task.as_ref().is_some_and(|t| t.status.finished());
                if self.event == "TaskCompleted" && !finished {
                    out.push(EventBody::TaskCompleted(TaskCompleted { id: task_id, ..Default::default() }));
                }
            }
            "SessionEnd" => {
                out.push(status(AgentState::Idle, &self.agent));
                if main_active {
                    let reason = self.field("reason").unwrap_or("exit");
                    let summary = Some(format!("Claude Code session ended ({reason})"));
                    out.push(EventBody::SessionEnded(SessionEnded { id: main.clone(), summary, ..Default::default() }));
                }
            }
            other => {
                let category = category_of(other);
                let trigger = self.field("trigger").or(self.field("reason")).or(self.field("source"));
                let message = trigger.map_or_else(|| other.to_string(), |t| format!("{other} ({t})"));
                out.push(entry(&category, clip(&message, check::MAX_TEXT / 2), self.rest(&[])));
            }
        }
        out
    }

    /// A tool call's activity, when it is first heard of.
    fn tool_call(&self, session: &str, actor: &str, status: ActivityStatus, duration_ms: Option<u64>) -> EventBody {
        let tool = self.field("tool_name").unwrap_or("tool");
        EventBody::ActivityLogged(ActivityLogged {
            id: self.tool_activity_id(),
            session_id: Some(session.to_string()),
            category: "tool".into(),
            message: clip(&format!("{tool}: {}", self.tool_summary()), check::MAX_TEXT / 4),
            actor: Some(actor.to_string()),
            metadata: self.rest(&["duration_ms"]),
            status: Some(status),
            duration_ms,
            ..ActivityLogged::default()
        })
    }

    /// What a tool call is about, in a line: the command, the file, the pattern, the URL.
    fn tool_summary(&self) -> String {
        clip(self.tool().subject().lines().next().unwrap_or(""), 200)
    }

    /// The events of a tool call's gate: the stop delivered, the rule that decided, or the approval
    /// asked (held, or, with no room to hold it, answered in the terminal).
    fn gated(
        &self,
        gate: Gate,
        here: &str,
        actor: &str,
        known: &Known,
        delivered: impl Fn(&Message) -> EventBody,
    ) -> Vec<EventBody> {
        let call = ToolCall { activity_id: self.call_activity(known), ..self.tool() };
        let what = clip(&format!("{}: {}", call.name, call.subject()), 200);
        let note = |category: &str, message: String| {
            EventBody::ActivityLogged(ActivityLogged {
                session_id: Some(here.to_string()),
                category: category.into(),
                message: clip(&message, check::MAX_TEXT / 2),
                actor: Some(actor.to_string()),
                ..ActivityLogged::default()
            })
        };
        match gate {
            Gate::Stop(m) => {
                let reason = gate::stop_reason(m);
                let mut out = vec![delivered(m), note("approval", format!("Denied {what}: {reason}"))];
                out.extend(self.denied(call.activity_id, &reason));
                out
            }
            Gate::Rule(d) => {
                let allowed = d.rule.action == RuleAction::Allow;
                let verb = if allowed { "Allowed" } else { "Denied" };
                let rule = format!("rule {} ({})", d.at + 1, d.rule.describe());
                let mut out = vec![note("policy", format!("{verb} {what} by the workspace policy, {rule}"))];
                if !allowed {
                    out.extend(self.denied(call.activity_id, &gate::rule_reason(&d)));
                }
                out
            }
            Gate::Hold { id, ttl_ms } => {
                let title = clip(&format!("Allow {what}?"), check::MAX_TITLE - 10);
                vec![self.ask(Some(id), here, actor, title, Some(ttl_ms), call)]
            }
            Gate::Pass if self.event == "PermissionRequest" => {
                let title = clip(&format!("Allow {what}?"), check::MAX_TITLE - 10);
                vec![self.ask(None, here, actor, title, None, call)]
            }
            Gate::Pass => vec![],
        }
    }

    /// An approval of this hook's tool call; held (with its time to wait) when `ttl_ms` is given.
    fn ask(
        &self,
        id: Option<String>,
        session: &str,
        actor: &str,
        title: String,
        ttl_ms: Option<u64>,
        call: ToolCall,
    ) -> EventBody {
        EventBody::ApprovalRequested(ApprovalRequested {
            id,
            session_id: Some(session.to_string()),
            title,
            description: (!call.subject().is_empty()).then(|| clip(&call.subject(), 2_000)),
            requested_by: Some(actor.to_string()),
            ttl_ms,
            held: ttl_ms.map(|_| "claude-code".to_string()),
            tool: Some(ToolCall { input: call.input.filter(|i| i.to_string().len() <= check::MAX_JSON), ..call }),
            ..Default::default()
        })
    }

    /// An approval asked by a notification, answered in the terminal.
    fn ask_in_terminal(&self, session: &str, actor: &str, title: String) -> EventBody {
        EventBody::ApprovalRequested(ApprovalRequested {
            session_id: Some(session.to_string()),
            title,
            requested_by: Some(actor.to_string()),
            ..Default::default()
        })
    }
}

/// `PreCompact` → `pre_compact`: an unknown hook's name as an activity category.
fn category_of(event: &str) -> String {
    let mut word = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            word.push('_');
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else {
            word.push('_');
        }
    }
    let word: String = word.chars().take(64).collect();
    if word.is_empty() {
        "hook".into()
    } else {
        word
    }
}

/// What is stored already of what a hook names.
#[derive(Debug, Default)]
pub struct Known {
    pub session: Option<Session>,
    pub sub: Option<Session>,
    pub tool: Option<Activity>,
    /// Approvals of the hook's session still waiting.
    pub pending: Vec<Approval>,
    pub task: Option<Task>,
    /// The workspace's approval policy (the default when none was set).
    pub policy: Policy,
    /// What people wrote in the hook's session.
    pub messages: Vec<Message>,
    /// Whether another request may be held.
    pub room: bool,
    /// The session's latest tool calls (for a `PermissionRequest`, which names none).
    pub running: Vec<Activity>,
}

impl Known {
    /// What people wrote in the hook's session that has not reached the agent yet, oldest first.
    pub fn undelivered(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.role == Role::Human && m.delivered_at.is_none())
    }

    /// Whether the hook's session (a sub-agent's, or the main one) still runs: a message can only
    /// be delivered there.
    pub fn active_here(&self) -> bool {
        let here = self.sub.as_ref().or(self.session.as_ref());
        here.is_some_and(Session::is_active)
    }

    /// Everything a hook may name, in one read from one snapshot.
    pub async fn look(state: &AppState, caller: &TokenRecord, hook: &Hook) -> Result<Known, ApiError> {
        let sub = hook.subagent().map(|(id, _)| id);
        let here = sub.clone().unwrap_or_else(|| hook.session.clone());
        let waiting = Query::children::<Approval>(&here).with_status(&[ApprovalStatus::Pending.as_str()]);
        let mut queries = vec![Query::one::<Session>(&hook.session), waiting];
        // The lookups a hook may not need follow, each at the index it was pushed at.
        let mut ask = |query: Option<Query>| {
            query.map(|q| {
                queries.push(q);
                queries.len() - 1
            })
        };
        let sub_at = ask(sub.as_deref().map(Query::one::<Session>));
        let tool_at = ask(hook.tool_activity_id().as_deref().map(Query::one::<Activity>));
        let task_at = ask(hook.task_id().as_deref().map(Query::one::<Task>));
        let calls = Query::children::<Activity>(&app::domain::activity::session_parent(&here)).with_status(&["tool"]);
        let running_at = ask((hook.event == "PermissionRequest").then(|| calls.newest(20)));
        // Only a hook whose answer is read can be decided by the policy or carry a message.
        let gated = hook.answered && matches!(hook.event.as_str(), "PreToolUse" | "PermissionRequest");
        let carries = hook.answered && matches!(hook.event.as_str(), "PostToolUse" | "UserPromptSubmit" | "Stop");
        let policy_at = ask(gated.then(|| Query::one::<Policy>(POLICY_ID)));
        let said_at =
            ask((gated || carries).then(|| Query::children::<Message>(&here).with_status(&[Role::Human.as_str()])));
        let snapshot = state.store.read(&caller.workspace, &queries).await?;
        let rows = |at: Option<usize>| at.map_or(&[][..], |i| snapshot.rows[i].as_slice());
        Ok(Known {
            session: first(rows(Some(0)))?,
            pending: decode_rows(rows(Some(1))).map_err(ApiError::Unavailable)?,
            sub: first(rows(sub_at))?,
            tool: first(rows(tool_at))?,
            task: first(rows(task_at))?,
            policy: first(rows(policy_at))?.unwrap_or_default(),
            messages: decode_rows(rows(said_at)).map_err(ApiError::Unavailable)?,
            room: hook.answered && state.held.has_room(),
            running: decode_rows(rows(running_at)).map_err(ApiError::Unavailable)?,
        })
    }
}

fn first<T: app::domain::Entity>(rows: &[String]) -> Result<Option<T>, ApiError> {
    Ok(decode_rows::<T>(rows).map_err(ApiError::Unavailable)?.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(body: Value) -> Hook {
        let Value::Object(map) = body else { panic!("an object") };
        Hook::read(map, None).unwrap()
    }

    #[test]
    fn a_first_hook_starts_the_session_of_the_project_agent() {
        let h = hook(
            json!({"hook_event_name": "SessionStart", "session_id": "s-1", "cwd": "/src/shop", "source": "startup"}),
        );
        let events = h.events(&Known::default(), 0);
        let kinds: Vec<&str> = events.iter().map(EventBody::kind).collect();
        assert_eq!(
            kinds,
            ["session:started", "agent:heartbeat", "session:heartbeat", "agent:status", "activity:logged"]
        );
        let EventBody::SessionStarted(s) = &events[0] else { unreachable!() };
        assert_eq!(s.agent.as_deref(), Some("claude-code:shop"));
        assert!(events.iter().all(|e| e.validate().is_ok()), "{events:?}");
    }

    #[test]
    fn unknown_hooks_become_activities_with_everything_they_said() {
        let h = hook(json!({"hook_event_name": "PreCompact", "session_id": "s", "trigger": "auto", "novel": {"x": 1}}));
        let events = h.events(&Known::default(), 0);
        let Some(EventBody::ActivityLogged(a)) = events.last() else { panic!("{events:?}") };
        assert_eq!(a.category, "pre_compact");
        assert_eq!(a.message, "PreCompact (auto)");
        assert_eq!(a.metadata, Some(json!({"trigger": "auto", "novel": {"x": 1}})));
    }

    #[test]
    fn a_hook_without_its_names_is_refused() {
        let Value::Object(map) = json!({"session_id": "s"}) else { unreachable!() };
        let err = Hook::read(map, None).unwrap_err();
        assert!(err.to_string().contains("hook_event_name"), "{err}");
    }
}
