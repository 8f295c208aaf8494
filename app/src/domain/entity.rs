//! How events change stored state, without knowing where it is stored.
//!
//! Each entity type is stored as one JSON row per id, with the few columns reads filter on
//! ([`Index`]). An event's projection reads and writes rows through an [`EntitySet`]: when it asks
//! for a row the set has not loaded, it stops with [`Step::Need`]; the store loads that row and runs
//! the projection again from the start. Projections are pure and deterministic, so a rerun is
//! harmless, and every backend (SQLite, PostgreSQL) applies exactly the same rules.

use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::Seq;

/// A type stored as rows: tasks, agents, sessions, activities, deliverables…
pub trait Entity: Serialize + DeserializeOwned {
    /// The row kind, as stored: `task`, `agent`, …
    const KIND: &'static str;
    fn id(&self) -> &str;
    /// The columns reads filter and sort on.
    fn index(&self) -> Index {
        Index::default()
    }
}

/// The queryable part of a row; everything else is in its JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// The row this one belongs to (an activity's task).
    pub parent: Option<String>,
    /// What lists filter on (a task's status, `subagent:active` for a session).
    pub status: Option<String>,
    /// Order within a list.
    pub sort: i64,
}

/// One row to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub kind: &'static str,
    pub id: String,
    pub index: Index,
    pub data: String,
}

/// Why an event cannot be applied: it is refused and nothing of its batch is stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// It names something that exists already (or was already resolved).
    #[error("{0}")]
    Conflict(String),
    /// It refers to something that does not exist.
    #[error("{0}")]
    Unknown(String),
    /// Its writer saw the entity at an earlier seq (`if_seq`): it changed since, at `current`.
    #[error("{message}")]
    Stale { message: String, current: Seq },
}

/// What stops a projection: a row it needs, a refusal, or a stored row that cannot be read.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Need { kind: &'static str, id: String },
    Refuse(Refusal),
    Corrupt(String),
}

impl From<Refusal> for Step {
    fn from(r: Refusal) -> Step {
        Step::Refuse(r)
    }
}

/// Where an event is applied: the log position and commit time it gets, and the person who made
/// it when a person did (an action from a page).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stamp {
    pub seq: Seq,
    pub ts: String,
    pub by: Option<String>,
}

/// The rows one event reads and writes.
#[derive(Default)]
pub struct EntitySet {
    loaded: HashMap<(&'static str, String), Option<String>>,
    written: HashMap<(&'static str, String), Row>,
    /// Write order, so rows land in the order the projection wrote them.
    order: Vec<(&'static str, String)>,
}

impl EntitySet {
    /// Gives the set a row the store read (`None`: there is no such row).
    pub fn provide(&mut self, kind: &'static str, id: String, data: Option<String>) {
        self.loaded.insert((kind, id), data);
    }

    /// Gives the set a row the caller holds already (the browser's copy of it).
    pub fn preload<T: Entity>(&mut self, value: &T) {
        self.provide(T::KIND, value.id().to_string(), serde_json::to_string(value).ok());
    }

    /// Forgets every write: the projection starts again.
    pub fn reset_writes(&mut self) {
        self.written.clear();
        self.order.clear();
    }

    /// The row of `T` with this id, as written so far by this event or as stored.
    pub fn get<T: Entity>(&self, id: &str) -> Result<Option<T>, Step> {
        let key = (T::KIND, id.to_string());
        let data = match self.written.get(&key) {
            Some(row) => Some(row.data.as_str()),
            None => match self.loaded.get(&key) {
                Some(data) => data.as_deref(),
                None => return Err(Step::Need { kind: T::KIND, id: id.to_string() }),
            },
        };
        // A corrupt row stops the event rather than reading as absent (which would overwrite it).
        data.map(|d| serde_json::from_str(d).map_err(|e| Step::Corrupt(format!("stored {} `{id}`: {e}", T::KIND))))
            .transpose()
    }

    /// The row, or a refusal naming what is missing (`unknown task `t1``).
    pub fn require<T: Entity>(&self, id: &str) -> Result<T, Step> {
        self.get(id)?.ok_or_else(|| Refusal::Unknown(format!("unknown {} `{id}`", T::KIND)).into())
    }

    /// Refuses when a row with this id exists already.
    pub fn absent<T: Entity>(&self, id: &str) -> Result<(), Step> {
        match self.get::<T>(id)? {
            Some(_) => Err(Refusal::Conflict(format!("{} `{id}` already exists", T::KIND)).into()),
            None => Ok(()),
        }
    }

    pub fn put<T: Entity>(&mut self, value: &T) {
        let key = (T::KIND, value.id().to_string());
        let data = serde_json::to_string(value).unwrap_or_default();
        let row = Row { kind: T::KIND, id: key.1.clone(), index: value.index(), data };
        if self.written.insert(key.clone(), row).is_none() {
            self.order.push(key);
        }
    }

    /// The rows written, in write order.
    pub fn into_rows(mut self) -> Vec<Row> {
        self.order.iter().filter_map(|k| self.written.remove(k)).collect()
    }
}

/// A list of rows a page reads, all in one consistent snapshot with the others it asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub kind: String,
    /// Only this row.
    pub id: Option<String>,
    /// Only rows of this parent.
    pub parent: Option<String>,
    /// Only rows with one of these statuses (empty: any).
    pub status: Vec<String>,
    /// Highest `sort` first.
    pub newest_first: bool,
    pub limit: u32,
}

impl Query {
    pub fn all<T: Entity>() -> Query {
        Query { kind: T::KIND.into(), id: None, parent: None, status: vec![], newest_first: false, limit: 10_000 }
    }

    pub fn one<T: Entity>(id: &str) -> Query {
        Query { id: Some(id.into()), limit: 1, ..Query::all::<T>() }
    }

    pub fn children<T: Entity>(parent: &str) -> Query {
        Query { parent: Some(parent.into()), ..Query::all::<T>() }
    }

    pub fn with_status(mut self, status: &[&str]) -> Query {
        self.status = status.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn newest(mut self, limit: u32) -> Query {
        self.newest_first = true;
        self.limit = limit;
        self
    }

    /// Whether the query selects this row: the rule the stores' SQL states too.
    pub fn admits(&self, row: &Row) -> bool {
        row.kind == self.kind
            && self.id.as_ref().is_none_or(|id| *id == row.id)
            && self.parent.as_ref().is_none_or(|p| row.index.parent.as_ref() == Some(p))
            && (self.status.is_empty() || row.index.status.as_ref().is_some_and(|s| self.status.contains(s)))
    }

    /// Puts rows in the query's order (`sort`, then id) and keeps its first `limit`.
    pub fn order(&self, rows: &mut Vec<(i64, String, String)>) {
        if self.newest_first {
            rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        } else {
            rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        }
        rows.truncate(self.limit as usize);
    }
}

/// Decodes rows a query returned.
pub fn decode_rows<T: Entity>(rows: &[String]) -> Result<Vec<T>, String> {
    rows.iter()
        .map(|r| serde_json::from_str(r).map_err(|e| format!("a stored {} is unreadable: {e}", T::KIND)))
        .collect()
}

/// What a set of queries returned, read at one log `seq`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub seq: Seq,
    /// The log the seq belongs to.
    #[serde(default)]
    pub epoch: String,
    /// One list of JSON rows per query, in query order.
    pub rows: Vec<Vec<String>>,
}
