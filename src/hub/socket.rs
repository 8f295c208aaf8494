//! One WebSocket connection at `/ws`, after the upgrade (which `api::ws` handles).
//!
//! One task per connection runs one `select!` over shutdown, client frames (read in place, as
//! [`Inbound`]: no reader task or channel of their own, which an idle socket would pay for), the
//! heartbeat and the feed. Every send has a time limit: a client that stops reading is dropped, never waited on
//! forever, and a failed send just ends the connection quietly.

use std::{sync::Arc, time::Duration};

use app::{
    domain::Seq,
    protocol::{close, ClientOp, Control},
    topics::{self, TopicSet},
};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{stream::SplitSink, SinkExt, StreamExt};
use tokio::time::{interval_at, sleep_until, timeout, Instant, MissedTickBehavior};

use super::{
    feed::{Feed, Item, Start},
    ConnectionGuard, Hub,
};
use crate::{
    clock::SharedClock,
    store::{Store, StoreError, TokenRecord},
};

/// What one connection needs: where events come from, who it serves, and its slot in the hub.
pub struct Connection {
    pub store: Arc<dyn Store>,
    pub hub: Hub,
    pub clock: SharedClock,
    pub token: TokenRecord,
    pub guard: ConnectionGuard,
    /// Other systems' names for rooms and frames this socket understands.
    pub dialects: &'static [Dialect],
    /// Topics (or rooms) named in the URL: subscribed from now on as soon as the socket opens.
    pub initial_topics: Vec<String>,
    /// Frames some clients expect before the events of a topic (the sprint runner's `init`).
    pub greetings: &'static [&'static dyn Greeting],
}

/// A frame that opens a subscription to `topic` made without `since`: a snapshot the client builds
/// on, taken at a seq the subscription then resumes from, so nothing falls between the two.
#[async_trait::async_trait]
pub trait Greeting: Send + Sync {
    fn topic(&self) -> &'static str;
    /// The frame (stamped `timestamp`) and the seq it was read at.
    async fn greet(&self, store: &dyn Store, workspace: &str, timestamp: &str) -> Result<(Seq, String), StoreError>;
}

/// Another system's names on the same socket: its rooms stand for our topics, and the frames of a
/// subscription to them are sent in its names.
pub struct Dialect {
    /// The room prefix its clients use (`ticket:`)…
    pub room: &'static str,
    /// …and the topic prefix it stands for (`task:`).
    pub topic: &'static str,
    /// An event frame in the dialect's names; `None` for events it has no name for.
    pub translate: fn(&str) -> Option<String>,
}

impl Dialect {
    fn topic_of(&self, room: &str) -> Option<String> {
        room.strip_prefix(self.room).map(|id| format!("{}{id}", self.topic))
    }
}

/// What a socket follows: its feed, the dialect its frames are sent in, and the resumes it may
/// still ask for.
struct Subscription {
    feed: Option<Feed>,
    dialect: Option<&'static Dialect>,
    resumes: Resumes,
}

/// Subscribes with `since` one connection may send in a burst, and how soon it earns another. Each
/// may start a replay from the log, so a client that repeats them cannot keep the server
/// replaying; a page needs one per connection (and one after a `reset`).
const RESUME_BURST: u32 = 8;
const RESUME_EVERY: Duration = Duration::from_secs(5);

struct Resumes {
    /// Resumes earned and not yet used (a token bucket).
    left: f64,
    at: Instant,
}

impl Resumes {
    fn new() -> Resumes {
        Resumes { left: f64::from(RESUME_BURST), at: Instant::now() }
    }

    /// Takes one, or says how long until one is earned.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let earned = (now - self.at).as_secs_f64() / RESUME_EVERY.as_secs_f64();
        self.left = (self.left + earned).min(f64::from(RESUME_BURST));
        self.at = now;
        if self.left < 1.0 {
            return Err(RESUME_EVERY.mul_f64(1.0 - self.left));
        }
        self.left -= 1.0;
        Ok(())
    }
}

enum Inbound {
    Op(ClientOp),
    /// A frame that is not a valid client op: answered with an error frame.
    Invalid(String),
    /// A pong (or ping) from the client: proof it is alive.
    Alive,
    /// The client sent a frame over the size limit.
    TooBig,
}

/// Where `workspace`'s log stands now (`Store::position`).
async fn position(store: &dyn Store, workspace: &str) -> Result<Seq, StoreError> {
    store.position(workspace, store.head().await?).await
}

/// Serves one upgraded socket until the client leaves, stops answering, or the server shuts down.
pub async fn serve(socket: WebSocket, conn: Connection) {
    let workspace = conn.token.workspace.clone();
    let settings = conn.hub.settings().clone();
    let (mut sink, mut stream) = socket.split();
    let mut shutdown = conn.hub.shutdown_signal();

    // The workspace's own position: the global head would tell how busy other workspaces are.
    let head = match position(&*conn.store, &workspace).await {
        Ok(head) => head,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the log head for a new socket");
            close_with(&mut sink, close::SERVER_ERROR, "store unavailable", settings.send_timeout).await;
            return;
        }
    };
    let hello = Control::Hello {
        connection_id: conn.guard.id,
        server_time: conn.clock.now_rfc3339(),
        seq: head,
        epoch: conn.store.epoch().to_string(),
        heartbeat_interval_ms: settings.heartbeat.as_millis() as u64,
    };
    let mut out = Outbox { sink, send_timeout: settings.send_timeout, clock: conn.clock.clone() };
    if out.control(&hello).await.is_err() {
        return;
    }

    let mut sub = Subscription { feed: None, dialect: None, resumes: Resumes::new() };
    if !conn.initial_topics.is_empty() {
        let op = ClientOp::Subscribe { topics: conn.initial_topics.clone(), since: None, epoch: None };
        if Box::pin(handle(op, &mut sub, &mut out, &conn, &workspace)).await.is_err() {
            return;
        }
    }
    let mut heartbeat = interval_at(Instant::now() + settings.heartbeat, settings.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pong_due: Option<Instant> = None;

    loop {
        let step: Result<(), Gone> = tokio::select! {
            biased;
            _ = shutdown.changed() => {
                out.close(close::GOING_AWAY, "server shutting down").await;
                break;
            }
            message = stream.next() => match inbound(message) {
                None => break,
                Some(Inbound::Alive) => {
                    pong_due = None;
                    Ok(())
                }
                Some(Inbound::Op(op)) => Box::pin(handle(op, &mut sub, &mut out, &conn, &workspace)).await,
                Some(Inbound::Invalid(reason)) => {
                    out.control(&Control::Error { code: "bad_frame".into(), message: reason }).await
                }
                Some(Inbound::TooBig) => {
                    out.close(close::TOO_BIG, "frame too large").await;
                    break;
                }
            },
            _ = heartbeat.tick() => {
                // Revocation reaches open sockets too, within one heartbeat.
                if !conn.store.is_token_live(&conn.token.id).await.unwrap_or(true) {
                    out.close(close::REVOKED, "token revoked").await;
                    break;
                }
                if pong_due.is_none() {
                    pong_due = Some(Instant::now() + settings.pong_timeout);
                }
                out.send(Message::Ping(Default::default())).await
            }
            _ = async { sleep_until(pong_due.unwrap_or_else(Instant::now)).await }, if pong_due.is_some() => {
                out.close(close::NO_PONG, "no pong within the timeout").await;
                break;
            }
            item = async {
                match sub.feed.as_mut() {
                    Some(feed) => feed.next().await,
                    None => std::future::pending().await,
                }
            }, if sub.feed.is_some() => {
                match item {
                    Ok(Item::Frame(_, text, live)) => {
                        // Frames already at hand go out in one write and one flush, not one each,
                        // and the clock is read once for all of them.
                        let now = Instant::now();
                        let mut written = out.frame(sub.dialect, text, live, now, &conn.hub).await;
                        let mut batch = 1;
                        while written.is_ok() && batch < WRITE_BATCH {
                            let Some(Item::Frame(_, text, live)) = sub.feed.as_mut().and_then(|f| f.ready(now)) else {
                                break;
                            };
                            written = out.frame(sub.dialect, text, live, now, &conn.hub).await;
                            batch += 1;
                        }
                        match written {
                            Ok(()) => out.flush().await,
                            gone => gone,
                        }
                    }
                    Ok(Item::Reset { seq, reason }) => out.control(&Control::Reset { seq, reason }).await,
                    Ok(Item::TooSlow(reason)) => {
                        tracing::info!(%reason, "a socket fell behind; closed");
                        out.close(close::TOO_SLOW, "too far behind: reconnect and resume").await;
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "feed failed");
                        out.close(close::SERVER_ERROR, "event log unavailable").await;
                        break;
                    }
                }
            }
        };
        if step.is_err() {
            break;
        }
    }
}

/// Answers one client op. Callers box the future: a subscribe (a greeting, a feed's start and
/// its first replay page) is the largest thing a socket awaits, and it runs only now and then;
/// inline, its space would stay in every idle socket's task (about 1 KiB of the 3.3 KiB it took).
async fn handle(
    op: ClientOp,
    sub: &mut Subscription,
    out: &mut Outbox,
    conn: &Connection,
    workspace: &str,
) -> Result<(), Gone> {
    match op {
        ClientOp::Ping { id } => {
            let server_time = conn.clock.now_rfc3339();
            out.control(&Control::Pong { id, server_time }).await
        }
        ClientOp::Unsubscribe { topics } => {
            if let Some(feed) = sub.feed.as_mut() {
                let dialect = sub.dialect;
                let ours: Vec<String> =
                    topics.iter().map(|t| dialect.and_then(|d| d.topic_of(t)).unwrap_or_else(|| t.clone())).collect();
                feed.unsubscribe(&ours);
            }
            out.control(&Control::Unsubscribed { topics }).await
        }
        ClientOp::Subscribe { topics, since, epoch } => {
            if topics.is_empty() {
                return out.error("bad_topic", "subscribe needs at least one topic".into()).await;
            }
            let (topics, dialect) = match in_dialect(&topics, conn.dialects) {
                Ok(Some((dialect, ours))) => (ours, Some(dialect)),
                Ok(None) => (topics, None),
                Err(reason) => return out.error("bad_topic", reason).await,
            };
            let limit = conn.hub.settings().max_topics;
            if topics.len() > limit {
                let reason = format!("at most {limit} topics per connection, got {}", topics.len());
                return out.error("too_many_topics", reason).await;
            }
            if let Some(reason) = topics.iter().find_map(|t| topics::check(t, workspace).err()) {
                return out.error("bad_topic", reason).await;
            }
            if since.is_some() {
                if let Err(wait) = sub.resumes.take() {
                    let reason = format!(
                        "at most {RESUME_BURST} subscribes with `since` per connection in a burst; retry in {} s",
                        wait.as_secs().max(1)
                    );
                    return out.error("rate_limited", reason).await;
                }
            }
            let mut since = since;
            if since.is_none() {
                if let Some(greeting) = conn.greetings.iter().find(|g| topics.iter().any(|t| t == g.topic())) {
                    match greeting.greet(&*conn.store, workspace, &conn.clock.now_rfc3339()).await {
                        Ok((seq, frame)) => {
                            out.send(Message::Text(frame.into())).await?;
                            since = Some(seq);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot build a greeting");
                            return out.error("unavailable", "the event log is unavailable; try again".into()).await;
                        }
                    }
                }
            }
            let set = TopicSet::new(topics, workspace);
            let started =
                Feed::start(conn.store.clone(), conn.hub.clone(), workspace.to_string(), set, since, epoch.as_deref())
                    .await;
            let (new_feed, start) = match started {
                Ok(started) => started,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start a feed");
                    return out.error("unavailable", "the event log is unavailable; try again".into()).await;
                }
            };
            let topics = new_feed.topics().to_vec();
            sub.feed = Some(new_feed);
            sub.dialect = dialect;
            match start {
                Start::Replay { since, upto } => {
                    out.control(&Control::Subscribed { topics, since, seq: upto, epoch: conn.store.epoch().into() })
                        .await
                }
                Start::Reset { seq, reason } => {
                    out.control(&Control::Reset { seq, reason }).await?;
                    out.control(&Control::Subscribed { topics, since: seq, seq, epoch: conn.store.epoch().into() })
                        .await
                }
            }
        }
    }
}

/// When every topic is a room of one dialect: that dialect and the topics its rooms stand for.
fn in_dialect(
    topics: &[String],
    dialects: &'static [Dialect],
) -> Result<Option<(&'static Dialect, Vec<String>)>, String> {
    let Some(dialect) = dialects.iter().find(|d| topics.iter().any(|t| t.starts_with(d.room))) else {
        return Ok(None);
    };
    let ours: Option<Vec<String>> = topics.iter().map(|t| dialect.topic_of(t)).collect();
    match ours {
        Some(ours) => Ok(Some((dialect, ours))),
        None => Err(format!("`{}…` rooms cannot be mixed with other topics in one subscription", dialect.room)),
    }
}

/// What a client frame asks for; `None` once the client has closed the socket or broken it.
fn inbound(message: Option<Result<Message, axum::Error>>) -> Option<Inbound> {
    match message? {
        Ok(Message::Text(text)) => Some(match ClientOp::parse(&text) {
            Ok(op) => Inbound::Op(op),
            Err(e) => Inbound::Invalid(format!("not a valid client frame: {e}")),
        }),
        Ok(Message::Binary(_)) => Some(Inbound::Invalid("binary frames are not supported; send JSON text".into())),
        Ok(Message::Ping(_) | Message::Pong(_)) => Some(Inbound::Alive),
        Ok(Message::Close(_)) => None,
        Err(e) => {
            let too_big = e
                .into_inner()
                .downcast_ref::<tungstenite::Error>()
                .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
            too_big.then_some(Inbound::TooBig)
        }
    }
}

/// The client is gone or not reading: stop serving it.
struct Gone;

struct Outbox {
    sink: SplitSink<WebSocket, Message>,
    send_timeout: Duration,
    /// Stamps control frames with the server's time.
    clock: SharedClock,
}

/// Event frames written before one flush, at most.
const WRITE_BATCH: usize = 64;

impl Outbox {
    async fn send(&mut self, message: Message) -> Result<(), Gone> {
        match timeout(self.send_timeout, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    /// Writes an event frame (in the subscription's dialect) without flushing it. No timer of its
    /// own: it only reaches the socket past the write buffer's size, and a socket write that makes
    /// no progress fails after the send timeout anyway (`net::Guarded`).
    async fn frame(
        &mut self,
        dialect: Option<&'static Dialect>,
        text: Utf8Bytes,
        live: Option<Instant>,
        now: Instant,
        hub: &Hub,
    ) -> Result<(), Gone> {
        let text = match dialect {
            None => text,
            Some(dialect) => match (dialect.translate)(text.as_str()) {
                Some(translated) => translated.into(),
                None => return Ok(()),
            },
        };
        if self.sink.feed(Message::Text(text)).await.is_err() {
            return Err(Gone);
        }
        if let Some(live) = live {
            hub.metrics().delivered(now.saturating_duration_since(live));
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Gone> {
        match timeout(self.send_timeout, self.sink.flush()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    async fn control(&mut self, frame: &Control) -> Result<(), Gone> {
        let text = frame.to_json(&self.clock.now_rfc3339());
        self.send(Message::Text(text.into())).await
    }

    async fn error(&mut self, code: &str, message: String) -> Result<(), Gone> {
        self.control(&Control::Error { code: code.to_string(), message }).await
    }

    async fn close(&mut self, code: u16, reason: &str) {
        close_with(&mut self.sink, code, reason, self.send_timeout).await;
    }
}

async fn close_with(sink: &mut SplitSink<WebSocket, Message>, code: u16, reason: &str, limit: Duration) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = timeout(limit, sink.send(Message::Close(Some(frame)))).await;
}
