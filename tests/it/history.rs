//! `GET /api/events` (history) and `GET /api/events/stream` (SSE): resumable, filtered, and
//! confined to the caller's workspace.

use std::time::Duration;

use crate::common::{task_created, task_progress, TestServer, TOKEN};
use flightdeck::store::Role;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

async fn get(server: &TestServer, path: &str, token: &str) -> (StatusCode, Value) {
    let response = Client::new().get(server.http(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn history_pages_through_the_log_by_topic() {
    let server = TestServer::start().await;
    server
        .post(&json!([task_created("a", "A"), task_created("b", "B"), task_progress("a", 10), task_progress("b", 20)]))
        .await;

    let (status, page) = get(&server, "/api/events?since=1&limit=2", TOKEN).await;
    assert_eq!(status, 200);
    let seqs: Vec<u64> = page["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!((seqs, page["next_since"].as_u64(), page["head"].as_u64()), (vec![2, 3], Some(3), Some(4)));

    let (_, only_a) = get(&server, "/api/events?topic=task:a", TOKEN).await;
    let seqs: Vec<u64> = only_a["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 3]);

    let (status, bad) = get(&server, "/api/events?topic=nope", TOKEN).await;
    assert_eq!(status, 422, "{bad}");
    let anonymous = Client::new().get(server.http("/api/events")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn history_shows_only_the_callers_workspace() {
    let server = TestServer::start().await;
    server.post(&task_created("d", "Default's")).await;
    let acme = server.token("acme", Role::Viewer).await;
    let (_, page) = get(&server, "/api/events", &acme).await;
    assert_eq!(page["events"], json!([]));
    let (status, _) = get(&server, "/api/events?topic=workspace:default", &acme).await;
    assert_eq!(status, 422, "another workspace's topic is refused");
}

/// Reads SSE until `n` events with ids have arrived; returns (event name, id, data) triples.
async fn sse_events(response: &mut Response, n: usize) -> Vec<(String, String, String)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await.expect("SSE within 5 s");
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("stream open")));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut name, mut id, mut data) = ("message".to_string(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !id.is_empty() {
                events.push((name, id, data));
            }
        }
    }
    events
}

#[tokio::test]
async fn the_stream_resumes_from_last_event_id_then_goes_live() {
    let server = TestServer::start().await;
    server.post(&json!([task_created("a", "A"), task_progress("a", 10), task_progress("a", 20)])).await;
    let mut response = Client::new()
        .get(server.http("/api/events/stream"))
        .bearer_auth(TOKEN)
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let replayed = sse_events(&mut response, 2).await;
    assert_eq!(replayed.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), vec!["2", "3"]);
    let frame: Value = serde_json::from_str(&replayed[1].2).unwrap();
    assert_eq!(frame["payload"]["progress"], 20);

    server.post(&task_progress("a", 30)).await;
    assert_eq!(sse_events(&mut response, 1).await[0].1, "4");
}

#[tokio::test]
async fn the_stream_is_confined_to_the_workspace_and_resets_when_too_old() {
    let server = TestServer::start_with(|c| {
        c.retain_events = 5;
        c.prune_every_ms = 20;
    })
    .await;
    let acme = server.token("acme", Role::Viewer).await;
    let acme_ingest = server.token("acme", Role::Ingest).await;
    let mut acme_stream =
        Client::new().get(server.http("/api/events/stream?since=0")).bearer_auth(&acme).send().await.unwrap();
    server.post(&task_created("d", "Default's")).await;
    let body = task_created("x", "Acme's").to_string().into_bytes();
    server.post_raw(body, Some(&acme_ingest)).await;
    let seen = sse_events(&mut acme_stream, 1).await;
    assert_eq!(seen[0].1, "2", "default's event 1 was skipped");
    assert!(seen[0].2.contains("Acme's"));

    for p in 0..20 {
        server.post(&task_progress("d", p)).await;
    }
    server.until_pruned("default", 15).await;
    let mut old = Client::new().get(server.http("/api/events/stream?since=1")).bearer_auth(TOKEN).send().await.unwrap();
    let first = sse_events(&mut old, 1).await;
    assert_eq!(first[0].0, "reset");

    let refused = Client::new()
        .get(server.http("/api/events/stream?topic=workspace:default"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
}

#[tokio::test]
async fn streams_count_toward_the_per_token_connection_limit() {
    let server = TestServer::start_with(|c| c.max_connections_per_token = 1).await;
    let open = Client::new().get(server.http("/api/events/stream")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(open.status(), 200);
    let refused = Client::new().get(server.http("/api/events/stream")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    drop(open);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = Client::new().get(server.http("/api/events/stream")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(again.status(), 200, "a closed stream frees its slot");
}

#[tokio::test]
async fn revoking_a_token_ends_its_stream() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 200).await;
    let token = server.token("default", Role::Viewer).await;
    let mut stream = Client::new().get(server.http("/api/events/stream")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let id = server.running.state.store.list_tokens().await.unwrap().into_iter().last().unwrap().record.id;
    server.running.state.store.revoke_token(&id).await.unwrap();
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream ended after revocation");
}

#[tokio::test]
async fn topic_pages_over_several_topics_are_whole_and_in_order() {
    let server = TestServer::start().await;
    for i in 0..20 {
        server.post(&task_created(&format!("t{i}"), "T")).await;
        server.post(&serde_json::json!({"type": "agent:heartbeat", "payload": {"id": format!("a{i}")}})).await;
        server.post(&serde_json::json!({"type": "observability:event", "payload": {"message": "noise"}})).await;
    }
    let store = &server.running.state.store;
    let head = store.head().await.unwrap();
    let (mut after, mut seen) = (0, Vec::new());
    loop {
        let query = flightdeck::store::LogQuery {
            workspace: "default".into(),
            after,
            upto: head,
            topics: Some(vec!["board".into(), "agents".into()]),
            limit: 7,
            newest: false,
            max_bytes: None,
        };
        let page = store.read_log(&query).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        after = *last;
        seen.extend(page.iter().map(|(seq, _)| *seq));
    }
    let expected: Vec<u64> = (1..=head).filter(|seq| seq % 3 != 0).collect();
    assert_eq!(seen, expected, "every board and agents event, once, in order; none of the noise");
}
