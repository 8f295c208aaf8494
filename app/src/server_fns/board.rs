//! The board's data: every task and the health of the agents working on them.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::domain::{
    agent::Health,
    task::{Task, TaskStatus},
    Event, EventBody, Seq, Stamp,
};

/// An agent's health as a card shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthBadge {
    pub health: Health,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub seq: Seq,
    pub tasks: Vec<Task>,
    /// Agents by id, for the badge on their cards.
    pub agents: BTreeMap<String, HealthBadge>,
}

impl Board {
    /// Applies a live event. Events at or below the board's `seq` are already in it and ignored,
    /// which makes a replay that overlaps the snapshot harmless.
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = Stamp { seq: event.seq, ts: event.ts.clone() };
        match &event.body {
            EventBody::TaskCreated(e) => {
                let id = e.id.clone().unwrap_or_default();
                if !self.tasks.iter().any(|t| t.id == id) {
                    self.tasks.push(Task::created(e, id, &at));
                }
            }
            EventBody::AgentHealth(e) => {
                self.agents.insert(e.id.clone(), HealthBadge { health: e.health, reason: e.reason.clone() });
            }
            body => {
                if let Some(task) = body.task_id().and_then(|id| self.tasks.iter_mut().find(|t| t.id == id)) {
                    task.apply(body, &at);
                }
            }
        }
    }

    /// One column: its newest `limit` cards (finished ones by when they finished, others by when
    /// they were created) and how many it holds in all, so a long-running board stays light.
    pub fn column(&self, status: TaskStatus, limit: usize, filter: &Filter) -> Column {
        let mut cards: Vec<&Task> = self.tasks.iter().filter(|t| t.status == status && filter.admits(t)).collect();
        let finished = status.finished();
        cards.sort_by_key(|t| std::cmp::Reverse(if finished { t.last_seq } else { t.created_seq }));
        Column { total: cards.len(), cards: cards.into_iter().take(limit).cloned().collect() }
    }

    /// The health badge of a task's agent, when it has one worth showing.
    pub fn badge(&self, task: &Task) -> Option<HealthBadge> {
        let badge = self.agents.get(task.assignee.as_deref()?)?;
        (badge.health != Health::Healthy && !task.status.finished()).then(|| badge.clone())
    }

    /// Every assignee and label on the board, for the filter's choices.
    pub fn choices(&self) -> (Vec<String>, Vec<String>) {
        let mut agents: Vec<String> = self.tasks.iter().filter_map(|t| t.assignee.clone()).collect();
        let mut labels: Vec<String> = self.tasks.iter().flat_map(|t| t.labels.clone()).collect();
        for list in [&mut agents, &mut labels] {
            list.sort();
            list.dedup();
        }
        (agents, labels)
    }
}

/// What the board's filter bar asks for; empty fields admit everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub text: String,
    pub agent: String,
    pub label: String,
}

impl Filter {
    pub fn admits(&self, task: &Task) -> bool {
        let text = self.text.trim().to_lowercase();
        (text.is_empty()
            || task.title.to_lowercase().contains(&text)
            || task.id.to_lowercase().contains(&text)
            || task.description.as_deref().is_some_and(|d| d.to_lowercase().contains(&text)))
            && (self.agent.is_empty() || task.assignee.as_deref() == Some(self.agent.as_str()))
            && (self.label.is_empty() || task.labels.contains(&self.label))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub cards: Vec<Task>,
    pub total: usize,
}

/// The Kanban board and the `seq` it was read at.
#[server(output = super::JsonAnswer)]
pub async fn get_board() -> Result<Page<Board>, ServerFnError> {
    use crate::domain::{
        agent::Agent,
        entity::{decode_rows, Query},
    };
    let read = ssr_read(vec![Query::all::<Task>(), Query::all::<Agent>()]).await?;
    let rows = &read.snapshot.rows;
    let tasks = decode_rows::<Task>(&rows[0]).map_err(ServerFnError::new)?;
    let agents = decode_rows::<Agent>(&rows[1])
        .map_err(ServerFnError::new)?
        .into_iter()
        .map(|a| (a.id, HealthBadge { health: a.health, reason: a.health_reason }))
        .collect();
    let board = Board { seq: read.snapshot.seq, tasks, agents };
    Ok(read.page(board))
}

/// The board at a past moment, rebuilt by the same reducer the live board uses, from the log.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PastBoard {
    /// The moment asked for: the board holds every event up to it.
    pub at: Seq,
    /// When the last event up to it was committed.
    pub ts: Option<String>,
    /// `None` when the log no longer reaches back there (pruned): the board would be wrong.
    pub board: Option<Board>,
    /// Where the kept log starts, when it was pruned.
    pub starts_after: Seq,
    /// The workspace's event before `at`'s last one, and after it: one step back and forward.
    pub previous: Option<Seq>,
    pub next: Option<Seq>,
    pub head: Seq,
}

impl PastBoard {
    /// Replays `frames` (a workspace's log from its start, in order) into a board.
    pub fn replay(at: Seq, frames: &[String]) -> Result<PastBoard, String> {
        let mut board = Board::default();
        let mut seqs = Vec::with_capacity(frames.len());
        let mut ts = None;
        for frame in frames {
            let event: Event = serde_json::from_str(frame).map_err(|e| format!("a logged event is unreadable: {e}"))?;
            seqs.push(event.seq);
            ts = Some(event.ts.clone());
            board.apply(&event);
        }
        board.seq = at;
        let previous = seqs.len().checked_sub(2).map(|i| seqs[i]);
        Ok(PastBoard { at, ts, board: Some(board), previous, ..PastBoard::default() })
    }
}

/// The board as it was at `at`: every task and agent badge after the events up to that seq.
#[server(output = super::JsonAnswer)]
pub async fn get_board_at(at: Seq) -> Result<Page<PastBoard>, ServerFnError> {
    let read = ssr_read(vec![]).await?;
    let viewer = super::ssr::viewer().await?;
    let source = expect_context::<super::ssr::ReadSource>();
    let history = source.0.history(&viewer.workspace, at).await.map_err(ServerFnError::new)?;
    let mut past = if history.pruned_upto > 0 {
        PastBoard { at, ..PastBoard::default() }
    } else {
        PastBoard::replay(at, &history.frames).map_err(ServerFnError::new)?
    };
    (past.starts_after, past.next, past.head) = (history.pruned_upto, history.next, history.head);
    Ok(read.page(past))
}

#[cfg(feature = "ssr")]
use super::ssr::read_page as ssr_read;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::*;

    fn event(seq: Seq, body: EventBody) -> Event {
        Event { seq, ts: format!("2026-01-01T00:00:{seq:02}.000Z"), topics: body.topics(), body }
    }

    fn created(id: &str) -> EventBody {
        EventBody::TaskCreated(TaskCreated { id: Some(id.into()), title: "T".into(), ..Default::default() })
    }

    #[test]
    fn a_long_column_shows_its_newest_cards_and_counts_all() {
        let mut board = Board::default();
        for seq in 1..=5 {
            board.apply(&event(seq, created(&format!("t{seq}"))));
        }
        let fail = |id: &str| EventBody::TaskFailed(TaskFailed { id: id.into(), error: "x".into() });
        board.apply(&event(6, fail("t1")));
        board.apply(&event(7, fail("t5")));
        let all = Filter::default();
        let inbox = board.column(TaskStatus::Inbox, 2, &all);
        assert_eq!((inbox.total, inbox.cards.iter().map(|t| t.id.as_str()).collect::<Vec<_>>()), (3, vec!["t4", "t3"]));
        let failed = board.column(TaskStatus::Failed, 10, &all);
        assert_eq!(failed.cards.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["t5", "t1"]);
    }

    #[test]
    fn a_past_board_is_the_log_replayed_up_to_its_moment() {
        let assign = EventBody::TaskAssigned(TaskAssigned { id: "t1".into(), agent: "ada".into() });
        let frames: Vec<String> =
            [event(3, created("t1")), event(9, assign)].iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        let past = PastBoard::replay(9, &frames).unwrap();
        let board = past.board.unwrap();
        assert_eq!((board.seq, board.tasks[0].status), (9, TaskStatus::Assigned));
        assert_eq!((past.previous, past.ts.as_deref()), (Some(3), Some("2026-01-01T00:00:09.000Z")));
        let first = PastBoard::replay(3, &frames[..1]).unwrap();
        assert_eq!((first.board.unwrap().tasks[0].status, first.previous), (TaskStatus::Inbox, None));
    }

    #[test]
    fn replayed_events_are_ignored_and_filters_narrow() {
        let mut board = Board { seq: 5, ..Default::default() };
        board.apply(&event(5, created("old")));
        assert!(board.tasks.is_empty());
        board.apply(&event(6, created("t6")));
        let assign = TaskAssigned { id: "t6".into(), agent: "ada".into() };
        board.apply(&event(7, EventBody::TaskAssigned(assign)));
        let by_agent = Filter { agent: "ada".into(), ..Filter::default() };
        assert_eq!(board.column(TaskStatus::Assigned, 10, &by_agent).total, 1);
        let by_other = Filter { agent: "grace".into(), ..Filter::default() };
        assert_eq!(board.column(TaskStatus::Assigned, 10, &by_other).total, 0);
        let by_text = Filter { text: "t6".into(), ..Filter::default() };
        assert_eq!(board.column(TaskStatus::Assigned, 10, &by_text).total, 1);
    }
}
