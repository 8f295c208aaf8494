//! Operations: `/metrics` after real traffic, and `flightdeck emit` posting from a shell.

use std::time::Duration;

use flightdeck::store::Role;
use serde_json::json;

use crate::common::{task_created, task_progress, TestServer, WsClient, TOKEN};

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let server = TestServer::start().await;
    let (mut live, _) = WsClient::connect(&server).await;
    live.subscribe(&["board"], None).await;
    server.post(&task_created("m1", "Measured")).await;
    server.post(&task_progress("m1", 40)).await;
    server.post(&json!([{"type": "agent:heartbeat", "payload": {"id": "ada"}}, {"type": "agent:heartbeat", "payload": {"id": "bob"}}])).await;
    assert_eq!(live.seqs(2).await, vec![1, 2]);
    let (mut resumed, _) = WsClient::connect(&server).await;
    resumed.subscribe(&["board"], Some(0)).await;
    resumed.seqs(2).await;
    // Refusals: a bad token, bad JSON, an unknown type (and a missing token: 401 too).
    let client = crate::common::client();
    let bad_token = client.get(server.http("/api/events")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(bad_token.status(), 401);
    assert_eq!(server.post_raw(b"{".to_vec(), Some(TOKEN)).await.0, 400);
    assert_eq!(server.post(&json!({"type": "nope", "payload": {}})).await.0, 422);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let viewer = server.token("default", Role::Viewer).await;
    let refused = client.get(server.http("/metrics")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(refused.status(), 403, "metrics are for admins");
    let page = client.get(server.http("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let page = page.text().await.unwrap();
    let get = |series: &str| sample(&page, series).unwrap_or_else(|| panic!("no `{series}` in:\n{page}"));
    assert_eq!(get(r#"flightdeck_events_ingested_total{type="task:created"}"#), 1.0);
    assert_eq!(get(r#"flightdeck_events_ingested_total{type="task:progress"}"#), 1.0);
    assert_eq!(get(r#"flightdeck_events_ingested_total{type="agent:heartbeat"}"#), 2.0);
    assert_eq!(get("flightdeck_commit_events_count"), 3.0, "three group commits");
    assert_eq!(get("flightdeck_commit_events_sum"), 4.0);
    assert_eq!(get("flightdeck_connections"), 2.0);
    assert_eq!(get(r#"flightdeck_subscriptions{topic="board"}"#), 2.0);
    assert_eq!(get(r#"flightdeck_followers{state="live"}"#), 2.0);
    assert_eq!(get("flightdeck_resumes_total"), 1.0);
    assert_eq!(get("flightdeck_replays_total"), 1.0);
    assert!(get("flightdeck_fanout_seconds_count") >= 2.0, "two live frames written");
    assert_eq!(get(r#"flightdeck_refusals_total{reason="unauthorized"}"#), 1.0, "the bad token");
    assert_eq!(get(r#"flightdeck_refusals_total{reason="bad_json"}"#), 1.0);
    assert_eq!(get(r#"flightdeck_refusals_total{reason="invalid_event"}"#), 1.0);
    assert_eq!(get(r#"flightdeck_refusals_total{reason="forbidden"}"#), 1.0, "the viewer's scrape");
    assert!(page.contains("# HELP flightdeck_fanout_seconds"), "described");
}

// Multi-threaded: the test thread waits on the child process while the server answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_posts_one_event_from_a_shell_and_fails_with_the_servers_reason() {
    let server = TestServer::start().await;
    let emit = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .arg("emit")
            .args(args)
            .env("FLIGHTDECK_URL", server.http(""))
            .env("FLIGHTDECK_TOKEN", TOKEN)
            .output()
            .expect("the binary runs")
    };
    let created = emit(&["task:created", "--id", "e1", "--title", "From a shell"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert_eq!(String::from_utf8_lossy(&created.stdout).trim(), "1");
    let progressed = emit(&["task:progress", "--id", "e1", "--progress", "60", "--message", "halfway"]);
    assert!(progressed.status.success(), "{}", String::from_utf8_lossy(&progressed.stderr));
    let task = server.board().await.tasks.into_iter().find(|t| t.id == "e1").expect("the task");
    assert_eq!((task.title.as_str(), task.progress), ("From a shell", 60));

    let refused = emit(&["task:progress", "--id", "nope", "--progress", "10"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("422") && stderr.contains("nope"), "the server's reason: {stderr}");
    let unknown = emit(&["task:frobnicated", "--id", "e1"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("task:frobnicated"));
    assert_eq!(server.head().await, 2, "nothing else was stored");
}

#[tokio::test]
async fn logs_can_be_json_lines() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--token", TOKEN])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("json.db").display()))
        .env("FLIGHTDECK_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    // Read its log as it is written, until the server says it listens (however loaded the machine).
    let stdout = child.stdout.take().unwrap();
    let (lines, logged) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut logs = Vec::new();
    let listening = loop {
        let line = logged.recv_timeout(Duration::from_secs(60)).expect("the server logs that it listens");
        if !line.starts_with('{') {
            continue;
        }
        let log: serde_json::Value = serde_json::from_str(&line).expect("each log line is one JSON object");
        logs.push(log.clone());
        if log["fields"]["message"] == "flightdeck is listening" {
            break log;
        }
    };
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(listening["level"], "INFO");
    assert_eq!(listening["fields"]["addr"], format!("127.0.0.1:{port}"));
    assert!(logs.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()), "{logs:?}");
}

/// The site's files go out gzipped where a `.gz` lies beside them, to browsers that take gzip, and
/// as they are to those that do not; no token is needed for them. Those named by their content
/// may be kept for good; others are checked again on each use.
#[tokio::test]
async fn the_site_files_go_out_gzipped_to_browsers_that_take_it() {
    use std::io::Write;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    let wasm: Vec<u8> = (0..20_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&wasm).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(site.path().join("pkg/site.wasm"), &wasm).unwrap();
    std::fs::write(site.path().join("pkg/site.wasm.gz"), &gz).unwrap();
    let root = site.path().display().to_string();
    let server = TestServer::start_with(|c| c.site_root = Some(root)).await;

    let client = crate::common::client();
    let url = server.http("/pkg/site.wasm");
    let zipped = client.get(&url).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["content-type"], "application/wasm", "instantiateStreaming needs it");
    assert_eq!(zipped.bytes().await.unwrap(), gz);

    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["cache-control"], "no-cache", "an unhashed name may hold new content");
    assert_eq!(plain.bytes().await.unwrap(), wasm);

    let hashed = "/pkg/site.Zq3mF0b-2_xYkP9aLw1cVg.wasm";
    std::fs::write(site.path().join(&hashed[1..]), &wasm).unwrap();
    let kept = client.get(server.http(hashed)).send().await.unwrap();
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["cache-control"], "public, max-age=31536000, immutable");

    let missing = client.get(server.http("/pkg/nothing.Zq3mF0b-2_xYkP9aLw1cVg.wasm")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("cache-control").is_none(), "a miss is not kept");
}

#[tokio::test]
async fn pages_and_json_go_out_gzipped_but_the_event_stream_does_not() {
    use std::io::Read;
    let server = TestServer::start().await;
    for i in 0..200 {
        server.post(&task_created(&format!("z{i}"), "A task whose title repeats, as titles do")).await;
    }
    let client = crate::common::client();
    let get = |path: &str| client.get(server.http(path)).bearer_auth(TOKEN).header("accept-encoding", "gzip").send();
    for path in ["/", "/api/tasks"] {
        let answer = get(path).await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(answer.headers()["content-encoding"], "gzip", "{path}");
        let zipped = answer.bytes().await.unwrap();
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&zipped[..]).read_to_string(&mut plain).unwrap();
        assert!(plain.contains("z199"), "{path}");
        assert!(zipped.len() * 4 < plain.len(), "{path}: {} bytes zipped of {}", zipped.len(), plain.len());
    }
    let plain = client.get(server.http("/api/tasks")).bearer_auth(TOKEN).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none(), "only to clients that ask");
    let stream = get("/api/events/stream").await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(stream.headers().get("content-encoding").is_none(), "events are never held back in a compressor");
}
