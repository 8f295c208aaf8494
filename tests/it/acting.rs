//! Operators act: guarded writes (`if_seq`, `If-Match`) on every path, the board's actions as the
//! signed-in person (who is recorded), all-or-nothing bulk, undo, cancel and retry, roles, refusals
//! of other sites, and agents hearing what operators did.

use app::domain::{activity::Activity, entity::Query, task::TaskStatus};
use flightdeck::store::Role;
use reqwest::{header, redirect::Policy, StatusCode};
use serde_json::{json, Value};

use crate::common::{client, task_created, TestServer, WsClient, TOKEN};

/// Calls a board action the way the page does: a form body, the session cookie, and the name the
/// person signed in with. Answers the status and the body (the seqs, or the refusal's words).
async fn act(server: &TestServer, token: &str, action: &str, form: &[(&str, String)]) -> (u16, String) {
    let response = client()
        .post(server.http(&format!("/api/actions/{action}")))
        .header(header::COOKIE, format!("fd_token={token}; fd_name=Dana"))
        .form(form)
        .send()
        .await
        .expect("the action answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// A move of one task, as the card's menu posts it.
fn move_form(id: &str, seq: u64, status: &str) -> Vec<(&'static str, String)> {
    vec![("moves[0][id]", id.into()), ("moves[0][seq]", seq.to_string()), ("moves[0][status]", status.into())]
}

async fn task(server: &TestServer, id: &str) -> Value {
    let (status, task) = server.get(&format!("/api/tasks/{id}")).await;
    assert_eq!(status, 200, "{task}");
    task
}

async fn timeline(server: &TestServer, id: &str) -> Vec<String> {
    server.rows::<Activity>(Query::children::<Activity>(id).newest(100)).await.into_iter().map(|a| a.message).collect()
}

#[tokio::test]
async fn an_event_guarded_by_a_stale_seq_is_refused_with_what_changed_it() {
    let server = TestServer::start().await;
    server.post(&task_created("t1", "Guarded")).await;
    let seen = task(&server, "t1").await["last_seq"].as_u64().unwrap();
    let first = json!({"type": "task:updated", "payload": {"id": "t1", "status": "review"}, "if_seq": seen});
    let (status, answer) = server.post(&first).await;
    assert_eq!(status, 201, "{answer}");
    let moved = answer["seqs"][0].as_u64().unwrap();

    // A second writer that saw the same copy: refused, told the seq now and the event that moved it.
    let head = server.head().await;
    let second = json!([
        {"type": "activity:logged", "payload": {"task_id": "t1", "category": "agent", "message": "claiming"}},
        {"type": "task:updated", "payload": {"id": "t1", "status": "in_progress"}, "if_seq": seen},
    ]);
    let (status, refused) = server.post(&second).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"], "stale");
    assert_eq!(refused["current_seq"], moved);
    assert_eq!(
        (refused["changed_by"]["seq"].as_u64(), refused["changed_by"]["type"].as_str()),
        (Some(moved), Some("task:updated"))
    );
    assert!(refused["message"].as_str().unwrap().contains("nothing was stored"), "{refused}");
    assert_eq!(server.head().await, head, "nothing of the batch was stored");
    assert_eq!(task(&server, "t1").await["status"], "review");

    // With the seq it has now, it goes through.
    let third = json!({"type": "task:updated", "payload": {"id": "t1", "status": "in_progress"}, "if_seq": moved});
    assert_eq!(server.post(&third).await.0, 201);

    let (status, bad) = server.post(&json!({"type": "task:updated", "payload": {"id": "t1"}, "if_seq": "x"})).await;
    assert_eq!(status, 422, "{bad}");
    let (status, bad) = server.post(&json!({"type": "agent:heartbeat", "payload": {"id": "ada"}, "if_seq": 1})).await;
    assert_eq!(status, 409, "an event about no task cannot be guarded by one: {bad}");
}

#[tokio::test]
async fn patch_takes_the_tasks_seq_in_if_match() {
    let server = TestServer::start().await;
    server.post(&task_created("t1", "Etagged")).await;
    let response = client().get(server.http("/api/tasks/t1")).bearer_auth(TOKEN).send().await.unwrap();
    let etag = response.headers()[header::ETAG].to_str().unwrap().to_string();
    let seq: u64 = etag.trim_matches('"').parse().unwrap();
    let patch = |if_match: &str| {
        client()
            .patch(server.http("/api/tasks/t1"))
            .bearer_auth(TOKEN)
            .header(header::IF_MATCH, if_match.to_string())
            .body(r#"{"status": "assigned", "assignee": "ada"}"#)
            .send()
    };
    let ok = patch(&etag).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let stale = patch(&seq.to_string()).await.unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["current_seq"], task(&server, "t1").await["last_seq"]);
    let bad = patch("yesterday").await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_board_acts_as_the_signed_in_person_and_refuses_stale_moves() {
    let server = TestServer::start().await;
    let (mut agent, _) = WsClient::connect(&server).await;
    agent.subscribe(&["agent:ada"], None).await;
    let form = [
        ("title", "Add login page".to_string()),
        ("description", "With a password field".to_string()),
        ("labels", "web, auth".to_string()),
        ("assignee", "ada".to_string()),
    ];
    let (status, answer) = act(&server, TOKEN, "create_task", &form).await;
    assert_eq!(status, 200, "{answer}");
    let created: Vec<u64> = serde_json::from_str(&answer).unwrap();
    let id = format!("task-{}", created[0]);
    let stored = task(&server, &id).await;
    assert_eq!((stored["status"].as_str(), stored["assignee"].as_str()), (Some("assigned"), Some("ada")));
    assert_eq!(stored["labels"], json!(["web", "auth"]));

    // The agent hears of it on its topic, and finds it among its assigned work.
    let heard = agent.next_json().await;
    assert_eq!((heard["type"].as_str(), heard["by"].as_str()), (Some("task:created"), Some("Dana")), "{heard}");
    let (_, mine) = server.get("/api/tasks?assignee=ada&status=assigned").await;
    assert_eq!(mine.as_array().map(|t| t.len()), Some(1), "{mine}");
    let (_, theirs) = server.get("/api/tasks?assignee=grace&status=assigned").await;
    assert_eq!(theirs, json!([]));

    let (status, answer) = act(&server, TOKEN, "move_tasks", &move_form(&id, created[0], "review")).await;
    assert_eq!(status, 200, "{answer}");
    let (_, history) = server.get(&format!("/api/events?since={}", created[0])).await;
    let frame = &history["events"][0];
    assert_eq!((frame["type"].as_str(), frame["by"].as_str()), (Some("task:updated"), Some("Dana")), "{history}");
    assert!(timeline(&server, &id).await.contains(&"Moved to Review by Dana".to_string()));

    // Another page that still showed the card at its first seq: refused, told who moved it.
    let head = server.head().await;
    let (status, refused) = act(&server, TOKEN, "move_tasks", &move_form(&id, created[0], "done")).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("task:updated by Dana"), "{refused}");
    assert_eq!(server.head().await, head, "nothing was stored");
    assert_eq!(task(&server, &id).await["status"], "review");
}

#[tokio::test]
async fn a_bulk_action_is_one_transaction() {
    let server = TestServer::start().await;
    for id in ["b1", "b2", "b3"] {
        server.post(&task_created(id, id)).await;
    }
    let seqs: Vec<u64> = {
        let mut seqs = vec![];
        for id in ["b1", "b2", "b3"] {
            seqs.push(task(&server, id).await["last_seq"].as_u64().unwrap());
        }
        seqs
    };
    // b3 moves under the operator's feet: the whole bulk move is refused.
    server.post(&json!({"type": "task:assigned", "payload": {"id": "b3", "agent": "ada"}})).await;
    let targets = |seqs: &[u64]| -> Vec<(String, String)> {
        ["b1", "b2", "b3"]
            .iter()
            .zip(seqs)
            .enumerate()
            .flat_map(|(i, (id, seq))| {
                [(format!("targets[{i}][id]"), id.to_string()), (format!("targets[{i}][seq]"), seq.to_string())]
            })
            .collect()
    };
    let form = |seqs: &[u64]| {
        let mut form: Vec<(String, String)> = targets(seqs);
        form.push(("reason".into(), "wrong repo".into()));
        form
    };
    let owned = form(&seqs);
    let as_refs: Vec<(&str, String)> = owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (status, refused) = act(&server, TOKEN, "cancel_tasks", &as_refs).await;
    assert_eq!(status, 409, "{refused}");
    for id in ["b1", "b2"] {
        assert_eq!(task(&server, id).await["status"], "inbox", "{id} is untouched");
    }

    let fresh = vec![seqs[0], seqs[1], task(&server, "b3").await["last_seq"].as_u64().unwrap()];
    let owned = form(&fresh);
    let as_refs: Vec<(&str, String)> = owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (status, answer) = act(&server, TOKEN, "cancel_tasks", &as_refs).await;
    assert_eq!(status, 200, "{answer}");
    let cancels: Vec<u64> = serde_json::from_str(&answer).unwrap();
    assert_eq!(cancels.len(), 3);
    for id in ["b1", "b2", "b3"] {
        let cancelled = task(&server, id).await;
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["cancelled"], json!({"by": "Dana", "reason": "wrong repo"}));
    }

    // Undo is a move back, guarded by the cancel's own seq: once.
    let (status, answer) = act(&server, TOKEN, "move_tasks", &move_form("b3", cancels[2], "assigned")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(task(&server, "b3").await["status"], "assigned");
    assert_eq!(task(&server, "b3").await["cancelled"], Value::Null);
    let (status, _) = act(&server, TOKEN, "move_tasks", &move_form("b3", cancels[2], "assigned")).await;
    assert_eq!(status, 409, "an undo of something changed since is refused");
}

#[tokio::test]
async fn a_retry_is_the_next_attempt_and_keeps_the_earlier_error() {
    let server = TestServer::start().await;
    server.post(&task_created("r1", "Flaky")).await;
    server.post(&json!({"type": "task:assigned", "payload": {"id": "r1", "agent": "ada"}})).await;
    server.post(&json!({"type": "task:failed", "payload": {"id": "r1", "error": "tests red"}})).await;
    let seq = task(&server, "r1").await["last_seq"].as_u64().unwrap();
    let form = [("id", "r1".to_string()), ("seq", seq.to_string()), ("assignee", String::new())];
    let (status, answer) = act(&server, TOKEN, "retry_task", &form).await;
    assert_eq!(status, 200, "{answer}");
    let retried = task(&server, "r1").await;
    assert_eq!((retried["status"].as_str(), retried["attempt"].as_u64()), (Some("inbox"), Some(2)));
    assert_eq!(retried["error"], Value::Null);
    let entries = timeline(&server, "r1").await;
    assert!(entries.contains(&"Failed: tests red".to_string()), "{entries:?}");
    assert!(entries.contains(&"Retried: back to the inbox by Dana".to_string()), "{entries:?}");

    // Only failed or cancelled work is retried; finished work cannot be cancelled.
    let seq = task(&server, "r1").await["last_seq"].as_u64().unwrap();
    let form = [("id", "r1".to_string()), ("seq", seq.to_string()), ("assignee", "ada".to_string())];
    let (status, refused) = act(&server, TOKEN, "retry_task", &form).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("only a failed or cancelled task"), "{refused}");
    server.post(&json!({"type": "task:completed", "payload": {"id": "r1"}})).await;
    let (status, refused) = server.post(&json!({"type": "task:cancelled", "payload": {"id": "r1"}})).await;
    assert_eq!(status, 409, "{refused}");
}

#[tokio::test]
async fn a_viewer_cannot_act_and_other_sites_cannot_post_forms() {
    let server = TestServer::start().await;
    let viewer = server.token("default", Role::Viewer).await;
    let head = server.head().await;
    let form = [
        ("title", "Sneaky".to_string()),
        ("description", String::new()),
        ("labels", String::new()),
        ("assignee", String::new()),
    ];
    let (status, refused) = act(&server, &viewer, "create_task", &form).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.contains("viewer"), "{refused}");

    // A form another site posts with the person's cookie: the browser says so, and it is refused.
    for (name, value) in [("sec-fetch-site", "cross-site"), ("origin", "http://evil.test")] {
        let forged = client()
            .post(server.http("/api/actions/create_task"))
            .header(header::COOKIE, format!("fd_token={TOKEN}"))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{name}");
        let login = client()
            .post(server.http("/login"))
            .header(name, value)
            .form(&[("token", TOKEN), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::FORBIDDEN, "a login from another site ({name})");
    }
    assert_eq!(server.head().await, head, "nothing was stored");
}

#[tokio::test]
async fn without_javascript_a_form_post_acts_and_returns_to_the_board() {
    let server = TestServer::start().await;
    let browser = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let form = [("title", "From a plain form"), ("description", ""), ("labels", ""), ("assignee", "")];
    let response = browser
        .post(server.http("/api/actions/create_task"))
        .header(header::COOKIE, format!("fd_token={TOKEN}"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, server.http("/"))
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(back.starts_with(&server.http("/")) && !back.contains("__err"), "back to the board: {back}");
    let tasks = server.board().await.tasks;
    assert_eq!((tasks.len(), tasks[0].status), (1, TaskStatus::Inbox));
    assert_eq!(tasks[0].title, "From a plain form");
}
