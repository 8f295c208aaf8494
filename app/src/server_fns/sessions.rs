//! The sessions pages: every session, and one design session's chat, spec, approvals and tickets;
//! and the two things a person does there: write a message, decide an approval.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Page, Past};
use crate::domain::{
    activity::Activity,
    approval::{Approval, ApprovalStatus},
    session::{Message, Session},
    task::Task,
    Event, EventBody, Seq,
};

/// Sessions the list shows.
pub const LISTED: u32 = 200;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionList {
    pub seq: Seq,
    /// Newest first.
    pub sessions: Vec<Session>,
    /// Approvals waiting for someone, across every session.
    pub pending: Vec<Approval>,
}

/// Sessions, agents and approvals: most event types touch the list.
impl crate::wire::Reads for SessionList {
    const READS: u64 = crate::domain::ALL_EVENTS;
}

impl SessionList {
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        match &event.body {
            EventBody::SessionStarted(e) => self.sessions.insert(0, Session::started(e, &at)),
            EventBody::ApprovalRequested(e) => self.pending.push(Approval::requested(e, &at)),
            EventBody::ApprovalResolved(e) => self.pending.retain(|a| a.id != e.id),
            body => self.sessions.iter_mut().for_each(|s| s.apply(body, &at)),
        }
    }

    pub fn waiting(&self, session: &str) -> usize {
        self.pending.iter().filter(|a| a.session_id.as_deref() == Some(session)).count()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionDetail {
    pub seq: Seq,
    pub session: Session,
    /// Oldest first, as a chat reads.
    pub messages: Vec<Message>,
    pub approvals: Vec<Approval>,
    /// The tasks this session generated.
    pub tickets: Vec<Task>,
    /// Its timeline entries that belong to no task (a coding agent's tool calls), newest first.
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// The sessions it started (sub-agents), oldest first.
    #[serde(default)]
    pub children: Vec<Session>,
}

/// A session shows the events of every type it took part in.
impl crate::wire::Reads for SessionDetail {
    const READS: u64 = crate::domain::ALL_EVENTS;
}

impl SessionDetail {
    /// What the page's reducer does to its session, which may not exist yet: a page played from
    /// before the session started starts with its `session:started`.
    pub fn follow(detail: &mut Option<SessionDetail>, event: &Event) {
        match (detail, &event.body) {
            (Some(d), _) => d.apply(event),
            (empty @ None, EventBody::SessionStarted(e)) => {
                let at = event.stamp();
                *empty = Some(SessionDetail {
                    seq: event.seq,
                    session: Session::started(e, &at),
                    messages: vec![],
                    approvals: vec![],
                    tickets: vec![],
                    activities: vec![],
                    children: vec![],
                });
            }
            (None, _) => {}
        }
    }

    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        let id = self.session.id.clone();
        self.session.apply(&event.body, &at);
        match &event.body {
            EventBody::SessionMessage(e) if e.id == id => self.messages.push(Message::said(e, &at)),
            EventBody::SessionDelivered(e) if e.id == id => {
                if let Some(m) = self.messages.iter_mut().find(|m| m.id == e.message_id) {
                    (m.delivered_at, m.delivered_via) = (Some(at.ts.clone()), Some(e.via.clone()));
                }
            }
            EventBody::ActivityLogged(e) if e.session_id.as_deref() == Some(&id) && e.task_id.is_none() => {
                self.activities.insert(0, Activity::logged(e, &at))
            }
            EventBody::SessionStarted(e) if e.parent_id.as_deref() == Some(&id) => {
                self.children.push(Session::started(e, &at))
            }
            EventBody::ActivityMoved(e) => {
                self.activities.retain(|a| a.id != e.id);
                if let Some(entry) =
                    e.entry.as_ref().filter(|a| a.session_id.as_deref() == Some(&id) && a.task_id.is_none())
                {
                    let at = self.activities.iter().position(|a| a.seq < entry.seq).unwrap_or(self.activities.len());
                    self.activities.insert(at, entry.clone());
                }
            }
            EventBody::ApprovalRequested(e) if e.session_id.as_deref() == Some(&id) => {
                self.approvals.push(Approval::requested(e, &at))
            }
            EventBody::TaskCreated(e) if e.session_id.as_deref() == Some(&id) => {
                let task_id = e.id.clone().unwrap_or_default();
                self.tickets.push(Task::created(e, task_id, &at));
            }
            body => {
                self.approvals.iter_mut().for_each(|a| a.apply(body, &at));
                self.tickets.iter_mut().for_each(|t| t.apply(body, &at));
                self.activities.iter_mut().for_each(|a| a.apply(body, &at));
                self.children.iter_mut().for_each(|s| s.apply(body, &at));
            }
        }
    }

    pub fn pending(&self) -> usize {
        self.approvals.iter().filter(|a| a.status == ApprovalStatus::Pending).count()
    }
}

#[server(output = super::JsonAnswer)]
pub async fn get_sessions() -> Result<Page<SessionList>, ServerFnError> {
    use crate::domain::entity::{decode_rows, Query};
    let queries = vec![
        Query::all::<Session>().newest(LISTED),
        Query::all::<Approval>().with_status(&[ApprovalStatus::Pending.as_str()]),
    ];
    let read = super::ssr::read_page(queries).await?;
    let rows = &read.snapshot.rows;
    let list = SessionList {
        seq: read.snapshot.seq,
        sessions: decode_rows(&rows[0]).map_err(ServerFnError::new)?,
        pending: decode_rows(&rows[1]).map_err(ServerFnError::new)?,
    };
    Ok(read.page(list))
}

/// What a session's page reads.
#[cfg(feature = "ssr")]
fn queries(id: &str) -> Vec<crate::domain::entity::Query> {
    use crate::domain::entity::Query;
    vec![
        Query::one::<Session>(id),
        Query::children::<Message>(id),
        Query::children::<Approval>(id),
        Query::children::<Task>(id),
        Query::children::<Activity>(&crate::domain::activity::session_parent(id)).newest(super::task::TIMELINE),
        // Sessions are indexed by task, not by parent: the children are among the recent ones.
        Query::all::<Session>().newest(LISTED),
    ]
}

/// The page those reads make, at `seq`; `None` when there is no such session.
#[cfg(feature = "ssr")]
fn build(id: &str, seq: Seq, rows: &[Vec<String>]) -> Result<Option<SessionDetail>, String> {
    use crate::domain::entity::decode_rows;
    let Some(session) = decode_rows::<Session>(&rows[0])?.pop() else { return Ok(None) };
    let mut children = decode_rows::<Session>(&rows[5])?;
    children.retain(|s| s.parent_id.as_deref() == Some(id));
    children.reverse();
    Ok(Some(SessionDetail {
        seq,
        session,
        messages: decode_rows(&rows[1])?,
        approvals: decode_rows(&rows[2])?,
        tickets: decode_rows(&rows[3])?,
        activities: decode_rows(&rows[4])?,
        children,
    }))
}

#[server(output = super::JsonAnswer)]
pub async fn get_session(id: String) -> Result<Page<Option<SessionDetail>>, ServerFnError> {
    let read = super::ssr::read_page(queries(&id)).await?;
    let detail = build(&id, read.snapshot.seq, &read.snapshot.rows).map_err(ServerFnError::new)?;
    Ok(read.page(detail))
}

/// The session's page as it was right after event `at` (or the last event at or before `time`),
/// its steps taken among the session's own events.
#[server(output = super::JsonAnswer)]
pub async fn get_session_at(
    id: String,
    at: Seq,
    time: String,
) -> Result<Page<Past<Option<SessionDetail>>>, ServerFnError> {
    let topic = crate::topics::session(&id);
    super::ssr::read_past(queries(&id), at, &time, Some(topic), |seq, rows| build(&id, seq, rows)).await
}

/// Posts a message to the session as the signed-in person; a running agent gets it at its next
/// hook. `stop` asks the agent to stop: its next tool call is denied with the message.
#[server(output = super::JsonAnswer)]
pub async fn send_message(session_id: String, text: String, stop: Option<bool>) -> Result<(), ServerFnError> {
    use crate::domain::session::{Role, SessionMessage};
    let author = super::ssr::viewer().await?.name;
    let stop = stop.unwrap_or(false);
    let message =
        SessionMessage { id: session_id, role: Role::Human, author: Some(author), text, stop, ..Default::default() };
    super::ssr::act(vec![EventBody::SessionMessage(message)]).await
}

/// Approves or denies an approval as the signed-in person, with the reason the agent reads, an
/// edited input (JSON) to run instead, or for the rest of the agent's session; refused when it is
/// already resolved.
#[server(output = super::JsonAnswer)]
pub async fn decide(
    approval_id: String,
    approve: bool,
    reason: Option<String>,
    updated_input: Option<String>,
    for_session: Option<bool>,
) -> Result<(), ServerFnError> {
    use crate::domain::approval::ApprovalResolved;
    let by = super::ssr::viewer().await?.name;
    let status = if approve { ApprovalStatus::Approved } else { ApprovalStatus::Rejected };
    let updated_input = match updated_input.filter(|i| !i.trim().is_empty()) {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| ServerFnError::new(format!("the edited input is not JSON: {e}")))?,
        ),
        None => None,
    };
    let resolution = ApprovalResolved {
        id: approval_id,
        status,
        by: Some(by),
        comment: reason.filter(|r| !r.trim().is_empty()),
        updated_input,
        for_session: for_session.unwrap_or(false),
        ..Default::default()
    };
    super::ssr::act(vec![EventBody::ApprovalResolved(resolution)]).await
}
