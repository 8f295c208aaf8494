//! One WebSocket connection at `/ws`.
//!
//! A reader task turns client frames into [`Inbound`] messages; the connection task owns the
//! socket's sending half and runs one `select!` over shutdown, client frames, the heartbeat and the
//! feed. Every send has a time limit: a client that stops reading is dropped, never waited on
//! forever, and a failed send just ends the connection quietly.

use std::time::Duration;

use app::protocol::{check_topic, ClientOp, Control};
use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        State,
    },
    response::{IntoResponse, Response},
};
use futures::{
    stream::{SplitSink, SplitStream},
    SinkExt, StreamExt,
};
use tokio::{
    sync::mpsc,
    time::{interval_at, sleep_until, timeout, Instant, MissedTickBehavior},
};

use super::{
    feed::{Feed, Item, Start},
    topics::TopicSet,
    ConnectionGuard,
};
use crate::{api::error::ApiError, auth::Caller, clock::now_rfc3339, server::AppState, store::TokenRecord};

/// Close codes this server uses besides the standard ones.
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const SERVER_ERROR: u16 = 1011;
    /// No pong came back within the configured timeout.
    pub const NO_PONG: u16 = 4000;
    /// The token the socket was opened with has been revoked: sign in again.
    pub const REVOKED: u16 = 4401;
}

/// Small socket buffers: tungstenite's default of 128 KiB each would cost far more per idle socket
/// than the frames we send.
const READ_BUFFER: usize = 4 * 1024;
const MAX_WRITE_BUFFER: usize = 256 * 1024;

pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>, Caller(token): Caller) -> Response {
    let Some(guard) = state.hub.connect(&token.id) else {
        let limit = state.hub.settings().max_connections_per_token;
        return ApiError::TooMany { message: format!("this token already has {limit} sockets open"), retry_after: 5 }
            .into_response();
    };
    let max_frame = state.hub.settings().max_frame_bytes;
    ws.read_buffer_size(READ_BUFFER)
        // 0: every frame is written at once rather than batched up to a buffer size.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| serve(socket, state, guard, token))
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

async fn serve(socket: WebSocket, state: AppState, guard: ConnectionGuard, token: TokenRecord) {
    let workspace = token.workspace.clone();
    let settings = state.hub.settings().clone();
    let (mut sink, stream) = socket.split();
    let (inbound_tx, mut inbound) = mpsc::channel(16);
    let reader = tokio::spawn(read_frames(stream, inbound_tx));
    let mut shutdown = state.hub.shutdown_signal();

    let head = match state.store.head().await {
        Ok(head) => head,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the log head for a new socket");
            close_with(&mut sink, close::SERVER_ERROR, "store unavailable", settings.send_timeout).await;
            return;
        }
    };
    let hello = Control::Hello {
        connection_id: guard.id,
        server_time: now_rfc3339(),
        seq: head,
        heartbeat_interval_ms: settings.heartbeat.as_millis() as u64,
    };
    let mut out = Outbox { sink, send_timeout: settings.send_timeout };
    if out.control(&hello).await.is_err() {
        return;
    }

    let mut feed: Option<Feed> = None;
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
            message = inbound.recv() => match message {
                None => break,
                Some(Inbound::Alive) => {
                    pong_due = None;
                    Ok(())
                }
                Some(Inbound::Op(op)) => handle(op, &mut feed, &mut out, &state, &workspace).await,
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
                if !state.store.is_token_live(&token.id).await.unwrap_or(true) {
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
                match feed.as_mut() {
                    Some(feed) => feed.next().await,
                    None => std::future::pending().await,
                }
            }, if feed.is_some() => {
                match item {
                    Ok(Item::Frame(_, text)) => out.send(Message::Text(text)).await,
                    Ok(Item::Reset { seq, reason }) => out.control(&Control::Reset { seq, reason }).await,
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
    reader.abort();
}

async fn handle(
    op: ClientOp,
    feed: &mut Option<Feed>,
    out: &mut Outbox,
    state: &AppState,
    workspace: &str,
) -> Result<(), Gone> {
    match op {
        ClientOp::Ping { id } => out.control(&Control::Pong { id, server_time: now_rfc3339() }).await,
        ClientOp::Unsubscribe { topics } => {
            if let Some(feed) = feed.as_mut() {
                feed.unsubscribe(&topics);
            }
            out.control(&Control::Unsubscribed { topics }).await
        }
        ClientOp::Subscribe { topics, since } => {
            if topics.is_empty() {
                return out.error("bad_topic", "subscribe needs at least one topic".into()).await;
            }
            let limit = state.hub.settings().max_topics;
            if topics.len() > limit {
                let reason = format!("at most {limit} topics per connection, got {}", topics.len());
                return out.error("too_many_topics", reason).await;
            }
            if let Some(reason) = topics.iter().find_map(|t| check_topic(t, workspace).err()) {
                return out.error("bad_topic", reason).await;
            }
            let set = TopicSet::new(topics, workspace);
            let started = Feed::start(state.store.clone(), state.hub.clone(), workspace.to_string(), set, since).await;
            let (new_feed, start) = match started {
                Ok(started) => started,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start a feed");
                    return out.error("unavailable", "the event log is unavailable; try again".into()).await;
                }
            };
            let topics = new_feed.topics().to_vec();
            *feed = Some(new_feed);
            match start {
                Start::Replay { since, upto } => out.control(&Control::Subscribed { topics, since, seq: upto }).await,
                Start::Reset { seq, reason } => {
                    out.control(&Control::Reset { seq, reason }).await?;
                    out.control(&Control::Subscribed { topics, since: seq, seq }).await
                }
            }
        }
    }
}

async fn read_frames(mut stream: SplitStream<WebSocket>, inbound: mpsc::Sender<Inbound>) {
    while let Some(message) = stream.next().await {
        let item = match message {
            Ok(Message::Text(text)) => match serde_json::from_str::<ClientOp>(&text) {
                Ok(op) => Inbound::Op(op),
                Err(e) => Inbound::Invalid(format!("not a valid client frame: {e}")),
            },
            Ok(Message::Binary(_)) => Inbound::Invalid("binary frames are not supported; send JSON text".into()),
            Ok(Message::Ping(_) | Message::Pong(_)) => Inbound::Alive,
            Ok(Message::Close(_)) => break,
            Err(e) => {
                let too_big = e
                    .into_inner()
                    .downcast_ref::<tungstenite::Error>()
                    .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
                if too_big {
                    let _ = inbound.send(Inbound::TooBig).await;
                }
                break;
            }
        };
        if inbound.send(item).await.is_err() {
            break;
        }
    }
}

/// The client is gone or not reading: stop serving it.
struct Gone;

struct Outbox {
    sink: SplitSink<WebSocket, Message>,
    send_timeout: Duration,
}

impl Outbox {
    async fn send(&mut self, message: Message) -> Result<(), Gone> {
        match timeout(self.send_timeout, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    async fn control(&mut self, frame: &Control) -> Result<(), Gone> {
        let text = serde_json::to_string(frame).map_err(|_| Gone)?;
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
