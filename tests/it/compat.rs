//! The reference systems' own endpoints: what they store, what they answer, what they refuse.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{task_created, TestServer, WsClient, TOKEN};

/// seeds/000's Test 1, as written, against a fresh server.
const TEST_1: &str = r#"{
    "ticketId": "TKT-TEST-001",
    "event": "state_change",
    "state": "in_progress",
    "message": "Test broadcast"
  }"#;

async fn ticket_event(server: &TestServer, body: &str) -> (u16, Value) {
    server.post_to("/api/internal/ticket-event", body, None).await
}

#[tokio::test]
async fn a_ticket_is_created_by_its_first_event_and_follows_the_lifecycle() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["task:TKT-TEST-001"], None).await;

    let (status, answer) = ticket_event(&server, TEST_1).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["success"].clone(), answer["event"].clone()), (json!(true), json!("state_change")));
    let created = client.next_json().await;
    assert_eq!(
        (created["type"].as_str(), created["payload"]["id"].as_str()),
        (Some("task:created"), Some("TKT-TEST-001"))
    );
    let moved = client.next_json().await;
    assert_eq!(moved["payload"]["status"], "in_progress");
    assert_eq!(moved["payload"]["message"], "Test broadcast");
    assert_eq!(client.next_json().await["type"], "activity:logged", "the state change is on the timeline");

    // The rest of the document's flow: VM, progress, PR, done; a second event never re-creates.
    let steps = [
        r#"{"ticketId":"TKT-TEST-001","event":"progress","phase":"vm_assigned","message":"VM vm-42 assigned","vmId":"vm-42"}"#,
        r#"{"ticketId":"TKT-TEST-001","event":"activity","category":"agent","message":"Code generation completed","actorId":"forge-v3","metadata":{"files":3}}"#,
        r#"{"ticketId":"TKT-TEST-001","event":"pr_created","prUrl":"https://git.example.test/pr/7","branch":"tkt-001"}"#,
        r#"{"ticketId":"TKT-TEST-001","event":"state_change","state":"done","phase":"completed"}"#,
    ];
    for step in steps {
        let (status, answer) = ticket_event(&server, step).await;
        assert_eq!(status, 200, "{step}: {answer}");
    }
    let board = server.board().await;
    let task = board.tasks.iter().find(|t| t.id == "TKT-TEST-001").expect("the ticket is a task");
    assert_eq!(board.tasks.len(), 1);
    assert_eq!(task.status.as_str(), "done");
    assert_eq!(task.vm_id.as_deref(), Some("vm-42"));
    assert_eq!(
        (task.pr_url.as_deref(), task.branch.as_deref()),
        (Some("https://git.example.test/pr/7"), Some("tkt-001"))
    );

    let (_, activities) = server.get("/api/tasks/TKT-TEST-001/activities").await;
    let categories: Vec<&str> =
        activities.as_array().unwrap().iter().map(|a| a["activity_type"].as_str().unwrap()).collect();
    assert_eq!(categories, vec!["state", "git", "agent", "state"], "newest first: {activities}");
    assert_eq!(activities[2]["agent_id"], "forge-v3");
    assert_eq!(activities[2]["metadata"], json!({"files": 3}));
}

#[tokio::test]
async fn a_failed_ticket_keeps_its_error() {
    let server = TestServer::start().await;
    let body = r#"{"ticketId":"TKT-2","event":"state_change","state":"failed","error":"VM boot timed out"}"#;
    assert_eq!(ticket_event(&server, body).await.0, 200);
    let task = server.board().await.tasks.pop().unwrap();
    let error = task.error.expect("an error");
    assert_eq!((error.message.as_str(), error.group()), ("VM boot timed out", "failed"));
}

#[tokio::test]
async fn bad_ticket_events_are_refused_and_store_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (r#"{"ticketId":"T1","event":"state_change","state":"exploded"}"#, 422, "state"),
        (r#"{"ticketId":"T1","event":"teleport"}"#, 422, "event"),
        (r#"{"event":"progress","phase":"x"}"#, 422, "ticketId"),
        (r#"{"ticketId":"bad id","event":"progress","phase":"x"}"#, 422, "ticketId"),
        (r#"{"ticketId":"T1","event":"pr_created"}"#, 422, "prUrl"),
        (r#"{"ticketId":"T1","event":"activity","category":"git"}"#, 422, "message"),
        (r#"{"ticketId":"T1","event":"progress","progress":140}"#, 422, "progress"),
        (r#"{"ticketId":"T1","event":"state_change","state":7}"#, 422, "state"),
        (r#"{"ticketId":"T1","#, 400, "JSON"),
    ];
    for (body, status, names) in cases {
        let (got, answer) = ticket_event(&server, body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap_or_default().contains(names), "{body}: {answer}");
    }
    assert_eq!(server.head().await, 0, "nothing was stored");
    let anonymous =
        crate::common::client().post(server.http("/api/internal/ticket-event")).body(TEST_1).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn mission_control_success_criteria_through_its_own_api() {
    let server = TestServer::start().await;
    // 1. A task in the inbox (the document's client sends no content type).
    let (status, task) = server.call(Method::POST, "/api/tasks", Some(&json!({"title": "Build a test page"}))).await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().unwrap().to_string();
    assert_eq!(task["status"], "inbox");
    let (_, inbox) = server.get("/api/tasks?status=inbox").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);

    // 2–3. Charlie triages, assigns and spawns a sub-agent.
    let activity = json!({"activity_type": "updated", "message": "Task triaged and assigned to Developer agent", "agent_id": "charlie"});
    assert_eq!(server.call(Method::POST, &format!("/api/tasks/{id}/activities"), Some(&activity)).await.0, 201);
    let (status, patched) =
        server.call(Method::PATCH, &format!("/api/tasks/{id}"), Some(&json!({"status": "assigned"}))).await;
    assert_eq!((status, patched["status"].as_str()), (200, Some("assigned")));
    let sub = json!({"openclaw_session_id": "agent:dev:sub-1", "agent_name": "Developer Sub-Agent"});
    let (status, session) = server.call(Method::POST, &format!("/api/tasks/{id}/subagent"), Some(&sub)).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(
        (session["openclaw_session_id"].as_str(), session["status"].as_str()),
        (Some("agent:dev:sub-1"), Some("active"))
    );
    assert_eq!(server.get("/api/tasks?status=assigned").await.1.as_array().unwrap().len(), 1);

    // 4–5. Activities and a deliverable.
    for (kind, message) in
        [("spawned", "Spawned sub-agent for task execution"), ("file_created", "Created file: test-page.html")]
    {
        let body = json!({"activity_type": kind, "message": message, "metadata": {"session_id": "agent:dev:sub-1"}});
        assert_eq!(server.call(Method::POST, &format!("/api/tasks/{id}/activities"), Some(&body)).await.0, 201);
    }
    let deliverable = json!({"deliverable_type": "file", "title": "Test Page",
        "path": "~/Documents/Shared/mission-control/test-page.html", "description": "HTML test page"});
    let (status, added) = server.call(Method::POST, &format!("/api/tasks/{id}/deliverables"), Some(&deliverable)).await;
    assert_eq!((status, added["deliverable_type"].as_str()), (201, Some("file")));
    let (status, ended) = server
        .call(
            Method::POST,
            &format!("/api/tasks/{id}/subagent/agent:dev:sub-1/complete"),
            Some(&json!({"summary": "done in 20 s"})),
        )
        .await;
    assert_eq!((status, ended["status"].as_str()), (200, Some("completed")), "{ended}");

    // 6. Review.
    assert_eq!(
        server.call(Method::PATCH, &format!("/api/tasks/{id}"), Some(&json!({"status": "review"}))).await.0,
        200
    );
    let (_, activities) = server.get(&format!("/api/tasks/{id}/activities")).await;
    let messages: Vec<&str> = activities.as_array().unwrap().iter().map(|a| a["message"].as_str().unwrap()).collect();
    assert_eq!(messages[0], "Created file: test-page.html", "newest first");
    assert_eq!(messages.len(), 3);
    let (_, deliverables) = server.get(&format!("/api/tasks/{id}/deliverables")).await;
    assert_eq!(deliverables[0]["href"], "/artifacts/test-page.html");
    let (_, sessions) = server.get(&format!("/api/tasks/{id}/subagent")).await;
    assert_eq!(sessions[0]["summary"], "done in 20 s");
}

#[tokio::test]
async fn mission_control_refusals_name_the_problem() {
    let server = TestServer::start().await;
    assert_eq!(server.post(&task_created("t1", "T")).await.0, 201);
    let cases: Vec<(Method, &str, Value, u16, &str)> = vec![
        (Method::POST, "/api/tasks", json!({}), 422, "title"),
        (Method::POST, "/api/tasks", json!({"title": "x", "priority": 1}), 422, "priority"),
        (Method::POST, "/api/tasks", json!({"id": "t1", "title": "again"}), 409, "t1"),
        (Method::PATCH, "/api/tasks/nope", json!({"status": "done"}), 404, "nope"),
        (Method::PATCH, "/api/tasks/t1", json!({"status": "finished"}), 422, "status"),
        (
            Method::POST,
            "/api/tasks/t1/activities",
            json!({"activity_type": "Bad Type", "message": "m"}),
            422,
            "category",
        ),
        (Method::POST, "/api/tasks/t1/activities", json!({"message": "m"}), 422, "activity_type"),
        (Method::POST, "/api/tasks/nope/activities", json!({"activity_type": "updated", "message": "m"}), 404, "nope"),
        (
            Method::POST,
            "/api/tasks/t1/deliverables",
            json!({"deliverable_type": "zip", "title": "x", "path": "p"}),
            422,
            "deliverable_type",
        ),
        (
            Method::POST,
            "/api/tasks/t1/deliverables",
            json!({"deliverable_type": "url", "title": "x", "path": "javascript:1"}),
            422,
            "path",
        ),
        (Method::POST, "/api/tasks/t1/subagent", json!({"agent_name": "dev"}), 422, "openclaw_session_id"),
        (Method::POST, "/api/tasks/t1/subagent/none/complete", json!({}), 404, "none"),
    ];
    for (method, path, body, status, names) in cases {
        let (got, answer) = server.call(method.clone(), path, Some(&body)).await;
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
        assert!(answer["message"].as_str().unwrap_or_default().contains(names), "{path} {body}: {answer}");
    }
    assert_eq!(server.get("/api/tasks?status=sideways").await.0, 422);
    assert_eq!(server.head().await, 1, "only the first task was stored");
}

/// Reads SSE `data:` lines until `n` have arrived.
async fn sse_data(mut response: reqwest::Response, n: usize) -> Vec<Value> {
    let mut text = String::new();
    let mut frames = Vec::new();
    while frames.len() < n {
        let chunk =
            tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk()).await.expect("data in time");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("readable").expect("open")));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            for line in block.lines().filter_map(|l| l.strip_prefix("data: ")) {
                frames.push(serde_json::from_str(line).expect("data is JSON"));
            }
        }
    }
    frames
}

#[tokio::test]
async fn mission_control_stream_speaks_its_event_names() {
    let server = TestServer::start().await;
    let response = crate::common::client()
        .get(server.http("/api/events/stream?format=mission-control"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.call(Method::POST, "/api/tasks", Some(&json!({"id": "m1", "title": "Stream me"}))).await;
    server.call(Method::PATCH, "/api/tasks/m1", Some(&json!({"status": "assigned"}))).await;
    server.post(&json!({"type": "agent:heartbeat", "payload": {"id": "ada"}})).await;
    let sub = json!({"openclaw_session_id": "s1", "agent_name": "Dev"});
    server.call(Method::POST, "/api/tasks/m1/subagent", Some(&sub)).await;
    server
        .call(Method::POST, "/api/tasks/m1/activities", Some(&json!({"activity_type": "spawned", "message": "go"})))
        .await;
    let d = json!({"deliverable_type": "url", "title": "Docs", "path": "https://docs.example.test"});
    server.call(Method::POST, "/api/tasks/m1/deliverables", Some(&d)).await;
    server.call(Method::POST, "/api/tasks/m1/subagent/s1/complete", Some(&json!({"summary": "ok"}))).await;

    let frames = sse_data(response, 6).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "task_created",
            "task_updated",
            "agent_spawned",
            "activity_logged",
            "deliverable_added",
            "agent_completed"
        ],
        "the heartbeat has no name there and is left out"
    );
    assert_eq!(frames[1]["payload"]["status"], "assigned", "task_updated carries the whole task");
    assert_eq!(frames[1]["payload"]["title"], "Stream me");
    assert_eq!(frames[2]["payload"], json!({"taskId": "m1", "sessionId": "s1", "agentName": "Dev"}));
    assert_eq!(frames[5]["payload"]["summary"], "ok");
    let unknown = crate::common::client()
        .get(server.http("/api/events/stream?format=xml"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
}

#[tokio::test]
async fn rooms_count_their_clients_per_workspace() {
    let server = TestServer::start().await;
    let (mut a, _) = WsClient::connect(&server).await;
    let (mut b, _) = WsClient::connect(&server).await;
    a.subscribe(&["board", "task:t1"], None).await;
    b.subscribe(&["board"], None).await;
    let (status, rooms) = server.get("/api/rooms").await;
    assert_eq!(status, 200);
    assert_eq!(rooms["rooms"], json!([{"room": "board", "clients": 2}, {"room": "task:t1", "clients": 1}]));
    b.send(&json!({"op": "unsubscribe", "topics": ["board"]})).await;
    b.next_json().await;
    let (_, rooms) = server.get("/api/rooms").await;
    assert_eq!(rooms["rooms"], json!([{"room": "board", "clients": 1}, {"room": "task:t1", "clients": 1}]));
    let other = server.token("acme", flightdeck::store::Role::Viewer).await;
    let theirs = crate::common::client().get(server.http("/api/rooms")).bearer_auth(other).send().await.unwrap();
    assert_eq!(theirs.json::<Value>().await.unwrap()["rooms"], json!([]), "another workspace sees none of them");
    drop(a);
    // The server notices the closed socket on its next read; give it a moment.
    for _ in 0..50 {
        if server.get("/api/rooms").await.1["rooms"] == json!([]) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("rooms still counted after every client left: {}", server.get("/api/rooms").await.1);
}

#[tokio::test]
async fn a_ticket_room_speaks_the_documents_frame_names_and_hears_only_its_ticket() {
    let server = TestServer::start().await;
    let (mut joined, _) = WsClient::connect(&server).await;
    joined.send(&json!({"type": "join", "room": "ticket:TKT-9"})).await;
    assert_eq!(joined.next_json().await["type"], "subscribed");
    // A client that names its room in the URL and sends nothing.
    let (mut by_url, _) = WsClient::connect_to(&format!("{}&room=ticket:TKT-9", server.ws_url())).await;
    assert_eq!(by_url.next_json().await["type"], "subscribed");

    for body in [
        r#"{"ticketId":"TKT-other","event":"state_change","state":"assigned"}"#,
        r#"{"ticketId":"TKT-9","event":"state_change","state":"in_progress","message":"go"}"#,
        r#"{"ticketId":"TKT-9","event":"progress","phase":"executing","message":"Agent generating code..."}"#,
        r#"{"ticketId":"TKT-9","event":"pr_created","prUrl":"https://git.example.test/pr/9"}"#,
    ] {
        assert_eq!(ticket_event(&server, body).await.0, 200, "{body}");
    }
    for client in [&mut joined, &mut by_url] {
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(client.next_json().await);
        }
        let kinds: Vec<&str> = seen.iter().map(|f| f["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            vec![
                "ticket:update",
                "ticket:update",
                "ticket:activity",
                "ticket:progress",
                "ticket:pr",
                "ticket:activity"
            ],
            "{seen:?}"
        );
        assert!(
            seen.iter().all(|f| f["room"] == "ticket:TKT-9" && f["data"]["ticketId"] == "TKT-9"),
            "only its ticket"
        );
        assert_eq!(seen[1]["data"]["state"], "in_progress");
        assert_eq!(seen[2]["data"]["entry"]["category"], "state");
        assert_eq!(seen[3]["data"]["phase"], "executing");
        assert_eq!(seen[4]["data"]["prUrl"], "https://git.example.test/pr/9");
        assert!(seen[4]["timestamp"].is_string());
    }
    joined.send(&json!({"op": "subscribe", "topics": ["ticket:TKT-9", "board"]})).await;
    let refused = joined.next_json().await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("bad_topic")), "{refused}");
}

#[tokio::test]
async fn mission_control_stream_leaves_out_sessions_and_entries_of_no_task() {
    let server = TestServer::start().await;
    let response = crate::common::client()
        .get(server.http("/api/events/stream?format=mission-control"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    // A coding agent's session with a sub-agent and a tool call, none of it on a task.
    let base = json!({"session_id": "cc-1", "cwd": "/w/shop", "agent_id": "a1", "agent_type": "Explore"});
    for (event, extra) in [
        ("SubagentStart", json!({})),
        ("PreToolUse", json!({"tool_name": "Grep", "tool_input": {"pattern": "x"}, "tool_use_id": "toolu_1"})),
        ("SubagentStop", json!({"last_assistant_message": "found it"})),
    ] {
        let mut body = base.clone();
        body["hook_event_name"] = json!(event);
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        assert_eq!(server.post_to("/api/feeds/claude-code", &body.to_string(), None).await.0, 204);
    }
    server.call(Method::POST, "/api/tasks", Some(&json!({"id": "m2", "title": "A task"}))).await;
    let frames = sse_data(response, 1).await;
    assert_eq!(frames[0]["type"], "task_created", "nothing of the task-less session came first: {frames:?}");
}
