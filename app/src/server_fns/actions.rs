//! What an operator does to tasks from the board and the task page: create, edit, move, assign,
//! cancel, retry, one task or several at once. Each is a server function that turns the request
//! into events and posts them through the server's one ingest step as the signed-in person, each
//! change guarded by the seq of the task the page showed (`if_seq`): a task someone changed
//! meanwhile refuses the whole request and nothing is stored. The page never changes a card
//! itself; it sees the result in its own live stream, like every other page.
//!
//! The arguments are plain form fields, so the same functions take the page's forms when the
//! browser runs no script (`moves[0][id]=…`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{task::TaskStatus, Seq};

/// A task an action is taken on, and its seq as the page showed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub seq: Seq,
}

/// A task to move to `status`, from its seq as the page showed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub id: String,
    pub seq: Seq,
    pub status: TaskStatus,
}

/// Labels as typed: separated by commas, spaces around them dropped.
pub fn labels(typed: &str) -> Vec<String> {
    typed.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// Text a form left empty is absent.
#[cfg(feature = "ssr")]
fn given(text: String) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A new task: in the Inbox, or Assigned when an agent is named (who hears of it on its topic).
/// Answers its seq, which names it (`task-<seq>`).
#[server(endpoint = "actions/create_task", output = super::JsonAnswer)]
pub async fn create_task(
    title: String,
    description: String,
    labels: String,
    assignee: String,
) -> Result<Vec<Seq>, ServerFnError> {
    use crate::domain::{task::TaskCreated, EventBody};
    let assignee = given(assignee);
    let created = TaskCreated {
        title: title.trim().to_string(),
        description: given(description),
        status: assignee.as_ref().map(|_| TaskStatus::Assigned),
        assignee,
        labels: self::labels(&labels),
        ..TaskCreated::default()
    };
    super::ssr::act_guarded(vec![EventBody::TaskCreated(created)], vec![]).await
}

/// Changes a task's title, description and labels.
#[server(endpoint = "actions/edit_task", output = super::JsonAnswer)]
pub async fn edit_task(
    id: String,
    seq: Seq,
    title: String,
    description: String,
    labels: String,
) -> Result<Vec<Seq>, ServerFnError> {
    use crate::domain::{task::TaskUpdated, EventBody};
    let edit = TaskUpdated {
        id,
        title: Some(title.trim().to_string()),
        description: Some(description.trim().to_string()),
        labels: Some(self::labels(&labels)),
        ..TaskUpdated::default()
    };
    super::ssr::act_guarded(vec![EventBody::TaskUpdated(edit)], vec![Some(seq)]).await
}

/// Moves tasks to other columns, all or none; answers the seq of each move (for Undo).
#[server(endpoint = "actions/move_tasks", output = super::JsonAnswer)]
pub async fn move_tasks(moves: Vec<Move>) -> Result<Vec<Seq>, ServerFnError> {
    use crate::domain::{task::TaskUpdated, EventBody};
    let guards = moves.iter().map(|m| Some(m.seq)).collect();
    let events = moves
        .into_iter()
        .map(|m| EventBody::TaskUpdated(TaskUpdated { id: m.id, status: Some(m.status), ..TaskUpdated::default() }))
        .collect();
    super::ssr::act_guarded(events, guards).await
}

/// Assigns tasks to an agent, all or none.
#[server(endpoint = "actions/assign_tasks", output = super::JsonAnswer)]
pub async fn assign_tasks(targets: Vec<Target>, agent: String) -> Result<Vec<Seq>, ServerFnError> {
    use crate::domain::{task::TaskAssigned, EventBody};
    let agent = agent.trim().to_string();
    let guards = targets.iter().map(|t| Some(t.seq)).collect();
    let events =
        targets.into_iter().map(|t| EventBody::TaskAssigned(TaskAssigned { id: t.id, agent: agent.clone() })).collect();
    super::ssr::act_guarded(events, guards).await
}

/// Cancels tasks, all or none, saying why; answers the seq of each cancel (for Undo).
#[server(endpoint = "actions/cancel_tasks", output = super::JsonAnswer)]
pub async fn cancel_tasks(targets: Vec<Target>, reason: String) -> Result<Vec<Seq>, ServerFnError> {
    use crate::domain::{task::TaskCancelled, EventBody};
    let reason = given(reason);
    let guards = targets.iter().map(|t| Some(t.seq)).collect();
    let events = targets
        .into_iter()
        .map(|t| EventBody::TaskCancelled(TaskCancelled { id: t.id, reason: reason.clone(), assignee: None }))
        .collect();
    super::ssr::act_guarded(events, guards).await
}

/// Runs a failed or cancelled task again: back to the Inbox, or to the agent it had.
#[server(endpoint = "actions/retry_task", output = super::JsonAnswer)]
pub async fn retry_task(id: String, seq: Seq, assignee: String) -> Result<Vec<Seq>, ServerFnError> {
    use crate::domain::{task::TaskRetried, EventBody};
    let retried = TaskRetried { id, assignee: given(assignee) };
    super::ssr::act_guarded(vec![EventBody::TaskRetried(retried)], vec![Some(seq)]).await
}

/// The columns a task may be moved to from the one it is in: every other, and Done for a
/// cancelled one (which shows in Done).
pub fn destinations(status: TaskStatus) -> impl Iterator<Item = TaskStatus> {
    TaskStatus::COLUMNS.into_iter().filter(move |s| *s != status)
}
