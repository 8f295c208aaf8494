//! `GET /ws`: the WebSocket upgrade. The connection itself is served by the hub's socket task.

use axum::{
    extract::{ws::WebSocketUpgrade, Query, State},
    response::{IntoResponse, Response},
};

use super::{
    compat::{sprint, tickets},
    error::ApiError,
};
use crate::{
    auth::Caller,
    hub::socket::{serve, Connection, Greeting},
    state::AppState,
};

/// Small socket buffers: tungstenite's default of 128 KiB each would cost far more per idle socket
/// than the frames we send.
const READ_BUFFER: usize = 4 * 1024;
const MAX_WRITE_BUFFER: usize = 256 * 1024;

#[derive(serde::Deserialize)]
pub struct UpgradeQuery {
    /// Topics or rooms to follow from the start, comma-separated (`?room=ticket:T1`), for clients
    /// that send nothing before they expect frames.
    #[serde(alias = "topics")]
    room: Option<String>,
}

/// Frames some clients expect before their events: the sprint runner's `init`.
static GREETINGS: &[&dyn Greeting] = &[&sprint::INIT];

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Caller(token): Caller,
    Query(q): Query<UpgradeQuery>,
) -> Response {
    let Some(guard) = state.hub.connect(&token.id) else {
        let limit = state.hub.settings().max_connections_per_token;
        return ApiError::TooMany { message: format!("this token already has {limit} sockets open"), retry_after: 5 }
            .into_response();
    };
    let max_frame = state.hub.settings().max_frame_bytes;
    let initial_topics = q.room.map(|r| r.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect());
    let conn = Connection {
        store: state.store.clone(),
        hub: state.hub.clone(),
        clock: state.clock.clone(),
        token,
        guard,
        dialects: &[tickets::ROOMS],
        greetings: GREETINGS,
        initial_topics: initial_topics.unwrap_or_default(),
    };
    ws.read_buffer_size(READ_BUFFER)
        // 0: every frame is written at once rather than batched up to a buffer size.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| serve(socket, conn))
}
