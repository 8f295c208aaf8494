//! The events page: the last events of the workspace, live, and the errors summary.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::domain::{
    task::{Task, TaskStatus},
    Event, EventBody, Seq,
};

/// Events the page shows.
pub const SHOWN: usize = 50;

/// A failed task as the errors summary lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedTask {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub message: String,
}

/// Failed tasks of one error kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    pub kind: String,
    pub count: usize,
    pub tasks: Vec<FailedTask>,
}

impl FailedTask {
    pub fn of(task: &Task) -> Option<FailedTask> {
        let error = task.error.as_ref().filter(|_| task.status == TaskStatus::Failed)?;
        Some(FailedTask {
            id: task.id.clone(),
            title: task.title.clone(),
            kind: error.group().to_string(),
            message: error.message.clone(),
        })
    }
}

/// Failed tasks grouped by error kind, the largest group first.
pub fn summarize(failed: &[FailedTask]) -> Vec<ErrorGroup> {
    let mut groups: Vec<ErrorGroup> = Vec::new();
    for task in failed {
        match groups.iter_mut().find(|g| g.kind == task.kind) {
            Some(group) => {
                group.count += 1;
                group.tasks.push(task.clone());
            }
            None => groups.push(ErrorGroup { kind: task.kind.clone(), count: 1, tasks: vec![task.clone()] }),
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
    groups
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventLog {
    pub seq: Seq,
    /// Newest first.
    pub events: Vec<Event>,
    /// While paused, new events wait here ("12 new").
    pub paused: bool,
    pub held: Vec<Event>,
    pub failed: Vec<FailedTask>,
}

/// The log shows every event.
impl crate::wire::Reads for EventLog {
    const READS: u64 = crate::domain::ALL_EVENTS;
}

impl EventLog {
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        self.track_failures(event);
        if self.paused {
            self.held.push(event.clone());
        } else {
            self.events.insert(0, event.clone());
            self.events.truncate(SHOWN);
        }
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        if !paused {
            for event in std::mem::take(&mut self.held) {
                self.events.insert(0, event);
            }
            self.events.truncate(SHOWN);
        }
    }

    fn track_failures(&mut self, event: &Event) {
        let Some(id) = event.body.task_id() else { return };
        match &event.body {
            EventBody::TaskFailed(e) => {
                let title = self.failed.iter().find(|f| f.id == id).map_or_else(|| id.to_string(), |f| f.title.clone());
                self.failed.retain(|f| f.id != id);
                let kind = e.error.group().to_string();
                self.failed.push(FailedTask { id: id.to_string(), title, kind, message: e.error.message.clone() });
            }
            EventBody::TaskUpdated(e) if e.status.is_some_and(|s| s != TaskStatus::Failed) => {
                self.failed.retain(|f| f.id != id)
            }
            EventBody::TaskAssigned(_) | EventBody::TaskCompleted(_) => self.failed.retain(|f| f.id != id),
            _ => {}
        }
    }

    pub fn errors(&self) -> Vec<ErrorGroup> {
        summarize(&self.failed)
    }
}

#[server(output = super::JsonAnswer)]
pub async fn get_events() -> Result<Page<EventLog>, ServerFnError> {
    use crate::domain::entity::{decode_rows, Query};
    let source = expect_context::<super::ssr::ReadSource>();
    let viewer = super::ssr::viewer().await?;
    let failed_tasks = Query::all::<Task>().with_status(&[TaskStatus::Failed.as_str()]);
    let read = super::ssr::read_page(vec![failed_tasks]).await?;
    let failed = decode_rows::<Task>(&read.snapshot.rows[0]).map_err(ServerFnError::new)?;
    // Read after the snapshot, so every event up to its seq is here (and maybe a few beyond it,
    // which the page keeps and the feed then skips).
    let (_, frames) = source.0.recent_events(&viewer.workspace, SHOWN as u32).await.map_err(ServerFnError::new)?;
    let mut events: Vec<Event> = frames.iter().filter_map(|f| serde_json::from_str(f).ok()).collect();
    events.reverse();
    let seq = events.first().map_or(read.snapshot.seq, |e| e.seq.max(read.snapshot.seq));
    let log = EventLog {
        seq,
        events,
        paused: false,
        held: vec![],
        failed: failed.iter().filter_map(FailedTask::of).collect(),
    };
    let mut page = read.page(log);
    page.seq = seq;
    Ok(page)
}
