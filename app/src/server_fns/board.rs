//! The board's data: every task and the health of the agents working on them.
//!
//! A board of thousands of tasks draws a few cards a column, so its page carries in full only the
//! tasks it draws ([`DRAWN`] a column); every other task comes in brief — what the board counts,
//! orders and filters by — and is fetched in full ([`get_tasks`]) when a column comes to show it.
//! Live events keep the briefs exact, so counts and order never wait for a fetch.

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

/// Cards a column draws at first, and how many more each "Show more" adds; the count in the
/// heading covers them all. Every card drawn is work for the browser when the page hydrates.
pub const DRAWN: usize = 20;

/// An agent's health as a card shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthBadge {
    pub health: Health,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub seq: Seq,
    /// Tasks known in full: the cards each column draws first, any created since, any fetched.
    pub tasks: Vec<Task>,
    /// Every other task, holding only its id, title, status, assignee, labels and seqs.
    #[serde(default, with = "brief")]
    pub briefs: Vec<Task>,
    /// Agents by id, for the badge on their cards.
    pub agents: BTreeMap<String, HealthBadge>,
}

/// The board's wasm decodes only these; each page's chunk brings its own decoders.
impl crate::wire::Reads for Board {
    const READS: u64 = Task::FOLLOWS | kinds(&[EventKind::TaskCreated, EventKind::AgentHealth]);
}

impl Board {
    /// Applies a live event. Events at or below the board's `seq` are already in it and ignored,
    /// which makes a replay that overlaps the snapshot harmless; so are those at or below a
    /// task's own `last_seq`, which a task fetched after the board was read already holds.
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        match &event.body {
            EventBody::TaskCreated(e) => {
                let id = e.id.clone().unwrap_or_default();
                if self.find(&id).is_none() {
                    self.tasks.push(Task::created(e, id, &at));
                }
            }
            EventBody::AgentHealth(e) => {
                self.agents.insert(e.id.clone(), HealthBadge { health: e.health, reason: e.reason.clone() });
            }
            body => {
                if let Some(task) = body.task_id().and_then(|id| self.find_mut(id)) {
                    if event.seq > task.last_seq {
                        task.apply(body, &at);
                    }
                }
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().chain(&self.briefs)
    }

    pub fn find(&self, id: &str) -> Option<&Task> {
        self.all().find(|t| t.id == id)
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().chain(&mut self.briefs).find(|t| t.id == id)
    }

    /// One column: its newest `limit` cards (finished ones by when they finished, others by when
    /// they were created) and how many it holds in all, so a long-running board stays light.
    /// Those of the `limit` the board holds only in brief are `missing`, to fetch before drawing.
    pub fn column(&self, status: TaskStatus, limit: usize, filter: &Filter) -> Column {
        let full = self.tasks.iter().map(|t| (t, true));
        let mut cards: Vec<(&Task, bool)> = full
            .chain(self.briefs.iter().map(|t| (t, false)))
            .filter(|(t, _)| t.status.column() == status && filter.admits(t))
            .collect();
        let finished = status.finished();
        cards.sort_by_key(|(t, _)| std::cmp::Reverse(if finished { t.last_seq } else { t.created_seq }));
        let total = cards.len();
        let (shown, missing): (Vec<_>, Vec<_>) = cards.into_iter().take(limit).partition(|(_, full)| *full);
        Column {
            total,
            cards: shown.into_iter().map(|(t, _)| t.clone()).collect(),
            missing: missing.into_iter().map(|(t, _)| t.id.clone()).collect(),
        }
    }

    /// Takes tasks fetched in full in place of their briefs, unless a brief has moved on since
    /// (its `last_seq` is newer): the ids of those, to fetch again.
    pub fn fill(&mut self, fetched: Vec<Task>) -> Vec<String> {
        let mut stale = vec![];
        for task in fetched {
            let Some(i) = self.briefs.iter().position(|b| b.id == task.id) else { continue };
            if self.briefs[i].last_seq > task.last_seq {
                stale.push(task.id);
            } else {
                self.briefs.swap_remove(i);
                self.tasks.push(task);
            }
        }
        stale
    }

    /// Makes the board from every task, keeping in full the `drawn` first cards of each column.
    pub fn drawn_first(seq: Seq, tasks: Vec<Task>, agents: BTreeMap<String, HealthBadge>, drawn: usize) -> Board {
        let mut board = Board { seq, tasks: vec![], briefs: tasks, agents };
        // All are briefs yet, so what each column would draw is what it is missing.
        let keep: std::collections::HashSet<String> = TaskStatus::COLUMNS
            .into_iter()
            .flat_map(|status| board.column(status, drawn, &Filter::default()).missing)
            .collect();
        let (full, briefs) = std::mem::take(&mut board.briefs).into_iter().partition(|t| keep.contains(&t.id));
        board.tasks = full;
        board.briefs = briefs;
        board
    }

    /// The health badge of a task's agent, when it has one worth showing.
    pub fn badge(&self, task: &Task) -> Option<HealthBadge> {
        let badge = self.agents.get(task.assignee.as_deref()?)?;
        (badge.health != Health::Healthy && !task.status.finished()).then(|| badge.clone())
    }

    /// Every agent the board knows, by health or by the tasks they hold: whom a task may go to.
    pub fn known_agents(&self) -> Vec<String> {
        let mut agents: Vec<String> =
            self.agents.keys().cloned().chain(self.all().filter_map(|t| t.assignee.clone())).collect();
        agents.sort();
        agents.dedup();
        agents
    }

    /// Every assignee and label on the board, for the filter's choices.
    pub fn choices(&self) -> (Vec<String>, Vec<String>) {
        let mut agents: Vec<String> = self.all().filter_map(|t| t.assignee.clone()).collect();
        let mut labels: Vec<String> = self.all().flat_map(|t| t.labels.clone()).collect();
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
    /// Whether the task passes; the search is on title and id, which a brief holds too.
    pub fn admits(&self, task: &Task) -> bool {
        let text = self.text.trim().to_lowercase();
        (text.is_empty() || task.title.to_lowercase().contains(&text) || task.id.to_lowercase().contains(&text))
            && (self.agent.is_empty() || task.assignee.as_deref() == Some(self.agent.as_str()))
            && (self.label.is_empty() || task.labels.contains(&self.label))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub cards: Vec<Task>,
    pub total: usize,
    /// Ids of cards it would draw that the board holds only in brief.
    pub missing: Vec<String>,
}

/// What the board reads: every task, and every agent for the badges.
#[cfg(feature = "ssr")]
fn queries() -> Vec<crate::domain::entity::Query> {
    use crate::domain::{agent::Agent, entity::Query};
    vec![Query::all::<Task>(), Query::all::<Agent>()]
}

/// The board those reads make, at `seq`, with the first `drawn` cards of each column in full.
#[cfg(feature = "ssr")]
fn build(seq: Seq, rows: &[Vec<String>], drawn: usize) -> Result<Board, String> {
    use crate::domain::{agent::Agent, entity::decode_rows};
    let tasks = decode_rows::<Task>(&rows[0])?;
    let agents = decode_rows::<Agent>(&rows[1])?
        .into_iter()
        .map(|a| (a.id, HealthBadge { health: a.health, reason: a.health_reason }))
        .collect();
    Ok(Board::drawn_first(seq, tasks, agents, drawn))
}

/// The Kanban board and the `seq` it was read at.
#[server(output = super::JsonAnswer)]
pub async fn get_board() -> Result<Page<Board>, ServerFnError> {
    let read = ssr_read(queries()).await?;
    let board = build(read.snapshot.seq, &read.snapshot.rows, DRAWN).map_err(ServerFnError::new)?;
    Ok(read.page(board))
}

/// Most tasks one [`get_tasks`] reads.
pub const FETCH_AT_MOST: usize = 200;

/// Tasks in full, by id (those not found are left out): the cards a column is about to draw.
#[server(endpoint = "board/tasks", output = super::JsonAnswer)]
pub async fn get_tasks(ids: Vec<String>) -> Result<Vec<Task>, ServerFnError> {
    use crate::domain::entity::{decode_rows, Query};
    if ids.len() > FETCH_AT_MOST {
        return Err(ServerFnError::new(format!("at most {FETCH_AT_MOST} tasks at a time")));
    }
    let read = ssr_read(ids.iter().map(|id| Query::one::<Task>(id)).collect()).await?;
    let rows: Vec<String> = read.snapshot.rows.into_iter().flatten().collect();
    decode_rows::<Task>(&rows).map_err(ServerFnError::new)
}

/// The board as it was right after event `at` (or the last event at or before `time`, when given):
/// the same reads, answered from the log rebuilt to that moment, every task in full.
#[server(output = super::JsonAnswer)]
pub async fn get_board_at(at: Seq, time: String) -> Result<Page<Past<Board>>, ServerFnError> {
    super::ssr::read_past(queries(), at, &time, None, |seq, rows| build(seq, rows, usize::MAX)).await
}

#[cfg(feature = "ssr")]
use super::ssr::read_page as ssr_read;

/// A brief on the wire: `[id, title, status, assignee, labels, created_seq, last_seq]`, about
/// a sixth of a task in full (86 bytes against 552 on the benchmark's board).
mod brief {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::{
        entity::Stamp,
        task::{Task, TaskCreated, TaskStatus},
        Seq,
    };

    type Wire = (String, String, TaskStatus, Option<String>, Vec<String>, Seq, Seq);

    pub fn serialize<S: Serializer>(tasks: &[Task], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            tasks.iter().map(|t| (&t.id, &t.title, t.status, &t.assignee, &t.labels, t.created_seq, t.last_seq)),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Task>, D::Error> {
        let briefs = Vec::<Wire>::deserialize(d)?;
        Ok(briefs.into_iter().map(task).collect())
    }

    fn task((id, title, status, assignee, labels, created_seq, last_seq): Wire) -> Task {
        let created = TaskCreated { title, assignee, labels, ..Default::default() };
        let mut task = Task::created(&created, id, &Stamp { seq: created_seq, ts: String::new(), by: None });
        task.status = status;
        task.last_seq = last_seq;
        task
    }
}

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

    #[test]
    fn a_big_board_sends_its_drawn_cards_in_full_and_the_rest_in_brief() {
        let mut full = Board::default();
        for seq in 1..=50 {
            full.apply(&event(seq, created(&format!("t{seq}"))));
        }
        let done = |id: &str| EventBody::TaskCompleted(TaskCompleted { id: id.into(), ..Default::default() });
        full.apply(&event(51, done("t3")));
        let board = Board::drawn_first(51, full.tasks.clone(), BTreeMap::new(), 5);
        assert_eq!((board.tasks.len(), board.briefs.len()), (6, 44), "five of Inbox and the one done");
        let json = serde_json::to_string(&board).unwrap();
        let read: Board = serde_json::from_str(&json).unwrap();
        assert!(json.len() * 3 < serde_json::to_string(&full).unwrap().len(), "briefs are small: {json}");
        let all = Filter::default();
        for (status, limit) in [(TaskStatus::Inbox, 5), (TaskStatus::Inbox, 50), (TaskStatus::Done, 5)] {
            let (sent, whole) = (read.column(status, limit, &all), full.column(status, limit, &all));
            assert_eq!(sent.total, whole.total);
            let drawn: Vec<&str> =
                sent.cards.iter().map(|t| t.id.as_str()).chain(sent.missing.iter().map(String::as_str)).collect();
            assert_eq!(drawn, whole.cards.iter().map(|t| t.id.as_str()).collect::<Vec<_>>());
            assert_eq!(
                sent.missing.len(),
                limit.saturating_sub(5).min(whole.total.saturating_sub(5)),
                "{status:?} {limit}"
            );
        }
        let by_title = Filter { text: "T".into(), ..Filter::default() };
        assert_eq!(read.column(TaskStatus::Inbox, 100, &by_title).total, 49, "briefs are searched by title too");
    }

    #[test]
    fn events_keep_briefs_exact_and_a_fetched_task_replaces_its_brief_unless_older() {
        let mut whole = Board::default();
        for seq in 1..=3 {
            whole.apply(&event(seq, created(&format!("t{seq}"))));
        }
        let mut board = Board::drawn_first(3, whole.tasks.clone(), BTreeMap::new(), 1);
        let fail = EventBody::TaskFailed(TaskFailed { id: "t1".into(), error: "x".into() });
        board.apply(&event(4, fail.clone()));
        whole.apply(&event(4, fail));
        let failed = board.column(TaskStatus::Failed, 10, &Filter::default());
        assert_eq!((failed.total, failed.cards.len(), failed.missing.clone()), (1, 0, vec!["t1".to_string()]));
        let mut older = whole.find("t1").unwrap().clone();
        older.last_seq = 1;
        assert_eq!(board.fill(vec![older]), vec!["t1".to_string()], "read before the failure: asked again");
        assert_eq!(board.fill(vec![whole.find("t1").unwrap().clone()]), Vec::<String>::new());
        let failed = board.column(TaskStatus::Failed, 10, &Filter::default());
        assert_eq!(failed.cards.iter().map(|t| t.error.is_some()).collect::<Vec<_>>(), vec![true]);
        // The task came fetched at seq 4; its own events up to there are not applied again.
        let mut replayed = event(4, EventBody::TaskRetried(TaskRetried { id: "t1".into(), assignee: None }));
        board.seq = 3;
        board.apply(&replayed);
        assert_eq!(board.find("t1").unwrap().attempt, 1);
        replayed.seq = 5;
        board.apply(&replayed);
        assert_eq!(board.find("t1").unwrap().attempt, 2);
    }
}
