//! Flightdeck against a raw hub, in one run and under the same external load.
//!
//! The targets: the real server (this build's `flightdeck` binary, a separate process) on SQLite
//! and on PostgreSQL, and a minimal axum broadcast hub that stores nothing (this same bench binary,
//! started again as `FANOUT_ROLE=baseline`). The load: WebSocket subscribers and an HTTP publisher
//! with fixed concurrency, at a fixed rate and at full speed. Each figure is the median of several
//! rounds, the targets taking turns. Run with `cargo bench --bench fanout` (`FANOUT_ROUNDS`,
//! `FANOUT_IDLE_SOCKETS` to change the effort, `FANOUT_TARGETS` to pick targets, `FANOUT_BIN` to
//! measure another build of the server); it asserts nothing, it prints a table.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::{net::TcpStream, sync::broadcast};
use tokio_tungstenite::{
    connect_async_with_config,
    tungstenite::{protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

const TOKEN: &str = "bench-token-0123456789";
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Flightdeck,
    Baseline,
}

/// Where a target listens and which protocol it speaks.
#[derive(Clone)]
struct Endpoint {
    kind: Kind,
    addr: String,
}

struct Target {
    name: &'static str,
    at: Endpoint,
    child: Child,
    /// `perf record` attached to the server (`FANOUT_PERF=<dir>`), stopped with it.
    profiler: Option<Child>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(profiler) = &mut self.profiler {
            // SIGINT: perf writes its data out and exits.
            let _ = Command::new("kill").args(["-INT", &profiler.id().to_string()]).status();
            let _ = profiler.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With `FANOUT_PERF=<dir>`, samples the server with `perf record` into `<dir>/<name>.data`.
fn profile(child: &Child, name: &str) -> Option<Child> {
    let dir = std::env::var("FANOUT_PERF").ok()?;
    let file = format!("{dir}/{}.data", name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let pid = child.id().to_string();
    let args = ["record", "-e", "cpu-clock", "-F", "997", "-p", &pid, "-o", &file];
    Command::new("perf").args(args).stderr(Stdio::null()).spawn().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn until_up(addr: &str) {
    for _ in 0..400 {
        if reqwest::get(format!("http://{addr}/healthz")).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never came up");
}

/// The server binary: this build's, or `FANOUT_BIN` (another build, to compare the two).
fn server_binary() -> String {
    std::env::var("FANOUT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_flightdeck").into())
}

async fn flightdeck(name: &'static str, database_url: &str) -> Target {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(server_binary())
        .args(["serve", "--addr", &addr, "--token", TOKEN, "--database-url", database_url])
        // The bench measures the machinery, not the per-token limits.
        .args(["--max-connections-per-token", "100000", "--ingest-rate", "10000000", "--ingest-burst", "10000000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the flightdeck binary starts");
    until_up(&addr).await;
    // The task every published event moves.
    let created = json!({"type": "task:created", "payload": {"id": "bench", "title": "Bench"}});
    reqwest::Client::new()
        .post(format!("http://{addr}/api/events"))
        .bearer_auth(TOKEN)
        .json(&created)
        .send()
        .await
        .unwrap();
    let profiler = profile(&child, name);
    Target { name, at: Endpoint { kind: Kind::Flightdeck, addr }, child, profiler }
}

async fn baseline() -> Target {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(std::env::current_exe().unwrap())
        .env("FANOUT_ROLE", "baseline")
        .env("FANOUT_ADDR", &addr)
        .stdout(Stdio::null())
        .spawn()
        .expect("the baseline starts");
    until_up(&addr).await;
    let profiler = profile(&child, "raw hub");
    Target { name: "raw hub", at: Endpoint { kind: Kind::Baseline, addr }, child, profiler }
}

/// The baseline: POST /publish broadcasts the body to every socket on /ws. Nothing is stored,
/// nothing is filtered; each frame is shared, like Flightdeck's.
async fn run_baseline(addr: String) {
    use axum::{
        extract::{ws::WebSocketUpgrade, State},
        routing::{get, post},
    };
    let (live, _) = broadcast::channel::<axum::extract::ws::Utf8Bytes>(4096);
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/publish",
            post(|State(live): State<broadcast::Sender<_>>, body: String| async move {
                let _ = live.send(body.into());
                axum::http::StatusCode::CREATED
            }),
        )
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade, State(live): State<broadcast::Sender<_>>| async move {
                // Subscribed before the handshake's answer, as Flightdeck's socket is before its
                // `subscribed`: in the upgrade's own task, a publish right after the client saw
                // the answer could come first and be missed (a frame short, seen once in a run).
                let mut rx = live.subscribe();
                ws.on_upgrade(move |mut socket| async move {
                    while let Ok(frame) = rx.recv().await {
                        if socket.send(axum::extract::ws::Message::Text(frame)).await.is_err() {
                            break;
                        }
                    }
                })
            }),
        )
        .with_state(live);
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}

/// A client socket. Its read buffer is small: tungstenite zeroes the whole buffer before each
/// read, and at the default 128 KiB the load generator spent its time in `memset`.
async fn connect(url: String) -> (Socket, tokio_tungstenite::tungstenite::handshake::client::Response) {
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    connect_async_with_config(url, Some(config), true).await.expect("socket opens")
}

/// A subscriber, ready: Flightdeck's after `hello` and `subscribed`.
async fn subscribe(target: &Endpoint) -> Socket {
    let url = match target.kind {
        Kind::Flightdeck => format!("ws://{}/ws?token={TOKEN}", target.addr),
        Kind::Baseline => format!("ws://{}/ws", target.addr),
    };
    let (mut socket, _) = connect(url).await;
    if target.kind == Kind::Flightdeck {
        socket.next().await.unwrap().unwrap(); // hello
        socket.send(Message::text(r#"{"op":"subscribe","topics":["task:bench"]}"#)).await.unwrap();
        socket.next().await.unwrap().unwrap(); // subscribed
    }
    socket
}

/// One published event: the moment it was sent, in µs since `epoch`, rides in its message.
fn event(epoch: Instant) -> serde_json::Value {
    let sent = epoch.elapsed().as_micros();
    json!({"type": "task:progress", "payload": {"id": "bench", "message": format!("t={sent};")}})
}

async fn publish(http: &reqwest::Client, target: &Endpoint, body: &serde_json::Value) {
    let request = match target.kind {
        Kind::Flightdeck => http.post(format!("http://{}/api/events", target.addr)).bearer_auth(TOKEN),
        Kind::Baseline => http.post(format!("http://{}/publish", target.addr)),
    };
    // A bound, so a server that stops answering fails the bench instead of hanging it.
    let status = request.json(body).timeout(Duration::from_secs(30)).send().await.expect("posted").status();
    assert!(status.is_success(), "{status}");
}

/// Reads `expect` event frames on every socket; returns when the last arrived and, per frame, how
/// long after it was sent (µs).
async fn receive(sockets: Vec<Socket>, expect: usize, epoch: Instant) -> (Instant, Vec<u64>) {
    let readers = sockets.into_iter().map(|mut socket| {
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expect);
            while latencies.len() < expect {
                let next = tokio::time::timeout(Duration::from_secs(30), socket.next()).await;
                let message = match next {
                    Ok(Some(Ok(message))) => message,
                    Ok(other) => panic!("a subscriber's socket ended after {} of {expect}: {other:?}", latencies.len()),
                    Err(_) => {
                        panic!("a subscriber got {} of {expect} frames and then nothing for 30 s", latencies.len())
                    }
                };
                let Message::Text(text) = message else { continue };
                let Some(sent) = text.split("t=").nth(1).and_then(|t| t.split(';').next()?.parse::<u64>().ok()) else {
                    continue;
                };
                latencies.push((epoch.elapsed().as_micros() as u64).saturating_sub(sent));
            }
            (Instant::now(), latencies)
        })
    });
    let mut last = epoch;
    let mut all = Vec::new();
    for reader in futures::future::join_all(readers).await {
        let (at, latencies) = reader.unwrap();
        last = last.max(at);
        all.extend(latencies);
    }
    (last, all)
}

/// CPU time the process `pid` has used so far, all its threads together, in ns (from the
/// scheduler's own accounting: finer than the clock ticks of `/proc/<pid>/stat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    threads
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The machine's CPU time so far, busy and in all, in clock ticks (`/proc/stat`).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let total: u64 = ticks.iter().take(8).sum();
    // idle and iowait
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Deliveries per second to `subscribers` sockets, `events` published by `posters` concurrent ones,
/// the server's CPU time per delivery (µs): what a delivery costs it, whatever the machine has
/// left over for the load generator; and how busy the machine was (%): below 100, the phase waits
/// on something other than the CPUs.
async fn deliveries(
    server: &Target,
    subscribers: usize,
    posters: usize,
    events: usize,
) -> (f64, f64, f64, Option<f64>) {
    let target = &server.at;
    let sockets = futures::future::join_all((0..subscribers).map(|_| subscribe(target))).await;
    let commits_before = commits(target).await;
    let cpu_before = cpu_ns(server.child.id());
    let machine_before = machine_ticks();
    let epoch = Instant::now();
    let receivers = tokio::spawn(receive(sockets, events, epoch));
    let http = reqwest::Client::new();
    let sent = Arc::new(AtomicU64::new(0));
    let posters = (0..posters).map(|_| {
        let (http, sent) = (http.clone(), sent.clone());
        async move {
            while (sent.fetch_add(1, Ordering::Relaxed) as usize) < events {
                publish(&http, target, &event(epoch)).await;
            }
        }
    });
    futures::future::join_all(posters).await;
    let (last, _) = receivers.await.unwrap();
    let delivered = (subscribers * events) as f64;
    // Threads that ended during the phase take their time with them: a floor, not an exact figure.
    let cpu_us = cpu_ns(server.child.id()).saturating_sub(cpu_before) as f64 / 1000.0;
    let machine_after = machine_ticks();
    let busy = (machine_after.0 - machine_before.0) as f64 / (machine_after.1 - machine_before.1).max(1) as f64;
    // Events per group commit during the phase, from the server's own histogram.
    let grouped = match (commits_before, commits(target).await) {
        (Some((events_before, before)), Some((events_after, after))) if after > before => {
            Some((events_after - events_before) / (after - before))
        }
        _ => None,
    };
    (delivered / (last - epoch).as_secs_f64(), cpu_us / delivered, busy * 100.0, grouped)
}

/// Flightdeck's events committed and group commits so far, read from `/metrics`.
async fn commits(target: &Endpoint) -> Option<(f64, f64)> {
    if target.kind != Kind::Flightdeck {
        return None;
    }
    let url = format!("http://{}/metrics", target.addr);
    let text = reqwest::Client::new().get(url).bearer_auth(TOKEN).send().await.ok()?.text().await.ok()?;
    let value =
        |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok());
    Some((value("flightdeck_commit_events_sum")?, value("flightdeck_commit_events_count")?))
}

/// p50 and p99 from publish to receipt (ms), 100 subscribers, 200 events/s for 5 s; and p50 and
/// p99 from publish to the publisher's answer (for Flightdeck: the event is durable).
async fn latency(target: &Endpoint) -> [f64; 4] {
    let sockets = futures::future::join_all((0..100).map(|_| subscribe(target))).await;
    let epoch = Instant::now();
    let events = 1_000;
    let receivers = tokio::spawn(receive(sockets, events, epoch));
    let http = reqwest::Client::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(5));
    let mut answers = Vec::with_capacity(events);
    for _ in 0..events {
        ticks.tick().await;
        let (http, body, target) = (http.clone(), event(epoch), target.clone());
        answers.push(tokio::spawn(async move {
            let sent = Instant::now();
            publish(&http, &target, &body).await;
            sent.elapsed().as_micros() as u64
        }));
    }
    let (_, received) = receivers.await.unwrap();
    let answered: Vec<u64> = futures::future::join_all(answers).await.into_iter().map(Result::unwrap).collect();
    let [r50, r99] = quantiles(received, [0.50, 0.99]);
    let [a50, a99] = quantiles(answered, [0.50, 0.99]);
    [r50, r99, a50, a99]
}

/// The quantiles `qs` of `samples` (µs), in ms.
fn quantiles<const N: usize>(mut samples: Vec<u64>, qs: [f64; N]) -> [f64; N] {
    samples.sort_unstable();
    qs.map(|q| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64 / 1000.0)
}

/// Events stored per second: single events from 64 posters, or batches of 100 from 16.
async fn ingest(target: &Endpoint, batch: usize) -> f64 {
    let http = reqwest::Client::new();
    let (posters, requests) = if batch == 1 { (64, 4_000) } else { (16, 200) };
    let sent = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let body = match batch {
        1 => event(epoch),
        n => serde_json::Value::Array((0..n).map(|_| event(epoch)).collect()),
    };
    let tasks = (0..posters).map(|_| {
        let (http, sent, body) = (http.clone(), sent.clone(), body.clone());
        async move {
            while (sent.fetch_add(1, Ordering::Relaxed) as usize) < requests {
                publish(&http, target, &body).await;
            }
        }
    });
    futures::future::join_all(tasks).await;
    (requests * batch) as f64 / epoch.elapsed().as_secs_f64()
}

/// How long a client resuming from the start takes to receive the whole log, and its rate.
async fn replay(target: &Endpoint) -> (f64, f64) {
    let head = reqwest::Client::new()
        .get(format!("http://{}/api/events?limit=1", target.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["head"]
        .as_u64()
        .unwrap();
    let (mut socket, _) = connect(format!("ws://{}/ws?token={TOKEN}", target.addr)).await;
    socket.next().await.unwrap().unwrap();
    let start = Instant::now();
    socket.send(Message::text(r#"{"op":"subscribe","topics":["task:bench"],"since":0}"#)).await.unwrap();
    // Event frames begin with their seq; control frames (`subscribed`) with their type.
    let (mut seen, last) = (0, format!("{{\"seq\":{head},"));
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else { continue };
        if text.starts_with("{\"seq\":") {
            seen += 1;
            if text.starts_with(&last) {
                break;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    (seconds, seen as f64 / seconds)
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok()).unwrap_or(0.0)
}

/// KiB of server memory per idle subscribed socket, with `n` of them open.
async fn memory_per_socket(target: &Target, n: usize) -> f64 {
    let before = rss_kib(target.child.id());
    let mut sockets = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(500) {
        let size = 500.min(n - chunk * 500);
        sockets.extend(futures::future::join_all((0..size).map(|_| subscribe(&target.at))).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(target.child.id());
    drop(sockets);
    (after - before) / n as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    if std::env::var("FANOUT_ROLE").as_deref() == Ok("baseline") {
        return run_baseline(std::env::var("FANOUT_ADDR").unwrap()).await;
    }
    // `FANOUT_ONLY=deliveries` (or latency, ingest, replay, memory) measures that part alone.
    let only = std::env::var("FANOUT_ONLY").ok();
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let rounds: usize = std::env::var("FANOUT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let idle: usize = std::env::var("FANOUT_IDLE_SOCKETS").ok().and_then(|r| r.parse().ok()).unwrap_or(10_000);
    // `FANOUT_TARGETS=sqlite` (or `raw,postgres`…) measures some targets alone, e.g. under a profiler.
    let wanted = std::env::var("FANOUT_TARGETS").unwrap_or_else(|_| "raw,sqlite,postgres".into());
    let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut targets = Vec::new();
    if wanted.contains(&"raw") {
        targets.push(baseline().await);
    }
    if wanted.contains(&"sqlite") {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        targets.push(flightdeck("flightdeck (SQLite)", &url).await);
    }
    let postgres = std::env::var("FANOUT_POSTGRES").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into());
    let mut schema = None;
    if wanted.contains(&"postgres") {
        match postgres_schema(&postgres).await {
            Some((name, url)) => {
                targets.push(flightdeck("flightdeck (PostgreSQL)", &url).await);
                schema = Some(name);
            }
            None => eprintln!("no PostgreSQL at {postgres}: not measuring it"),
        }
    }

    // The deliveries phases: subscribers, concurrent posters, events. Sixteen posters is the
    // closed loop where each answer waits on a durable commit; sixty-four is a busier fleet, where
    // a group commit has more to carry.
    const PHASES: [(usize, usize, usize); 3] = [(100, 16, 2_000), (1_000, 16, 300), (100, 64, 4_000)];
    let phase = |&(subscribers, posters, _): &(usize, usize, usize)| {
        let subscribers = if subscribers == 1_000 { "1,000".to_string() } else { subscribers.to_string() };
        if posters == 16 {
            format!("{subscribers} subscribers")
        } else {
            format!("{subscribers} subscribers, {posters} posters")
        }
    };
    let mut figures: Vec<String> = Vec::new();
    for label in ["deliveries/s", "server CPU µs per delivery", "machine busy %", "events per group commit"] {
        figures.extend(PHASES.iter().map(|p| format!("{label}, {}", phase(p))));
    }
    const LATENCY: [&str; 4] = [
        "p50 ms, 200 events/s, 100 subscribers",
        "p99 ms, 200 events/s, 100 subscribers",
        "p50 ms to the publisher's answer, same phase",
        "p99 ms to the publisher's answer, same phase",
    ];
    figures.extend(LATENCY.map(String::from));
    figures.extend(
        [
            "ingest events/s, single events, 64 posters",
            "ingest events/s, batches of 100, 16 posters",
            "replay events/s to a resuming client",
            "catch-up s after 100,000 missed events",
            "KiB per idle subscribed socket",
        ]
        .map(String::from),
    );
    // Each target's samples of each figure, by the figure's name.
    let mut results: Vec<std::collections::HashMap<String, Vec<f64>>> = vec![Default::default(); targets.len()];
    // Memory first, on servers that have done nothing else yet: later phases leave freed heap
    // behind that new sockets reuse, which made the figure move by a few KiB between runs.
    for (t, target) in targets.iter().enumerate().filter(|_| part("memory")) {
        let kib = memory_per_socket(target, idle).await;
        results[t].entry("KiB per idle subscribed socket".into()).or_default().push(kib);
    }
    for round in 0..rounds {
        eprintln!("round {} of {rounds}", round + 1);
        for (t, target) in targets.iter().enumerate() {
            let r = &mut results[t];
            let mut push = |name: String, value: f64| r.entry(name).or_default().push(value);
            let at = &target.at;
            if part("deliveries") {
                for p in &PHASES {
                    let (subscribers, posters, events) = *p;
                    let (rate, cpu, busy, grouped) = deliveries(target, subscribers, posters, events).await;
                    push(format!("deliveries/s, {}", phase(p)), rate);
                    push(format!("server CPU µs per delivery, {}", phase(p)), cpu);
                    push(format!("machine busy %, {}", phase(p)), busy);
                    if let Some(grouped) = grouped {
                        push(format!("events per group commit, {}", phase(p)), grouped);
                    }
                }
            }
            if part("latency") {
                for (name, figure) in LATENCY.iter().zip(latency(at).await) {
                    push(name.to_string(), figure);
                }
            }
            if part("ingest") {
                push("ingest events/s, single events, 64 posters".into(), ingest(at, 1).await);
                // The raw hub sends a batch on as one frame: its figure would not be comparable.
                if at.kind == Kind::Flightdeck {
                    push("ingest events/s, batches of 100, 16 posters".into(), ingest(at, 100).await);
                }
            }
        }
    }
    // Replay after the rounds: it needs a log of 100,000 events; then once per round, the
    // targets taking turns.
    let replaying: Vec<usize> =
        (0..targets.len()).filter(|&t| part("replay") && targets[t].at.kind == Kind::Flightdeck).collect();
    for &t in &replaying {
        while head(&targets[t].at).await < 100_000 {
            ingest(&targets[t].at, 100).await;
        }
    }
    for _ in 0..rounds {
        for &t in &replaying {
            let (seconds, rate) = replay(&targets[t].at).await;
            results[t].entry("replay events/s to a resuming client".into()).or_default().push(rate);
            results[t].entry("catch-up s after 100,000 missed events".into()).or_default().push(seconds);
        }
    }

    println!(
        "\n| figure | {} | ratio to the raw hub |",
        targets.iter().map(|t| t.name).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}---|", "---|".repeat(targets.len()));
    for name in &figures {
        let values: Vec<Option<f64>> = results.iter().map(|r| r.get(name).map(|v| median(v.clone()))).collect();
        let cells: Vec<String> = values.iter().map(|v| v.map_or("–".into(), |v| format!("{v:.1}"))).collect();
        let ratios: Vec<String> = match values[0] {
            Some(base) if base > 0.0 && targets[0].at.kind == Kind::Baseline => {
                values[1..].iter().map(|v| v.map_or("–".into(), |v| format!("{:.2}×", v / base))).collect()
            }
            _ => vec!["–".into()],
        };
        println!("| {name} | {} | {} |", cells.join(" | "), ratios.join(", "));
    }
    println!(
        "\n{} rounds, medians; machine: {} cores",
        rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    drop(targets);
    if let Some(name) = schema {
        drop_schema(&postgres, &name).await;
    }
}

async fn head(target: &Endpoint) -> u64 {
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/events?limit=1", target.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["head"].as_u64().unwrap_or(0)
}

/// A fresh schema on the PostgreSQL at `url`: its name and a URL that uses it; `None` when the
/// database does not answer.
async fn postgres_schema(url: &str) -> Option<(String, String)> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let name = format!("fd_bench_{}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await.ok()?;
    sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.ok()?;
    let with_schema = format!("{url}?options=-c%20search_path%3D{name}");
    Some((name, with_schema))
}

/// Drops the bench's schema once its server is gone.
async fn drop_schema(url: &str, name: &str) {
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else { return };
    if let Err(e) = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await {
        eprintln!("could not drop the bench schema {name}: {e}");
    }
}
