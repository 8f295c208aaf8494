//! `/ws`: hello, replay then live without gap or duplicate, resume, isolation of topics, slow
//! readers, reset, ping/pong, heartbeat, and refusals that keep the connection open.

use std::time::Duration;

use crate::common::{task_created, task_progress, TestServer, WsClient, TOKEN};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn hello_carries_the_head_and_heartbeat() {
    let server = TestServer::start().await;
    server.post(&task_created("a", "A")).await;
    let (_, hello) = WsClient::connect(&server).await;
    assert_eq!(hello["seq"], 1);
    assert_eq!(hello["heartbeat_interval_ms"], 30_000);
    assert!(hello["connection_id"].as_u64().is_some());
    assert!(hello["server_time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn replay_then_live_in_order_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    let batch: Vec<Value> = (0..5).map(|i| task_created(&format!("t{i}"), "Replayed")).collect();
    server.post(&json!(batch)).await;

    let (mut client, _) = WsClient::connect(&server).await;
    let subscribed = client.subscribe(&["board"], Some(0)).await;
    assert_eq!(subscribed["type"], "subscribed");
    assert_eq!(subscribed["seq"], 5, "replay runs up to the head");

    // Posted while the replay is being read: must follow it, in order.
    let poster = async {
        for i in 0..5 {
            server.post(&task_progress(&format!("t{i}"), 50)).await;
        }
    };
    let (seqs, _) = tokio::join!(client.seqs(10), poster);
    assert_eq!(seqs, (1..=10).collect::<Vec<u64>>());
    assert!(client.next_json_within(Duration::from_millis(300)).await.is_none(), "nothing more, no duplicate");
}

#[tokio::test]
async fn a_reconnect_with_since_gets_exactly_what_was_missed() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["board"], Some(0)).await;
    server.post(&json!([task_created("a", "A"), task_progress("a", 10), task_progress("a", 20)])).await;
    let seen = client.seqs(3).await;
    assert_eq!(seen, vec![1, 2, 3]);
    drop(client);

    // Missed while disconnected.
    server.post(&json!([task_progress("a", 30), task_progress("a", 40)])).await;

    let (mut client, _) = WsClient::connect(&server).await;
    let subscribed = client.subscribe(&["board"], Some(3)).await;
    assert_eq!((subscribed["since"].as_u64(), subscribed["seq"].as_u64()), (Some(3), Some(5)));
    server.post(&task_progress("a", 50)).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(client.next_json().await);
    }
    let seqs: Vec<u64> = got.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 5, 6]);
    assert_eq!(got[2]["payload"]["progress"], 50);
}

#[tokio::test]
async fn subscribers_see_only_their_topics() {
    let server = TestServer::start().await;
    let (mut tasks_a, _) = WsClient::connect(&server).await;
    let (mut agents, _) = WsClient::connect(&server).await;
    tasks_a.subscribe(&["task:a"], None).await;
    agents.subscribe(&["agents"], None).await;

    server
        .post(&json!([
            task_created("a", "A"),
            task_created("b", "B"),
            {"type": "agent:heartbeat", "payload": {"id": "ada"}},
            task_progress("b", 10),
            task_progress("a", 20),
        ]))
        .await;

    let a1 = tasks_a.next_json().await;
    let a2 = tasks_a.next_json().await;
    assert_eq!((a1["seq"].as_u64(), a2["seq"].as_u64()), (Some(1), Some(5)));
    assert!(a1["topics"].as_array().unwrap().contains(&json!("task:a")));
    let hb = agents.next_json().await;
    assert_eq!((hb["seq"].as_u64(), hb["type"].as_str()), (Some(3), Some("agent:heartbeat")));
    assert!(tasks_a.next_json_within(Duration::from_millis(300)).await.is_none());
    assert!(agents.next_json_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_client_that_stops_reading_delays_nobody_and_gets_everything_later() {
    // A tiny live ring so the stalled reader certainly falls off it.
    let server = TestServer::start_with(|c| c.live_buffer = 16).await;
    server.post(&task_created("big", "Big payloads")).await;
    let (mut slow, _) = WsClient::connect(&server).await;
    let (mut fast, _) = WsClient::connect(&server).await;
    slow.subscribe(&["board"], None).await;
    fast.subscribe(&["board"], None).await;

    // About 10 MB of frames: more than the socket buffers between server and the stalled client.
    let text = "x".repeat(19_000);
    let total = 500;
    for chunk in 0..(total / 50) {
        let batch: Vec<Value> = (0..50)
            .map(|i| json!({"type": "task:updated", "payload": {"id": "big", "description": format!("{chunk}-{i}-{text}")}}))
            .collect();
        let (status, _) = server.post(&json!(batch)).await;
        assert_eq!(status, 201);
    }
    // The fast reader gets everything while the slow one has read nothing at all.
    let fast_seqs = fast.seqs(total).await;
    assert_eq!(fast_seqs, (2..=total as u64 + 1).collect::<Vec<_>>());

    let slow_seqs = slow.seqs(total).await;
    assert_eq!(slow_seqs, (2..=total as u64 + 1).collect::<Vec<_>>(), "in order, no gap, no duplicate");
    assert!(server.running.state.hub.lagged() > 0, "the slow reader was caught up from the log");
}

#[tokio::test]
async fn resuming_from_before_the_retained_log_gets_reset() {
    let server = TestServer::start_with(|c| {
        c.retain_events = 10;
        c.prune_every_ms = 20;
    })
    .await;
    server.post(&task_created("a", "A")).await;
    for p in 1..=40 {
        server.post(&task_progress("a", p)).await;
    }
    server.until_pruned("default", 31).await;
    let (mut client, _) = WsClient::connect(&server).await;
    let first = client.subscribe(&["board"], Some(1)).await;
    assert_eq!(first["type"], "reset", "{first}");
    assert_eq!(first["seq"], 41);
    let subscribed = client.next_json().await;
    assert_eq!(subscribed["type"], "subscribed");
    assert!(client.next_json_within(Duration::from_millis(300)).await.is_none(), "no partial replay");
    // Live from the head on.
    server.post(&task_progress("a", 99)).await;
    assert_eq!(client.next_json().await["seq"], 42);

    // A since beyond the head (a replaced database) is a reset too.
    let (mut other, _) = WsClient::connect(&server).await;
    assert_eq!(other.subscribe(&["board"], Some(1_000)).await["type"], "reset");
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.send(&json!({"op": "ping", "id": 7})).await;
    let pong = client.next_json().await;
    assert_eq!((pong["type"].as_str(), pong["id"].as_u64()), (Some("pong"), Some(7)));
}

#[tokio::test]
async fn malformed_frames_get_an_error_frame_and_the_socket_lives_on() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    for bad in ["not json", r#"{"op":"subscrib","topics":["board"]}"#, r#"{"op":"subscribe"}"#] {
        client.send_text(bad).await;
        let error = client.next_json().await;
        assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("error"), Some("bad_frame")), "{bad}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    client.stream.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(client.next_json().await["code"], "bad_frame");
    for topic in ["nonsense", "task:", "task:has space"] {
        let answer = client.subscribe(&[topic], None).await;
        assert_eq!((answer["type"].as_str(), answer["code"].as_str()), (Some("error"), Some("bad_topic")), "{topic}");
    }
    // Still alive and usable.
    let subscribed = client.subscribe(&["board"], None).await;
    assert_eq!(subscribed["type"], "subscribed");
    server.post(&task_created("a", "A")).await;
    assert_eq!(client.next_json().await["seq"], 1);
}

#[tokio::test]
async fn a_client_that_never_pongs_is_closed_and_one_that_does_stays() {
    let server = TestServer::start_with(|c| {
        c.heartbeat_ms = 200;
        c.pong_timeout_ms = 300;
    })
    .await;
    // The silent client speaks raw WebSocket and never answers a ping (a library client would).
    let mut silent = tokio::net::TcpStream::connect(server.running.addr).await.unwrap();
    let handshake = format!(
        "GET /ws?token={TOKEN} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.running.addr
    );
    silent.write_all(handshake.as_bytes()).await.unwrap();

    let (mut alive, _) = WsClient::connect(&server).await;
    // The alive client keeps reading, and tungstenite answers pings while it is polled.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1_500);
    while tokio::time::timeout_at(deadline, alive.stream.next()).await.is_ok() {}

    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut bytes)).await.unwrap().unwrap();
    let body = &bytes[bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(close_code(body), Some(4000), "closed for want of a pong");

    alive.send(&json!({"op": "ping", "id": 1})).await;
    let pong = loop {
        let frame = alive.next_json().await;
        if frame["type"] == "pong" {
            break frame;
        }
    };
    assert_eq!(pong["id"], 1);
}

/// Walks unmasked server frames and returns the code of the close frame, if any.
fn close_code(mut frames: &[u8]) -> Option<u16> {
    while frames.len() >= 2 {
        let opcode = frames[0] & 0x0f;
        let (len, header) = match frames[1] & 0x7f {
            126 => (u16::from_be_bytes([frames[2], frames[3]]) as usize, 4),
            127 => return None,
            n => (n as usize, 2),
        };
        let payload = frames.get(header..header + len)?;
        if opcode == 0x8 {
            return Some(u16::from_be_bytes([payload[0], payload[1]]));
        }
        frames = &frames[header + len..];
    }
    None
}

#[tokio::test]
async fn a_vanished_client_does_not_disturb_the_server() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["board"], None).await;
    drop(client);
    for i in 0..20 {
        assert_eq!(server.post(&task_created(&format!("t{i}"), "After")).await.0, 201);
    }
    let (mut next, _) = WsClient::connect(&server).await;
    next.subscribe(&["board"], Some(0)).await;
    assert_eq!(next.seqs(20).await, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn unsubscribe_stops_a_topic_and_keeps_the_others() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["board", "agents"], None).await;
    client.send(&json!({"op": "unsubscribe", "topics": ["agents"]})).await;
    let answer = client.next_json().await;
    assert_eq!((answer["type"].as_str(), answer["topics"].clone()), (Some("unsubscribed"), json!(["agents"])));
    server.post(&json!([{"type": "agent:heartbeat", "payload": {"id": "ada"}}, task_created("a", "A")])).await;
    let next = client.next_json().await;
    assert_eq!((next["seq"].as_u64(), next["type"].as_str()), (Some(2), Some("task:created")));
    assert!(client.next_json_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_resume_into_a_replaced_database_is_reset_not_replayed() {
    let first = TestServer::start().await;
    for i in 0..3 {
        first.post(&task_created(&format!("a{i}"), "first log")).await;
    }
    let (_, hello) = WsClient::connect(&first).await;
    let (epoch, since) = (hello["epoch"].as_str().unwrap().to_string(), 3);
    let (_, page) = first.get("/api/events").await;
    assert_eq!(page["epoch"], epoch.as_str(), "history pages name their epoch");

    // Another database, with more events, comes up where the first one was (a restore).
    let other = TestServer::start().await;
    for i in 0..5 {
        other.post(&task_created(&format!("b{i}"), "another log")).await;
    }
    let TestServer { running, dir, mut config, clock, schema } = other;
    running.stop().await;
    first.running.stop().await;
    config.token = Some(TOKEN.into());
    let restored = TestServer {
        running: crate::common::relaunch(config.clone(), clock.clone()).await,
        dir,
        config,
        clock,
        schema,
    };

    let (mut client, hello) = WsClient::connect(&restored).await;
    assert_ne!(hello["epoch"], epoch.as_str(), "a different log has a different epoch");
    client.send(&json!({"op": "subscribe", "topics": ["board"], "since": since, "epoch": epoch})).await;
    let reset = client.next_json().await;
    assert_eq!(reset["type"], "reset", "told to reload, not fed another log's events: {reset}");
    assert!(reset["reason"].as_str().unwrap().contains("replaced"), "{reset}");
    let subscribed = client.next_json().await;
    assert_eq!((subscribed["type"].as_str(), subscribed["seq"].as_u64()), (Some("subscribed"), Some(5)));
    assert_eq!(subscribed["epoch"], hello["epoch"]);
    assert!(client.next_json_within(std::time::Duration::from_millis(200)).await.is_none(), "nothing replayed");

    // The same holds for SSE.
    let mut stream = crate::common::client()
        .get(restored.http(&format!("/api/events/stream?since=3&epoch={epoch}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let chunk = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(chunk.contains("event: reset"), "{chunk}");
}
