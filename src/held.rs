//! Requests held open until an approval is decided: a Claude Code permission hook, a long-poll.
//!
//! A held request is a future parked on a watch channel of its approval, no thread of its own.
//! One task reads the hub's live ring (every commit of this instance and, through the relay, of
//! the others) and wakes the requests of each `approval:resolved` there: the work is once per
//! event, not once per waiter. A waiter looks at the stored approval after it is registered, so
//! a decision that came just before cannot be missed; when the ring drops a frame, every waiter
//! looks again. How many wait at once is bounded; beyond that a request is answered at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::{
    domain::{
        approval::Approval,
        entity::{decode_rows, Query},
    },
    topics,
};
use serde::Deserialize;
use tokio::sync::{broadcast::error::RecvError, watch};

use crate::{hub::Hub, store::Store};

type Key = (String, String);

/// The requests waiting now, by workspace and approval id.
pub struct Held {
    waiting: Mutex<HashMap<Key, watch::Sender<u64>>>,
    count: std::sync::atomic::AtomicUsize,
    max: usize,
}

/// One request's place in line; leaving it (by drop) frees the place.
pub struct Waiter {
    key: Key,
    changed: watch::Receiver<u64>,
    held: Arc<Held>,
}

/// How a wait ended.
#[derive(Debug)]
pub enum Outcome {
    /// The approval is resolved: decided by a person, by the terminal, or timed out.
    Resolved(Approval),
    /// Still pending when the caller's own deadline came (a long-poll's `wait`).
    Pending(Approval),
    /// The server is shutting down: the agent falls back to its own prompt.
    Released,
}

impl Held {
    pub fn new(max: usize) -> Arc<Held> {
        Arc::new(Held { waiting: Mutex::new(HashMap::new()), count: Default::default(), max })
    }

    /// How many requests wait now.
    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn has_room(&self) -> bool {
        self.count() < self.max
    }

    /// A place in line for an approval; `None` when the line is full.
    pub fn enter(self: &Arc<Self>, workspace: &str, id: &str) -> Option<Waiter> {
        let mut waiting = self.waiting.lock().expect("held requests");
        if self.count() >= self.max {
            return None;
        }
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = (workspace.to_string(), id.to_string());
        let changed = waiting.entry(key.clone()).or_insert_with(|| watch::channel(0).0).subscribe();
        Some(Waiter { key, changed, held: self.clone() })
    }

    /// Wakes the requests waiting for one approval.
    pub fn wake(&self, workspace: &str, id: &str) {
        let waiting = self.waiting.lock().expect("held requests");
        if let Some(tx) = waiting.get(&(workspace.to_string(), id.to_string())) {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Wakes every waiting request, to look at its approval again.
    pub fn wake_all(&self) {
        for tx in self.waiting.lock().expect("held requests").values() {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Follows the hub's ring and wakes the waiters of each resolved approval, until shutdown.
    pub fn follow(self: &Arc<Self>, hub: &Hub) {
        let (held, mut ring, mut shutdown) = (self.clone(), hub.join(), hub.shutdown_signal());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    frame = ring.recv() => match frame {
                        Ok(frame) if frame.topics.iter().any(|t| t == topics::APPROVALS) => match &frame.text {
                            Some(text) => {
                                if let Some(id) = resolved_id(text) {
                                    held.wake(&frame.workspace, &id);
                                }
                            }
                            None => held.wake_all(),
                        },
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => held.wake_all(),
                        Err(RecvError::Closed) => break,
                    },
                    _ = shutdown.changed() => break,
                }
            }
            held.wake_all();
        });
    }
}

/// The approval an `approval:resolved` frame resolves.
fn resolved_id(frame: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Frame {
        #[serde(rename = "type")]
        kind: String,
        payload: Payload,
    }
    #[derive(Deserialize)]
    struct Payload {
        id: String,
    }
    let frame: Frame = serde_json::from_str(frame).ok()?;
    (frame.kind == "approval:resolved").then_some(frame.payload.id)
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut waiting = self.held.waiting.lock().expect("held requests");
        // This waiter's receiver is still alive here: it is the last when it is the only one.
        if waiting.get(&self.key).is_some_and(|tx| tx.receiver_count() <= 1) {
            waiting.remove(&self.key);
        }
        self.held.count.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How often a waiter looks at its approval even when nothing woke it: a safety net, not the way
/// decisions arrive.
const LOOK_AGAIN: Duration = Duration::from_secs(30);

impl Waiter {
    /// Waits until the approval is resolved, `until` passes (for a long-poll), or the server stops.
    pub async fn until_resolved(
        mut self,
        store: &dyn Store,
        hub: &Hub,
        until: Option<tokio::time::Instant>,
    ) -> Result<Outcome, crate::store::StoreError> {
        let mut shutdown = hub.shutdown_signal();
        loop {
            self.changed.borrow_and_update();
            let approval = read(store, &self.key.0, &self.key.1).await?;
            let Some(approval) = approval else { return Ok(Outcome::Released) };
            if !approval.is_pending() {
                return Ok(Outcome::Resolved(approval));
            }
            if *shutdown.borrow() {
                return Ok(Outcome::Released);
            }
            let look_again = tokio::time::Instant::now() + LOOK_AGAIN;
            let wake_at = until.map_or(look_again, |u| u.min(look_again));
            tokio::select! {
                _ = self.changed.changed() => {}
                _ = tokio::time::sleep_until(wake_at) => {
                    if until.is_some_and(|u| u <= tokio::time::Instant::now()) {
                        return Ok(Outcome::Pending(approval));
                    }
                }
                _ = shutdown.changed() => return Ok(Outcome::Released),
            }
        }
    }
}

/// One approval as stored now.
pub async fn read(store: &dyn Store, workspace: &str, id: &str) -> Result<Option<Approval>, crate::store::StoreError> {
    let snapshot = store.read(workspace, &[Query::one::<Approval>(id)]).await?;
    let rows = decode_rows::<Approval>(&snapshot.rows[0]).map_err(crate::store::StoreError::Corrupt)?;
    Ok(rows.into_iter().next())
}
