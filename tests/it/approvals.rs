//! Approvals that expire: the expiry job on a clock the test moves, across a restart, and the one
//! resolution an approval ever gets, however many deciders race for it.

use std::time::Duration;

use flightdeck::clock::ManualClock;
use serde_json::{json, Value};

use crate::common::{TestServer, WsClient};

async fn server() -> TestServer {
    TestServer::start_with_clock(|c| c.approval_check_ms = 20, ManualClock::starting_now()).await
}

fn advance(server: &TestServer, secs: u64) {
    server.clock.as_ref().unwrap().advance(Duration::from_secs(secs));
}

async fn design_session(server: &TestServer) {
    let start = json!({"type": "session:started", "payload": {"id": "d1", "kind": "design", "title": "Billing v2"}});
    assert_eq!(server.post(&start).await.0, 201);
}

fn request(id: &str, ttl_ms: u64) -> Value {
    json!({"type": "approval:requested", "payload": {"id": id, "session_id": "d1", "title": "Ship the spec?", "ttl_ms": ttl_ms}})
}

fn decide(id: &str, status: &str, by: &str) -> Value {
    json!({"type": "approval:resolved", "payload": {"id": id, "status": status, "by": by}})
}

#[tokio::test]
async fn an_approval_times_out_when_its_time_is_up_and_a_late_decision_is_refused() {
    let server = server().await;
    design_session(&server).await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["session:d1"], None).await;
    let (status, asked) = server.post(&request("a1", 3_000)).await;
    assert_eq!(status, 201, "{asked}");
    let requested = client.next_json().await;
    assert!(requested["payload"]["expires_at"].is_string(), "the ttl became a time: {requested}");
    assert!(requested["topics"].as_array().unwrap().contains(&json!("approvals")));

    advance(&server, 2);
    assert!(client.next_json_within(Duration::from_millis(200)).await.is_none(), "not yet");
    advance(&server, 1);
    let resolved = client.next_json().await;
    assert_eq!(resolved["type"], "approval:resolved");
    assert_eq!(
        (resolved["payload"]["status"].as_str(), resolved["payload"]["by"].as_str()),
        (Some("timeout"), Some("flightdeck"))
    );

    let (status, late) = server.post(&decide("a1", "approved", "ann")).await;
    assert_eq!(status, 409, "{late}");
    assert!(late["message"].as_str().unwrap().contains("already resolved: timeout by flightdeck"), "{late}");
}

#[tokio::test]
async fn an_approval_that_expired_while_the_server_was_down_is_timed_out_at_start() {
    let server = server().await;
    design_session(&server).await;
    server.post(&request("a1", 10_000)).await;
    let head = server.head().await;
    let TestServer { running, dir, config, clock, schema } = server;
    running.stop().await;
    clock.as_ref().unwrap().advance(Duration::from_secs(60));
    let server = TestServer {
        running: crate::common::relaunch(config.clone(), clock.clone()).await,
        dir,
        config,
        clock,
        schema,
    };
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["approvals"], Some(head)).await;
    let resolved = client.next_json().await;
    assert_eq!(
        (resolved["type"].as_str(), resolved["payload"]["status"].as_str()),
        (Some("approval:resolved"), Some("timeout"))
    );
}

#[tokio::test]
async fn racing_deciders_get_one_resolution_and_clear_refusals() {
    let server = server().await;
    design_session(&server).await;
    server.post(&request("a1", 600_000)).await;
    let decisions = (0..12).map(|i| {
        let body = decide("a1", if i % 2 == 0 { "approved" } else { "rejected" }, &format!("tab{i}"));
        let server = &server;
        async move { server.post(&body).await }
    });
    let answers = futures::future::join_all(decisions).await;
    let won: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    assert_eq!(won.len(), 1, "exactly one resolution: {answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        assert!(body["message"].as_str().unwrap().contains("already resolved"), "{body}");
    }
    let (_, history) = server.get("/api/events?topic=approvals").await;
    let resolutions = history["events"].as_array().unwrap().iter().filter(|e| e["type"] == "approval:resolved").count();
    assert_eq!(resolutions, 1);
}

#[tokio::test]
async fn bad_requests_and_forged_timeouts_are_refused() {
    let server = server().await;
    design_session(&server).await;
    let cases = [
        (json!({"type": "approval:requested", "payload": {"title": "x", "ttl_ms": 0}}), 422, "ttl_ms"),
        (
            json!({"type": "approval:requested", "payload": {"title": "x", "ttl_ms": 5, "expires_at": "2030-01-01T00:00:00Z"}}),
            422,
            "ttl_ms",
        ),
        (json!({"type": "approval:requested", "payload": {"title": "x", "expires_at": "tomorrow"}}), 422, "expires_at"),
        (json!({"type": "approval:requested", "payload": {"title": "x", "session_id": "nope"}}), 422, "nope"),
        (decide("a9", "approved", "ann"), 422, "a9"),
        (decide("a9", "pending", "ann"), 422, "status"),
        (decide("a9", "timeout", "ann"), 422, "derived by the server"),
    ];
    for (body, status, names) in cases {
        let (got, answer) = server.post(&body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(names), "{body}: {answer}");
    }
}
