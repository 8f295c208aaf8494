//! Shutdown always finishes, and start refuses settings it cannot run with; what the server logs
//! and what the anonymous readiness probe says give nothing away.

use std::time::{Duration, Instant};

use crate::common::{TestServer, WsClient, TOKEN};

#[tokio::test]
async fn stop_finishes_with_a_stream_and_a_socket_open() {
    let server = TestServer::start_with(|c| c.shutdown_timeout_ms = 3_000).await;
    let mut stream = crate::common::client()
        .get(server.http("/api/events/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the stream opens");
    let (mut socket, _) = WsClient::connect(&server).await;
    socket.subscribe(&["board"], None).await;

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), server.running.stop()).await.expect("stop returns");
    assert!(started.elapsed() < Duration::from_secs(3), "closed cleanly, not by the deadline: {:?}", started.elapsed());
    assert_eq!(socket.close_code().await, Some(1001), "the socket is told the server is going away");
    let end = tokio::time::timeout(Duration::from_secs(2), async { while let Ok(Some(_)) = stream.chunk().await {} });
    assert!(end.await.is_ok(), "the SSE stream ended");
}

#[tokio::test]
async fn settings_it_cannot_run_with_are_refused_at_start() {
    for (adjust, flag) in [
        (
            Box::new(|c: &mut flightdeck::config::ServeConfig| c.heartbeat_ms = 0) as Box<dyn Fn(&mut _)>,
            "--heartbeat-ms",
        ),
        (Box::new(|c: &mut flightdeck::config::ServeConfig| c.live_buffer = 0), "--live-buffer"),
        (Box::new(|c: &mut flightdeck::config::ServeConfig| c.max_frame_bytes = 10), "--max-frame-bytes"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let mut config = flightdeck::config::ServeConfig::with("127.0.0.1:0".parse().unwrap(), &url);
        adjust(&mut config);
        let refused = flightdeck::server::start(config).await.err().expect("refused");
        assert!(refused.to_string().contains(flag), "{refused}");
    }
}

#[tokio::test]
async fn readiness_says_ready_and_nothing_more() {
    let server = TestServer::start().await;
    let answer: serde_json::Value = reqwest::get(server.http("/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(answer, serde_json::json!({"status": "ready"}));
}

#[tokio::test]
async fn a_token_in_a_socket_url_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret = "fd_secret_in_the_query_0123456789";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--token", secret])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("log.db").display()))
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut socket, _) = WsClient::connect_to(&format!("ws://127.0.0.1:{port}/ws?token={secret}")).await;
    socket.subscribe(&["board"], None).await;
    let _ = reqwest::get(format!("{base}/api/events?token={secret}")).await;
    drop(socket);
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(log.contains("/ws"), "the request was logged: {}", &log[..log.len().min(2000)]);
    assert!(!log.contains(secret), "the token appears in the log");
}
