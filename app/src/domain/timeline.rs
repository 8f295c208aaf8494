//! What joins a task's timeline besides the entries agents log: each thing a person did to the
//! task from a page ("Moved to Review by Dana"), and each failure and retry, so a task on its
//! second attempt still shows why the first one failed. The store writes these entries as the
//! events are applied ([`follow`]) and a live page adds them from the same events, through [`entry`].

use super::{
    activity::Activity,
    task::{Task, TaskRetried, TaskStatus},
    EntitySet, EventBody, Stamp, Step,
};

/// The task's status before `body` is applied, for [`follow`] to say where it moved from.
pub fn before(body: &EventBody, set: &EntitySet) -> Result<TaskStatus, Step> {
    let task = match body.task_id() {
        Some(id) => set.get::<Task>(id)?,
        None => None,
    };
    Ok(task.map_or(TaskStatus::Inbox, |t| t.status))
}

/// Writes the timeline entry of an event just applied to a task that was `before`, if it makes one.
pub fn follow(body: &EventBody, set: &mut EntitySet, at: &Stamp, before: TaskStatus) {
    if let Some(entry) = entry(body, at, before) {
        set.put(&entry);
    }
}

/// The timeline entry `body` makes, applied at `at` to a task that was `before`; `None` for events
/// that only change the card.
pub fn entry(body: &EventBody, at: &Stamp, before: TaskStatus) -> Option<Activity> {
    let by = at.by.as_deref();
    let (category, said) = match body {
        EventBody::TaskFailed(e) => ("failed", format!("Failed: {}", e.error.message)),
        EventBody::TaskRetried(TaskRetried { assignee, .. }) => {
            let to = assignee.as_deref().map_or("the inbox".to_string(), |a| a.to_string());
            ("retried", format!("Retried: back to {to}"))
        }
        EventBody::TaskCancelled(e) => {
            ("cancelled", e.reason.as_deref().map_or("Cancelled".into(), |why| format!("Cancelled: {why}")))
        }
        _ => (by.map(|_| "operator")?, action(body, before)?),
    };
    let message = match by {
        Some(person) => format!("{said} by {person}"),
        None => said,
    };
    Some(Activity {
        id: format!("act-{}", at.seq),
        task_id: body.task_id().map(str::to_string),
        session_id: None,
        category: category.into(),
        message,
        actor: by.map(str::to_string),
        metadata: None,
        status: None,
        duration_ms: None,
        created_at: at.ts.clone(),
        seq: at.seq,
        last_seq: at.seq,
    })
}

/// What a person's edit did, in words.
fn action(body: &EventBody, before: TaskStatus) -> Option<String> {
    Some(match body {
        EventBody::TaskCreated(_) => "Created".into(),
        EventBody::TaskAssigned(e) => format!("Assigned to {}", e.agent),
        EventBody::TaskUpdated(e) => {
            let mut changes = Vec::new();
            if let Some(status) = e.status.filter(|s| *s != before) {
                changes.push(format!("Moved to {}", status.label()));
            }
            if let Some(agent) = &e.assignee {
                changes.push(format!("assigned to {agent}"));
            }
            let edited: Vec<&str> = [
                e.title.as_ref().map(|_| "title"),
                e.description.as_ref().map(|_| "description"),
                e.labels.as_ref().map(|_| "labels"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !edited.is_empty() {
                changes.push(format!("edited the {}", edited.join(", ")));
            }
            let mut said = changes.join(", ");
            let first = said.get(..1)?.to_uppercase();
            said.replace_range(..1, &first);
            said
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{TaskCancelled, TaskFailed, TaskUpdated};

    fn at(by: Option<&str>) -> Stamp {
        Stamp { seq: 7, ts: "2026-01-01T00:00:07.000Z".into(), by: by.map(str::to_string) }
    }

    #[test]
    fn a_persons_move_says_who_and_where() {
        let moved = EventBody::TaskUpdated(TaskUpdated {
            id: "t1".into(),
            status: Some(TaskStatus::Review),
            ..Default::default()
        });
        let entry = entry(&moved, &at(Some("Dana")), TaskStatus::InProgress).unwrap();
        assert_eq!((entry.id.as_str(), entry.message.as_str()), ("act-7", "Moved to Review by Dana"));
        assert_eq!((entry.task_id.as_deref(), entry.actor.as_deref()), (Some("t1"), Some("Dana")));
        assert_eq!(super::entry(&moved, &at(None), TaskStatus::InProgress), None, "an agent's move is on the card");
        let edited = EventBody::TaskUpdated(TaskUpdated {
            id: "t1".into(),
            title: Some("New".into()),
            labels: Some(vec![]),
            ..Default::default()
        });
        let entry = super::entry(&edited, &at(Some("Dana")), TaskStatus::Inbox).unwrap();
        assert_eq!(entry.message, "Edited the title, labels by Dana");
    }

    #[test]
    fn failures_and_cancels_are_kept_whoever_reports_them() {
        let failed = EventBody::TaskFailed(TaskFailed { id: "t1".into(), error: "tests red".into() });
        assert_eq!(entry(&failed, &at(None), TaskStatus::InProgress).unwrap().message, "Failed: tests red");
        let cancelled = EventBody::TaskCancelled(TaskCancelled {
            id: "t1".into(),
            reason: Some("wrong repo".into()),
            assignee: None,
        });
        let entry = entry(&cancelled, &at(Some("Dana")), TaskStatus::InProgress).unwrap();
        assert_eq!((entry.category.as_str(), entry.message.as_str()), ("cancelled", "Cancelled: wrong repo by Dana"));
    }
}
