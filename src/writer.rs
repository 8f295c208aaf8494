//! The single writer: every ingest request queues here, and whatever has queued while the previous
//! commit ran is committed together, so concurrent requests share one fsync instead of waiting for
//! one each. After the commit the events go to the hub, in seq order, and each request gets its
//! answer.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::{
    clock::SharedClock,
    hub::Hub,
    store::{Batch, Committed, Store, StoreError},
};

/// Most requests one commit takes, so one commit cannot grow without bound under load.
const MAX_GROUP: usize = 256;
/// Most events one commit takes (a request of more is committed alone), so a group of large
/// batches cannot make one transaction huge.
const MAX_GROUP_EVENTS: usize = 5_000;

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Result<Vec<Committed>, StoreError>>,
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Transactions committed so far: fewer than requests when grouping works.
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer task. `retain` is how many events the log keeps before pruning the oldest;
    /// `clock` stamps each commit.
    /// `queue` is how many requests may wait for a commit; beyond it a request is refused at once.
    pub fn start(store: Arc<dyn Store>, hub: Hub, retain: u64, clock: SharedClock, queue: usize) -> Writer {
        let (jobs, queue) = mpsc::channel(queue.max(1));
        let commits = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(store, hub, retain, clock, queue, commits.clone()));
        Writer { jobs, commits }
    }

    /// Why the writer cannot take a request now, if it cannot: it has stopped, or its queue is full.
    pub fn trouble(&self) -> Option<&'static str> {
        if self.jobs.is_closed() {
            Some("the writer has stopped")
        } else if self.jobs.capacity() == 0 {
            Some("the writer's queue is full")
        } else {
            None
        }
    }

    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Commits one batch, all or nothing, and returns it as stored once it is durable.
    pub async fn submit(&self, batch: Batch) -> Result<Vec<Committed>, StoreError> {
        let (reply, answer) = oneshot::channel();
        // Not taken: certainly not stored. Taken but unanswered: the outcome is unknown.
        // A full queue answers at once rather than holding the request (and its body) in memory.
        self.jobs.try_send(Job { batch, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Busy("the writer's queue is full".into()),
            mpsc::error::TrySendError::Closed(_) => StoreError::Unavailable("the writer has stopped".into()),
        })?;
        answer.await.map_err(|_| {
            StoreError::Lost("the writer stopped before answering: the events may have been stored".into())
        })?
    }
}

async fn run(
    store: Arc<dyn Store>,
    hub: Hub,
    retain: u64,
    clock: SharedClock,
    mut queue: mpsc::Receiver<Job>,
    commits: Arc<AtomicU64>,
) {
    // Prune in steps, not after every commit: a tenth of the retained size, at least one event.
    let slack = (retain / 10).max(1);
    let mut pruned_at: u64 = 0;
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let jobs = take_group(first, &mut queue, &mut held);
        let (batches, replies): (Vec<Batch>, Vec<_>) = jobs.into_iter().map(|j| (j.batch, j.reply)).unzip();
        // A panic inside a commit drops its transaction (nothing is stored) and must not take the
        // writer with it: the group is refused and the writer goes on with the next one.
        let commit = std::panic::AssertUnwindSafe(store.commit(batches, &clock.now_rfc3339())).catch_unwind().await;
        let commit = commit.unwrap_or_else(|_| {
            tracing::error!("a commit panicked; its requests are refused and the writer goes on");
            Err(StoreError::Unavailable("the commit failed".into()))
        });
        match commit {
            Ok(results) => {
                commits.fetch_add(1, Ordering::Relaxed);
                let mut head = 0;
                for (reply, result) in replies.into_iter().zip(results) {
                    if let Ok(committed) = &result {
                        // A replay was pushed when it was first committed.
                        if committed.iter().all(|c| !c.replayed) {
                            hub.publish(committed);
                        }
                        head = committed.last().map_or(head, |c| c.seq);
                    }
                    let _ = reply.send(result);
                }
                if head > pruned_at + retain + slack {
                    match store.prune(retain).await {
                        Ok(_) => pruned_at = head.saturating_sub(retain),
                        Err(e) => tracing::warn!(error = %e, "pruning the event log failed"),
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed");
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }
}

/// The requests one commit takes: `first`, then whatever has queued, up to [`MAX_GROUP`] requests
/// and [`MAX_GROUP_EVENTS`] events. A request that would pass the event cap waits in `held` for
/// the next commit.
fn take_group(first: Job, queue: &mut mpsc::Receiver<Job>, held: &mut Option<Job>) -> Vec<Job> {
    let mut events = first.batch.events.len();
    let mut jobs = vec![first];
    while jobs.len() < MAX_GROUP {
        let Ok(job) = queue.try_recv() else { break };
        if events + job.batch.events.len() > MAX_GROUP_EVENTS {
            *held = Some(job);
            break;
        }
        events += job.batch.events.len();
        jobs.push(job);
    }
    jobs
}

#[cfg(test)]
mod tests {
    use app::domain::{agent::AgentHeartbeat, EventBody};

    use super::*;

    fn job(events: usize) -> Job {
        let body = EventBody::AgentHeartbeat(AgentHeartbeat { id: "a".into(), task_id: None });
        let (reply, _) = oneshot::channel();
        Job { batch: Batch::new("w".into(), vec![body; events]), reply }
    }

    #[test]
    fn a_group_is_capped_in_events_as_well_as_requests() {
        let (jobs, mut queue) = mpsc::channel(16);
        for size in [2_000, 2_000, 2_000, 10] {
            jobs.try_send(job(size)).ok().unwrap();
        }
        let mut held = None;
        let first = queue.try_recv().unwrap();
        let group = take_group(first, &mut queue, &mut held);
        assert_eq!(group.iter().map(|j| j.batch.events.len()).collect::<Vec<_>>(), vec![2_000, 2_000]);
        let next = take_group(held.take().expect("the third waits"), &mut queue, &mut held);
        assert_eq!(next.iter().map(|j| j.batch.events.len()).collect::<Vec<_>>(), vec![2_000, 10]);
        // A request bigger than the cap still commits, alone.
        jobs.try_send(job(6_000)).ok().unwrap();
        jobs.try_send(job(1)).ok().unwrap();
        let first = queue.try_recv().unwrap();
        assert_eq!(take_group(first, &mut queue, &mut held).len(), 1);
        assert!(held.is_some());
    }
}
