//! `POST /api/events`: what is stored, what is refused, and that refusals store nothing.

use crate::common::{task_created, task_progress, TestServer, TOKEN};
use serde_json::json;

#[tokio::test]
async fn one_event_is_stored_and_answered_with_its_seq() {
    let server = TestServer::start().await;
    let (status, body) = server.post(&task_created("t1", "Write docs")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seqs"], json!([1]));
    assert_eq!(body["events"][0]["type"], "task:created");
    assert_eq!(body["events"][0]["topics"], json!(["board", "task:t1"]));
    let board = server.board().await;
    assert_eq!(board.seq, 1);
    assert_eq!(board.tasks[0].title, "Write docs");
}

#[tokio::test]
async fn a_task_without_id_gets_one() {
    let server = TestServer::start().await;
    let (status, body) = server.post(&json!({"type": "task:created", "payload": {"title": "No id"}})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["events"][0]["payload"]["id"].as_str().expect("generated id");
    assert!(!id.is_empty());
    let (status, _) = server.post(&task_progress(id, 10)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_batch_is_one_transaction_with_consecutive_seqs() {
    let server = TestServer::start().await;
    let batch = json!([task_created("a", "A"), task_progress("a", 30), task_created("b", "B")]);
    let (status, body) = server.post(&batch).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seqs"], json!([1, 2, 3]));
    let board = server.board().await;
    let a = board.tasks.iter().find(|t| t.id == "a").unwrap();
    assert_eq!(a.progress, 30);
}

#[tokio::test]
async fn missing_wrong_and_malformed_tokens_are_refused() {
    let server = TestServer::start().await;
    let body = task_created("t", "T").to_string().into_bytes();
    for token in [None, Some("not-a-token"), Some("")] {
        let (status, answer) = server.post_raw(body.clone(), token).await;
        assert_eq!(status, 401, "token {token:?}: {answer}");
        assert_eq!(answer["error"], "unauthorized");
    }
    let response = crate::common::client()
        .post(server.http("/api/events"))
        .header("authorization", format!("Basic {TOKEN}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(server.head().await, 0, "nothing stored");
}

#[tokio::test]
async fn bad_json_is_400_and_names_the_problem() {
    let server = TestServer::start().await;
    let (status, body) = server.post_raw(b"{\"type\": ".to_vec(), Some(TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "bad_json");
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(server.head().await, 0);
}

#[tokio::test]
async fn unknown_types_and_bad_fields_are_422_and_named() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"type": "task:teleported", "payload": {}}), "task:teleported"),
        (json!({"type": "task:created", "payload": {}}), "title"),
        (json!({"type": "task:created", "payload": {"title": "x", "owner": "y"}}), "owner"),
        (json!({"type": "task:progress", "payload": {"id": "a", "progress": 140}}), "progress"),
        (json!({"type": "task:created", "payload": {"id": "has space", "title": "x"}}), "id"),
        (json!({"payload": {}}), "type"),
        (json!("just a string"), "JSON object"),
        (json!([]), "empty"),
    ];
    for (event, named) in cases {
        let (status, body) = server.post(&event).await;
        assert_eq!(status, 422, "{event}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(named), "{event}: message `{message}` should name `{named}`");
    }
    assert_eq!(server.head().await, 0, "nothing stored");
}

#[tokio::test]
async fn a_batch_with_one_bad_event_stores_none_of_them() {
    let server = TestServer::start().await;
    let batch = json!([task_created("a", "A"), {"type": "task:nope", "payload": {}}, task_created("b", "B")]);
    let (status, body) = server.post(&batch).await;
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().starts_with("event 1:"), "{body}");
    // Valid JSON and types, but the second event refers to a task that does not exist.
    let batch = json!([task_created("a", "A"), task_progress("ghost", 10)]);
    let (status, body) = server.post(&batch).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("ghost"));
    assert_eq!(server.head().await, 0);
    assert!(server.board().await.tasks.is_empty());
}

#[tokio::test]
async fn a_duplicate_task_is_409_and_the_log_stays_gapless() {
    let server = TestServer::start().await;
    assert_eq!(server.post(&task_created("a", "A")).await.0, 201);
    let (status, body) = server.post(&task_created("a", "Again")).await;
    assert_eq!(status, 409, "{body}");
    let (_, body) = server.post(&task_progress("a", 5)).await;
    assert_eq!(body["seqs"], json!([2]), "the refused event took no seq");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 4_096).await;
    let big = json!({"type": "task:created", "payload": {"title": "x", "description": "y".repeat(10_000)}});
    let (status, _) = server.post(&big).await;
    assert_eq!(status, 413);
    assert_eq!(server.head().await, 0);
}

#[tokio::test]
async fn concurrent_requests_share_commits_and_get_distinct_seqs() {
    let server = TestServer::start().await;
    let requests = 200;
    let posts = (0..requests).map(|i| {
        let server = &server;
        async move { server.post(&task_created(&format!("t{i}"), "Concurrent")).await }
    });
    let answers = futures::future::join_all(posts).await;
    let mut seqs: Vec<u64> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["seqs"][0].as_u64().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=requests as u64).collect::<Vec<_>>(), "gapless and unique");
    let commits = server.running.state.writer.commits();
    assert!(commits < requests as u64, "{requests} requests took {commits} commits: they should be grouped");
}

#[tokio::test]
async fn an_acknowledged_event_survives_a_restart() {
    let server = TestServer::start().await;
    assert_eq!(server.post(&task_created("kept", "Survives")).await.0, 201);
    let server = server.restart().await;
    assert_eq!(server.head().await, 1);
    let board = server.board().await;
    assert_eq!(board.tasks[0].id, "kept");
    let (_, body) = server.post(&task_progress("kept", 50)).await;
    assert_eq!(body["seqs"], json!([2]));
}

#[tokio::test]
async fn the_demo_drives_tasks_to_the_end_through_the_public_api() {
    let server = TestServer::start().await;
    let config =
        flightdeck::config::DemoConfig { url: server.http(""), token: TOKEN.to_string(), pace_ms: 1, tasks: 3 };
    flightdeck::demo::run(config).await.expect("the demo runs");
    let board = server.board().await;
    let finished = board
        .tasks
        .iter()
        .filter(|t| matches!(t.status, app::domain::task::TaskStatus::Done | app::domain::task::TaskStatus::Failed))
        .count();
    assert!(finished >= 3, "{finished} finished tasks");
    assert!(board.tasks.iter().any(|t| t.pr_url.is_some()), "pull requests were opened");
    // The rest of the fleet's life went through the same paths.
    let (_, history) = server.get("/api/events?limit=1000").await;
    let kinds: std::collections::BTreeSet<&str> =
        history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in
        ["activity:logged", "deliverable:added", "session:started", "session:ended", "test:completed", "budget:updated"]
    {
        assert!(kinds.contains(kind), "the demo posts {kind}: {kinds:?}");
    }
}

#[tokio::test]
async fn the_in_process_demo_keeps_one_token_across_restarts() {
    let server = TestServer::start().await;
    let file = server.dir.path().join("demo-token");
    flightdeck::demo::spawn_in_process(&server.running, 60_000, None, &file).await.unwrap();
    let first = std::fs::read_to_string(&file).expect("the token is kept");
    let tokens = server.running.state.store.list_tokens().await.unwrap().len();
    let server = server.restart().await;
    flightdeck::demo::spawn_in_process(&server.running, 60_000, None, &file).await.unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first, "the same token is used again");
    assert_eq!(server.running.state.store.list_tokens().await.unwrap().len(), tokens, "no new token was made");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn sessions_cannot_start_twice_or_end_unknown_or_twice() {
    let server = TestServer::start().await;
    let start = json!({"type": "session:started", "payload": {"id": "s1", "kind": "subagent"}});
    let end = json!({"type": "session:ended", "payload": {"id": "s1"}});
    assert_eq!(server.post(&start).await.0, 201);
    assert_eq!(server.post(&start).await.0, 409);
    let (status, body) = server.post(&json!({"type": "session:ended", "payload": {"id": "ghost"}})).await;
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().contains("ghost"));
    assert_eq!(server.post(&end).await.0, 201);
    assert_eq!(server.post(&end).await.0, 409);
    assert_eq!(server.head().await, 2);
}

#[tokio::test]
async fn a_full_batch_is_stored_whole_across_several_statements() {
    // 1,000 tasks: their rows, events and topics (three per event) span several multi-row
    // statements, which SQLite runs joined in one query and PostgreSQL one by one.
    let server = TestServer::start().await;
    let batch: Vec<serde_json::Value> = (0..1_000).map(|i| task_created(&format!("t{i}"), "Many")).collect();
    let (status, body) = server.post(&json!(batch)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seqs"].as_array().unwrap().len(), 1_000);
    assert_eq!(body["seqs"][999], 1_000);
    assert_eq!(server.head().await, 1_000);
    let board = server.board().await;
    assert_eq!(board.tasks.len(), 1_000);
    let (_, page) = server.get("/api/events?topic=task:t777").await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["seq"], 778);
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let server = TestServer::start().await;
    let batch: Vec<serde_json::Value> = (0..1_001).map(|i| task_created(&format!("t{i}"), "Too many")).collect();
    let (status, body) = server.post(&json!(batch)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("at most 1000"));
    assert_eq!(server.head().await, 0);
}

#[tokio::test]
async fn the_batches_of_one_commit_see_each_other_and_a_refused_one_leaves_no_trace() {
    use flightdeck::store::{Batch, Once};
    let server = TestServer::start().await;
    let store = server.running.state.store.clone();
    let batch = |events: Vec<serde_json::Value>| {
        Batch::new(
            "default".into(),
            events.into_iter().map(|e| app::domain::EventBody::from_json(e).unwrap()).collect(),
        )
    };
    let once = Once { key: "k1".into(), hash: "h1".into(), not_before: "2000-01-01T00:00:00Z".into() };
    let mut keyed = batch(vec![task_created("b", "Keyed")]);
    keyed.once = Some(once.clone());
    let mut retried = batch(vec![task_created("b", "Keyed")]);
    retried.once = Some(once);
    let batches = vec![
        batch(vec![task_created("a", "First")]),
        // Refused as a whole: `a` exists, made by the batch before in this same commit.
        batch(vec![task_progress("a", 30), task_created("a", "Again")]),
        // Applied over the first batch's row, not over the refused one's progress.
        batch(vec![task_progress("a", 60)]),
        keyed,
        // The same key in the same commit: answered with the keyed batch's seq, stored once.
        retried,
    ];
    let results = store.commit(batches, "2026-12-02T00:00:00Z").await.expect("the commit goes through");
    let seqs: Vec<Result<Vec<(u64, bool)>, String>> = results
        .into_iter()
        .map(|r| r.map(|c| c.iter().map(|c| (c.seq, c.replayed)).collect()).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(seqs[0], Ok(vec![(1, false)]));
    assert!(matches!(&seqs[1], Err(m) if m.contains("already exists")), "{:?}", seqs[1]);
    assert_eq!(seqs[2], Ok(vec![(2, false)]));
    assert_eq!(seqs[3], Ok(vec![(3, false)]));
    assert_eq!(seqs[4], Ok(vec![(3, true)]));
    assert_eq!(store.head().await.unwrap(), 3);
    let board = server.board().await;
    let a = board.tasks.iter().find(|t| t.id == "a").expect("task a");
    assert_eq!((a.title.as_str(), a.progress), ("First", 60));
    assert!(board.tasks.iter().any(|t| t.id == "b"));
    // The log holds exactly the three accepted events, and a new commit goes on from there.
    let (status, body) = server.post(&task_progress("a", 70)).await;
    assert_eq!((status, body["seqs"][0].as_u64()), (201, Some(4)));
}
