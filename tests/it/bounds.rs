//! What one client can make the server hold: memory per request (measured as the peak resident
//! memory of a server process of its own), and connections that never finish a request, idle ones,
//! and ones that never show a token.

use std::{process::Stdio, time::Duration};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::{client, TestServer, TOKEN};

/// A server in a process of its own, so that its memory is its own.
struct Spawned {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Spawned {
    async fn start(flags: &[&str]) -> Spawned {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--token", TOKEN])
            .arg("--database-url")
            .arg(format!("sqlite://{}", dir.path().join("log.db").display()))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if client().get(format!("{base}/healthz")).send().await.is_ok() {
                return Spawned { child, base, _dir: dir };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never answered /healthz");
    }

    /// The process's peak resident memory so far, in bytes.
    fn peak(&self) -> u64 {
        self.status("VmHWM:")
    }

    /// The process's resident memory now, in bytes.
    fn resident(&self) -> u64 {
        self.status("VmRSS:")
    }

    fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).expect("the field");
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }

    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap().count()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MIB: u64 = 1 << 20;

/// An OTLP trace export of `n` empty spans: two bytes each on the wire.
fn empty_spans(n: usize) -> Vec<u8> {
    fn len(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out
    }
    // The scope's fields: `n` times `spans` (2), each empty; the resource holds the scope (2), the
    // request the resource (1).
    let scope: Vec<u8> = std::iter::repeat_n([0x12u8, 0x00], n).flatten().collect();
    let resource = [&[0x12u8][..], &len(scope.len()), &scope].concat();
    [&[0x0au8][..], &len(resource.len()), &resource].concat()
}

#[tokio::test]
async fn sixteen_exports_of_empty_spans_cost_what_their_bodies_do() {
    let server = Spawned::start(&[]).await;
    let before = server.peak();
    let body = empty_spans(499_800);
    assert!(body.len() > 976 * 1024 && body.len() < (1 << 20), "{}", body.len());
    let sends = (0..16).map(|_| {
        client()
            .post(format!("{}/v1/traces", server.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
    });
    for answer in futures::future::join_all(sends).await {
        let answer = answer.expect("answered");
        assert_eq!(answer.status(), 413, "refused whole before decoding");
        assert!(answer.text().await.unwrap().contains("at most"), "the refusal says the limit");
    }
    let grew = server.peak().saturating_sub(before);
    println!("16 concurrent 1 MiB exports of empty spans: peak memory grew {} MiB", grew / MIB);
    // Their bodies are 16 MiB; decoded they were about 200 MB each before the limit.
    assert!(grew < 96 * MIB, "the peak grew {} MiB", grew / MIB);
}

#[tokio::test]
async fn a_history_page_holds_at_most_its_byte_budget() {
    let server = Spawned::start(&["--ingest-rate", "100000", "--ingest-burst", "100000"]).await;
    // 240 events of about 35 KB (the most an event may say): twice what one page may hold.
    let (long, blob) = ("x".repeat(19_000), "y".repeat(15_000));
    for batch in 0..40 {
        let events: Vec<_> = (0..6)
            .map(|i| {
                json!({"type": "observability:event", "payload": {
                    "message": format!("event {batch}-{i} {long}"), "data": {"blob": blob}}})
            })
            .collect();
        let answer =
            client().post(format!("{}/api/events", server.base)).bearer_auth(TOKEN).json(&events).send().await.unwrap();
        assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    }
    let before = server.peak();
    let reads =
        (0..8).map(|_| client().get(format!("{}/api/events?limit=1000", server.base)).bearer_auth(TOKEN).send());
    let mut next = Vec::new();
    for answer in futures::future::join_all(reads).await {
        let text = answer.unwrap().text().await.unwrap();
        // A page ends with the event that reaches the budget: at most one event (35 KB) past it.
        assert!(text.len() <= (4 * MIB + 64 * 1024) as usize, "a page of {} bytes", text.len());
        let page: serde_json::Value = serde_json::from_str(&text).unwrap();
        next.push(page["next_since"].as_u64().unwrap());
    }
    let grew = server.peak().saturating_sub(before);
    println!("8 concurrent history pages: peak memory grew {} MiB", grew / MIB);
    assert!(grew < 160 * MIB, "the peak grew {} MiB", grew / MIB);
    // The rest is reached page by page.
    let rest = client()
        .get(format!("{}/api/events?limit=1000&since={}", server.base, next[0]))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let rest: serde_json::Value = rest.json().await.unwrap();
    assert!(!rest["events"].as_array().unwrap().is_empty(), "the next page continues where the first stopped");
}

/// Reads until the server closes the connection; false if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_at_its_deadline() {
    let server = TestServer::start_with(|c| c.request_head_timeout_ms = 600).await;
    let mut stream = TcpStream::connect(server.running.addr).await.unwrap();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    stream.write_all(head).await.unwrap();
    // One byte every 100 ms: each byte is progress, but the head never ends.
    let mut cut = false;
    for _ in 0..60 {
        if stream.write_all(b"a").await.is_err() {
            cut = true;
            break;
        }
        if closed_within(&mut stream, Duration::from_millis(100)).await {
            cut = true;
            break;
        }
    }
    assert!(cut, "a head that never ends is closed");
}

#[tokio::test]
async fn an_idle_connection_is_closed_but_a_stream_and_a_socket_are_not() {
    let server = TestServer::start_with(|c| {
        c.keep_alive_timeout_ms = 400;
        c.request_head_timeout_ms = 400;
    })
    .await;
    // A keep-alive connection that made one request and then says nothing.
    let mut idle = TcpStream::connect(server.running.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await, "an idle keep-alive connection is closed");

    // An event stream and a socket whose clients only listen outlive both deadlines.
    let stream = client().get(server.http("/api/events/stream?topic=board")).bearer_auth(TOKEN).send().await.unwrap();
    let (mut socket, _) = crate::common::WsClient::connect(&server).await;
    socket.subscribe(&["board"], None).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, _) = server.post(&crate::common::task_created("t1", "After a quiet while")).await;
    assert_eq!(status, 201);
    let frame = socket.next_json().await;
    assert_eq!(frame["type"], "task:created", "the socket still delivers");
    let mut stream = stream;
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        let mut text = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("task:created") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "the event stream still delivers");
}

#[tokio::test]
async fn strangers_are_capped_and_the_oldest_make_room() {
    let server = TestServer::start_with(|c| c.max_unauthenticated_connections = 8).await;
    // A client that signed in keeps its connection whatever strangers do.
    let signed_in = client();
    let answer = signed_in.get(server.http("/api/events?limit=1")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let mut strangers = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(server.running.addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        strangers.push(stream);
    }
    // The newest strangers are still open; the oldest were closed to make room.
    let mut closed = 0;
    for stream in strangers.iter_mut().take(32) {
        closed += usize::from(closed_within(stream, Duration::from_secs(2)).await);
    }
    assert_eq!(closed, 32, "the 32 oldest of 40 strangers were closed");
    let answer = client().get(server.http("/healthz")).send().await.expect("a newcomer still gets an answer");
    assert_eq!(answer.status(), 200);
    let again = signed_in.get(server.http("/api/events?limit=1")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(again.status(), 200, "the signed-in client's connection was never a stranger's to close");
}

/// Posts a Claude Code hook to the spawned server; its status and answer.
async fn hook(http: &reqwest::Client, base: &str, body: serde_json::Value) -> (u16, String) {
    let response = http
        .post(format!("{base}/api/feeds/claude-code"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_held_permission_requests_cost_no_thread_and_little_memory_and_all_are_answered() {
    const HELD: usize = 1_000;
    let server = Spawned::start(&[
        "--ingest-rate",
        "100000",
        "--ingest-burst",
        "100000",
        "--max-unauthenticated-connections",
        "4096",
    ])
    .await;
    let http = client();
    let base = server.base.clone();
    // The sessions exist first, so that what is measured is the holding, not a thousand new sessions.
    for i in 0..HELD {
        let start = json!({"hook_event_name": "SessionStart", "session_id": format!("s{i}"), "cwd": "/w/shop"});
        assert_eq!(hook(&http, &base, start).await.0, 204);
    }
    let (resident, threads) = (server.resident(), server.threads());
    let mut answers = Vec::with_capacity(HELD);
    for i in 0..HELD {
        let ask = json!({"hook_event_name": "PermissionRequest", "session_id": format!("s{i}"), "cwd": "/w/shop",
                         "tool_name": "Bash", "tool_input": {"command": format!("make job-{i}")}});
        let (http, base) = (http.clone(), base.clone());
        answers.push(tokio::spawn(async move { hook(&http, &base, ask).await }));
    }
    let pending_url = format!("{base}/api/approvals?status=pending");
    let mut pending: Vec<serde_json::Value> = vec![];
    for _ in 0..600 {
        pending = http.get(&pending_url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        if pending.len() == HELD {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending.len(), HELD, "all asked");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown = server.resident().saturating_sub(resident);
    let added = server.threads().saturating_sub(threads);
    println!("{HELD} held requests: {} KiB more resident memory, {added} more threads", grown / 1024);
    assert!(added <= 2, "no thread per held request: {added} more");
    // Each held request keeps its connection and its future, and wrote its approval and activities.
    assert!(grown < 64 * MIB, "{HELD} held requests took {} KiB", grown / 1024);
    assert!(answers.iter().all(|a| !a.is_finished()), "all still held");

    let decisions: Vec<serde_json::Value> = pending
        .iter()
        .map(|a| json!({"type": "approval:resolved", "payload": {"id": a["id"], "status": "approved", "by": "ops"}}))
        .collect();
    let posted = http.post(format!("{base}/api/events")).bearer_auth(TOKEN).json(&decisions).send().await.unwrap();
    assert_eq!(posted.status(), 201);
    for answer in answers {
        let (status, text) = tokio::time::timeout(Duration::from_secs(30), answer).await.expect("answered").unwrap();
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(r#""behavior":"allow""#), "{text}");
    }
}
