//! The domain through the canonical API: what each entity's events store and where they are heard.

use serde_json::{json, Value};

use crate::common::{task_created, TestServer, WsClient};

async fn post_ok(server: &TestServer, body: Value) -> Value {
    let (status, answer) = server.post(&body).await;
    assert_eq!(status, 201, "{body}: {answer}");
    answer["events"][0].clone()
}

#[tokio::test]
async fn session_events_reach_their_task_and_carry_its_id() {
    let server = TestServer::start().await;
    post_ok(&server, task_created("t1", "Work")).await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["task:t1"], None).await;
    post_ok(&server, json!({"type": "session:started", "payload": {"id": "s1", "kind": "subagent", "task_id": "t1", "agent": "ada"}})).await;
    post_ok(
        &server,
        json!({"type": "session:iteration", "payload": {"id": "s1", "iteration": 2, "message": "retrying"}}),
    )
    .await;
    post_ok(&server, json!({"type": "session:heartbeat", "payload": {"id": "s1", "progress": 40}})).await;
    post_ok(
        &server,
        json!({"type": "session:ended", "payload": {"id": "s1", "outcome": "completed", "summary": "all green"}}),
    )
    .await;
    let kinds: Vec<Value> = [0, 1, 2, 3].iter().map(|_| Value::Null).collect();
    let mut frames = Vec::new();
    for _ in kinds {
        frames.push(client.next_json().await);
    }
    let types: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["session:started", "session:iteration", "session:heartbeat", "session:ended"]);
    assert_eq!(frames[3]["payload"]["task_id"], "t1", "filled in from the session");
    assert_eq!(frames[3]["payload"]["agent"], "ada");
    assert_eq!(frames[3]["payload"]["summary"], "all green", "the summary is kept");
    assert_eq!(frames[0]["timestamp"], frames[0]["ts"], "every frame carries timestamp");
    let (status, _) =
        server.post(&json!({"type": "session:updated", "payload": {"id": "s1", "message": "late"}})).await;
    assert_eq!(status, 409, "an ended session takes no more updates");
}

#[tokio::test]
async fn activities_deliverables_tests_and_budget_belong_to_a_task() {
    let server = TestServer::start().await;
    post_ok(&server, task_created("t1", "Work")).await;
    let activity = post_ok(&server, json!({"type": "activity:logged",
        "payload": {"task_id": "t1", "category": "git", "message": "pushed", "actor": "ada", "metadata": {"sha": "abc"}}})).await;
    assert_eq!(activity["payload"]["id"], format!("act-{}", activity["seq"]), "an id is generated from the seq");
    post_ok(
        &server,
        json!({"type": "deliverable:added",
        "payload": {"task_id": "t1", "kind": "artifact", "title": "Report", "path": "reports/r.pdf"}}),
    )
    .await;
    post_ok(&server, json!({"type": "test:started", "payload": {"id": "run1", "name": "unit", "task_id": "t1"}})).await;
    let done =
        post_ok(&server, json!({"type": "test:completed", "payload": {"id": "run1", "passed": 10, "failed": 1}})).await;
    assert_eq!(done["topics"], json!(["task:t1"]));
    post_ok(&server, json!({"type": "budget:updated",
        "payload": {"spent_usd": 1.25, "limit_usd": 10.0, "input_tokens": 1200, "output_tokens": 300, "task_id": "t1"}})).await;
    post_ok(
        &server,
        json!({"type": "observability:event", "payload": {"message": "scheduler tick", "level": "debug"}}),
    )
    .await;
    let task = server.board().await.tasks.pop().unwrap();
    assert_eq!((task.usage.input_tokens, task.usage.output_tokens, task.usage.cost_usd), (1200, 300, 1.25));

    let refusals = [
        (
            json!({"type": "activity:logged", "payload": {"task_id": "nope", "category": "git", "message": "m"}}),
            422,
            "nope",
        ),
        (json!({"type": "test:completed", "payload": {"id": "run1", "passed": 1, "failed": 0}}), 409, "run1"),
        (
            json!({"type": "deliverable:added", "payload": {"task_id": "t1", "kind": "url", "title": "x", "path": "ftp://x"}}),
            422,
            "path",
        ),
        (
            json!({"type": "task:failed", "payload": {"id": "t1", "error": {"message": "m", "kind": "Bad Kind"}}}),
            422,
            "error.kind",
        ),
        (json!({"type": "task:created", "payload": {"title": "x", "status": "sideways"}}), 422, "status"),
        (json!({"type": "task:progress", "payload": {"id": "t1"}}), 422, "progress"),
    ];
    let head = server.head().await;
    for (body, status, names) in refusals {
        let (got, answer) = server.post(&body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(names), "{body}: {answer}");
    }
    assert_eq!(server.head().await, head, "refusals store nothing");
}

#[tokio::test]
async fn the_errors_summary_groups_failed_tasks_by_kind() {
    let server = TestServer::start().await;
    for (id, kind) in [("a", "timeout"), ("b", "timeout"), ("c", "test_failure")] {
        post_ok(&server, task_created(id, id)).await;
        post_ok(
            &server,
            json!({"type": "task:failed", "payload": {"id": id, "error": {"message": "boom", "kind": kind}}}),
        )
        .await;
    }
    post_ok(&server, task_created("d", "d")).await;
    post_ok(&server, json!({"type": "task:failed", "payload": {"id": "d", "error": "plain"}})).await;
    let (status, summary) = server.get("/api/errors/summary").await;
    assert_eq!(status, 200);
    assert_eq!(summary["total"], 4);
    let groups: Vec<(String, u64)> = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["kind"].as_str().unwrap().to_string(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, vec![("timeout".into(), 2), ("test_failure".into(), 1), ("unclassified".into(), 1)]);
}
