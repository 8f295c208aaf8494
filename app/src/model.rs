//! The entities events act on, and the one reducer that applies an event to them.
//!
//! The server applies events with these functions before writing a row, and the browser applies the
//! same events to its copy of the board, so both sides always agree on what an event means.

use serde::{Deserialize, Serialize};

use crate::events::{Event, EventBody, Seq};

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
}

impl TaskStatus {
    /// Board columns, left to right.
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Inbox,
        TaskStatus::Assigned,
        TaskStatus::InProgress,
        TaskStatus::Review,
        TaskStatus::Done,
        TaskStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Inbox => "inbox",
            TaskStatus::Assigned => "assigned",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Review => "review",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
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
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub assignee: Option<String>,
    pub progress: u8,
    pub pr_url: Option<String>,
    pub error: Option<String>,
    pub labels: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Seq of the event that created the task: a stable order for the board.
    pub created_seq: Seq,
    /// Seq of the last event applied: lets a view tell a fresh copy from a stale one.
    pub last_seq: Seq,
}

impl Task {
    /// Applies a task event. `task:created` is handled by [`Task::created`]; events about other
    /// entities leave the task as it is.
    pub fn apply(&mut self, body: &EventBody, seq: Seq, ts: &str) {
        match body {
            EventBody::TaskUpdated(e) => {
                if let Some(v) = &e.title {
                    self.title = v.clone();
                }
                if let Some(v) = &e.description {
                    self.description = Some(v.clone());
                }
                if let Some(v) = e.status {
                    self.status = v;
                }
                if let Some(v) = &e.assignee {
                    self.assignee = Some(v.clone());
                }
                if let Some(v) = e.progress {
                    self.progress = v;
                }
                if let Some(v) = &e.pr_url {
                    self.pr_url = Some(v.clone());
                }
                if let Some(v) = &e.labels {
                    self.labels = v.clone();
                }
            }
            EventBody::TaskAssigned(e) => {
                self.assignee = Some(e.agent.clone());
                if matches!(self.status, TaskStatus::Inbox | TaskStatus::Failed) {
                    self.status = TaskStatus::Assigned;
                }
            }
            EventBody::TaskProgress(e) => {
                self.progress = e.progress;
                if matches!(self.status, TaskStatus::Inbox | TaskStatus::Assigned) {
                    self.status = TaskStatus::InProgress;
                }
            }
            EventBody::TaskCompleted(e) => {
                self.status = TaskStatus::Done;
                self.progress = 100;
                self.error = None;
                if let Some(url) = &e.pr_url {
                    self.pr_url = Some(url.clone());
                }
            }
            EventBody::TaskFailed(e) => {
                self.status = TaskStatus::Failed;
                self.error = Some(e.error.clone());
            }
            _ => return,
        }
        self.updated_at = ts.to_string();
        self.last_seq = seq;
    }

    pub fn created(e: &crate::events::TaskCreated, id: String, seq: Seq, ts: &str) -> Task {
        Task {
            id,
            title: e.title.clone(),
            description: e.description.clone(),
            status: e.status.unwrap_or_default(),
            assignee: e.assignee.clone(),
            progress: 0,
            pr_url: None,
            error: None,
            labels: e.labels.clone(),
            created_at: ts.to_string(),
            updated_at: ts.to_string(),
            created_seq: seq,
            last_seq: seq,
        }
    }
}

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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: Option<String>,
    pub status: AgentState,
    pub task_id: Option<String>,
    pub last_heartbeat: Option<String>,
    pub last_seq: Seq,
}

impl Agent {
    pub fn apply(&mut self, body: &EventBody, seq: Seq, ts: &str) {
        match body {
            EventBody::AgentStatus(e) => {
                self.status = e.status;
                if e.name.is_some() {
                    self.name = e.name.clone();
                }
                self.task_id = e.task_id.clone();
                // A status report proves the agent is alive as much as a heartbeat does.
                self.last_heartbeat = Some(ts.to_string());
            }
            EventBody::AgentHeartbeat(e) => {
                if e.task_id.is_some() {
                    self.task_id = e.task_id.clone();
                }
                self.last_heartbeat = Some(ts.to_string());
            }
            _ => return,
        }
        self.last_seq = seq;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Persistent,
    Subagent,
    Design,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    #[default]
    Completed,
    Failed,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub kind: SessionKind,
    pub task_id: Option<String>,
    pub agent: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<SessionOutcome>,
}

/// What the board page renders, read at one `seq` so the live stream can resume exactly there.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub seq: Seq,
    pub tasks: Vec<Task>,
    /// Ids of sub-agent sessions that have started and not ended.
    pub active_subagents: Vec<String>,
}

impl Board {
    /// Applies a live event. Events at or below the board's `seq` are already in it and ignored,
    /// which makes a replay that overlaps the snapshot harmless.
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        match &event.body {
            EventBody::TaskCreated(e) => {
                let id = e.id.clone().unwrap_or_default();
                if !self.tasks.iter().any(|t| t.id == id) {
                    self.tasks.push(Task::created(e, id, event.seq, &event.ts));
                }
            }
            EventBody::SessionStarted(e) if e.kind == SessionKind::Subagent => {
                if !self.active_subagents.contains(&e.id) {
                    self.active_subagents.push(e.id.clone());
                }
            }
            EventBody::SessionEnded(e) => self.active_subagents.retain(|id| id != &e.id),
            body => {
                if let Some(task) = body.task_id().and_then(|id| self.tasks.iter_mut().find(|t| t.id == id)) {
                    task.apply(body, event.seq, &event.ts);
                }
            }
        }
    }

    /// One column: its newest `limit` cards (finished ones by when they finished, others by when
    /// they were created) and how many it holds in all, so a long-running board stays light.
    pub fn column(&self, status: TaskStatus, limit: usize) -> Column {
        let mut cards: Vec<&Task> = self.tasks.iter().filter(|t| t.status == status).collect();
        let finished = matches!(status, TaskStatus::Done | TaskStatus::Failed);
        cards.sort_by_key(|t| std::cmp::Reverse(if finished { t.last_seq } else { t.created_seq }));
        Column { total: cards.len(), cards: cards.into_iter().take(limit).cloned().collect() }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub cards: Vec<Task>,
    pub total: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::*;

    fn event(seq: Seq, body: EventBody) -> Event {
        Event { seq, ts: format!("t{seq}"), topics: body.topics(), body }
    }

    #[test]
    fn lifecycle_moves_the_card() {
        let mut board = Board::default();
        let created = TaskCreated { id: Some("t1".into()), title: "Write docs".into(), ..Default::default() };
        board.apply(&event(1, EventBody::TaskCreated(created)));
        assert_eq!(board.column(TaskStatus::Inbox, 10).cards.len(), 1);
        board.apply(&event(2, EventBody::TaskAssigned(TaskAssigned { id: "t1".into(), agent: "ada".into() })));
        assert_eq!(board.tasks[0].status, TaskStatus::Assigned);
        board.apply(&event(3, EventBody::TaskProgress(TaskProgress { id: "t1".into(), progress: 50, message: None })));
        assert_eq!((board.tasks[0].status, board.tasks[0].progress), (TaskStatus::InProgress, 50));
        board.apply(&event(4, EventBody::TaskFailed(TaskFailed { id: "t1".into(), error: "boom".into() })));
        assert_eq!(board.tasks[0].status, TaskStatus::Failed);
        assert_eq!(board.tasks[0].last_seq, 4);
    }

    #[test]
    fn a_long_column_shows_its_newest_cards_and_counts_all() {
        let mut board = Board::default();
        for seq in 1..=5 {
            let created = TaskCreated { id: Some(format!("t{seq}")), title: "T".into(), ..Default::default() };
            board.apply(&event(seq, EventBody::TaskCreated(created)));
        }
        board.apply(&event(6, EventBody::TaskFailed(TaskFailed { id: "t1".into(), error: "x".into() })));
        board.apply(&event(7, EventBody::TaskFailed(TaskFailed { id: "t5".into(), error: "x".into() })));
        let inbox = board.column(TaskStatus::Inbox, 2);
        assert_eq!((inbox.total, inbox.cards.iter().map(|t| t.id.as_str()).collect::<Vec<_>>()), (3, vec!["t4", "t3"]));
        let failed = board.column(TaskStatus::Failed, 10);
        assert_eq!(
            failed.cards.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            vec!["t5", "t1"],
            "last failed first"
        );
    }

    #[test]
    fn replayed_events_are_ignored() {
        let mut board = Board { seq: 5, ..Default::default() };
        let created = TaskCreated { id: Some("t1".into()), title: "Old".into(), ..Default::default() };
        board.apply(&event(5, EventBody::TaskCreated(created)));
        assert!(board.tasks.is_empty());
    }

    #[test]
    fn subagent_counter_follows_sessions() {
        let mut board = Board::default();
        let start = |id: &str, kind| SessionStarted { id: id.into(), kind, task_id: None, agent: None };
        board.apply(&event(1, EventBody::SessionStarted(start("s1", SessionKind::Subagent))));
        board.apply(&event(2, EventBody::SessionStarted(start("s2", SessionKind::Persistent))));
        assert_eq!(board.active_subagents, vec!["s1"]);
        let end = SessionEnded { id: "s1".into(), outcome: SessionOutcome::Completed, summary: None };
        board.apply(&event(3, EventBody::SessionEnded(end)));
        assert!(board.active_subagents.is_empty());
    }
}
