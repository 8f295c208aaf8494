//! Held permission requests: what it costs the server to keep N Claude Code `PermissionRequest`
//! hooks open while they wait for an operator, and how fast they are all answered once decided.
//!
//! The server is this build's binary (`HELD_BIN` for another build) in a process of its own, on a
//! fresh SQLite file. N sessions start first, so what is measured is the holding, not the sessions.
//! Then N requests are held at once; the server's resident memory and threads are read from
//! `/proc` before and while they wait; one batch decides them all, and the time until the last
//! answer arrives is taken. A control round does the same with `--max-held 0`: the same requests,
//! connections and writes, each answered at once instead of held, so the difference between the
//! two is what holding costs. `cargo bench --bench held` (`HELD_N`, default 1,000; `HELD_ROUNDS`,
//! default 3). It asserts nothing; it prints a table.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

const TOKEN: &str = "bench-token-0123456789";

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(max_held: usize) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let binary = std::env::var("HELD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_flightdeck").into());
        let child = Command::new(binary)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--token", TOKEN])
            .arg("--database-url")
            .arg(format!("sqlite://{}", dir.path().join("log.db").display()))
            .args(["--ingest-rate", "10000000", "--ingest-burst", "10000000"])
            .args(["--max-unauthenticated-connections", "100000", "--max-held", &max_held.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the flightdeck binary starts");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/healthz")).await.is_ok() {
                return Server { child, base, _dir: dir };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never came up");
    }

    fn proc(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

async fn hook(http: &reqwest::Client, base: &str, body: Value) -> (u16, String) {
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

struct Round {
    held_ms: u128,
    rss_kib: u64,
    threads: i64,
    answered_ms: u128,
}

async fn round(n: usize, hold: bool) -> Round {
    let server = Server::start(if hold { 100_000 } else { 0 }).await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(n).build().unwrap();
    let base = server.base.clone();
    for i in 0..n {
        let start = json!({"hook_event_name": "SessionStart", "session_id": format!("s{i}"), "cwd": "/w/shop"});
        hook(&http, &base, start).await;
    }
    let (rss, threads) = (server.proc("VmRSS:"), server.proc("Threads:") as i64);
    let asked = Instant::now();
    let answers: Vec<_> = (0..n)
        .map(|i| {
            let body = json!({"hook_event_name": "PermissionRequest", "session_id": format!("s{i}"), "cwd": "/w/shop",
                              "tool_name": "Bash", "tool_input": {"command": format!("make job-{i}")}});
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move { hook(&http, &base, body).await })
        })
        .collect();
    let url = format!("{base}/api/approvals?status=pending");
    let pending: Vec<Value> = loop {
        let pending: Vec<Value> = http.get(&url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        if pending.len() == n {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let held_ms = asked.elapsed().as_millis();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_held, threads_held) = (server.proc("VmRSS:"), server.proc("Threads:") as i64);
    if !hold {
        for answer in answers {
            assert_eq!(answer.await.unwrap().0, 204, "answered at once with no decision");
        }
        return Round {
            held_ms,
            rss_kib: rss_held.saturating_sub(rss),
            threads: threads_held - threads,
            answered_ms: 0,
        };
    }
    let decided = Instant::now();
    for chunk in pending.chunks(1_000) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(
                |a| json!({"type": "approval:resolved", "payload": {"id": a["id"], "status": "approved", "by": "ops"}}),
            )
            .collect();
        http.post(format!("{base}/api/events")).bearer_auth(TOKEN).json(&batch).send().await.unwrap();
    }
    for answer in answers {
        let (status, text) = answer.await.unwrap();
        assert!(status == 200 && text.contains("allow"), "{status} {text}");
    }
    Round {
        held_ms,
        rss_kib: rss_held.saturating_sub(rss),
        threads: threads_held - threads,
        answered_ms: decided.elapsed().as_millis(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("HELD_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let rounds: usize = std::env::var("HELD_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    println!("{n} held PermissionRequests, {rounds} rounds, each on a fresh server");
    println!(
        "{:>5}  {:>12}  {:>16}  {:>12}  {:>20}",
        "round", "all held ms", "resident KiB +", "threads +", "all answered ms"
    );
    let mut all = vec![];
    let mut control = vec![];
    for r in 1..=rounds {
        let result = round(n, true).await;
        println!(
            "{r:>5}  {:>12}  {:>16}  {:>12}  {:>20}",
            result.held_ms, result.rss_kib, result.threads, result.answered_ms
        );
        all.push(result);
        let answered = round(n, false).await;
        println!(
            "{:>5}  {:>12}  {:>16}  {:>12}  {:>20}",
            "ctrl", answered.held_ms, answered.rss_kib, answered.threads, "-"
        );
        control.push(answered);
    }
    let median = |mut v: Vec<u128>| {
        v.sort();
        v[v.len() / 2]
    };
    let held = median(all.iter().map(|r| r.rss_kib as u128).collect());
    let answered = median(control.iter().map(|r| r.rss_kib as u128).collect());
    println!(
        "median: {held} KiB more resident held, {answered} KiB answered at once (ctrl): holding costs {} bytes a \
         request; all answered {} ms after the decision",
        held.saturating_sub(answered) * 1024 / n as u128,
        median(all.iter().map(|r| r.answered_ms).collect())
    );
}
