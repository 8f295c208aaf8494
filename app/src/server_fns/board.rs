//! The board's data: every task and the health of the agents working on them.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Page, Past};
use crate::domain::{
    agent::Health,
    task::{Task, TaskStatus},
    Event, EventBody, EventKind, Seq,
};
use crate::wire::kinds;

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

/// The board's wasm decodes only these; each page's chunk brings its own decoders.
impl crate::wire::Reads for Board {
    const READS: u64 = Task::FOLLOWS | kinds(&[EventKind::TaskCreated, EventKind::AgentHealth]);
}

impl Board {
    /// Applies a live event. Events at or below the board's `seq` are already in it and ignored,
    /// which makes a replay that overlaps the snapshot harmless.
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
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
        let mut cards: Vec<&Task> =
            self.tasks.iter().filter(|t| t.status.column() == status && filter.admits(t)).collect();
        let finished = status.finished();
        cards.sort_by_key(|t| std::cmp::Reverse(if finished { t.last_seq } else { t.created_seq }));
        Column { total: cards.len(), cards: cards.into_iter().take(limit).cloned().collect() }
    }

    /// The health badge of a task's agent, when it has one worth showing.
    pub fn badge(&self, task: &Task) -> Option<HealthBadge> {
        let badge = self.agents.get(task.assignee.as_deref()?)?;
        (badge.health != Health::Healthy && !task.status.finished()).then(|| badge.clone())
    }

    /// Every agent the board knows, by health or by the tasks they hold: whom a task may go to.
    pub fn known_agents(&self) -> Vec<String> {
        let mut agents: Vec<String> =
            self.agents.keys().cloned().chain(self.tasks.iter().filter_map(|t| t.assignee.clone())).collect();
        agents.sort();
        agents.dedup();
        agents
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

/// What the board reads: every task, and every agent for the badges.
#[cfg(feature = "ssr")]
fn queries() -> Vec<crate::domain::entity::Query> {
    use crate::domain::{agent::Agent, entity::Query};
    vec![Query::all::<Task>(), Query::all::<Agent>()]
}

/// The board those reads make, at `seq`.
#[cfg(feature = "ssr")]
fn build(seq: Seq, rows: &[Vec<String>]) -> Result<Board, String> {
    use crate::domain::{agent::Agent, entity::decode_rows};
    let tasks = decode_rows::<Task>(&rows[0])?;
    let agents = decode_rows::<Agent>(&rows[1])?
        .into_iter()
        .map(|a| (a.id, HealthBadge { health: a.health, reason: a.health_reason }))
        .collect();
    Ok(Board { seq, tasks, agents })
}

/// The Kanban board and the `seq` it was read at.
#[server(output = super::JsonAnswer)]
pub async fn get_board() -> Result<Page<Board>, ServerFnError> {
    let read = ssr_read(queries()).await?;
    let board = build(read.snapshot.seq, &read.snapshot.rows).map_err(ServerFnError::new)?;
    Ok(read.page(board))
}

/// The board as it was right after event `at` (or the last event at or before `time`, when given):
/// the same reads, answered from the log rebuilt to that moment.
#[server(output = super::JsonAnswer)]
pub async fn get_board_at(at: Seq, time: String) -> Result<Page<Past<Board>>, ServerFnError> {
    super::ssr::read_past(queries(), at, &time, None, build).await
}

#[cfg(feature = "ssr")]
use super::ssr::read_page as ssr_read;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::*;

    fn event(seq: Seq, body: EventBody) -> Event {
        Event { seq, ts: format!("2026-01-01T00:00:{seq:02}.000Z"), topics: body.topics(), by: None, body }
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
    fn the_board_decodes_every_event_type_it_shows() {
        let (mut whole, mut read) = (Board::default(), Board::default());
        // The board's own seq moves with every event it is given, which a skipped one is not.
        let shown = |b: &Board| Board { seq: 0, ..b.clone() };
        let skipped = crate::wire::read_samples_as::<Board, _, _>(&mut whole, &mut read, Board::apply, shown);
        assert!(skipped > 20, "the board skips what it does not show: {skipped} skipped");
        let task = &whole.tasks[0];
        // The samples end with a retry of the failed task, then a cancel by a person.
        assert_eq!((task.status, task.assignee.as_deref(), task.attempt), (TaskStatus::Cancelled, Some("a1"), 2));
        let cancelled = task.cancelled.clone().unwrap_or_default();
        assert_eq!((cancelled.by.as_deref(), cancelled.reason.as_deref()), (Some("Dana"), Some("wrong approach")));
        assert!(whole.agents.contains_key("a1"), "{whole:?}");
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
