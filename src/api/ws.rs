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
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 8 * 1024;
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
    let guard = match state.open_connection(&token.id).await {
        Ok(guard) => guard,
        Err(refused) => return ApiError::from_connect(refused, "sockets").into_response(),
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
        // Frames written together (a replay page, a burst) leave in writes of about this size; a
        // flush sends the rest. Small, because a socket keeps the buffer it grew.
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| serve(socket, conn))
}
