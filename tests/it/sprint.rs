//! The sprint runner's events under its own names: each schema's refusals, and the `init` frame
//! a runs subscriber gets first, handed over to live events with no gap.

use serde_json::{json, Value};

use crate::common::{task_created, TestServer, WsClient};

fn event(kind: &str, payload: Value) -> Value {
    json!({"type": kind, "payload": payload})
}

#[tokio::test]
async fn each_schema_refuses_what_it_does_not_describe_and_stores_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (event("batch:start", json!({"batch_id": 1})), "max_cycles"),
        (event("batch:start", json!({"batch_id": 1, "max_cycles": "some"})), "max_cycles"),
        (event("batch:start", json!({"batch_id": "one", "max_cycles": 3})), "batch_id"),
        (event("batch:end", json!({"batch_id": 1, "cycles_completed": 1, "status": "exploded"})), "status"),
        (event("cycle:start", json!({"cycle_number": 1, "story_keys": ["5-SR-5"]})), "no batch is running"),
        (event("cycle:start", json!({"cycle_number": -1, "story_keys": []})), "cycle_number"),
        (event("command:start", json!({"story_key": "5-SR-5", "command": "dev-story"})), "task_id"),
        (
            event("command:progress", json!({"story_key": "s", "command": "c", "task_id": "t", "message": "m"})),
            "unknown command",
        ),
        (event("command:end", json!({"story_key": "s", "command": "c", "task_id": "t"})), "status"),
        (event("story:status", json!({"story_key": "5-SR-5", "old_status": "ready"})), "new_status"),
        (event("error", json!({"type": "spawn_failed"})), "message"),
        (event("error", json!({"type": "x", "message": "m", "context": "not an object"})), "context"),
        (event("context:create", json!({"story_key": "s", "extra": 1})), "extra"),
    ];
    for (body, names) in cases {
        let (status, answer) = server.post(&body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(names), "{body}: {answer}");
    }
    assert_eq!(server.head().await, 0, "nothing was stored");
    // The runner's `error` is stored under its canonical name, never as a bare `error`.
    let (status, answer) = server.post(&event("error", json!({"type": "spawn_failed", "message": "no VM"}))).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["events"][0]["type"], "run:error");
    assert_eq!(answer["events"][0]["payload"]["type"], "spawn_failed");
}

#[tokio::test]
async fn a_batch_plays_through_and_ends() {
    let server = TestServer::start().await;
    let run = [
        event("batch:start", json!({"batch_id": 7, "max_cycles": "all"})),
        event("cycle:start", json!({"cycle_number": 1, "story_keys": ["5-SR-5", "5-SR-6"]})),
        event("command:start", json!({"story_key": "5-SR-5", "command": "dev-story", "task_id": "t1"})),
        event(
            "command:progress",
            json!({"story_key": "5-SR-5", "command": "dev-story", "task_id": "t1", "message": "writing tests"}),
        ),
        event(
            "command:end",
            json!({"story_key": "5-SR-5", "command": "dev-story", "task_id": "t1", "status": "success",
            "metrics": {"duration_ms": 1200, "tokens": 5000}}),
        ),
        event("story:status", json!({"story_key": "5-SR-5", "old_status": "in-progress", "new_status": "done"})),
        event("context:complete", json!({"story_key": "5-SR-6", "message": "context ready"})),
        event("cycle:end", json!({"cycle_number": 1, "completed_stories": ["5-SR-5"]})),
        event("batch:end", json!({"batch_id": 7, "cycles_completed": 1, "status": "completed"})),
    ];
    let (status, answer) = server.post(&Value::Array(run.to_vec())).await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer["events"].as_array().unwrap().iter().all(|e| e["topics"] == json!(["runs"])));
    let (status, again) =
        server.post(&event("batch:end", json!({"batch_id": 7, "cycles_completed": 1, "status": "completed"}))).await;
    assert_eq!(status, 409, "{again}");
}

#[tokio::test]
async fn a_runs_subscriber_gets_init_then_every_later_event() {
    let server = TestServer::start().await;
    server.post(&task_created("t1", "not a run event")).await;
    server.post(&event("batch:start", json!({"batch_id": 1, "max_cycles": 3}))).await;
    server.post(&event("cycle:start", json!({"cycle_number": 1, "story_keys": ["s1"]}))).await;
    for i in 0..60 {
        let task = format!("t{i}");
        server.post(&event("command:start", json!({"story_key": "s1", "command": "dev", "task_id": task}))).await;
    }
    // The document's client names its topic in the URL and sends nothing.
    let (mut client, hello) = WsClient::connect_to(&format!("{}&topics=runs", server.ws_url())).await;
    let init = client.next_json().await;
    assert_eq!(init["type"], "init", "init comes first after hello");
    let seq = init["seq"].as_u64().unwrap();
    assert_eq!(seq, hello["seq"].as_u64().unwrap());
    assert_eq!(init["payload"]["batch"]["batch_id"], 1);
    assert_eq!(init["payload"]["batch"]["status"], "running");
    let events = init["payload"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 50, "the last 50");
    assert_eq!(events.last().unwrap()["seq"].as_u64(), Some(seq), "oldest first, up to the seq it was taken at");
    assert!(events.iter().all(|e| e["topics"] == json!(["runs"])), "only run events");
    assert!(init["timestamp"].is_string());
    assert_eq!(client.next_json().await["type"], "subscribed");

    server
        .post(&event("command:end", json!({"story_key": "s1", "command": "dev", "task_id": "t0", "status": "success"})))
        .await;
    let live = client.next_json().await;
    assert_eq!((live["type"].as_str(), live["seq"].as_u64()), (Some("command:end"), Some(seq + 1)), "no gap");

    // A subscriber that resumes from a seq gets no init: it has its snapshot.
    let (mut resumer, _) = WsClient::connect(&server).await;
    let subscribed = resumer.subscribe(&["runs"], Some(seq)).await;
    assert_eq!(subscribed["type"], "subscribed");
    assert_eq!(resumer.next_json().await["seq"].as_u64(), Some(seq + 1));
    // Without a batch, init says so.
    let fresh = TestServer::start().await;
    let (mut empty, _) = WsClient::connect(&fresh).await;
    empty.send(&json!({"op": "subscribe", "topics": ["runs"]})).await;
    let init = empty.next_json().await;
    assert_eq!((init["type"].as_str(), init["payload"]["batch"].clone()), (Some("init"), Value::Null));
    assert_eq!(init["payload"]["events"], json!([]));
}
