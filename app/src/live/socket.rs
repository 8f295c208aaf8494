//! The browser's socket: follows topics over `/ws` from a snapshot's `seq`, reconnecting by itself.
//!
//! It never trusts a quiet socket: it pings every few seconds, shows the round trip as latency, and
//! treats a missing pong as a dead connection. After any break it reconnects with backoff and
//! resubscribes from the last `seq` it applied, so nothing is lost or applied twice. Every page also
//! follows `board` and `agents`, which feed the header's counter and toasts.

use std::{future::Future, pin::Pin, rc::Rc, time::Duration};

use futures::{stream, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use gloo_timers::future::{sleep, IntervalStream};
use leptos::prelude::*;

use super::{
    fleet::{AndFleet, Fleet},
    LinkState, LiveStatus,
};
use crate::{
    domain::{Event, Seq, ALL_EVENTS},
    protocol::{close::REVOKED, ClientOp, Control, ServerFrame},
    topics,
    wire::{self, Everything, Reads},
};

const PING_EVERY_MS: u32 = 5_000;
const PONG_TIMEOUT_MS: f64 = 10_000.0;
const OFFLINE_AFTER_MS: f64 = 30_000.0;
const FIRST_RETRY_MS: f64 = 250.0;
const MAX_RETRY_MS: f64 = 10_000.0;

/// Where a page is in the log: the last seq it applied, in which log.
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub seq: Seq,
    pub epoch: String,
}

/// Fetches a fresh snapshot after a `reset`, installs it, and returns where it was read.
pub type Reload = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<Position>>>>>;

/// Follows `topics` (and the header's) from `since` for as long as the calling component lives,
/// decoding the event types `R` reads and the header's; the others only move `since` on.
pub fn follow<R: Reads + 'static>(
    mut topics: Vec<String>,
    since: Position,
    on_event: impl Fn(Event) + 'static,
    reload: Reload,
) {
    let status = expect_context::<LiveStatus>();
    let fleet = expect_context::<Fleet>();
    for header in [topics::BOARD, topics::AGENTS, topics::APPROVALS] {
        if !topics.iter().any(|t| t == header || t == topics::EVENTS) {
            topics.push(header.to_string());
        }
    }
    let on_event = move |event: Event| {
        fleet.apply(&event);
        on_event(event);
    };
    let on_event: Rc<dyn Fn(Event)> = Rc::new(on_event);
    // Every page that reads every type shares one socket loop, rather than one per page type.
    if AndFleet::<R>::READS == ALL_EVENTS {
        leptos::task::spawn_local_scoped_with_cancellation(run::<Everything>(status, topics, since, on_event, reload));
    } else {
        leptos::task::spawn_local_scoped_with_cancellation(run::<AndFleet<R>>(status, topics, since, on_event, reload));
    }
}

enum Ended {
    Closed { was_live: bool },
    Reset,
    SignedOut,
}

async fn run<R: Reads>(
    status: LiveStatus,
    topics: Vec<String>,
    mut since: Position,
    on_event: Rc<dyn Fn(Event)>,
    reload: Reload,
) {
    let mut failures: i32 = 0;
    let mut down_since: Option<f64> = None;
    loop {
        match connect::<R>(status, &topics, &mut since, &*on_event).await {
            Ended::Reset => {
                match reload().await {
                    Some(fresh) => since = fresh,
                    // The snapshot could not be read: back off like any failed reconnect, never storm.
                    None => sleep(Duration::from_millis((MAX_RETRY_MS / 4.0) as u64)).await,
                }
                continue;
            }
            Ended::SignedOut => return signed_out(status),
            Ended::Closed { was_live: true } => {
                failures = 0;
                down_since = None;
            }
            // A socket refused at the door looks like a network error to a page; ask plainly.
            Ended::Closed { was_live: false } => {
                if session_refused().await {
                    return signed_out(status);
                }
            }
        }
        let down_for = now() - *down_since.get_or_insert_with(now);
        let offline = !browser_online() || down_for > OFFLINE_AFTER_MS;
        status.state.set(if offline { LinkState::Offline } else { LinkState::Reconnecting });
        status.latency_ms.set(None);
        // Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
        let base = (FIRST_RETRY_MS * 2f64.powi(failures.min(8))).min(MAX_RETRY_MS);
        let delay = base * (0.5 + js_sys::Math::random() * 0.5);
        failures += 1;
        sleep(Duration::from_millis(delay as u64)).await;
    }
}

fn signed_out(status: LiveStatus) {
    status.state.set(LinkState::SignedOut);
    status.latency_ms.set(None);
}

/// True only when the server answers and says this page is not signed in.
async fn session_refused() -> bool {
    match gloo_net::http::Request::get("/api/session").send().await {
        Ok(response) => response.status() == 401,
        Err(_) => false,
    }
}

enum Input {
    Frame(Message),
    Tick,
    End,
    Revoked,
}

/// One connection: subscribe from `since`, apply frames until the socket ends or goes quiet.
async fn connect<R: Reads>(
    status: LiveStatus,
    topics: &[String],
    since: &mut Position,
    on_event: &dyn Fn(Event),
) -> Ended {
    let Ok(socket) = WebSocket::open(&socket_url()) else {
        return Ended::Closed { was_live: false };
    };
    let (mut sink, source) = socket.split();
    let subscribe =
        ClientOp::Subscribe { topics: topics.to_vec(), since: Some(since.seq), epoch: Some(since.epoch.clone()) };
    if sink.send(Message::Text(to_json(&subscribe))).await.is_err() {
        return Ended::Closed { was_live: false };
    }
    let frames = source
        .map(|m| match m {
            Ok(message) => Input::Frame(message),
            Err(WebSocketError::ConnectionClose(close)) if close.code == REVOKED => Input::Revoked,
            Err(_) => Input::End,
        })
        .chain(stream::iter([Input::End]));
    let ticks = IntervalStream::new(PING_EVERY_MS).map(|_| Input::Tick);
    let mut inputs = stream::select(frames, ticks);

    let mut was_live = false;
    let mut next_ping: u64 = 0;
    let mut waiting: Option<(u64, f64)> = None;
    while let Some(input) = inputs.next().await {
        let send_ping = match input {
            Input::End => break,
            Input::Revoked => return Ended::SignedOut,
            Input::Tick => match waiting {
                Some((_, sent)) if now() - sent > PONG_TIMEOUT_MS => break,
                Some(_) => false,
                None => true,
            },
            Input::Frame(Message::Text(text)) => match wire::read::<R>(&text) {
                Ok(ServerFrame::Event(event)) => {
                    if event.seq > since.seq {
                        since.seq = event.seq;
                        on_event(event);
                    }
                    false
                }
                Ok(ServerFrame::Skipped { seq, .. }) => {
                    since.seq = since.seq.max(seq);
                    false
                }
                Ok(ServerFrame::Control(Control::Subscribed { .. })) => {
                    was_live = true;
                    status.state.set(LinkState::Live);
                    true
                }
                Ok(ServerFrame::Control(Control::Pong { id, .. })) => {
                    if let Some((expected, sent)) = waiting {
                        if id == Some(serde_json::Value::from(expected)) {
                            status.latency_ms.set(Some((now() - sent).round() as u32));
                            waiting = None;
                        }
                    }
                    false
                }
                Ok(ServerFrame::Control(Control::Reset { .. })) => return Ended::Reset,
                Ok(ServerFrame::Control(Control::Error { message, .. })) => {
                    leptos::logging::warn!("flightdeck: the server refused a frame: {message}");
                    false
                }
                Ok(ServerFrame::Control(_)) => false,
                Err(e) => {
                    leptos::logging::warn!("flightdeck: unreadable frame: {e}");
                    false
                }
            },
            Input::Frame(Message::Bytes(_)) => false,
        };
        if send_ping {
            next_ping += 1;
            waiting = Some((next_ping, now()));
            let ping = ClientOp::Ping { id: Some(next_ping.into()) };
            if sink.send(Message::Text(to_json(&ping))).await.is_err() {
                break;
            }
        }
    }
    Ended::Closed { was_live }
}

fn to_json(op: &ClientOp) -> String {
    serde_json::to_string(op).unwrap_or_default()
}

fn socket_url() -> String {
    let location = window().location();
    let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
    format!("{scheme}://{}/ws", location.host().unwrap_or_default())
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn browser_online() -> bool {
    window().navigator().on_line()
}
