//! The hub: pushes every committed event to the sockets and streams that follow it.
//!
//! Each event is serialised once, at commit, into a shared frame. The live feed is one bounded
//! broadcast ring of those frames: a connection reads it at its own pace and holds no queue of its
//! own, so a slow reader costs the others nothing. One that falls a whole ring behind is moved to
//! catch-up from the log (see [`feed`]) rather than skipped. The ring is bounded in bytes as well
//! as entries: a frame that would take it past its budget goes on the ring without its text, and a
//! follower that wants it reads it from the log.

pub mod feed;
pub mod relay;
pub mod socket;

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use app::domain::Seq;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, watch};

/// One committed event as every subscriber receives it.
#[derive(Debug)]
pub struct LiveFrame {
    pub seq: Seq,
    pub workspace: Arc<str>,
    pub topics: Vec<String>,
    /// `None` when the ring had no room for it in bytes: read it from the log.
    pub text: Option<Utf8Bytes>,
    /// When it went on the ring: a follower still reading it much later is too slow.
    pub published: tokio::time::Instant,
}

/// Socket behaviour, from configuration.
#[derive(Clone, Debug)]
pub struct HubSettings {
    /// How often the server pings each socket.
    pub heartbeat: Duration,
    /// How long a pong may take before the socket is closed.
    pub pong_timeout: Duration,
    /// How long one frame may take to write before the client counts as gone.
    pub send_timeout: Duration,
    /// Largest client frame accepted.
    pub max_frame_bytes: usize,
    /// Most topics one connection may follow.
    pub max_topics: usize,
    /// Most sockets open at once with one token.
    pub max_connections_per_token: usize,
    /// How far behind live a follower may fall (a catch-up that takes longer, a live frame taken
    /// later) before it is dropped to resume on its own.
    pub lag_deadline: Duration,
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    live: broadcast::Sender<Arc<LiveFrame>>,
    /// The bytes of text each entry now on the ring holds, oldest first.
    ring: Mutex<RingBytes>,
    settings: HubSettings,
    next_connection: AtomicU64,
    connections: AtomicUsize,
    /// Open sockets per token id, for the per-token limit.
    per_token: Mutex<HashMap<String, usize>>,
    /// Times a reader fell off the ring and was caught up from the log.
    lagged: AtomicU64,
    /// Subscriptions that began with a replay from the log.
    replays: AtomicU64,
    /// Subscriptions that asked to resume from a seq, and those answered with `reset`.
    resumes: AtomicU64,
    resets: AtomicU64,
    /// Feeds open now, and how many of them are catching up from the log.
    feeds: AtomicUsize,
    behind: AtomicUsize,
    metrics: Arc<crate::metrics::Metrics>,
    /// Followers dropped for falling behind the lag deadline.
    too_slow: AtomicU64,
    /// Followers per (workspace, topic): the rooms and how many clients are in each.
    rooms: Mutex<HashMap<(String, String), usize>>,
    /// Flipped once at shutdown so every connection closes cleanly.
    shutdown: watch::Sender<bool>,
}

/// What the ring's entries hold in text, to keep its total under a budget.
struct RingBytes {
    /// Entries the ring holds (the broadcast channel's capacity).
    slots: usize,
    budget: usize,
    sizes: VecDeque<usize>,
    held: usize,
}

impl RingBytes {
    /// Counts a new entry of `len` bytes in (and the one it pushes off the ring out); whether its
    /// text fits the budget.
    fn admit(&mut self, len: usize) -> bool {
        if self.sizes.len() == self.slots {
            self.held -= self.sizes.pop_front().unwrap_or(0);
        }
        let fits = self.held + len <= self.budget;
        let kept = if fits { len } else { 0 };
        self.sizes.push_back(kept);
        self.held += kept;
        fits
    }
}

impl Hub {
    /// `capacity` is the number of events the live ring holds, `bytes` the text they may hold.
    pub fn new(capacity: usize, bytes: usize, settings: HubSettings, metrics: Arc<crate::metrics::Metrics>) -> Hub {
        // The channel rounds its capacity up to a power of two: count what it really holds.
        let slots = capacity.max(1).next_power_of_two();
        let (live, _) = broadcast::channel(slots);
        let (shutdown, _) = watch::channel(false);
        Hub {
            inner: Arc::new(Inner {
                live,
                ring: Mutex::new(RingBytes { slots, budget: bytes, sizes: VecDeque::with_capacity(slots), held: 0 }),
                settings,
                next_connection: AtomicU64::new(1),
                connections: AtomicUsize::new(0),
                per_token: Mutex::new(HashMap::new()),
                lagged: AtomicU64::new(0),
                replays: AtomicU64::new(0),
                resumes: AtomicU64::new(0),
                resets: AtomicU64::new(0),
                feeds: AtomicUsize::new(0),
                behind: AtomicUsize::new(0),
                metrics,
                too_slow: AtomicU64::new(0),
                rooms: Mutex::new(HashMap::new()),
                shutdown,
            }),
        }
    }

    pub fn settings(&self) -> &HubSettings {
        &self.inner.settings
    }

    /// Sends one event to every follower. Only the [`relay`] calls this, in seq order.
    fn publish_logged(&self, logged: &crate::store::Logged) {
        let mut ring = self.inner.ring.lock().unwrap_or_else(|p| p.into_inner());
        // The one copy of the frame every follower shares.
        let text = ring.admit(logged.frame.len()).then(|| Utf8Bytes::from(logged.frame.to_string()));
        let frame = LiveFrame {
            seq: logged.seq,
            workspace: logged.workspace.clone(),
            topics: logged.topics.clone(),
            text,
            published: tokio::time::Instant::now(),
        };
        // An error only means nobody is listening right now.
        let _ = self.inner.live.send(Arc::new(frame));
    }

    /// Joins the live feed: the receiver gets every event published from now on.
    pub fn join(&self) -> broadcast::Receiver<Arc<LiveFrame>> {
        self.inner.live.subscribe()
    }

    pub fn note_lagged(&self) {
        self.inner.lagged.fetch_add(1, Ordering::Relaxed);
    }

    pub fn lagged(&self) -> u64 {
        self.inner.lagged.load(Ordering::Relaxed)
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    pub fn note_resume(&self) {
        self.inner.resumes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn resumes(&self) -> u64 {
        self.inner.resumes.load(Ordering::Relaxed)
    }

    pub fn note_reset(&self) {
        self.inner.resets.fetch_add(1, Ordering::Relaxed);
    }

    pub fn resets(&self) -> u64 {
        self.inner.resets.load(Ordering::Relaxed)
    }

    /// A feed opened (`true`) or closed.
    fn count_feed(&self, open: bool) {
        match open {
            true => self.inner.feeds.fetch_add(1, Ordering::Relaxed),
            false => self.inner.feeds.fetch_sub(1, Ordering::Relaxed),
        };
    }

    /// A feed began (`true`) or finished catching up from the log.
    fn count_behind(&self, behind: bool) {
        match behind {
            true => self.inner.behind.fetch_add(1, Ordering::Relaxed),
            false => self.inner.behind.fetch_sub(1, Ordering::Relaxed),
        };
    }

    /// Feeds live and feeds catching up, now.
    pub fn followers(&self) -> (usize, usize) {
        let behind = self.inner.behind.load(Ordering::Relaxed);
        (self.inner.feeds.load(Ordering::Relaxed).saturating_sub(behind), behind)
    }

    /// Followers per kind of topic (`board`, `task`, …) over every workspace: the rooms without
    /// their ids, so the figure stays small however many tasks there are.
    pub fn rooms_by_kind(&self) -> Vec<(String, usize)> {
        let rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
        for ((_, topic), n) in rooms.iter() {
            let kind = topic.split(':').next().unwrap_or(topic);
            *kinds.entry(kind.to_string()).or_default() += n;
        }
        kinds.into_iter().collect()
    }

    pub fn note_replay(&self) {
        self.inner.replays.fetch_add(1, Ordering::Relaxed);
    }

    pub fn replays(&self) -> u64 {
        self.inner.replays.load(Ordering::Relaxed)
    }

    pub fn note_too_slow(&self) {
        self.inner.too_slow.fetch_add(1, Ordering::Relaxed);
    }

    pub fn too_slow(&self) -> u64 {
        self.inner.too_slow.load(Ordering::Relaxed)
    }

    /// Bytes of frame text the live ring holds now.
    pub fn ring_bytes(&self) -> usize {
        self.inner.ring.lock().unwrap_or_else(|p| p.into_inner()).held
    }

    /// Registers a connection made with `token_id`; `None` when that token has its limit of sockets
    /// open already. The guard unregisters the connection when dropped.
    pub fn connect(&self, token_id: &str) -> Option<ConnectionGuard> {
        {
            let mut per_token = self.inner.per_token.lock().unwrap_or_else(|p| p.into_inner());
            let open = per_token.entry(token_id.to_string()).or_insert(0);
            if *open >= self.inner.settings.max_connections_per_token {
                return None;
            }
            *open += 1;
        }
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        let id = self.inner.next_connection.fetch_add(1, Ordering::Relaxed);
        Some(ConnectionGuard { hub: self.clone(), id, token_id: token_id.to_string(), release: None })
    }

    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Counts a follower into the rooms of `topics` until the membership is dropped.
    pub fn enter(&self, workspace: &str, topics: Vec<String>) -> Membership {
        let mut membership = Membership { hub: self.clone(), workspace: workspace.to_string(), topics: Vec::new() };
        membership.join(topics);
        membership
    }

    /// The rooms of one workspace and how many followers each has, by topic.
    pub fn rooms(&self, workspace: &str) -> Vec<(String, usize)> {
        let rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<(String, usize)> =
            rooms.iter().filter(|((w, _), _)| w == workspace).map(|((_, t), n)| (t.clone(), *n)).collect();
        list.sort();
        list
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub fn shut_down(&self) {
        let _ = self.inner.shutdown.send(true);
    }
}

pub struct ConnectionGuard {
    hub: Hub,
    pub id: u64,
    token_id: String,
    /// What else the slot held, given back with it (a count shared with other instances).
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl ConnectionGuard {
    pub fn on_release(&mut self, release: impl FnOnce() + Send + Sync + 'static) {
        self.release = Some(Box::new(release));
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
        self.hub.inner.connections.fetch_sub(1, Ordering::Relaxed);
        let mut per_token = self.hub.inner.per_token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = per_token.get_mut(&self.token_id) {
            *open -= 1;
            if *open == 0 {
                per_token.remove(&self.token_id);
            }
        }
    }
}

/// One follower's place in the rooms it follows; leaves them when dropped.
pub struct Membership {
    hub: Hub,
    workspace: String,
    topics: Vec<String>,
}

impl Membership {
    fn join(&mut self, topics: Vec<String>) {
        let mut rooms = self.hub.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            if !self.topics.contains(&topic) {
                *rooms.entry((self.workspace.clone(), topic.clone())).or_insert(0) += 1;
                self.topics.push(topic);
            }
        }
    }

    pub fn leave(&mut self, topics: &[String]) {
        let mut rooms = self.hub.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
        self.topics.retain(|topic| {
            if !topics.contains(topic) {
                return true;
            }
            let key = (self.workspace.clone(), topic.clone());
            if let Some(n) = rooms.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    rooms.remove(&key);
                }
            }
            false
        });
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let all = self.topics.clone();
        self.leave(&all);
    }
}

#[cfg(test)]
mod tests {
    use super::RingBytes;

    #[test]
    fn the_ring_keeps_text_within_its_byte_budget() {
        let mut ring = RingBytes { slots: 4, budget: 100, sizes: Default::default(), held: 0 };
        assert!(ring.admit(60));
        assert!(!ring.admit(60), "over the budget: on the ring without its text");
        assert!(ring.admit(40));
        assert_eq!(ring.held, 100);
        assert!(!ring.admit(1));
        // A fifth entry pushes the first (60 bytes) off the ring.
        assert!(ring.admit(50));
        assert_eq!((ring.held, ring.sizes.len()), (90, 4));
    }
}
