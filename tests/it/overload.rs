//! Overload stays bounded: a client that stops reading, or reads a trickle, is dropped rather than
//! served for ever; a client repeating resumes cannot keep the server replaying; a frame too large
//! for the live ring's byte budget still arrives, read from the log.

use std::time::Duration;

use flightdeck::store::Role;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{task_created, TestServer, WsClient, TOKEN};

/// A TCP connection to the server with a small receive buffer, so the server's writes back up
/// soon once it stops reading.
async fn small_window(server: &TestServer) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(server.running.addr).await.unwrap()
}

/// An SSE stream of the whole log, asked for over a small-window TCP connection.
async fn stream_on_small_window(server: &TestServer) -> TcpStream {
    let mut tcp = small_window(server).await;
    let request =
        format!("GET /api/events/stream?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp
}

/// Posts `n` events of about 10 KB each, in batches.
async fn flood(server: &TestServer, n: usize) {
    let text = "x".repeat(10_000);
    for start in (0..n).step_by(50) {
        let batch: Vec<Value> = (start..(start + 50).min(n))
            .map(|i| json!({"type": "activity:logged", "payload": {"task_id": "t", "category": "execution", "message": format!("{i} {text}")}}))
            .collect();
        let (status, answer) = server.post(&Value::Array(batch)).await;
        assert_eq!(status, 201, "{answer}");
    }
}

/// Waits up to `limit` for the hub to count no open connection.
async fn until_no_connection(server: &TestServer, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if server.running.state.hub.connections() == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn a_stream_whose_client_stopped_reading_is_dropped_after_the_send_timeout() {
    let server = TestServer::start_with(|c| {
        c.send_timeout_ms = 500;
        c.ingest_burst = 100_000;
    })
    .await;
    server.post(&task_created("t", "Flooded")).await;
    let mut tcp = stream_on_small_window(&server).await;
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert_eq!(server.running.state.hub.connections(), 1);
    // 10 MB the client never reads: the server's writes back up and stall.
    flood(&server, 1_000).await;
    assert!(until_no_connection(&server, Duration::from_secs(10)).await, "the stalled stream was dropped");
    drop(tcp);
}

#[tokio::test]
async fn a_socket_reading_a_trickle_is_closed_after_the_lag_deadline_and_resumes() {
    let server = TestServer::start_with(|c| {
        c.lag_deadline_ms = 300;
        c.ingest_burst = 100_000;
    })
    .await;
    server.post(&task_created("t", "Flooded")).await;
    let tcp = small_window(&server).await;
    let (mut stream, _) = tokio_tungstenite::client_async(server.ws_url(), tcp).await.unwrap();
    let mut client_frames = 0;
    let mut last_seq = 1;
    stream.send_json(&json!({"op": "subscribe", "topics": ["task:t"], "since": 1})).await;
    flood(&server, 500).await;
    // Read one frame every 20 ms: far slower than they come.
    let code = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("a frame or a close") {
            Some(Ok(Message::Text(text))) => {
                client_frames += 1;
                let frame: Value = serde_json::from_str(&text).unwrap();
                last_seq = frame["seq"].as_u64().unwrap_or(last_seq);
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
        assert!(client_frames < 500, "read every frame: the trickle was never noticed");
    };
    assert_eq!(code, Some(app::protocol::close::TOO_SLOW));
    assert!(server.running.state.hub.too_slow() >= 1);
    // It resumes from the last event it got, with nothing missed.
    let (mut again, _) = WsClient::connect(&server).await;
    let answer = again.subscribe(&["task:t"], Some(last_seq)).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    assert_eq!(again.seqs(1).await, vec![last_seq + 1]);
}

trait SendJson {
    async fn send_json(&mut self, frame: &Value);
}

impl<S: futures::Sink<Message> + Unpin> SendJson for S
where
    S::Error: std::fmt::Debug,
{
    async fn send_json(&mut self, frame: &Value) {
        use futures::SinkExt;
        self.send(Message::text(frame.to_string())).await.expect("frame sent");
    }
}

#[tokio::test]
async fn repeated_resumes_on_one_socket_are_refused_beyond_a_burst() {
    let server = TestServer::start().await;
    server.post(&task_created("a", "A")).await;
    let (mut client, _) = WsClient::connect(&server).await;
    for _ in 0..20 {
        client.send(&json!({"op": "subscribe", "topics": ["board"], "since": 0})).await;
    }
    let mut subscribed = 0;
    let mut limited = 0;
    while let Some(frame) = client.next_json_within(Duration::from_millis(500)).await {
        match frame["type"].as_str() {
            Some("subscribed") => subscribed += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                assert!(frame["message"].as_str().unwrap().contains("retry in"), "{frame}");
                limited += 1;
            }
            _ => {}
        }
    }
    assert_eq!((subscribed, limited), (8, 12));
    assert_eq!(server.running.state.hub.replays(), 8, "each refused one started no replay");
    // A subscription without `since` costs no replay and is never refused.
    assert_eq!(client.subscribe(&["board"], None).await["type"], "subscribed");
}

#[tokio::test]
async fn a_frame_larger_than_the_ring_budget_arrives_from_the_log_in_order() {
    let server = TestServer::start_with(|c| c.live_buffer_bytes = 2_048).await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["board"], None).await;
    server.post(&task_created("small", "Small")).await;
    let long = "d".repeat(15_000);
    let big = json!({"type": "task:created", "payload": {"id": "big", "title": "Big", "description": long}});
    server.post(&big).await;
    server.post(&task_created("after", "After")).await;
    let frames = [client.next_json().await, client.next_json().await, client.next_json().await];
    assert_eq!(frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(frames[1]["payload"]["description"].as_str().map(str::len), Some(15_000));
    assert!(server.running.state.hub.ring_bytes() <= 2_048);
}

#[tokio::test]
async fn retention_is_per_workspace_so_a_noisy_one_never_prunes_a_quiet_one() {
    let server = TestServer::start_with(|c| {
        c.retain_events = 3;
        c.prune_every_ms = 20;
    })
    .await;
    let quiet = server.token("quiet", Role::Ingest).await;
    for id in ["q1", "q2"] {
        server.post_raw(task_created(id, "Quiet").to_string().into_bytes(), Some(&quiet)).await;
    }
    for p in 0..30 {
        server.post(&json!({"type": "task:created", "payload": {"title": format!("Noisy {p}")}})).await;
    }
    server.until_pruned("default", 29).await;
    let store = server.running.state.store.clone();
    assert_eq!(store.pruned_upto("default").await.unwrap(), 29, "the noisy workspace keeps its newest 3");
    assert_eq!(store.pruned_upto("quiet").await.unwrap(), 0, "the quiet one lost nothing");

    let history = |token: String| {
        let url = server.http("/api/events?since=0&limit=100");
        async move {
            let response = crate::common::client().get(url).bearer_auth(token).send().await.unwrap();
            response.json::<Value>().await.unwrap()["events"].as_array().unwrap().len()
        }
    };
    assert_eq!(history(quiet.clone()).await, 2);
    assert_eq!(history(TOKEN.to_string()).await, 3);

    // A quiet client resuming from the start is served; a noisy one is told to reload.
    let url = |token: &str| format!("{}?token={token}", server.ws_url().split('?').next().unwrap());
    let (mut quiet_client, _) = WsClient::connect_to(&url(&quiet)).await;
    assert_eq!(quiet_client.subscribe(&["board"], Some(0)).await["type"], "subscribed");
    assert_eq!(quiet_client.seqs(2).await, vec![1, 2]);
    let (mut noisy_client, _) = WsClient::connect(&server).await;
    assert_eq!(noisy_client.subscribe(&["board"], Some(0)).await["type"], "reset");
}

#[tokio::test]
async fn a_stream_reading_a_trickle_ends_after_the_lag_deadline() {
    let server = TestServer::start_with(|c| {
        c.lag_deadline_ms = 300;
        c.ingest_burst = 100_000;
    })
    .await;
    server.post(&task_created("t", "Flooded")).await;
    let mut tcp = stream_on_small_window(&server).await;
    let reader = tokio::spawn(async move {
        // 1 KiB every 20 ms, for as long as the server sends: far slower than the flood.
        let mut buffer = [0u8; 1024];
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    flood(&server, 500).await;
    // Reading all 5 MB at this pace takes 100 s. The server notices the lag only once the kernel's
    // buffers (which it cannot see into) have filled: well within 40 s here.
    let ended = until_no_connection(&server, Duration::from_secs(40)).await;
    assert!(ended, "the trickling stream was ended");
    assert!(server.running.state.hub.too_slow() >= 1, "for falling behind, not for a stalled write");
    reader.abort();
}
