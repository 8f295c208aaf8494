//! Tasks: the cards of the board, from inbox to done or failed, with their progress, pull request,
//! VM, error details, token usage and timing.

use serde::{
    de::{value::MapAccessDeserializer, MapAccess, Visitor},
    Deserialize, Deserializer, Serialize,
};
use serde_json::Value;

use super::{
    check, entity::Index, generated_id, Entity, EntitySet, EventBody, Invalid, Payload, Refusal, Seq, Stamp, Step,
};
use crate::topics;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Inbox,
    Assigned,
    InProgress,
    Review,
    Done,
    Failed,
    /// Stopped by a person: finished without being done.
    Cancelled,
}

impl TaskStatus {
    /// Every status.
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Inbox,
        TaskStatus::Assigned,
        TaskStatus::InProgress,
        TaskStatus::Review,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// Board columns, left to right: a cancelled task is shown, and filtered, with the done ones.
    pub const COLUMNS: [TaskStatus; 6] = [
        TaskStatus::Inbox,
        TaskStatus::Assigned,
        TaskStatus::InProgress,
        TaskStatus::Review,
        TaskStatus::Done,
        TaskStatus::Failed,
    ];

    /// The column a task of this status is in.
    pub fn column(self) -> TaskStatus {
        match self {
            TaskStatus::Cancelled => TaskStatus::Done,
            status => status,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Inbox => "inbox",
            TaskStatus::Assigned => "assigned",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Review => "review",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Inbox => "Inbox",
            TaskStatus::Assigned => "Assigned",
            TaskStatus::InProgress => "In progress",
            TaskStatus::Review => "Review",
            TaskStatus::Done => "Done",
            TaskStatus::Failed => "Failed",
            TaskStatus::Cancelled => "Cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn finished(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Failed | TaskStatus::Cancelled)
    }

    /// Whether a task may go again: it failed, or someone stopped it.
    pub fn retryable(self) -> bool {
        matches!(self, TaskStatus::Failed | TaskStatus::Cancelled)
    }
}

/// What went wrong: a message, and optionally a kind to group by and context to debug with.
/// A plain string is accepted as the message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorDetails {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl From<&str> for ErrorDetails {
    fn from(message: &str) -> ErrorDetails {
        ErrorDetails { message: message.to_string(), ..ErrorDetails::default() }
    }
}

impl<'de> Deserialize<'de> for ErrorDetails {
    /// A string or an object, told apart by the first token: no buffering (see `crate::wire`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ErrorDetails, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            message: String,
            #[serde(default)]
            kind: Option<String>,
            #[serde(default)]
            context: Option<Value>,
        }
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = ErrorDetails;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message string or {\"message\", \"kind\"?, \"context\"?}")
            }

            fn visit_str<E: serde::de::Error>(self, message: &str) -> Result<ErrorDetails, E> {
                Ok(ErrorDetails::from(message))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ErrorDetails, A::Error> {
                let f = Full::deserialize(MapAccessDeserializer::new(map))?;
                Ok(ErrorDetails { message: f.message, kind: f.kind, context: f.context })
            }
        }
        deserializer.deserialize_any(Either)
    }
}

impl ErrorDetails {
    fn validate(&self) -> Result<(), Invalid> {
        check::required("error.message", &self.message, check::MAX_TEXT)?;
        check::opt_word("error.kind", self.kind.as_deref())?;
        check::json_object("error.context", self.context.as_ref())
    }

    /// The group an error counts under in the errors summary.
    pub fn group(&self) -> &str {
        self.kind.as_deref().unwrap_or("unclassified")
    }
}

/// Tokens spent and what they cost, as the agent last reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cost_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub assignee: Option<String>,
    pub progress: u8,
    /// Where the work is (`vm_assigned`, `executing`…) and the last thing it said.
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    pub pr_url: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub vm_id: Option<String>,
    pub error: Option<ErrorDetails>,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub summary: Option<String>,
    /// The design session that generated it, if one did.
    #[serde(default)]
    pub session_id: Option<String>,
    pub labels: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When work began (first assigned or in progress) and when it finished (done or failed).
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// Which run of the work this is: 1, and one more each time it is retried.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// Who stopped it and why, while it is cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Cancellation>,
    /// Seq of the event that created the task: a stable order for the board.
    pub created_seq: Seq,
    /// Seq of the last event applied: lets a view tell a fresh copy from a stale one.
    pub last_seq: Seq,
}

fn first_attempt() -> u32 {
    1
}

/// Why a task was stopped, and by whom (absent when a program stopped it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cancellation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Entity for Task {
    const KIND: &'static str = "task";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        // The parent is the design session that generated it, so a session finds its tickets.
        Index {
            parent: self.session_id.clone(),
            status: Some(self.status.as_str().into()),
            sort: self.created_seq as i64,
        }
    }
}

impl Task {
    pub fn created(e: &TaskCreated, id: String, at: &Stamp) -> Task {
        let mut task = Task {
            id,
            title: e.title.clone(),
            description: e.description.clone(),
            status: TaskStatus::Inbox,
            assignee: e.assignee.clone(),
            progress: 0,
            phase: None,
            message: None,
            pr_url: None,
            branch: None,
            vm_id: None,
            error: None,
            usage: Usage::default(),
            summary: None,
            session_id: e.session_id.clone(),
            labels: e.labels.clone(),
            created_at: at.ts.clone(),
            updated_at: at.ts.clone(),
            started_at: None,
            ended_at: None,
            attempt: 1,
            cancelled: None,
            created_seq: at.seq,
            last_seq: at.seq,
        };
        task.set_status(e.status.unwrap_or_default(), &at.ts);
        task
    }

    /// The event types [`Task::apply`] acts on: a page that keeps tasks reads these.
    pub const FOLLOWS: u64 = super::kinds::kinds(&[
        super::EventKind::TaskUpdated,
        super::EventKind::TaskAssigned,
        super::EventKind::TaskProgress,
        super::EventKind::TaskCompleted,
        super::EventKind::TaskFailed,
        super::EventKind::TaskCancelled,
        super::EventKind::TaskRetried,
        super::EventKind::BudgetUpdated,
        super::EventKind::UsageReported,
    ]);

    /// Applies any event about this task; others leave it as it is. `task:created` is
    /// [`Task::created`]. The browser and the store both come through here. An event type added
    /// here belongs in [`Task::FOLLOWS`] too.
    pub fn apply(&mut self, body: &EventBody, at: &Stamp) {
        if body.task_id() != Some(self.id.as_str()) {
            return;
        }
        match body {
            EventBody::TaskUpdated(e) => self.update(e, &at.ts),
            EventBody::TaskAssigned(e) => {
                self.assignee = Some(e.agent.clone());
                if matches!(self.status, TaskStatus::Inbox | TaskStatus::Failed) {
                    self.set_status(TaskStatus::Assigned, &at.ts);
                }
            }
            EventBody::TaskProgress(e) => {
                if let Some(p) = e.progress {
                    self.progress = p;
                }
                set_some(&mut self.phase, &e.phase);
                set_some(&mut self.message, &e.message);
                set_some(&mut self.vm_id, &e.vm_id);
                if matches!(self.status, TaskStatus::Inbox | TaskStatus::Assigned) {
                    self.set_status(TaskStatus::InProgress, &at.ts);
                }
            }
            EventBody::TaskCompleted(e) => {
                self.set_status(TaskStatus::Done, &at.ts);
                self.progress = 100;
                self.error = None;
                set_some(&mut self.pr_url, &e.pr_url);
                set_some(&mut self.branch, &e.branch);
                set_some(&mut self.summary, &e.summary);
            }
            EventBody::TaskFailed(e) => {
                self.set_status(TaskStatus::Failed, &at.ts);
                self.error = Some(e.error.clone());
            }
            EventBody::TaskCancelled(e) => {
                self.set_status(TaskStatus::Cancelled, &at.ts);
                self.cancelled = Some(Cancellation { by: at.by.clone(), reason: e.reason.clone() });
            }
            EventBody::TaskRetried(e) => {
                // The earlier run's error stays on the timeline (`timeline`), not on the card.
                self.attempt += 1;
                self.error = None;
                self.progress = 0;
                self.phase = None;
                self.message = None;
                self.started_at = None;
                match &e.assignee {
                    Some(agent) => {
                        self.assignee = Some(agent.clone());
                        self.set_status(TaskStatus::Assigned, &at.ts);
                    }
                    None => self.set_status(TaskStatus::Inbox, &at.ts),
                }
            }
            EventBody::BudgetUpdated(e) => self.usage = e.usage(),
            EventBody::UsageReported(e) if e.task_id.as_deref() == Some(&self.id) => {
                super::usage::add(&mut self.usage, &e.added())
            }
            _ => return,
        }
        self.updated_at = at.ts.clone();
        self.last_seq = at.seq;
    }

    fn update(&mut self, e: &TaskUpdated, ts: &str) {
        if let Some(title) = &e.title {
            self.title = title.clone();
        }
        set_some(&mut self.description, &e.description);
        set_some(&mut self.assignee, &e.assignee);
        if let Some(p) = e.progress {
            self.progress = p;
        }
        set_some(&mut self.phase, &e.phase);
        set_some(&mut self.message, &e.message);
        set_some(&mut self.pr_url, &e.pr_url);
        set_some(&mut self.branch, &e.branch);
        set_some(&mut self.vm_id, &e.vm_id);
        if let Some(labels) = &e.labels {
            self.labels = labels.clone();
        }
        if let Some(usage) = &e.usage {
            self.usage = usage.clone();
        }
        if let Some(status) = e.status {
            self.set_status(status, ts);
            if status != TaskStatus::Failed {
                self.error = None;
            }
        }
    }

    /// Moves the task, keeping its start and end times true to the move.
    fn set_status(&mut self, status: TaskStatus, ts: &str) {
        if status != TaskStatus::Cancelled {
            self.cancelled = None;
        }
        self.status = status;
        if matches!(status, TaskStatus::Assigned | TaskStatus::InProgress) && self.started_at.is_none() {
            self.started_at = Some(ts.to_string());
        }
        self.ended_at = status.finished().then(|| ts.to_string());
    }

    /// How long the work took, or has taken until `now_ms`.
    pub fn duration_ms(&self, now_ms: i64) -> Option<i64> {
        let start = super::time::millis(self.started_at.as_deref()?)?;
        let end = match &self.ended_at {
            Some(ts) => super::time::millis(ts)?,
            None => now_ms,
        };
        Some(end - start)
    }
}

/// Overwrites `slot` when the event carries a value.
fn set_some(slot: &mut Option<String>, value: &Option<String>) {
    if let Some(v) = value {
        *slot = Some(v.clone());
    }
}

/// The board's topic and the task's, and the agent's when the event is for one to hear.
fn task_topics(id: &str, agent: Option<&str>) -> Vec<String> {
    let mut topics = vec![topics::BOARD.to_string(), topics::task(id)];
    topics.extend(agent.map(topics::agent));
    topics
}

/// The topics and task of an event about an existing task, named by its `id`.
macro_rules! about_task {
    () => {
        fn topics(&self) -> Vec<String> {
            task_topics(&self.id, None)
        }
        fn task_id(&self) -> Option<&str> {
            Some(&self.id)
        }
    };
}

/// The shared projection of every event about an existing task. (What a person did, or what went
/// wrong, joins its timeline after: `timeline::follow`.)
fn project_existing(body: EventBody, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
    let id = body.task_id().unwrap_or_default().to_string();
    let mut task = set.require::<Task>(&id)?;
    task.apply(&body, at);
    set.put(&task);
    Ok(())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCreated {
    /// Chosen by the caller so later events can name the task; `task-<seq>` when absent.
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
    /// The design session that generated this task as a ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Payload for TaskCreated {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("id", self.id.as_deref())?;
        check::required("title", &self.title, check::MAX_TITLE)?;
        check::text("description", self.description.as_deref(), check::MAX_TEXT)?;
        check::name("assignee", self.assignee.as_deref())?;
        check::opt_id("session_id", self.session_id.as_deref())?;
        check::labels(&self.labels)
    }
    fn topics(&self) -> Vec<String> {
        let mut topics = task_topics(self.id.as_deref().unwrap_or_default(), None);
        topics.extend(self.session_id.as_deref().map(topics::session));
        // An agent a task is created for hears of it, as of an assignment.
        topics.extend(self.assignee.as_deref().map(topics::agent));
        topics
    }
    fn task_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let id = self.id.get_or_insert_with(|| generated_id("task", at)).clone();
        set.absent::<Task>(&id)?;
        set.put(&Task::created(self, id, at));
        Ok(())
    }
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
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl Payload for TaskUpdated {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        if let Some(title) = &self.title {
            check::required("title", title, check::MAX_TITLE)?;
        }
        check::text("description", self.description.as_deref(), check::MAX_TEXT)?;
        check::name("assignee", self.assignee.as_deref())?;
        check::percent("progress", self.progress)?;
        check::opt_word("phase", self.phase.as_deref())?;
        check::text("message", self.message.as_deref(), check::MAX_TEXT)?;
        check::http_url("pr_url", self.pr_url.as_deref())?;
        check::text("branch", self.branch.as_deref(), check::MAX_TITLE)?;
        check::opt_id("vm_id", self.vm_id.as_deref())?;
        if let Some(usage) = &self.usage {
            check::non_negative("usage.cost_usd", Some(usage.cost_usd))?;
        }
        self.labels.as_deref().map_or(Ok(()), check::labels)
    }
    about_task!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_existing(EventBody::TaskUpdated(self.clone()), set, at)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskAssigned {
    pub id: String,
    pub agent: String,
}

impl Payload for TaskAssigned {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::name("agent", Some(&self.agent))
    }
    fn topics(&self) -> Vec<String> {
        task_topics(&self.id, Some(&self.agent))
    }
    fn task_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_existing(EventBody::TaskAssigned(self.clone()), set, at)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskProgress {
    pub id: String,
    /// Percent done, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
}

impl Payload for TaskProgress {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::percent("progress", self.progress)?;
        check::opt_word("phase", self.phase.as_deref())?;
        check::text("message", self.message.as_deref(), check::MAX_TEXT)?;
        check::opt_id("vm_id", self.vm_id.as_deref())?;
        if self.progress.is_none() && self.phase.is_none() && self.message.is_none() && self.vm_id.is_none() {
            return Err(check::field("progress", "give at least one of `progress`, `phase`, `message`, `vm_id`"));
        }
        Ok(())
    }
    about_task!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_existing(EventBody::TaskProgress(self.clone()), set, at)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCompleted {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl Payload for TaskCompleted {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::http_url("pr_url", self.pr_url.as_deref())?;
        check::text("branch", self.branch.as_deref(), check::MAX_TITLE)?;
        check::text("summary", self.summary.as_deref(), check::MAX_TEXT)
    }
    about_task!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_existing(EventBody::TaskCompleted(self.clone()), set, at)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFailed {
    pub id: String,
    pub error: ErrorDetails,
}

impl Payload for TaskFailed {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        self.error.validate()
    }
    about_task!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        project_existing(EventBody::TaskFailed(self.clone()), set, at)
    }
}

/// A person (or a program) stops a task that is not finished: it ends as cancelled. The assigned
/// agent hears it on its topic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCancelled {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The agent it was assigned to, filled in so that agent hears of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

impl Payload for TaskCancelled {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::text("reason", self.reason.as_deref(), check::MAX_TEXT)?;
        check::name("assignee", self.assignee.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        task_topics(&self.id, self.assignee.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let task = set.require::<Task>(&self.id)?;
        if task.status.finished() {
            let status = task.status.as_str();
            return Err(Refusal::Conflict(format!(
                "task `{}` is {status}: only unfinished work can be cancelled",
                self.id
            ))
            .into());
        }
        self.assignee = task.assignee;
        project_existing(EventBody::TaskCancelled(self.clone()), set, at)
    }
}

/// A failed or cancelled task goes again, as its next attempt: back to the inbox, or straight to
/// an agent (`assignee`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRetried {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

impl Payload for TaskRetried {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::name("assignee", self.assignee.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        task_topics(&self.id, self.assignee.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let task = set.require::<Task>(&self.id)?;
        if !task.status.retryable() {
            let status = task.status.as_str();
            return Err(Refusal::Conflict(format!(
                "task `{}` is {status}: only a failed or cancelled task can be retried",
                self.id
            ))
            .into());
        }
        project_existing(EventBody::TaskRetried(self.clone()), set, at)
    }
}

/// Refuses an event whose writer saw its task at `seen`, when the task has changed since: nothing
/// of the request is stored, and the writer learns the task's current seq.
pub fn unchanged_since(body: &EventBody, seen: Seq, set: &EntitySet) -> Result<(), Step> {
    let Some(id) = body.task_id() else {
        return Err(
            Refusal::Conflict(format!("`if_seq` guards an event about a task; `{}` is not one", body.kind())).into()
        );
    };
    let task = set.require::<Task>(id)?;
    if task.last_seq == seen {
        return Ok(());
    }
    Err(Refusal::Stale {
        message: format!(
            "task `{id}` changed at seq {} after the seq {seen} this change was based on; nothing was stored",
            task.last_seq
        ),
        current: task.last_seq,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: Seq) -> Stamp {
        Stamp { seq, ts: format!("2026-01-01T00:00:{seq:02}.000Z"), by: None }
    }

    #[test]
    fn lifecycle_keeps_time_and_details() {
        let created = TaskCreated { id: Some("t1".into()), title: "Write docs".into(), ..Default::default() };
        let mut task = Task::created(&created, "t1".into(), &at(1));
        task.apply(&EventBody::TaskAssigned(TaskAssigned { id: "t1".into(), agent: "ada".into() }), &at(2));
        assert_eq!((task.status, task.started_at.as_deref()), (TaskStatus::Assigned, Some(at(2).ts.as_str())));
        let progress = TaskProgress {
            id: "t1".into(),
            progress: Some(40),
            phase: Some("vm_assigned".into()),
            message: Some("VM vm-7 assigned".into()),
            vm_id: Some("vm-7".into()),
        };
        task.apply(&EventBody::TaskProgress(progress), &at(3));
        assert_eq!(task.status, TaskStatus::InProgress);
        assert_eq!(
            (task.progress, task.vm_id.as_deref(), task.message.as_deref()),
            (40, Some("vm-7"), Some("VM vm-7 assigned"))
        );
        let error = ErrorDetails { message: "boom".into(), kind: Some("test_failure".into()), context: None };
        task.apply(&EventBody::TaskFailed(TaskFailed { id: "t1".into(), error }), &at(5));
        assert_eq!(task.status, TaskStatus::Failed);
        assert_eq!(task.error.as_ref().map(ErrorDetails::group), Some("test_failure"));
        assert_eq!(task.duration_ms(0), Some(3_000));
        assert_eq!(task.last_seq, 5);
    }

    #[test]
    fn an_error_may_be_a_string_or_an_object() {
        let text: ErrorDetails = serde_json::from_str(r#""boom""#).unwrap();
        assert_eq!(text.message, "boom");
        let full: ErrorDetails =
            serde_json::from_str(r#"{"message":"m","kind":"timeout","context":{"step":3}}"#).unwrap();
        assert_eq!(full.kind.as_deref(), Some("timeout"));
        assert!(serde_json::from_str::<ErrorDetails>(r#"{"mesage":"m"}"#).is_err());
        let misspelt = serde_json::from_str::<ErrorDetails>(r#"{"mesage":"m"}"#).unwrap_err().to_string();
        assert!(misspelt.contains("mesage"), "{misspelt}");
        let number = serde_json::from_str::<ErrorDetails>("5").unwrap_err().to_string();
        assert!(number.contains("a message string or"), "{number}");
    }

    #[test]
    fn projection_refuses_duplicates_and_unknown_tasks() {
        let mut set = EntitySet::default();
        let mut created = TaskCreated { title: "T".into(), ..Default::default() };
        assert_eq!(created.project(&mut set, &at(9)), Err(Step::Need { kind: "task", id: "task-9".into() }));
        set.provide("task", "task-9".into(), None);
        set.reset_writes();
        created.project(&mut set, &at(9)).unwrap();
        assert_eq!(created.id.as_deref(), Some("task-9"));
        let rows = set.into_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].index.status.as_deref(), Some("inbox"));

        let mut set = EntitySet::default();
        set.provide("task", "nope".into(), None);
        let mut failed = TaskFailed { id: "nope".into(), error: "x".into() };
        let refused = failed.project(&mut set, &at(10)).unwrap_err();
        assert!(matches!(refused, Step::Refuse(super::super::Refusal::Unknown(ref m)) if m.contains("nope")));
    }
}
