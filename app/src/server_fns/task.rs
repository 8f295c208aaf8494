//! A task's page: the task, its timeline, deliverables, sessions and test runs.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{board::HealthBadge, Page, Past};
use crate::domain::{
    activity::Activity, approval::Approval, deliverable::Deliverable, session::Session, task::Task, test_run::TestRun,
    Event, EventBody, Seq,
};

/// Timeline entries a page opens with; older ones are in the API.
pub const TIMELINE: u32 = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskDetail {
    pub seq: Seq,
    pub task: Task,
    /// Newest first.
    pub activities: Vec<Activity>,
    pub deliverables: Vec<Deliverable>,
    pub sessions: Vec<Session>,
    pub tests: Vec<TestRun>,
    /// Approvals asked about this task.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// The health of the task's agent, when Flightdeck knows the agent.
    pub agent: Option<HealthBadge>,
}

/// A task's timeline shows every event about it.
impl crate::wire::Reads for TaskDetail {
    const READS: u64 = crate::domain::ALL_EVENTS;
}

impl TaskDetail {
    /// What the page's reducer does to its task, which may not exist yet: a page played from before
    /// the task was created starts with its `task:created`.
    pub fn follow(detail: &mut Option<TaskDetail>, event: &Event) {
        match (detail, &event.body) {
            (Some(d), _) => d.apply(event),
            (empty @ None, EventBody::TaskCreated(e)) => {
                let at = event.stamp();
                let task = Task::created(e, e.id.clone().unwrap_or_default(), &at);
                let created = crate::domain::timeline::entry(&event.body, &at, task.status);
                *empty = Some(TaskDetail {
                    seq: event.seq,
                    task,
                    activities: created.into_iter().collect(),
                    deliverables: vec![],
                    sessions: vec![],
                    tests: vec![],
                    approvals: vec![],
                    agent: None,
                });
            }
            (None, _) => {}
        }
    }

    /// Applies a live event about this task (the page follows `task:<id>`).
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        if event.body.task_id() != Some(self.task.id.as_str()) {
            return;
        }
        let before = self.task.status;
        self.task.apply(&event.body, &at);
        // What a person did, and failures and retries: the entry the store writes with the event.
        if let Some(entry) = crate::domain::timeline::entry(&event.body, &at, before) {
            self.activities.insert(0, entry);
        }
        match &event.body {
            EventBody::ActivityLogged(e) => self.activities.insert(0, Activity::logged(e, &at)),
            EventBody::ActivityUpdated(e) => {
                if let Some(entry) = self.activities.iter_mut().find(|a| a.id == e.id) {
                    entry.apply(&event.body, &at);
                }
            }
            EventBody::DeliverableAdded(e) => self.deliverables.push(Deliverable::added(e, &at)),
            EventBody::SessionStarted(e) => self.sessions.push(Session::started(e, &at)),
            EventBody::TestStarted(e) => self.tests.push(TestRun::started(e, &at)),
            EventBody::ApprovalRequested(e) => self.approvals.push(Approval::requested(e, &at)),
            EventBody::TestCompleted(e) => {
                if let Some(run) = self.tests.iter_mut().find(|r| r.id == e.id) {
                    run.complete(e, &at);
                }
            }
            EventBody::AgentHealth(e) if self.task.assignee.as_deref() == Some(&e.id) => {
                self.agent = Some(HealthBadge { health: e.health, reason: e.reason.clone() });
            }
            body => {
                for session in &mut self.sessions {
                    session.apply(body, &at);
                }
                for approval in &mut self.approvals {
                    approval.apply(body, &at);
                }
            }
        }
    }
}

/// What a task's page reads.
#[cfg(feature = "ssr")]
fn queries(id: &str) -> Vec<crate::domain::entity::Query> {
    use crate::domain::{agent::Agent, entity::Query};
    vec![
        Query::one::<Task>(id),
        Query::children::<Activity>(id).newest(TIMELINE),
        Query::children::<Deliverable>(id),
        Query::children::<Session>(id),
        Query::children::<TestRun>(id),
        Query::all::<Agent>(),
        Query::all::<Approval>(),
    ]
}

/// The page those reads make, at `seq`; `None` when there is no such task.
#[cfg(feature = "ssr")]
fn build(id: &str, seq: Seq, rows: &[Vec<String>]) -> Result<Option<TaskDetail>, String> {
    use crate::domain::{agent::Agent, entity::decode_rows};
    let Some(task) = decode_rows::<Task>(&rows[0])?.pop() else { return Ok(None) };
    let agent = decode_rows::<Agent>(&rows[5])?
        .into_iter()
        .find(|a| task.assignee.as_deref() == Some(&a.id))
        .map(|a| HealthBadge { health: a.health, reason: a.health_reason });
    Ok(Some(TaskDetail {
        seq,
        task,
        activities: decode_rows(&rows[1])?,
        deliverables: decode_rows(&rows[2])?,
        sessions: decode_rows(&rows[3])?,
        tests: decode_rows(&rows[4])?,
        approvals: decode_rows::<Approval>(&rows[6])?
            .into_iter()
            .filter(|a| a.task_id.as_deref() == Some(id))
            .collect(),
        agent,
    }))
}

/// The task with this id, or `None` when there is none.
#[server(output = super::JsonAnswer)]
pub async fn get_task(id: String) -> Result<Page<Option<TaskDetail>>, ServerFnError> {
    let read = super::ssr::read_page(queries(&id)).await?;
    let detail = build(&id, read.snapshot.seq, &read.snapshot.rows).map_err(ServerFnError::new)?;
    Ok(read.page(detail))
}

/// The task's page as it was right after event `at` (or the last event at or before `time`), its
/// steps taken among the task's own events.
#[server(output = super::JsonAnswer)]
pub async fn get_task_at(id: String, at: Seq, time: String) -> Result<Page<Past<Option<TaskDetail>>>, ServerFnError> {
    let topic = crate::topics::task(&id);
    super::ssr::read_past(queries(&id), at, &time, Some(topic), |seq, rows| build(&id, seq, rows)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{TaskCreated, TaskFailed, TaskStatus, TaskUpdated};

    fn event(seq: Seq, by: Option<&str>, body: EventBody) -> Event {
        Event {
            seq,
            ts: format!("2026-01-01T00:00:{seq:02}.000Z"),
            topics: body.topics(),
            by: by.map(Into::into),
            body,
        }
    }

    #[test]
    fn the_live_timeline_gains_the_entries_the_store_writes() {
        let mut detail = None;
        let created = TaskCreated { id: Some("t1".into()), title: "T".into(), ..Default::default() };
        TaskDetail::follow(&mut detail, &event(1, Some("Dana"), EventBody::TaskCreated(created)));
        let moved = TaskUpdated { id: "t1".into(), status: Some(TaskStatus::Review), ..Default::default() };
        TaskDetail::follow(&mut detail, &event(2, Some("Dana"), EventBody::TaskUpdated(moved.clone())));
        TaskDetail::follow(&mut detail, &event(3, None, EventBody::TaskUpdated(moved)));
        let failed = TaskFailed { id: "t1".into(), error: "red".into() };
        TaskDetail::follow(&mut detail, &event(4, None, EventBody::TaskFailed(failed)));
        let messages: Vec<String> = detail.unwrap().activities.into_iter().map(|a| a.message).collect();
        assert_eq!(messages, ["Failed: red", "Moved to Review by Dana", "Created by Dana"]);
    }
}
