//! Bounded fuzzing of everything a stranger can send: event bodies (parsed and validated, and
//! posted to a real server) and WebSocket client frames. Inputs are random JSON, mutations of valid
//! events and raw bytes; each run stops after a fixed time and prints nothing unless it finds
//! something. A crash found here becomes a named regression test below.

use std::time::{Duration, Instant};

use crate::common::{TestServer, WsClient};
use app::{domain::EventBody, protocol::ClientOp};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Map, Value};

const BUDGET: Duration = Duration::from_secs(2);

const KEYS: &[&str] = &[
    "type",
    "payload",
    "id",
    "title",
    "progress",
    "status",
    "agent",
    "error",
    "kind",
    "labels",
    "pr_url",
    "op",
    "topics",
    "since",
    "task_id",
    "outcome",
    "description",
    "assignee",
];
const STRINGS: &[&str] = &[
    "task:created",
    "task:updated",
    "task:progress",
    "task:failed",
    "agent:status",
    "session:started",
    "session:ended",
    "subscribe",
    "ping",
    "board",
    "task:x",
    "inbox",
    "done",
    "subagent",
    "",
    " ",
    "a b",
    "<script>",
    "javascript:alert(1)",
    "\u{0}",
    "💥",
    "task:",
    "::",
    "..",
];

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-5i64..300)),
        3 => json!(rng.random::<f64>() * 1e12),
        4 => json!(STRINGS[rng.random_range(0..STRINGS.len())]),
        5 => Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..5) {
                map.insert(KEYS[rng.random_range(0..KEYS.len())].to_string(), random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// A valid event with one field replaced, removed or added.
fn mutated_event(rng: &mut StdRng) -> Value {
    let mut event = json!({"type": "task:progress", "payload": {"id": "t1", "progress": 50}});
    if rng.random_bool(0.5) {
        event = json!({"type": "task:created", "payload": {"id": "t2", "title": "T", "labels": ["a"]}});
    }
    let payload = event["payload"].as_object_mut().unwrap();
    let key = KEYS[rng.random_range(0..KEYS.len())].to_string();
    match rng.random_range(0..3) {
        0 => {
            payload.remove(&key);
        }
        _ => {
            payload.insert(key, random_value(rng, 2));
        }
    }
    event
}

fn random_text(rng: &mut StdRng) -> String {
    match rng.random_range(0..3) {
        0 => random_value(rng, 3).to_string(),
        1 => mutated_event(rng).to_string(),
        _ => {
            let bytes: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

#[test]
fn event_parsing_never_panics_and_accepts_only_valid_events() {
    let mut rng = StdRng::seed_from_u64(rand::rng().random());
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < BUDGET {
        let value = if rng.random_bool(0.5) { random_value(&mut rng, 4) } else { mutated_event(&mut rng) };
        if let Ok(body) = EventBody::from_json(value.clone()) {
            assert!(body.validate().is_ok(), "accepted an invalid event: {value}");
            let again = serde_json::to_value(&body).unwrap();
            assert_eq!(EventBody::from_json(again).as_ref(), Ok(&body), "round trip of {value}");
        }
        let _ = serde_json::from_str::<ClientOp>(&random_text(&mut rng));
        runs += 1;
    }
    assert!(runs > 1_000, "only {runs} runs");
}

#[tokio::test]
async fn the_server_answers_every_random_body_without_failing_or_half_storing() {
    let server = TestServer::start_with(|c| c.ingest_burst = 1_000_000).await;
    server.post(&json!({"type": "task:created", "payload": {"id": "t1", "title": "Target"}})).await;
    let mut rng = StdRng::seed_from_u64(rand::rng().random());
    let start = Instant::now();
    let mut expected_head = server.head().await;
    while start.elapsed() < BUDGET {
        let body = if rng.random_bool(0.3) {
            json!((0..rng.random_range(1..4)).map(|_| mutated_event(&mut rng)).collect::<Vec<_>>()).to_string()
        } else {
            random_text(&mut rng)
        };
        let (status, answer) = server.post_raw(body.clone().into_bytes(), Some(crate::common::TOKEN)).await;
        assert!([201, 400, 409, 413, 422].contains(&status), "{status} for {body}: {answer}");
        if status == 201 {
            expected_head += answer["seqs"].as_array().unwrap().len() as u64;
        }
        assert_eq!(server.head().await, expected_head, "a refused body stored something: {body}");
    }
}

#[tokio::test]
async fn the_socket_survives_random_frames() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    let mut rng = StdRng::seed_from_u64(rand::rng().random());
    let start = Instant::now();
    while start.elapsed() < BUDGET {
        let text = random_text(&mut rng);
        client.send_text(&text).await;
        let answer = client.next_json().await;
        let kind = answer["type"].as_str().unwrap_or_default().to_string();
        assert!(["error", "subscribed", "unsubscribed", "pong", "reset"].contains(&kind.as_str()), "{text} → {answer}");
        if kind == "reset" {
            client.next_json().await; // the subscribed that follows a reset
        }
    }
    client.send(&json!({"op": "ping", "id": 1})).await;
    assert_eq!(client.next_json().await["type"], "pong", "still alive");
}

/// An edge the random values above do not reach: `since` at the top of the range must be a reset,
/// never an overflow in the retention arithmetic.
#[tokio::test]
async fn regression_since_at_u64_max_is_a_reset() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.send(&json!({"op": "subscribe", "topics": ["board"], "since": u64::MAX})).await;
    assert_eq!(client.next_json().await["type"], "reset");
}
