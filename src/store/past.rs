//! A workspace at a past moment: its rows as they were at a seq, rebuilt by the very projection a
//! commit runs ([`project::project`]), from the nearest snapshot at or below that seq plus the
//! workspace's events after it. Any page's queries are then answered from those rows, so every
//! page can be shown as it was with no reducer of its own.

use std::collections::HashMap;

use app::domain::{
    entity::{Query, Row},
    Event, Seq,
};

use super::{project, LogQuery, Store, StoreError};

/// Events read per trip while replaying.
const PAGE: u32 = 10_000;

/// What a past moment's queries found.
#[derive(Debug)]
pub enum Rebuilt {
    /// The rows each query selects, as they were.
    Rows {
        rows: Vec<Vec<String>>,
        /// The snapshot replayed from (0: the start of the log) and how many events were replayed.
        base: Seq,
        replayed: usize,
    },
    /// The events between the nearest snapshot and the moment were pruned: the earliest moment
    /// that can be rebuilt is this seq (the present, when no snapshot is left after the cut).
    Pruned { pruned_upto: Seq, earliest: Seq },
}

/// Answers `queries` in `workspace` as they would have been answered right after event `at`.
pub async fn rebuild(store: &dyn Store, workspace: &str, at: Seq, queries: &[Query]) -> Result<Rebuilt, StoreError> {
    let pruned_upto = store.pruned_upto(workspace).await?;
    let (base, after_cut) = store.snapshots_around(at, pruned_upto).await?;
    if pruned_upto > 0 && base < pruned_upto {
        let earliest = match after_cut {
            Some(seq) => seq,
            None => store.head().await?,
        };
        return Ok(Rebuilt::Pruned { pruned_upto, earliest });
    }
    let mut replay = Replay { store, base, known: HashMap::new(), written: HashMap::new() };
    let replayed = replay.run(workspace, at).await?;
    let rows = replay.answer(workspace, queries).await?;
    Ok(Rebuilt::Rows { rows, base, replayed })
}

/// The rows of one workspace after replaying events on a snapshot.
struct Replay<'s> {
    store: &'s dyn Store,
    base: Seq,
    /// Every row read or written so far, by kind and id (`None`: it did not exist).
    known: HashMap<(&'static str, String), Option<String>>,
    /// The rows the replayed events wrote, by kind, then id.
    written: HashMap<&'static str, HashMap<String, Row>>,
}

impl Replay<'_> {
    /// Applies the workspace's events in `(base, at]`; returns how many.
    async fn run(&mut self, workspace: &str, at: Seq) -> Result<usize, StoreError> {
        let mut after = self.base;
        let mut replayed = 0;
        while after < at {
            let query = LogQuery {
                workspace: workspace.into(),
                after,
                upto: at,
                topics: None,
                limit: PAGE,
                newest: false,
                max_bytes: None,
            };
            let page = self.store.read_log(&query).await?;
            let full = page.len() == PAGE as usize;
            for (seq, frame) in page {
                let event: Event =
                    serde_json::from_str(&frame).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
                self.apply(workspace, event).await?;
                (after, replayed) = (seq, replayed + 1);
            }
            if !full {
                break;
            }
        }
        Ok(replayed)
    }

    async fn apply(&mut self, workspace: &str, event: Event) -> Result<(), StoreError> {
        let stamp = event.stamp();
        let mut body = event.body;
        // A logged event's precondition held when it was stored: it is applied as it was.
        match project::project(self, workspace, &mut body, &stamp, None).await {
            Ok(rows) => {
                for row in rows {
                    self.known.insert((row.kind, row.id.clone()), Some(row.data.clone()));
                    self.written.entry(row.kind).or_default().insert(row.id.clone(), row);
                }
                Ok(())
            }
            // The rules refuse now what they once took (they changed since): the moment is shown
            // without it rather than not at all.
            Err(e) if e.is_rejection() => {
                tracing::warn!(seq = stamp.seq, error = %e, "a logged event no longer applies; rebuilt without it");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Each query over the snapshot's rows with the replayed writes laid on top.
    async fn answer(&self, workspace: &str, queries: &[Query]) -> Result<Vec<Vec<String>>, StoreError> {
        let written = |kind: &str| self.written.get(kind);
        // Ask the snapshot for enough rows that the ones replaced by newer writes leave the limit full.
        let asks: Vec<(Query, u32)> = queries
            .iter()
            .map(|q| (q.clone(), q.limit.saturating_add(written(&q.kind).map_or(0, |w| w.len() as u32))))
            .collect();
        let snapshot = match self.base {
            0 => vec![Vec::new(); queries.len()],
            base => self.store.snapshot_read(workspace, &asks, base).await?,
        };
        Ok(queries
            .iter()
            .zip(snapshot)
            .map(|(q, mut rows)| {
                if let Some(newer) = written(&q.kind) {
                    rows.retain(|(_, id, _)| !newer.contains_key(id));
                    rows.extend(
                        newer.values().filter(|r| q.admits(r)).map(|r| (r.index.sort, r.id.clone(), r.data.clone())),
                    );
                }
                q.order(&mut rows);
                rows.into_iter().map(|(_, _, data)| data).collect()
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl project::Load for Replay<'_> {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        let key = (kind, id.to_string());
        if let Some(known) = self.known.get(&key) {
            return Ok(known.clone());
        }
        let data = match self.base {
            0 => None,
            base => self.store.snapshot_row(workspace, kind, id, base).await?,
        };
        self.known.insert(key, data.clone());
        Ok(data)
    }
}

/// Where a moment sits among the events a page follows (`topics`; empty: all of the workspace's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Steps {
    /// The last of those events at or below the moment, and its time.
    pub last: Option<(Seq, String)>,
    /// The one before it: one step back undoes the last.
    pub previous: Option<Seq>,
    /// The first after the moment.
    pub next: Option<Seq>,
}

pub async fn steps(
    store: &dyn Store,
    workspace: &str,
    at: Seq,
    topics: &[String],
    head: Seq,
) -> Result<Steps, StoreError> {
    let query = |after: Seq, upto: Seq, limit: u32, newest: bool| LogQuery {
        workspace: workspace.into(),
        after,
        upto,
        topics: (!topics.is_empty()).then(|| topics.to_vec()),
        limit,
        newest,
        max_bytes: None,
    };
    let before = store.read_log(&query(0, at, 2, true)).await?;
    let next = store.read_log(&query(at, head, 1, false)).await?.first().map(|(seq, _)| *seq);
    let last = match before.last() {
        Some((seq, frame)) => Some((*seq, time_of(*seq, frame)?)),
        None => None,
    };
    let previous = (before.len() == 2).then(|| before[0].0);
    Ok(Steps { last, previous, next })
}

/// The seq of the workspace's last event committed at or before `ts` (RFC 3339, as the log
/// writes it), found by bisecting the log: commit times grow with seqs.
pub async fn seq_at_time(store: &dyn Store, workspace: &str, ts: &str) -> Result<Seq, StoreError> {
    let (mut lo, mut hi) = (store.pruned_upto(workspace).await?, store.head().await?);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let query = LogQuery {
            workspace: workspace.into(),
            after: mid - 1,
            upto: hi,
            topics: None,
            limit: 1,
            newest: false,
            max_bytes: None,
        };
        match store.read_log(&query).await?.first() {
            Some((seq, frame)) if time_of(*seq, frame)?.as_str() <= ts => lo = *seq,
            _ => hi = mid - 1,
        }
    }
    Ok(lo)
}

fn time_of(seq: Seq, frame: &str) -> Result<String, StoreError> {
    #[derive(serde::Deserialize)]
    struct Stamped {
        ts: String,
    }
    serde_json::from_str::<Stamped>(frame).map(|s| s.ts).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))
}
