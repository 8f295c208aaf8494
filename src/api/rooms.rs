//! `GET /api/rooms`: the topics followed in the caller's workspace and how many clients follow each.

use axum::{extract::State, Json};
use serde_json::{json, Value};

use crate::{auth::Caller, state::AppState};

pub async fn rooms(State(state): State<AppState>, Caller(caller): Caller) -> Json<Value> {
    let rooms: Vec<Value> = state
        .hub
        .rooms(&caller.workspace)
        .into_iter()
        .map(|(room, clients)| json!({"room": room, "clients": clients}))
        .collect();
    Json(json!({ "rooms": rooms }))
}
