//! The page's link to the server: the connection state the header shows, what the header counts
//! ([`fleet`]), and (in the browser) the socket that follows topics over `/ws` from a snapshot's
//! `seq`, reconnecting by itself.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Before the first connection (and forever when the page runs without JavaScript).
    Connecting,
    Live,
    Reconnecting,
    /// The browser is offline, or the server has been unreachable for a while. Still retrying.
    Offline,
    /// The token behind this page was revoked or the session ended: retrying cannot help.
    SignedOut,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Live => "live",
            LinkState::Reconnecting => "reconnecting",
            LinkState::Offline => "offline",
            LinkState::SignedOut => "signed-out",
        }
    }
}

/// Shared by the header and whichever page runs a feed.
#[derive(Clone, Copy)]
pub struct LiveStatus {
    pub state: RwSignal<LinkState>,
    /// Round trip of the last ping, in milliseconds.
    pub latency_ms: RwSignal<Option<u32>>,
}

impl LiveStatus {
    pub fn label(&self) -> String {
        match self.state.get() {
            LinkState::Live => match self.latency_ms.get() {
                Some(ms) => format!("● Live · {ms} ms"),
                None => "● Live".to_string(),
            },
            LinkState::Connecting => "● Connecting…".to_string(),
            LinkState::Reconnecting => "● Reconnecting…".to_string(),
            LinkState::Offline => "● Offline".to_string(),
            LinkState::SignedOut => "● Signed out".to_string(),
        }
    }
}

pub fn provide_live_status() -> LiveStatus {
    let status = LiveStatus { state: RwSignal::new(LinkState::Connecting), latency_ms: RwSignal::new(None) };
    provide_context(status);
    status
}

pub mod fleet;
#[cfg(feature = "hydrate")]
pub mod player;
#[cfg(feature = "hydrate")]
mod socket;

#[cfg(feature = "hydrate")]
pub use socket::{follow, Position, Reload};
