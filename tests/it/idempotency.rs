//! Retries are idempotent: a request retried with its `Idempotency-Key` is answered as the first
//! time, with the same seqs, and stores (and pushes) nothing new.

use std::time::Duration;

use flightdeck::clock::ManualClock;
use serde_json::{json, Value};

use crate::common::{TestServer, WsClient};

async fn post_keyed(server: &TestServer, path: &str, key: &str, body: &Value) -> (u16, Value) {
    server.post_to(path, &body.to_string(), Some(key)).await
}

#[tokio::test]
async fn a_retried_post_is_answered_again_and_stored_once() {
    let server = TestServer::start().await;
    let (mut watcher, _) = WsClient::connect(&server).await;
    watcher.subscribe(&["board"], None).await;
    // A task without an id: stored twice, it would become two tasks.
    let body = json!({"type": "task:created", "payload": {"title": "Retry me"}});
    let (status, first) = post_keyed(&server, "/api/events", "req-1", &body).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = post_keyed(&server, "/api/events", "req-1", &body).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again, first, "the same answer, the same seqs");
    assert_eq!(server.head().await, 1);
    assert_eq!(server.board().await.tasks.len(), 1);
    assert_eq!(watcher.next_json().await["seq"], 1);
    assert!(watcher.next_json_within(Duration::from_millis(200)).await.is_none(), "pushed once");

    let other = json!({"type": "task:created", "payload": {"title": "Something else"}});
    let (status, reused) = post_keyed(&server, "/api/events", "req-1", &other).await;
    assert_eq!(status, 422, "{reused}");
    assert!(reused["message"].as_str().unwrap().contains("Idempotency-Key `req-1` was used for another request"));
    let (status, _) = post_keyed(&server, "/api/events", "req-2", &body).await;
    assert_eq!(status, 201, "another key is another request");
    assert_eq!(server.board().await.tasks.len(), 2);
    let (status, _) = post_keyed(&server, "/api/events", &"k".repeat(300), &body).await;
    assert_eq!(status, 400, "a key over 255 characters is refused");
}

#[tokio::test]
async fn the_reference_endpoints_are_idempotent_too() {
    let server = TestServer::start().await;
    let ticket = json!({"ticketId": "TKT-7", "event": "state_change", "state": "in_progress"});
    let (_, first) = post_keyed(&server, "/api/internal/ticket-event", "t-1", &ticket).await;
    let (_, again) = post_keyed(&server, "/api/internal/ticket-event", "t-1", &ticket).await;
    assert_eq!(again["seqs"], first["seqs"]);
    let task = json!({"title": "Mission Control task"});
    let (status, created) = post_keyed(&server, "/api/tasks", "mc-1", &task).await;
    assert_eq!(status, 201);
    let (status, retried) = post_keyed(&server, "/api/tasks", "mc-1", &task).await;
    assert_eq!((status, retried["id"].clone()), (201, created["id"].clone()));
    assert_eq!(server.board().await.tasks.len(), 2, "one ticket and one task");
}

#[tokio::test]
async fn a_key_is_forgotten_after_its_window() {
    let clock = ManualClock::starting_now();
    let server = TestServer::start_with_clock(|c| c.idempotency_window_ms = 1_000, clock.clone()).await;
    let body = json!({"type": "task:created", "payload": {"title": "Daily"}});
    let (_, first) = post_keyed(&server, "/api/events", "daily", &body).await;
    clock.advance(Duration::from_secs(2));
    let (status, later) = post_keyed(&server, "/api/events", "daily", &body).await;
    assert_eq!(status, 201);
    assert_ne!(later["seqs"], first["seqs"], "past the window the key is new again");
}

#[tokio::test]
async fn events_of_a_batch_carry_keys_of_their_own() {
    let server = TestServer::start().await;
    let (mut watcher, _) = WsClient::connect(&server).await;
    watcher.subscribe(&["board"], None).await;
    let a = json!({"type": "task:created", "idempotency_key": "ev-a", "payload": {"title": "A"}});
    let b = json!({"type": "task:created", "idempotency_key": "ev-b", "payload": {"title": "B"}});
    let (status, first) = server.post(&json!([a, b])).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["seqs"], json!([1, 2]));
    assert!(first["events"][0].get("idempotency_key").is_none(), "the key is not part of the event");

    // An agent re-sends `b` in its next batch, with a new event `c` without a key.
    let c = json!({"type": "task:created", "payload": {"title": "C"}});
    let (status, second) = server.post(&json!([b, c])).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["seqs"], json!([2, 3]), "b is answered with its first seq, c is new");
    assert_eq!(second["events"][0], first["events"][1]);
    assert_eq!(server.board().await.tasks.len(), 3, "A, B and C: B once");
    let pushed: Vec<Value> = vec![watcher.next_json().await, watcher.next_json().await, watcher.next_json().await];
    assert_eq!(pushed.iter().map(|f| f["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(watcher.next_json_within(Duration::from_millis(200)).await.is_none(), "b was pushed once");

    // The same key with another event refuses the whole batch, naming the key.
    let changed = json!({"type": "task:created", "idempotency_key": "ev-b", "payload": {"title": "B2"}});
    let (status, refused) = server.post(&json!([changed, c])).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("`ev-b`"), "{refused}");
    assert_eq!(server.head().await, 3, "nothing of it was stored");

    let bad = json!({"type": "task:created", "idempotency_key": 7, "payload": {"title": "D"}});
    let (status, refused) = server.post(&json!([c, bad])).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["message"].as_str().unwrap().starts_with("event 1: `idempotency_key`"), "{refused}");
}

#[tokio::test]
async fn a_key_whose_events_were_pruned_is_refused_not_stored_again() {
    let server = TestServer::start_with(|c| {
        c.retain_events = 2;
        c.prune_every_ms = 20;
    })
    .await;
    let body = json!({"type": "task:created", "payload": {"title": "Old"}});
    assert_eq!(post_keyed(&server, "/api/events", "old-1", &body).await.0, 201);
    for i in 0..5 {
        server.post(&json!({"type": "task:created", "payload": {"title": format!("New {i}")}})).await;
    }
    server.until_pruned("default", 4).await;
    let pruned = server.running.state.store.pruned_upto("default").await.unwrap();
    assert_eq!(pruned, 4, "all but the newest two pruned");
    let (status, answer) = post_keyed(&server, "/api/events", "old-1", &body).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("no longer in the log"), "{answer}");
    assert_eq!(server.head().await, 6);
}
