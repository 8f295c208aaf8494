//! One connection's standing, shared by its stream (which enforces the read deadlines) and the
//! requests it carries (which say when it is busy, upgraded or authenticated).
//!
//! - A new connection must send its first request head within the head deadline; between
//!   requests it may wait idle for the keep-alive deadline, and once the next head has begun
//!   it has the head deadline again. Nothing times out while a request is served (an SSE
//!   stream's client never writes) or after an upgrade (the socket has its own pings).
//! - Until a request on it shows a valid token, a connection is a stranger. Strangers are few:
//!   past the cap the oldest is closed, so half-sent requests from nobody cannot fill the
//!   server's file descriptors while those who sign in still get through.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU8, AtomicUsize, Ordering},
        Arc, Mutex, Weak,
    },
    time::Duration,
};

use futures::task::AtomicWaker;
use tokio::time::Instant;

/// The read deadlines and the cap on strangers.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// How long a write may make no progress (the client stopped reading).
    pub stall: Duration,
    /// How long a request head may take to arrive.
    pub head: Duration,
    /// How long a connection may wait idle between requests.
    pub idle: Duration,
    /// How many connections may be open without having shown a valid token.
    pub unauthenticated: usize,
}

/// Where a connection is between its requests.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for a request head to begin, until `by`.
    Waiting { by: Instant },
    /// A head has begun and must be whole by then.
    Head { by: Instant },
    /// Serving this many requests (their responses still being written).
    Busy(usize),
    /// A WebSocket now: no HTTP deadlines.
    Upgraded,
}

const STRANGER: u8 = 0;
const KNOWN: u8 = 1;
const GONE: u8 = 2;

pub struct Conn {
    phase: Mutex<Phase>,
    deadlines: Deadlines,
    /// The task reading the connection, woken when its deadline changes or it is closed.
    reader: AtomicWaker,
    standing: AtomicU8,
    /// Set when the connection was closed to make room for a newer stranger.
    evicted: std::sync::atomic::AtomicBool,
    strangers: Arc<Strangers>,
}

impl Conn {
    fn new(deadlines: Deadlines, strangers: Arc<Strangers>) -> Conn {
        Conn {
            phase: Mutex::new(Phase::Waiting { by: Instant::now() + deadlines.head }),
            deadlines,
            reader: AtomicWaker::new(),
            standing: AtomicU8::new(STRANGER),
            evicted: Default::default(),
            strangers,
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When reading must have made progress by, if anything is due.
    pub(super) fn read_deadline(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Waiting { by } | Phase::Head { by } => Some(by),
            Phase::Busy(_) | Phase::Upgraded => None,
        }
    }

    /// Bytes arrived: a head that began while waiting has the head deadline from now.
    pub(super) fn bytes_arrived(&self) {
        let mut phase = self.phase();
        if let Phase::Waiting { .. } = *phase {
            *phase = Phase::Head { by: Instant::now() + self.deadlines.head };
        }
    }

    pub(super) fn register_reader(&self, waker: &std::task::Waker) {
        self.reader.register(waker);
    }

    pub(super) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// A request is being served; the returned guard says when its response is done.
    pub fn begin(self: &Arc<Self>) -> Busy {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Upgraded => Phase::Upgraded,
            _ => Phase::Busy(1),
        };
        Busy { conn: self.clone() }
    }

    /// A request on this connection showed a valid token.
    pub fn authenticated(&self) {
        if self.standing.compare_exchange(STRANGER, KNOWN, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.strangers.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Closes a stranger to make room; false when it is no longer one.
    fn evict(&self) -> bool {
        if self.standing.compare_exchange(STRANGER, GONE, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        self.strangers.count.fetch_sub(1, Ordering::AcqRel);
        self.evicted.store(true, Ordering::Release);
        self.reader.wake();
        true
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.standing.compare_exchange(STRANGER, GONE, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.strangers.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Held while a request's response is being written.
pub struct Busy {
    conn: Arc<Conn>,
}

impl Busy {
    /// The response switched protocols: the connection is a WebSocket from now on.
    pub fn upgraded(&self) {
        *self.conn.phase() = Phase::Upgraded;
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut phase = self.conn.phase();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            Phase::Busy(_) => Phase::Waiting { by: Instant::now() + self.conn.deadlines.idle },
            other => other,
        };
        drop(phase);
        // The reader may be waiting with no deadline: it must arm the idle one.
        self.conn.reader.wake();
    }
}

/// The connections that have not shown a valid token, oldest first.
#[derive(Default)]
pub struct Strangers {
    cap: usize,
    count: AtomicUsize,
    queue: Mutex<VecDeque<Weak<Conn>>>,
}

impl Strangers {
    pub fn new(cap: usize) -> Arc<Strangers> {
        Arc::new(Strangers { cap, ..Strangers::default() })
    }

    /// A new connection, a stranger until it authenticates; closes the oldest strangers past the cap.
    pub fn admit(self: &Arc<Self>, deadlines: Deadlines) -> Arc<Conn> {
        let conn = Arc::new(Conn::new(deadlines, self.clone()));
        self.count.fetch_add(1, Ordering::AcqRel);
        let mut queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.push_back(Arc::downgrade(&conn));
        while self.count.load(Ordering::Acquire) > self.cap {
            let Some(oldest) = queue.pop_front() else { break };
            if let Some(oldest) = oldest.upgrade() {
                if oldest.evict() {
                    tracing::debug!("closed the oldest unauthenticated connection to make room");
                }
            }
        }
        // Entries of connections that authenticated or closed are dropped now and then, so the
        // queue stays within a small multiple of the cap.
        if queue.len() > 2 * self.cap + 64 {
            queue.retain(|c| c.upgrade().is_some_and(|c| c.standing.load(Ordering::Acquire) == STRANGER));
        }
        conn
    }
}
