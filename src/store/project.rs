//! Applies the domain's rules to rows, once for every backend: a backend only says how to load a
//! row, save a row and append to the log ([`Rows`]), inside the transaction it has open.

use std::sync::Arc;

use app::domain::{entity::Row, EntitySet, Event, EventBody, Seq, Stamp, Step};

use super::{Batch, Committed, Once, StoreError};

/// Most rows one event may read: the rules need a handful; more means a bug, not a big event.
const MAX_LOADS: usize = 16;

/// Row access within one open transaction of a backend.
#[async_trait::async_trait]
pub trait Rows: Send {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError>;
    async fn save(&mut self, workspace: &str, row: &Row) -> Result<(), StoreError>;
    /// Appends one event to the log with the topics it is delivered on.
    async fn append(&mut self, workspace: &str, event: &Event, frame: &str) -> Result<(), StoreError>;
    /// What was committed under an idempotency key since `not_before`: its hash and seqs.
    async fn remembered(&mut self, workspace: &str, once: &Once) -> Result<Option<(String, Vec<Seq>)>, StoreError>;
    /// Remembers a key's batch (replacing one older than the window).
    async fn remember(&mut self, workspace: &str, once: &Once, seqs: &[Seq], ts: &str) -> Result<(), StoreError>;
    /// Logged events by seq, with their frames, in seq order.
    async fn logged(&mut self, seqs: &[Seq]) -> Result<Vec<(Seq, String)>, StoreError>;
}

/// Applies and logs every event of one batch; `head` is the seq before the first of them.
pub async fn apply_batch(rows: &mut dyn Rows, batch: Batch, head: Seq, ts: &str) -> Result<Vec<Committed>, StoreError> {
    if let Some(once) = &batch.once {
        if let Some(first) = replay(rows, &batch.workspace, once).await? {
            return Ok(first);
        }
    }
    let once = batch.once.clone();
    let workspace: Arc<str> = batch.workspace.into();
    let mut committed = Vec::with_capacity(batch.events.len());
    let mut keys = batch.event_keys.into_iter();
    let mut seq = head;
    for mut body in batch.events {
        let key = keys.next().flatten();
        if let Some(key) = &key {
            if let Some(mut first) = replay(rows, &workspace, key).await? {
                committed.append(&mut first);
                continue;
            }
        }
        seq += 1;
        let at = Stamp { seq, ts: ts.to_string() };
        for row in project(rows, &workspace, &mut body, &at).await? {
            rows.save(&workspace, &row).await?;
        }
        // Topics after projecting: a created task only has its id from here on.
        let event = Event { seq: at.seq, ts: at.ts, topics: body.topics(), body };
        let frame = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        rows.append(&workspace, &event, &frame).await?;
        if let Some(key) = &key {
            rows.remember(&workspace, key, &[event.seq], ts).await?;
        }
        committed.push(Committed {
            seq: event.seq,
            workspace: workspace.clone(),
            topics: event.topics,
            frame: frame.into(),
            ts: event.ts,
            replayed: false,
            body: event.body,
        });
    }
    if let Some(once) = &once {
        // A retry of the whole request is answered with these seqs, first commits and replays alike.
        let seqs: Vec<Seq> = committed.iter().map(|c| c.seq).collect();
        rows.remember(&workspace, once, &seqs, ts).await?;
    }
    Ok(committed)
}

/// The batch an earlier request with the same key committed, as it was committed; a refusal when
/// the key comes back with another body; `None` when the key is new (or older than the window).
async fn replay(rows: &mut dyn Rows, workspace: &str, once: &Once) -> Result<Option<Vec<Committed>>, StoreError> {
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
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()
        .map(Some)
}

/// Runs the event's projection, loading each row it asks for and starting over, until it
/// completes or refuses. Returns the rows to write; `body` gets what the projection filled in.
async fn project(
    rows: &mut dyn Rows,
    workspace: &str,
    body: &mut EventBody,
    at: &Stamp,
) -> Result<Vec<Row>, StoreError> {
    let mut set = EntitySet::default();
    for _ in 0..=MAX_LOADS {
        let mut attempt = body.clone();
        set.reset_writes();
        match attempt.project(&mut set, at) {
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
