//! A task's page: the task, its timeline, deliverables, sessions and test runs.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{board::HealthBadge, Page};
use crate::domain::{
    activity::Activity, approval::Approval, deliverable::Deliverable, session::Session, task::Task, test_run::TestRun,
    Event, EventBody, Seq, Stamp,
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

impl TaskDetail {
    /// Applies a live event about this task (the page follows `task:<id>`).
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = Stamp { seq: event.seq, ts: event.ts.clone() };
        if event.body.task_id() != Some(self.task.id.as_str()) {
            return;
        }
        self.task.apply(&event.body, &at);
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

/// The task with this id, or `None` when there is none.
#[server(output = super::JsonAnswer)]
pub async fn get_task(id: String) -> Result<Page<Option<TaskDetail>>, ServerFnError> {
    use crate::domain::{
        agent::Agent,
        entity::{decode_rows, Query},
    };
    let queries = vec![
        Query::one::<Task>(&id),
        Query::children::<Activity>(&id).newest(TIMELINE),
        Query::children::<Deliverable>(&id),
        Query::children::<Session>(&id),
        Query::children::<TestRun>(&id),
        Query::all::<Agent>(),
        Query::all::<Approval>(),
    ];
    let read = super::ssr::read_page(queries).await?;
    let rows = &read.snapshot.rows;
    let fail = ServerFnError::new;
    let Some(task) = decode_rows::<Task>(&rows[0]).map_err(fail)?.pop() else {
        return Ok(read.page(None));
    };
    let agent = decode_rows::<Agent>(&rows[5])
        .map_err(fail)?
        .into_iter()
        .find(|a| task.assignee.as_deref() == Some(&a.id))
        .map(|a| HealthBadge { health: a.health, reason: a.health_reason });
    let detail = TaskDetail {
        seq: read.snapshot.seq,
        task,
        activities: decode_rows(&rows[1]).map_err(fail)?,
        deliverables: decode_rows(&rows[2]).map_err(fail)?,
        sessions: decode_rows(&rows[3]).map_err(fail)?,
        tests: decode_rows(&rows[4]).map_err(fail)?,
        approvals: decode_rows::<Approval>(&rows[6])
            .map_err(fail)?
            .into_iter()
            .filter(|a| a.task_id.as_deref() == Some(&id))
            .collect(),
        agent,
    };
    Ok(read.page(Some(detail)))
}
