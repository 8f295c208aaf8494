//! The hub: pushes every committed event to the sockets and streams that follow it.
//!
//! Each event is serialised once, at commit, into a shared frame. The live feed is one bounded
//! broadcast ring of those frames: a connection reads it at its own pace and holds no queue of its
//! own, so a slow reader costs the others nothing. One that falls a whole ring behind is moved to
//! catch-up from the log (see [`feed`]) rather than skipped.

pub mod feed;
pub mod socket;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use app::domain::Seq;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, watch};

use crate::store::Committed;

/// One committed event as every subscriber receives it.
#[derive(Debug)]
pub struct LiveFrame {
    pub seq: Seq,
    pub workspace: Arc<str>,
    pub topics: Vec<String>,
    pub text: Utf8Bytes,
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
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    live: broadcast::Sender<Arc<LiveFrame>>,
    settings: HubSettings,
    next_connection: AtomicU64,
    connections: AtomicUsize,
    /// Open sockets per token id, for the per-token limit.
    per_token: Mutex<HashMap<String, usize>>,
    /// Times a reader fell off the ring and was caught up from the log.
    lagged: AtomicU64,
    /// Followers per (workspace, topic): the rooms and how many clients are in each.
    rooms: Mutex<HashMap<(String, String), usize>>,
    /// Flipped once at shutdown so every connection closes cleanly.
    shutdown: watch::Sender<bool>,
}

impl Hub {
    /// `capacity` is the number of events the live ring holds.
    pub fn new(capacity: usize, settings: HubSettings) -> Hub {
        let (live, _) = broadcast::channel(capacity.max(1));
        let (shutdown, _) = watch::channel(false);
        Hub {
            inner: Arc::new(Inner {
                live,
                settings,
                next_connection: AtomicU64::new(1),
                connections: AtomicUsize::new(0),
                per_token: Mutex::new(HashMap::new()),
                lagged: AtomicU64::new(0),
                rooms: Mutex::new(HashMap::new()),
                shutdown,
            }),
        }
    }

    pub fn settings(&self) -> &HubSettings {
        &self.inner.settings
    }

    /// Sends committed events, in seq order, to every follower.
    pub fn publish(&self, committed: &[Committed]) {
        for c in committed {
            // The one copy of the frame every follower shares.
            let frame = LiveFrame {
                seq: c.seq,
                workspace: c.workspace.clone(),
                topics: c.topics.clone(),
                text: Utf8Bytes::from(c.frame.to_string()),
            };
            // An error only means nobody is listening right now.
            let _ = self.inner.live.send(Arc::new(frame));
        }
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
        Some(ConnectionGuard { hub: self.clone(), id, token_id: token_id.to_string() })
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
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
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
