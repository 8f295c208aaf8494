//! Applies the domain's rules to rows, once for every backend. A commit gathers what its batches
//! write in memory ([`Writes`]) and the backend writes it in a few statements at the end, with the
//! log's own bookkeeping, so a group commit of many small events costs a handful of round trips,
//! not several per event. A backend only says how to read a row, a key or logged events
//! ([`Rows`]) on the connection it commits with, and how to write what [`Applied`] gathered.

use std::{collections::BTreeMap, sync::Arc};

use app::domain::{entity::Row, EntitySet, Event, EventBody, Seq, Stamp, Step};

use super::{Batch, Committed, Once, StoreError};

/// Most rows one event may read: the rules need a handful; more means a bug, not a big event.
const MAX_LOADS: usize = 16;

/// Where a projection reads the rows it asks for: a backend's open transaction, or a past moment
/// being rebuilt ([`super::past`]).
#[async_trait::async_trait]
pub trait Load: Send {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError>;
}

/// Reads a commit makes, on the connection it writes with: inside its transaction on PostgreSQL,
/// before it on SQLite (whose writer connection is the only one that writes).
#[async_trait::async_trait]
pub trait Rows: Load {
    /// What was committed under an idempotency key since `not_before`: its hash and seqs.
    async fn remembered(&mut self, workspace: &str, once: &Once) -> Result<Option<(String, Vec<Seq>)>, StoreError>;
    /// Logged events by seq, with their frames, in seq order.
    async fn logged(&mut self, seqs: &[Seq]) -> Result<Vec<(Seq, String)>, StoreError>;
}

/// What a commit (or one batch of it) writes, kept until the end.
#[derive(Default)]
pub struct Writes {
    /// Entity rows by `(workspace, kind, id)`: the last save of a row is the one written.
    pub rows: BTreeMap<(Arc<str>, &'static str, String), Row>,
    /// Events in seq order.
    pub events: Vec<Appended>,
    /// Idempotency keys by `(workspace, key)`.
    pub keys: BTreeMap<(Arc<str>, String), Remembered>,
    /// The head after the commit, stored with each row written: what a snapshot takes since the last.
    pub changed: Seq,
}

pub struct Appended {
    pub seq: Seq,
    pub workspace: Arc<str>,
    pub kind: &'static str,
    pub ts: String,
    pub frame: Arc<str>,
    pub topics: Vec<String>,
}

pub struct Remembered {
    pub hash: String,
    pub seqs: Vec<Seq>,
    pub ts: String,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.events.is_empty() && self.keys.is_empty()
    }

    fn absorb(&mut self, other: Writes) {
        self.rows.extend(other.rows);
        self.events.extend(other.events);
        self.keys.extend(other.keys);
    }

    fn row(&self, workspace: &str, kind: &'static str, id: &str) -> Option<&Row> {
        self.rows.get(&(Arc::from(workspace), kind, id.to_string()))
    }

    fn key(&self, workspace: &str, key: &str) -> Option<&Remembered> {
        self.keys.get(&(Arc::from(workspace), key.to_string()))
    }

    fn frame(&self, seq: Seq) -> Option<&Arc<str>> {
        // Events are appended in seq order: a binary search finds one.
        let at = self.events.binary_search_by_key(&seq, |e| e.seq).ok()?;
        Some(&self.events[at].frame)
    }
}

/// What a commit does: each batch's answer (a refused batch left no trace), the head after it, the
/// events it appends per workspace, and what the backend must write (rows upserted, events
/// appended with their topics, keys remembered, replacing ones older than the window).
pub struct Applied {
    pub results: Vec<Result<Vec<Committed>, StoreError>>,
    pub head: Seq,
    pub added: BTreeMap<String, u64>,
    pub writes: Writes,
}

/// Applies `batches` in order after `head`, each over the database and what the batches before it
/// wrote, and gathers what the accepted ones write. A batch's writes join the commit only when
/// all of it is accepted, so a refused batch needs no savepoint to leave no trace.
pub async fn commit(rows: &mut dyn Rows, batches: Vec<Batch>, head: Seq, ts: &str) -> Result<Applied, StoreError> {
    let mut applied =
        Applied { results: Vec::with_capacity(batches.len()), head, added: BTreeMap::new(), writes: Writes::default() };
    for batch in batches {
        let workspace = batch.workspace.clone();
        let mut view = View { rows: &mut *rows, done: &applied.writes, mine: Writes::default() };
        match apply_batch(&mut view, batch, applied.head, ts).await {
            Ok(committed) => {
                let mine = view.mine;
                applied.writes.absorb(mine);
                // A replay appended nothing: the head stays.
                let new = committed.iter().filter(|c| !c.replayed).count() as u64;
                applied.head += new;
                *applied.added.entry(workspace).or_default() += new;
                applied.results.push(Ok(committed));
            }
            Err(e) if e.is_rejection() => applied.results.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    applied.writes.changed = applied.head;
    Ok(applied)
}

/// The rows as one batch sees them: its own writes, then the commit's, then the database.
struct View<'v> {
    rows: &'v mut dyn Rows,
    done: &'v Writes,
    mine: Writes,
}

#[async_trait::async_trait]
impl Load for View<'_> {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        if let Some(row) = self.mine.row(workspace, kind, id).or_else(|| self.done.row(workspace, kind, id)) {
            return Ok(Some(row.data.clone()));
        }
        self.rows.load(workspace, kind, id).await
    }
}

impl View<'_> {
    async fn remembered(&mut self, workspace: &str, once: &Once) -> Result<Option<(String, Vec<Seq>)>, StoreError> {
        // A key written in this very commit is within any window.
        if let Some(r) = self.mine.key(workspace, &once.key).or_else(|| self.done.key(workspace, &once.key)) {
            return Ok(Some((r.hash.clone(), r.seqs.clone())));
        }
        self.rows.remembered(workspace, once).await
    }

    async fn logged(&mut self, seqs: &[Seq]) -> Result<Vec<(Seq, String)>, StoreError> {
        let mut found = Vec::with_capacity(seqs.len());
        let mut stored = Vec::new();
        for &seq in seqs {
            match self.mine.frame(seq).or_else(|| self.done.frame(seq)) {
                Some(frame) => found.push((seq, frame.to_string())),
                None => stored.push(seq),
            }
        }
        if !stored.is_empty() {
            found.extend(self.rows.logged(&stored).await?);
            found.sort_by_key(|(seq, _)| *seq);
        }
        Ok(found)
    }

    fn save(&mut self, workspace: &Arc<str>, row: Row) {
        self.mine.rows.insert((workspace.clone(), row.kind, row.id.clone()), row);
    }

    fn remember(&mut self, workspace: &Arc<str>, once: &Once, seqs: &[Seq], ts: &str) {
        let remembered = Remembered { hash: once.hash.clone(), seqs: seqs.to_vec(), ts: ts.to_string() };
        self.mine.keys.insert((workspace.clone(), once.key.clone()), remembered);
    }
}

/// Applies and logs every event of one batch; `head` is the seq before the first of them.
async fn apply_batch(rows: &mut View<'_>, batch: Batch, head: Seq, ts: &str) -> Result<Vec<Committed>, StoreError> {
    if let Some(once) = &batch.once {
        if let Some(first) = replay(rows, &batch.workspace, once).await? {
            return Ok(first);
        }
    }
    let once = batch.once.clone();
    let workspace: Arc<str> = batch.workspace.into();
    let mut committed = Vec::with_capacity(batch.events.len());
    let mut keys = batch.event_keys.into_iter();
    let mut guards = batch.if_seq.into_iter();
    let by = batch.by;
    let mut seq = head;
    for mut body in batch.events {
        let key = keys.next().flatten();
        let guard = guards.next().flatten();
        if let Some(key) = &key {
            if let Some(mut first) = replay(rows, &workspace, key).await? {
                committed.append(&mut first);
                continue;
            }
        }
        seq += 1;
        let at = Stamp { seq, ts: ts.to_string(), by: by.clone() };
        for row in project(rows, &workspace, &mut body, &at, guard).await? {
            rows.save(&workspace, row);
        }
        // Topics after projecting: a created task only has its id from here on.
        let event = Event { seq: at.seq, ts: at.ts, topics: body.topics(), by: at.by, body };
        let frame: Arc<str> = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?.into();
        rows.mine.events.push(Appended {
            seq: event.seq,
            workspace: workspace.clone(),
            kind: event.body.kind(),
            ts: event.ts.clone(),
            frame: frame.clone(),
            topics: event.topics.clone(),
        });
        if let Some(key) = &key {
            rows.remember(&workspace, key, &[event.seq], ts);
        }
        committed.push(Committed {
            seq: event.seq,
            workspace: workspace.clone(),
            topics: event.topics,
            frame,
            ts: event.ts,
            replayed: false,
            body: event.body,
            by: event.by,
        });
    }
    if let Some(once) = &once {
        // A retry of the whole request is answered with these seqs, first commits and replays alike.
        let seqs: Vec<Seq> = committed.iter().map(|c| c.seq).collect();
        rows.remember(&workspace, once, &seqs, ts);
    }
    Ok(committed)
}

/// The batch an earlier request with the same key committed, as it was committed; a refusal when
/// the key comes back with another body; `None` when the key is new (or older than the window).
async fn replay(rows: &mut View<'_>, workspace: &str, once: &Once) -> Result<Option<Vec<Committed>>, StoreError> {
    let Some((hash, seqs)) = rows.remembered(workspace, once).await? else { return Ok(None) };
    if hash != once.hash {
        return Err(StoreError::KeyReused(format!(
            "Idempotency-Key `{}` was used for another request; nothing was stored",
            once.given()
        )));
    }
    let workspace: Arc<str> = workspace.into();
    let logged = rows.logged(&seqs).await?;
    if logged.len() != seqs.len() {
        return Err(StoreError::KeyReused(format!(
            "the events first stored under Idempotency-Key `{}` are no longer in the log",
            once.given()
        )));
    }
    logged
        .into_iter()
        .map(|(seq, frame)| {
            let event: Event = serde_json::from_str(&frame).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(Committed {
                seq,
                workspace: workspace.clone(),
                topics: event.topics,
                frame: frame.into(),
                ts: event.ts,
                replayed: true,
                body: event.body,
                by: event.by,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()
        .map(Some)
}

/// Runs the event's projection, loading each row it asks for and starting over, until it
/// completes or refuses. Returns the rows to write; `body` gets what the projection filled in.
/// With `if_seq`, the event is applied only while its task is still at that seq.
pub async fn project(
    rows: &mut dyn Load,
    workspace: &str,
    body: &mut EventBody,
    at: &Stamp,
    if_seq: Option<Seq>,
) -> Result<Vec<Row>, StoreError> {
    let mut set = EntitySet::default();
    for _ in 0..=MAX_LOADS {
        let mut attempt = body.clone();
        set.reset_writes();
        let guarded = match if_seq {
            Some(seen) => app::domain::task::unchanged_since(&attempt, seen, &set),
            None => Ok(()),
        };
        match guarded.and_then(|()| attempt.project(&mut set, at)) {
            Ok(()) => {
                *body = attempt;
                return Ok(set.into_rows());
            }
            Err(Step::Need { kind, id }) => {
                let data = rows.load(workspace, kind, &id).await?;
                set.provide(kind, id, data);
            }
            Err(Step::Refuse(refusal)) => return Err(refusal.into()),
            Err(Step::Corrupt(what)) => return Err(StoreError::Corrupt(what)),
        }
    }
    Err(StoreError::Corrupt(format!("`{}` needed more than {MAX_LOADS} rows", body.kind())))
}
