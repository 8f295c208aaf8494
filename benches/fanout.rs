//! Prints figures for the hot paths: ingest throughput with concurrent writers (group commit),
//! fan-out latency from POST to every subscriber, and memory per idle socket.
//! Run with `cargo bench --bench fanout`; it asserts nothing, it measures.

use std::time::{Duration, Instant};

use flightdeck::config::ServeConfig;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::{connect_async, tungstenite::Message};

const TOKEN: &str = "bench-token-0123456789";

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut config = ServeConfig::with("127.0.0.1:0".parse().unwrap(), &url);
    config.token = Some(TOKEN.into());
    // The bench measures the machinery, not the per-token limits.
    config.max_connections_per_token = 10_000;
    config.ingest_rate = 1_000_000;
    config.ingest_burst = 1_000_000;
    let server = flightdeck::server::start(config).await.unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        let request = http.post(format!("{base}/api/events")).bearer_auth(TOKEN).json(&body);
        async move { assert_eq!(request.send().await.unwrap().status(), 201) }
    };
    post(json!({"type": "task:created", "payload": {"id": "bench", "title": "Bench"}})).await;

    // Ingest: many writers at once, one event per request.
    for writers in [1usize, 16, 64] {
        let per_writer = 2_000 / writers;
        let commits_before = server.state.writer.commits();
        let start = Instant::now();
        futures::future::join_all((0..writers).map(|_| async {
            for i in 0..per_writer {
                post(json!({"type": "task:progress", "payload": {"id": "bench", "progress": i % 100}})).await;
            }
        }))
        .await;
        let took = start.elapsed();
        let events = writers * per_writer;
        let commits = server.state.writer.commits() - commits_before;
        println!(
            "ingest  {writers:>3} writers: {events} events in {:.2} s = {:>6.0} events/s, {:.1} events per commit",
            took.as_secs_f64(),
            events as f64 / took.as_secs_f64(),
            events as f64 / commits as f64
        );
    }

    // Memory per idle socket.
    let rss_before = rss_kib();
    let mut idle = Vec::new();
    for _ in 0..500 {
        let (socket, _) = connect_async(format!("ws://{}/ws?token={TOKEN}", server.addr)).await.unwrap();
        idle.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "memory  500 idle sockets: {:.1} KiB per socket (client and server in this process)",
        (rss_kib() - rss_before) as f64 / 500.0
    );
    drop(idle);

    // Fan-out: subscribers on `board`; latency from just before the POST to each receipt.
    for subscribers in [10usize, 100] {
        let mut sockets = Vec::new();
        for _ in 0..subscribers {
            let (mut socket, _) = connect_async(format!("ws://{}/ws?token={TOKEN}", server.addr)).await.unwrap();
            socket.next().await; // hello
            socket.send(Message::text(r#"{"op":"subscribe","topics":["board"]}"#)).await.unwrap();
            socket.next().await; // subscribed
            sockets.push(socket);
        }
        let rounds = 200;
        let mut latencies = Vec::with_capacity(rounds * subscribers);
        for round in 0..rounds {
            let sent = Instant::now();
            post(json!({"type": "task:progress", "payload": {"id": "bench", "progress": round % 100}})).await;
            for socket in sockets.iter_mut() {
                loop {
                    if let Some(Ok(Message::Text(_))) = socket.next().await {
                        break;
                    }
                }
                latencies.push(sent.elapsed());
            }
        }
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "fan-out {subscribers:>3} subscribers: POST→receipt p50 {:?}, p99 {:?}, max {:?}",
            pct(0.5),
            pct(0.99),
            latencies.last().unwrap()
        );
    }
    server.stop().await;
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}
