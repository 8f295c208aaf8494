//! `GET /ws`: the WebSocket upgrade. The connection itself is served by the hub's socket task.

use axum::{
    extract::{ws::WebSocketUpgrade, State},
    response::{IntoResponse, Response},
};

use super::error::ApiError;
use crate::{
    auth::Caller,
    hub::socket::{serve, Connection},
    state::AppState,
};

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
    let conn = Connection { store: state.store.clone(), hub: state.hub.clone(), clock: state.clock.clone(), token, guard };
    ws.read_buffer_size(READ_BUFFER)
        // 0: every frame is written at once rather than batched up to a buffer size.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| serve(socket, conn))
}
