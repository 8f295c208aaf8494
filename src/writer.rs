//! The single writer: every ingest request queues here, and whatever has queued while the previous
//! commit ran is committed together, so concurrent requests share one fsync instead of waiting for
//! one each. After the commit the events go to the hub, in seq order, and each request gets its
//! answer. Pruning is not the writer's: it runs in slices beside it (`jobs::prune`). The writer
//! publishes through what it is given ([`Publish`]: the hub's relay in the server), so it knows
//! nothing of the hub.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::{
    clock::SharedClock,
    metrics::Metrics,
    store::{Batch, Committed, Store, StoreError},
};

/// Where committed events go, in seq order, once they are durable.
pub trait Publish: Send + Sync + 'static {
    fn committed(&self, committed: &mut dyn Iterator<Item = &Committed>);
}

/// Most requests one commit takes, so one commit cannot grow without bound under load.
const MAX_GROUP: usize = 256;
/// Most events one commit takes (a request of more is committed alone), so a group of large
/// batches cannot make one transaction huge.
const MAX_GROUP_EVENTS: usize = 5_000;

/// How often the writer checks that the database takes writes: while it does, and while it does not.
const PROBE_EVERY: Duration = Duration::from_secs(10);
const PROBE_AGAIN: Duration = Duration::from_secs(1);

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Result<Vec<Committed>, StoreError>>,
    /// The job's share of the queue's byte budget, given back when it is answered.
    bytes: OwnedSemaphorePermit,
}

/// How much may wait for a commit: requests, and the bytes they hold.
#[derive(Clone, Copy, Debug)]
pub struct QueueLimits {
    pub requests: usize,
    pub bytes: usize,
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// The bytes the queue may still take.
    budget: Arc<Semaphore>,
    limits: QueueLimits,
    /// Transactions committed so far: fewer than requests when grouping works.
    commits: Arc<AtomicU64>,
    /// Why the database does not take writes, from the last commit or probe that failed; cleared by
    /// the next one that succeeds.
    unwritable: Arc<Mutex<Option<String>>>,
    /// A request was refused for a full queue and no commit has finished since: saturated.
    refused: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl Writer {
    /// Starts the writer task; `clock` stamps each commit. Beyond `limits` a request is refused at once.
    pub fn start(
        store: Arc<dyn Store>,
        relay: impl Publish,
        clock: SharedClock,
        limits: QueueLimits,
        metrics: Arc<Metrics>,
    ) -> Writer {
        let (jobs, queue) = mpsc::channel(limits.requests.max(1));
        let limits = QueueLimits { requests: limits.requests.max(1), bytes: limits.bytes.clamp(1, u32::MAX as usize) };
        let writer = Writer {
            jobs,
            budget: Arc::new(Semaphore::new(limits.bytes)),
            limits,
            commits: Arc::new(AtomicU64::new(0)),
            unwritable: Arc::new(Mutex::new(None)),
            refused: Arc::new(AtomicBool::new(false)),
            metrics,
        };
        let task = tokio::spawn(run(store, relay, clock, queue, writer.clone()));
        // A commit that panics is caught inside; anything else that kills the writer is a bug that
        // would leave every POST at 503. Exit, loudly, so the supervisor starts a whole server.
        tokio::spawn(async move {
            if let Err(e) = task.await {
                if e.is_panic() {
                    tracing::error!("the writer task panicked: exiting so that a supervisor restarts the server");
                    std::process::exit(70);
                }
            }
        });
        writer
    }

    /// Why the writer cannot take a request now, if it cannot: it has stopped, its queue is full,
    /// or the database does not take writes.
    pub fn trouble(&self) -> Option<String> {
        if self.jobs.is_closed() {
            Some("the writer has stopped".into())
        } else if self.jobs.capacity() == 0 || self.refused.load(Ordering::Relaxed) {
            Some("the writer's queue is full".into())
        } else {
            self.unwritable.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }
    }

    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Bytes of request bodies waiting for a commit now.
    pub fn queued_bytes(&self) -> usize {
        self.limits.bytes - self.budget.available_permits()
    }

    /// Counts a request's newly committed events by type.
    fn count(&self, committed: &[Committed]) {
        for c in committed.iter().filter(|c| !c.replayed) {
            self.metrics.counter(crate::metrics::INGESTED, &[("type", c.body.kind())]).increment(1);
        }
    }

    fn note_writable(&self, result: Result<(), String>) {
        let mut unwritable = self.unwritable.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(()) => {
                if unwritable.take().is_some() {
                    tracing::info!("the database takes writes again");
                }
            }
            Err(reason) => {
                if unwritable.is_none() {
                    tracing::error!(%reason, "the database does not take writes");
                }
                *unwritable = Some(format!("the database does not take writes: {reason}"));
            }
        }
    }

    /// Commits one batch, all or nothing, and returns it as stored once it is durable.
    pub async fn submit(&self, batch: Batch) -> Result<Vec<Committed>, StoreError> {
        let (reply, answer) = oneshot::channel();
        // A request larger than the whole budget still goes, alone.
        let weight = batch.bytes.clamp(1, self.limits.bytes) as u32;
        let busy = || {
            self.refused.store(true, Ordering::Relaxed);
            StoreError::Busy("the writer's queue is full".into())
        };
        let bytes = self.budget.clone().try_acquire_many_owned(weight).map_err(|_| busy())?;
        // Not taken: certainly not stored. Taken but unanswered: the outcome is unknown.
        // A full queue answers at once rather than holding the request (and its body) in memory.
        self.jobs.try_send(Job { batch, reply, bytes }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => busy(),
            mpsc::error::TrySendError::Closed(_) => StoreError::Unavailable("the writer has stopped".into()),
        })?;
        answer.await.map_err(|_| {
            StoreError::Lost("the writer stopped before answering: the events may have been stored".into())
        })?
    }
}

async fn run(
    store: Arc<dyn Store>,
    relay: impl Publish,
    clock: SharedClock,
    mut queue: mpsc::Receiver<Job>,
    writer: Writer,
) {
    let mut held: Option<Job> = None;
    // The first probe at once: a read-only or full disk shows in readiness before any POST.
    let mut probe_at = tokio::time::Instant::now();
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => tokio::select! {
                job = queue.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
                _ = tokio::time::sleep_until(probe_at) => {
                    let result = store.probe().await.map_err(|e| e.to_string());
                    probe_at = tokio::time::Instant::now() + if result.is_ok() { PROBE_EVERY } else { PROBE_AGAIN };
                    writer.note_writable(result);
                    continue;
                }
            },
        };
        let jobs = take_group(first, &mut queue, &mut held);
        // Each job's bytes stay counted until the group is answered.
        let (batches, replies): (Vec<Batch>, Vec<_>) = jobs.into_iter().map(|j| (j.batch, (j.reply, j.bytes))).unzip();
        // A panic inside a commit drops its transaction (nothing is stored) and must not take the
        // writer with it: the group is refused and the writer goes on with the next one.
        let commit = std::panic::AssertUnwindSafe(store.commit(batches, &clock.now_rfc3339())).catch_unwind().await;
        let commit = commit.unwrap_or_else(|_| {
            tracing::error!("a commit panicked; its requests are refused and the writer goes on");
            Err(StoreError::Unavailable("the commit failed".into()))
        });
        writer.refused.store(false, Ordering::Relaxed);
        match commit {
            Ok(results) => {
                writer.commits.fetch_add(1, Ordering::Relaxed);
                let events: usize = results.iter().flatten().map(|c| c.iter().filter(|c| !c.replayed).count()).sum();
                writer.metrics.committed(events);
                writer.note_writable(Ok(()));
                for ((reply, _bytes), result) in replies.into_iter().zip(results) {
                    if let Ok(committed) = &result {
                        writer.count(committed);
                        // A replay was pushed when it was first committed.
                        relay.committed(&mut committed.iter().filter(|c| !c.replayed));
                    }
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed");
                let message = e.to_string();
                writer.note_writable(Err(message.clone()));
                probe_at = tokio::time::Instant::now() + PROBE_AGAIN;
                for (reply, _bytes) in replies {
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
        let bytes = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        Job { batch: Batch::new("w".into(), vec![body; events]), reply, bytes }
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
