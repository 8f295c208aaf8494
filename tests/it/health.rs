//! Agent health, judged by the server on a clock the test moves: every verdict is an event in the
//! log, pushed live and judged again after a restart.

use std::time::Duration;

use flightdeck::clock::ManualClock;
use serde_json::{json, Value};

use crate::common::{task_created, TestServer, WsClient};

async fn server() -> TestServer {
    let clock = ManualClock::starting_now();
    TestServer::start_with_clock(
        |c| {
            c.agent_heartbeat_ms = 30_000;
            c.stuck_after_ms = 600_000;
            c.crashed_after_ms = 300_000;
            c.health_check_ms = 20;
        },
        clock,
    )
    .await
}

fn advance(server: &TestServer, secs: u64) {
    server.clock.as_ref().expect("a manual clock").advance(Duration::from_secs(secs));
}

fn heartbeat(id: &str) -> Value {
    json!({"type": "agent:heartbeat", "payload": {"id": id}})
}

/// The next `agent:health` frame, skipping the rest.
async fn next_health(client: &mut WsClient) -> Value {
    loop {
        let frame = client.next_json().await;
        if frame["type"] == "agent:health" {
            return frame;
        }
    }
}

#[tokio::test]
async fn silence_makes_an_agent_stale_then_crashed_and_a_heartbeat_heals_it() {
    let server = server().await;
    server.post(&task_created("t1", "Work")).await;
    server.post(&json!({"type": "agent:status", "payload": {"id": "ada", "status": "working", "task_id": "t1"}})).await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["agents"], None).await;

    advance(&server, 61);
    let stale = next_health(&mut client).await;
    assert_eq!(stale["payload"]["health"], "stale");
    assert_eq!(stale["payload"]["reason"], "no heartbeat for 1 m 1 s");
    assert_eq!(stale["payload"]["task_id"], "t1");
    let topics = stale["topics"].as_array().unwrap();
    assert!(topics.contains(&json!("task:t1")) && topics.contains(&json!("board")), "its task hears of it: {topics:?}");

    server.post(&heartbeat("ada")).await;
    assert_eq!(next_health(&mut client).await["payload"]["health"], "healthy");

    advance(&server, 301);
    let crashed = next_health(&mut client).await;
    assert_eq!(crashed["payload"]["health"], "crashed");
    assert_eq!(crashed["payload"]["reason"], "silent for 5 m 1 s (limit 5 m 0 s)");
}

#[tokio::test]
async fn heartbeats_without_progress_make_a_working_agent_stuck() {
    let server = server().await;
    server.post(&task_created("t1", "Work")).await;
    server.post(&json!({"type": "agent:status", "payload": {"id": "ada", "status": "working", "task_id": "t1"}})).await;
    server.post(&json!({"type": "task:assigned", "payload": {"id": "t1", "agent": "ada"}})).await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["agents"], None).await;
    for _ in 0..13 {
        advance(&server, 50);
        server.post(&heartbeat("ada")).await;
    }
    let stuck = next_health(&mut client).await;
    assert_eq!(stuck["payload"]["health"], "stuck");
    assert!(
        stuck["payload"]["reason"].as_str().unwrap().starts_with("heartbeating, but no progress for 10 m"),
        "{stuck}"
    );
    // Progress on its task makes it healthy again.
    server.post(&json!({"type": "task:progress", "payload": {"id": "t1", "progress": 50}})).await;
    assert_eq!(next_health(&mut client).await["payload"]["health"], "healthy");
}

#[tokio::test]
async fn a_failed_session_crashes_its_agent() {
    let server = server().await;
    server.post(&heartbeat("ada")).await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["agents"], None).await;
    server.post(&json!({"type": "session:started", "payload": {"id": "s1", "kind": "subagent", "agent": "ada"}})).await;
    server.post(&json!({"type": "session:ended", "payload": {"id": "s1", "outcome": "failed"}})).await;
    let crashed = next_health(&mut client).await;
    assert_eq!(crashed["payload"]["health"], "crashed");
    assert_eq!(crashed["payload"]["reason"], "session s1 ended in failure");
}

#[tokio::test]
async fn health_is_judged_again_after_a_restart() {
    let server = server().await;
    server.post(&heartbeat("ada")).await;
    let head = server.head().await;
    let server = {
        let TestServer { running, dir, config, clock, schema } = server;
        running.stop().await;
        // Time passes while the server is down.
        clock.as_ref().unwrap().advance(Duration::from_secs(90));
        TestServer { running: crate::common::relaunch(config.clone(), clock.clone()).await, dir, config, clock, schema }
    };
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["agents"], Some(head)).await;
    let stale = next_health(&mut client).await;
    assert_eq!(stale["payload"]["health"], "stale");
    assert_eq!(stale["payload"]["reason"], "no heartbeat for 1 m 30 s");
}

#[tokio::test]
async fn health_cannot_be_posted() {
    let server = server().await;
    server.post(&heartbeat("ada")).await;
    let forged = json!({"type": "agent:health", "payload": {"id": "ada", "health": "healthy", "as_of": 1}});
    let (status, body) = server.post(&forged).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("derived by the server"), "{body}");
}

#[tokio::test]
async fn a_session_made_from_telemetry_alone_ends_when_its_agent_is_judged_crashed() {
    use app::domain::{
        entity::Query,
        session::{Session, SessionOutcome},
    };
    let server = server().await;
    let mut client = WsClient::connect(&server).await.0;
    client.subscribe(&["agents"], None).await;
    // Claude Code's log events name a session and nothing ever ends it.
    let record = json!({"timeUnixNano": "1764676800000000000", "attributes": [
        {"key": "session.id", "value": {"stringValue": "log-only-1"}},
        {"key": "event.name", "value": {"stringValue": "api_request"}},
        {"key": "input_tokens", "value": {"intValue": 10}}]});
    let logs = json!({"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": [record]}]}]});
    let (status, answer) = server.post_to("/v1/logs", &logs.to_string(), None).await;
    assert_eq!(status, 200, "{answer}");
    let running: Vec<Session> = server.rows(Query::one::<Session>("log-only-1")).await;
    assert!(running[0].is_active());
    advance(&server, 301);
    loop {
        let verdict = next_health(&mut client).await;
        if verdict["payload"]["health"] == "crashed" {
            assert_eq!(verdict["payload"]["id"], "claude-code");
            break;
        }
    }
    let ended: Vec<Session> = server.rows(Query::one::<Session>("log-only-1")).await;
    assert_eq!(ended[0].outcome, Some(SessionOutcome::Failed), "{:?}", ended[0]);
    assert!(ended[0].summary.as_deref().is_some_and(|s| s.contains("crashed")), "{:?}", ended[0].summary);
}
