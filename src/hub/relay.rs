//! The order events reach this instance's followers in: every seq once, in seq order, with no gap.
//!
//! With one instance every commit is this writer's, and its events are published as soon as they
//! are durable. With several instances on one database, another instance's commit takes seqs in
//! between: a local commit then waits until the seqs before it have been read from the log and
//! published. The store says when its head moves (PostgreSQL `LISTEN/NOTIFY`, with the head the
//! commit left); a head past what is published wakes the relay, which then reads the log from its
//! own last seq, so a lost notification costs latency (the next periodic look), never an event.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::domain::Seq;
use tokio::sync::{watch, Notify};

use super::Hub;
use crate::store::{Committed, Logged, Store};

/// How often the relay looks at the head without being told, when other instances write too.
const HEAL_EVERY: Duration = Duration::from_secs(1);
/// Events read from the log per query while filling a gap.
const PAGE: u32 = 512;

#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Hub,
    state: Mutex<State>,
    /// Wakes the relay task to fill a gap.
    gap: Notify,
}

struct State {
    /// Every seq up to here has been published (or was committed before this instance started).
    published: Seq,
    /// Local commits waiting for the seqs before them.
    waiting: BTreeMap<Seq, Logged>,
}

/// The writer publishes each commit through its relay.
impl crate::writer::Publish for Relay {
    fn committed(&self, committed: &mut dyn Iterator<Item = &Committed>) {
        Relay::committed(self, committed)
    }
}

impl Relay {
    /// Starts relaying after `head`. `heads` tells of commits by other instances; without it the
    /// writer is the only one.
    pub fn start(store: Arc<dyn Store>, hub: Hub, head: Seq, heads: Option<watch::Receiver<Seq>>) -> Relay {
        let relay = Relay {
            inner: Arc::new(Inner {
                hub,
                state: Mutex::new(State { published: head, waiting: BTreeMap::new() }),
                gap: Notify::new(),
            }),
        };
        let shared = heads.is_some();
        tokio::spawn(relay.clone().run(store, heads, shared));
        relay
    }

    /// This instance's writer committed these (first commits only, in seq order).
    pub fn committed<'a>(&self, committed: impl IntoIterator<Item = &'a Committed>) {
        let mut state = self.lock();
        for c in committed {
            if c.seq <= state.published {
                continue;
            }
            let logged =
                Logged { seq: c.seq, workspace: c.workspace.clone(), topics: c.topics.clone(), frame: c.frame.clone() };
            state.waiting.insert(c.seq, logged);
        }
        if !self.drain(&mut state) {
            self.inner.gap.notify_one();
        }
    }

    /// Publishes what waits and is next; false when a gap is left before the first that waits.
    fn drain(&self, state: &mut State) -> bool {
        while let Some(entry) = state.waiting.first_entry() {
            if *entry.key() != state.published + 1 {
                return false;
            }
            let logged = entry.remove();
            state.published = logged.seq;
            self.inner.hub.publish_logged(&logged);
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self, store: Arc<dyn Store>, mut heads: Option<watch::Receiver<Seq>>, shared: bool) {
        let mut shutdown = self.inner.hub.shutdown_signal();
        loop {
            let look = tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.inner.gap.notified() => true,
                // Most announcements are of this instance's own commits, published already: no
                // need to ask the database for its head.
                Some(head) = announced(&mut heads) => head > self.lock().published,
                _ = tokio::time::sleep(HEAL_EVERY), if shared => true,
            };
            if !look {
                continue;
            }
            if let Err(e) = self.fill(&*store).await {
                tracing::warn!(error = %e, "reading others' events from the log failed; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.inner.gap.notify_one();
            }
        }
    }

    /// Publishes, from the log, every event after the last published up to the head (or up to the
    /// first local commit waiting, which is then published in turn).
    async fn fill(&self, store: &dyn Store) -> Result<(), crate::store::StoreError> {
        loop {
            let head = store.head().await?;
            let (after, upto) = {
                let mut state = self.lock();
                self.drain(&mut state);
                let upto = state.waiting.keys().next().map_or(head, |first| first - 1).min(head);
                (state.published, upto)
            };
            if upto <= after {
                return Ok(());
            }
            let page = store.read_tail(after, upto, PAGE).await?;
            let mut state = self.lock();
            // The log is gapless: a hole, or nothing where the head says there is something, means
            // pruning took those events first. Nobody can be sent them; go on after them.
            let end = page.last().map_or(upto, |last| last.seq);
            for logged in page {
                if logged.seq <= state.published {
                    continue;
                }
                if logged.seq > state.published + 1 {
                    tracing::warn!(
                        from = state.published + 1,
                        to = logged.seq - 1,
                        "events pruned before they were relayed"
                    );
                }
                state.published = logged.seq;
                self.inner.hub.publish_logged(&logged);
            }
            state.published = state.published.max(end);
            self.drain(&mut state);
        }
    }
}

/// The next head announced higher than the last one read; `None` once nothing can announce any more.
async fn announced(heads: &mut Option<watch::Receiver<Seq>>) -> Option<Seq> {
    match heads {
        Some(heads) => {
            heads.changed().await.ok()?;
            Some(*heads.borrow_and_update())
        }
        None => std::future::pending().await,
    }
}
