//! A subscriber's view of the log: replay from `since`, then live, with no gap and no duplicate.
//!
//! The feed joins the live ring *before* it reads the head of the log, replays `(since, head]`
//! from the log page by page, then reads the ring and drops anything at or below what it already
//! sent. Every event committed after the head was read is published after the join, so it is on
//! the ring; every event up to the head is in the log. When the ring laps the feed (a slow reader),
//! it rejoins and catches up from the log the same way. When the log no longer holds every event
//! the feed still owes, it says `reset` instead of replaying part of them.
//!
//! The transport (WebSocket, SSE) only calls [`Feed::next`]; it is cancel-safe, so it can sit in a
//! `select!` next to the socket's other work.

use std::{collections::VecDeque, sync::Arc};

use tokio::time::Instant;

use app::{domain::Seq, topics::TopicSet};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast::{
    error::{RecvError, TryRecvError},
    Receiver,
};

use super::{Hub, LiveFrame, Membership};
use crate::store::{LogQuery, Store, StoreError};

/// Events read from the log per query while replaying, and the bytes they may hold: what one
/// connection keeps in memory beyond the frame it is writing.
const PAGE: u32 = 1_024;
const PAGE_BYTES: usize = 512 << 10;

pub enum Item {
    /// An event's frame; with the moment it went live when it came off the live ring.
    Frame(Seq, Utf8Bytes, Option<Instant>),
    /// The subscriber fell further behind than the hub's lag deadline: drop it; it resumes from
    /// the last seq it got.
    TooSlow(String),
    /// The log cannot supply every event owed; the subscriber must reload its snapshot.
    Reset { seq: Seq, reason: String },
}

/// Where replay starts, for the `subscribed` answer.
pub enum Start {
    Replay { since: Seq, upto: Seq },
    Reset { seq: Seq, reason: String },
}

enum CatchUp {
    Idle,
    /// Fell off the ring: read the head of the log, then replay up to it.
    NeedHead,
    Upto(Seq),
}

pub struct Feed {
    store: Arc<dyn Store>,
    hub: Hub,
    workspace: String,
    topics: TopicSet,
    /// Every event with a seq up to here has been sent or skipped.
    cursor: Seq,
    live: Receiver<Arc<LiveFrame>>,
    pending: VecDeque<(Seq, Utf8Bytes)>,
    catchup: CatchUp,
    /// When the current catch-up from the log began (`None` while live).
    behind_since: Option<Instant>,
    /// Counts this feed in the rooms of its topics.
    rooms: Membership,
}

impl Feed {
    /// Starts following `topics` in `workspace` from `since` (from the head when `None`).
    pub async fn start(
        store: Arc<dyn Store>,
        hub: Hub,
        workspace: String,
        topics: TopicSet,
        since: Option<Seq>,
        epoch: Option<&str>,
    ) -> Result<(Feed, Start), StoreError> {
        let live = hub.join();
        let head = store.head().await?;
        hub.count_feed(true);
        if since.is_some() {
            hub.note_resume();
        }
        let since = since.unwrap_or(head);
        let rooms = hub.enter(&workspace, topics.to_vec());
        let mut feed = Feed {
            store,
            hub,
            workspace,
            topics,
            cursor: head,
            live,
            pending: VecDeque::new(),
            catchup: CatchUp::Idle,
            behind_since: None,
            rooms,
        };
        let start = feed.begin(since, head, epoch).await?;
        if matches!(start, Start::Reset { .. }) {
            feed.hub.note_reset();
        }
        Ok((feed, start))
    }

    /// Where a new feed starts: a replay of `(since, head]`, or a reset when the log cannot serve it.
    async fn begin(&mut self, since: Seq, head: Seq, epoch: Option<&str>) -> Result<Start, StoreError> {
        let feed = self;
        if let Some(theirs) = epoch.filter(|e| *e != feed.store.epoch()) {
            let reason = format!("the log was replaced (epoch {theirs}, now {}): reload", feed.store.epoch());
            return Ok(Start::Reset { seq: feed.position(head).await?, reason });
        }
        if since > head {
            let reason = format!("since {since} is ahead of the log: the log was replaced");
            return Ok(Start::Reset { seq: feed.position(head).await?, reason });
        }
        if since < head {
            let pruned = feed.store.pruned_upto(&feed.workspace).await?;
            if since < pruned {
                let reason = format!("events after {since} are no longer kept (pruned up to {pruned})");
                return Ok(Start::Reset { seq: feed.position(head).await?, reason });
            }
            feed.cursor = since;
            feed.catch_up(CatchUp::Upto(head));
            feed.hub.note_replay();
        }
        Ok(Start::Replay { since, upto: head })
    }

    pub fn topics(&self) -> &TopicSet {
        &self.topics
    }

    pub fn unsubscribe(&mut self, topics: &[String]) {
        self.topics.remove(topics);
        self.rooms.leave(topics);
    }

    /// Moves to catching up from the log, starting the lag clock unless it runs already.
    fn catch_up(&mut self, how: CatchUp) {
        self.catchup = how;
        self.fall_behind(Instant::now());
    }

    /// Starts the lag clock at `since`, unless it runs already.
    fn fall_behind(&mut self, since: Instant) {
        if self.behind_since.is_none() {
            self.hub.count_behind(true);
            self.behind_since = Some(since);
        }
    }

    fn caught_up(&mut self) {
        if self.behind_since.take().is_some() {
            self.hub.count_behind(false);
        }
    }

    /// The next frame to send. `Err` only when the store fails or the hub has shut down.
    pub async fn next(&mut self) -> Result<Item, StoreError> {
        let deadline = self.hub.settings().lag_deadline;
        loop {
            // A subscriber must finish each catch-up, and take each live frame, within the deadline:
            // one that reads a trickle is dropped rather than served from the log for ever.
            if let Some(since) = self.behind_since {
                if since.elapsed() > deadline {
                    self.hub.note_too_slow();
                    return Ok(Item::TooSlow(format!("more than {} ms behind the log", deadline.as_millis())));
                }
            }
            if let Some((seq, frame)) = self.pending.pop_front() {
                return Ok(Item::Frame(seq, frame, None));
            }
            match self.catchup {
                CatchUp::NeedHead => {
                    let head = self.store.head().await?;
                    self.catchup = if head > self.cursor { CatchUp::Upto(head) } else { CatchUp::Idle };
                }
                CatchUp::Upto(upto) => {
                    if let Some(reset) = self.replay_page(upto).await? {
                        return Ok(reset);
                    }
                }
                CatchUp::Idle => {
                    // Everything owed up to the last head is sent: live again.
                    self.caught_up();
                    match self.live.recv().await {
                        Ok(frame) => {
                            if let Some(item) = self.take_live(&frame, deadline, Instant::now()) {
                                return Ok(item);
                            }
                        }
                        Err(RecvError::Lagged(_)) => self.lagged(),
                        Err(RecvError::Closed) => return Err(StoreError::Unavailable("the hub has shut down".into())),
                    }
                }
            }
        }
    }

    /// The next frame if it is at hand without waiting (owed from a page already read, or on the
    /// live ring): the transport writes these together and flushes once.
    /// `now` is the caller's reading of the clock, taken once for a whole batch.
    pub fn ready(&mut self, now: Instant) -> Option<Item> {
        let deadline = self.hub.settings().lag_deadline;
        if self.behind_since.is_some_and(|since| now.saturating_duration_since(since) > deadline) {
            return None;
        }
        if let Some((seq, frame)) = self.pending.pop_front() {
            return Some(Item::Frame(seq, frame, None));
        }
        while matches!(self.catchup, CatchUp::Idle) {
            match self.live.try_recv() {
                Ok(frame) => {
                    if let Some(item) = self.take_live(&frame, deadline, now) {
                        return Some(item);
                    }
                }
                Err(TryRecvError::Lagged(_)) => self.lagged(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        None
    }

    /// What a frame off the live ring means for this feed: one to send, or `None` when it is
    /// skipped (not ours, sent already) or starts a catch-up from the log.
    fn take_live(&mut self, frame: &LiveFrame, deadline: std::time::Duration, now: Instant) -> Option<Item> {
        if now.saturating_duration_since(frame.published) > deadline {
            self.fall_behind(frame.published);
            return None;
        }
        if frame.seq <= self.cursor {
            return None;
        }
        if *frame.workspace != *self.workspace || !self.topics.matches(&frame.topics) {
            self.cursor = frame.seq;
            return None;
        }
        match &frame.text {
            Some(text) => {
                self.cursor = frame.seq;
                Some(Item::Frame(frame.seq, text.clone(), Some(frame.published)))
            }
            // Too large for the ring's budget: read it from the log.
            None => {
                self.catch_up(CatchUp::Upto(frame.seq));
                None
            }
        }
    }

    /// The ring lapped this feed: rejoin it and catch up from the log.
    fn lagged(&mut self) {
        self.hub.note_lagged();
        self.live = self.hub.join();
        self.catch_up(CatchUp::NeedHead);
    }

    /// The seq a reset names: this workspace's position, never the global head.
    async fn position(&self, head: Seq) -> Result<Seq, StoreError> {
        self.store.position(&self.workspace, head).await
    }

    /// Loads the next page of `(cursor, upto]` into `pending`. State changes only after the last
    /// await, which keeps [`Feed::next`] cancel-safe.
    async fn replay_page(&mut self, upto: Seq) -> Result<Option<Item>, StoreError> {
        if self.cursor >= upto {
            self.catchup = CatchUp::Idle;
            return Ok(None);
        }
        let query = LogQuery {
            workspace: self.workspace.clone(),
            after: self.cursor,
            upto,
            topics: self.topics.filter(),
            limit: PAGE,
            newest: false,
            max_bytes: Some(PAGE_BYTES),
        };
        let page = self.store.read_log(&query).await?;
        // Pruning only ever removes a prefix of the workspace's log. If it still reaches no further
        // than our cursor now, it did not when the page was read, so the page has no hole.
        if self.store.pruned_upto(&self.workspace).await? > self.cursor {
            let head = self.store.head().await?;
            self.cursor = head;
            self.catchup = CatchUp::Idle;
            let reason = format!("events after {} were pruned while catching up", query.after);
            return Ok(Some(Item::Reset { seq: self.position(head).await?, reason }));
        }
        // A page may be cut short by its byte bound, so only an empty one says the range is done:
        // one more (indexed, empty) query per catch-up.
        match page.last() {
            Some((seq, _)) => self.cursor = *seq,
            None => {
                self.cursor = upto;
                self.catchup = CatchUp::Idle;
            }
        }
        self.pending.extend(page.into_iter().map(|(seq, frame)| (seq, Utf8Bytes::from(frame))));
        Ok(None)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.caught_up();
        self.hub.count_feed(false);
    }
}
