//! Drop-in feeds: a whole recorded Claude Code session posted hook by hook, the observability
//! script's body, a Codex notification through `flightdeck notify codex`, the hooks that
//! `flightdeck hooks claude-code` prints run as Claude Code would run them, and the refusals.

use std::{io::Write, process::Stdio};

use app::domain::{
    activity::{session_parent, Activity, ActivityStatus},
    agent::{Agent, AgentState},
    approval::{Approval, ApprovalStatus},
    entity::Query,
    session::{Session, SessionKind, SessionOutcome},
    task::{Task, TaskStatus},
};
use flightdeck::store::Role;
use serde_json::{json, Value};

use crate::common::{TestServer, WsClient, TOKEN};

const SESSION: &str = "3f6c2a9e-8d41-4b7a-9c0e-5b2d7e1f4a60";
const SUBAGENT: &str = "3f6c2a9e-8d41-4b7a-9c0e-5b2d7e1f4a60:a91c07e4";

fn recorded_session() -> Vec<String> {
    let path = format!("{}/tests/fixtures/claude-code/session.jsonl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("the recording exists").lines().map(str::to_string).collect()
}

/// Posts a body to a feed as Claude Code's http hook does; returns the status and the raw answer.
async fn hook(server: &TestServer, path: &str, body: &str, token: Option<&str>) -> (u16, String) {
    let mut request = crate::common::client()
        .post(server.http(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

fn activity<'a>(entries: &'a [Activity], id: &str) -> &'a Activity {
    entries.iter().find(|a| a.id == id).unwrap_or_else(|| panic!("no activity `{id}` in {entries:#?}"))
}

#[tokio::test]
async fn a_recorded_claude_code_session_becomes_sessions_tool_calls_a_task_and_an_approval() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&[&format!("session:{SESSION}")], None).await;
    // The permission request is held until the terminal's answer shows (the tool ran): then it is
    // released with no decision.
    let mut held = vec![];
    for line in recorded_session() {
        if line.contains(r#""hook_event_name":"PermissionRequest""#) {
            held.push(server.held_hook(&serde_json::from_str(&line).unwrap()).await.1);
            continue;
        }
        let (status, answer) = hook(&server, "/api/feeds/claude-code", &line, Some(TOKEN)).await;
        assert_eq!((status, answer.as_str()), (204, ""), "{line}");
    }
    assert_eq!(held.len(), 1);
    for answer in held {
        assert_eq!(answer.await.unwrap(), (204, String::new()), "released with no decision");
    }

    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    let main = sessions.iter().find(|s| s.id == SESSION).expect("the session");
    assert_eq!((main.kind, main.agent.as_deref()), (SessionKind::Persistent, Some("claude-code:shop")));
    assert!(!main.is_active(), "SessionEnd ended it");
    assert!(main.summary.as_deref().unwrap().contains("prompt_input_exit"));
    let sub = sessions.iter().find(|s| s.id == SUBAGENT).expect("the sub-agent's session");
    assert_eq!((sub.kind, sub.parent_id.as_deref()), (SessionKind::Subagent, Some(SESSION)));
    assert_eq!(sub.outcome, Some(SessionOutcome::Completed));
    assert!(sub.summary.as_deref().unwrap().contains("Makefile"));

    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(SESSION)).newest(100)).await;
    let read = activity(&entries, "tool-toolu_01HkR7mQ2bXv");
    assert_eq!(read.message, "Read: /home/ann/src/shop/scripts/deploy.sh");
    assert_eq!(read.status, Some(ActivityStatus::Succeeded));
    assert!(read.duration_ms.is_some(), "a duration from the two hooks when the hook gives none");
    assert!(read.metadata.as_ref().unwrap()["tool_response"]["file"]["numLines"] == 3, "{read:?}");
    let tests = activity(&entries, "tool-toolu_01Jd8sW3nPq4");
    assert_eq!((tests.status, tests.message.as_str()), (Some(ActivityStatus::Failed), "Bash: npm test"));
    assert!(tests.metadata.as_ref().unwrap()["error"].as_str().unwrap().contains("2 failing"));
    let deploy = activity(&entries, "tool-toolu_01Pq7XyB4kLs");
    assert_eq!((deploy.status, deploy.duration_ms), (Some(ActivityStatus::Succeeded), Some(1830)));
    let categories: Vec<&str> = entries.iter().map(|a| a.category.as_str()).collect();
    for expected in ["session", "prompt", "spawned", "notification", "pre_compact", "turn"] {
        assert!(categories.contains(&expected), "{expected} in {categories:?}");
    }
    let compact = entries.iter().find(|a| a.category == "pre_compact").unwrap();
    assert_eq!(
        compact.metadata.as_ref().unwrap()["custom_instructions"],
        "keep the deploy notes",
        "unknown fields kept"
    );
    assert_eq!(entries.iter().filter(|a| a.category == "tool").count(), 3, "one entry per tool call");

    let in_sub: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(SUBAGENT))).await;
    let grep = activity(&in_sub, "tool-toolu_01Lm2ZcV9tRe");
    assert_eq!((grep.duration_ms, grep.actor.as_deref()), (Some(42), Some("claude-code:shop:Explore")));

    let approvals: Vec<Approval> = server.rows(Query::all::<Approval>()).await;
    assert_eq!(approvals.len(), 1, "the request and its notification ask once: {approvals:#?}");
    let asked = &approvals[0];
    assert!(asked.title.starts_with("Allow Bash: rm -rf dist"), "{}", asked.title);
    assert_eq!((asked.status, asked.resolved_by.as_deref()), (ApprovalStatus::Approved, Some("terminal")));

    let tasks: Vec<Task> = server.rows(Query::all::<Task>()).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].title.as_str(), tasks[0].status), ("Add --dry-run to deploy.sh", TaskStatus::Done));
    assert_eq!(tasks[0].id, "cc-3f6c2a9e-1");

    let agents: Vec<Agent> = server.rows(Query::all::<Agent>()).await;
    let claude = agents.iter().find(|a| a.id == "claude-code:shop").expect("the agent");
    assert_eq!((claude.status, claude.name.as_deref()), (AgentState::Idle, Some("Claude Code (shop)")));
    assert!(claude.last_heartbeat.is_some());
    assert!(agents.iter().any(|a| a.id == "claude-code:shop:Explore"), "{agents:#?}");

    // The session's page hears every step live, the sub-agent's start included.
    let first = client.next_json().await;
    assert_eq!((first["type"].as_str(), first["payload"]["id"].as_str()), (Some("session:started"), Some(SESSION)));
    let mut seen = vec![];
    while let Some(frame) = client.next_json_within(std::time::Duration::from_millis(300)).await {
        seen.push(frame["type"].as_str().unwrap_or_default().to_string());
    }
    assert!(seen.iter().any(|t| t == "activity:updated") && seen.iter().any(|t| t == "session:ended"), "{seen:?}");
}

#[tokio::test]
async fn a_prompt_answered_no_in_the_terminal_is_rejected_and_a_replayed_hook_changes_nothing() {
    let server = TestServer::start().await;
    let base = json!({"session_id": "s-2", "cwd": "/w/api", "tool_name": "Bash", "tool_use_id": "toolu_9",
                      "tool_input": {"command": "git push --force"}});
    let with = |event: &str| {
        let mut body = base.clone();
        body["hook_event_name"] = json!(event);
        body.to_string()
    };
    for event in ["PreToolUse", "PreToolUse"] {
        assert_eq!(hook(&server, "/api/feeds/claude-code", &with(event), Some(TOKEN)).await.0, 204);
    }
    let (_, held) = server.held_hook(&serde_json::from_str(&with("PermissionRequest")).unwrap()).await;
    assert_eq!(hook(&server, "/api/feeds/claude-code", &with("Stop"), Some(TOKEN)).await.0, 204);
    assert_eq!(held.await.unwrap(), (204, String::new()), "the terminal said no first: released");
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent("s-2"))).await;
    assert_eq!(entries.iter().filter(|a| a.category == "tool").count(), 1, "a repeated PreToolUse is one call");
    assert_eq!(activity(&entries, "tool-toolu_9").status, Some(ActivityStatus::Running), "it never ran");
    let approvals: Vec<Approval> = server.rows(Query::all::<Approval>()).await;
    assert_eq!(approvals[0].status, ApprovalStatus::Rejected, "{approvals:#?}");
    let agents: Vec<Agent> = server.rows(Query::all::<Agent>()).await;
    assert_eq!(agents[0].status, AgentState::Idle);
}

#[tokio::test]
async fn feeds_refuse_what_they_cannot_read_and_store_nothing() {
    let server = TestServer::start().await;
    let viewer = server.token("default", Role::Viewer).await;
    let good = r#"{"hook_event_name": "Stop", "session_id": "s"}"#;
    let cases = [
        ("/api/feeds/claude-code", good, Some("not-a-token"), 401, "unknown or revoked token"),
        ("/api/feeds/claude-code", good, None, 401, "Authorization"),
        ("/api/feeds/claude-code", good, Some(viewer.as_str()), 403, "cannot post"),
        ("/api/feeds/claude-code", "{not json", Some(TOKEN), 400, "not valid JSON"),
        ("/api/feeds/claude-code", "[1, 2]", Some(TOKEN), 422, "JSON object"),
        ("/api/feeds/claude-code", r#"{"session_id": "s"}"#, Some(TOKEN), 422, "hook_event_name"),
        ("/api/feeds/claude-code", r#"{"hook_event_name": "Stop"}"#, Some(TOKEN), 422, "session_id"),
        ("/api/feeds/claude-code?agent=a%20b", good, Some(TOKEN), 422, "agent"),
        ("/api/feeds/observability", r#"{"session_id": "s", "payload": {}}"#, Some(TOKEN), 422, "hook_event_type"),
        (
            "/api/feeds/observability",
            r#"{"hook_event_type": "Stop", "session_id": "s", "payload": 3}"#,
            Some(TOKEN),
            422,
            "payload",
        ),
        ("/api/feeds/codex", r#"{"thread-id": "t"}"#, Some(TOKEN), 422, "type"),
    ];
    for (path, body, token, status, reason) in cases {
        let (got, answer) = hook(&server, path, body, token).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert!(answer.contains(reason), "{path} {body}: {answer}");
    }
    assert_eq!(server.head().await, 0, "nothing was stored");
}

#[tokio::test]
async fn the_observability_scripts_body_is_read_with_the_token_in_its_url() {
    let server = TestServer::start().await;
    let body = json!({
        "source_app": "shop-frontend", "session_id": "obs-1", "hook_event_type": "PreToolUse",
        "payload": {"session_id": "obs-1", "hook_event_name": "PreToolUse", "tool_name": "Edit",
                    "tool_input": {"file_path": "src/App.tsx"}, "tool_use_id": "toolu_e1", "cwd": "/w/shop"},
        "timestamp": 1764676800000u64, "model_name": "claude-haiku-4-5", "chat": [{"role": "user", "content": "hi"}]
    });
    let path = format!("/api/feeds/observability?token={TOKEN}");
    let (status, answer) = hook(&server, &path, &body.to_string(), None).await;
    assert_eq!((status, answer.as_str()), (200, ""), "200, which the script reports silently");
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions[0].agent.as_deref(), Some("shop-frontend"), "source_app names the agent");
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent("obs-1"))).await;
    let edit = activity(&entries, "tool-toolu_e1");
    assert_eq!((edit.message.as_str(), edit.status), ("Edit: src/App.tsx", Some(ActivityStatus::Running)));
    assert_eq!(edit.metadata.as_ref().unwrap()["model_name"], "claude-haiku-4-5");
    let (status, _) = hook(&server, "/api/feeds/observability?token=wrong", &body.to_string(), None).await;
    assert_eq!(status, 401);
}

fn flightdeck() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
}

#[tokio::test]
async fn codex_notify_makes_a_turn_on_its_threads_session() {
    let server = TestServer::start().await;
    let notification = json!({
        "type": "agent-turn-complete", "thread-id": "0199a3c1-5b7e-7d20-b3f4-2e6a9c1d8f05", "turn-id": "12",
        "cwd": "/home/ann/src/billing", "input-messages": ["Rename the invoice module"],
        "last-assistant-message": "Renamed invoice.rs to billing.rs and updated the imports."
    });
    let url = server.http("");
    let run = move |token: &str| {
        flightdeck()
            .args(["notify", "codex", &notification.to_string()])
            .env("FLIGHTDECK_URL", &url)
            .env("FLIGHTDECK_TOKEN", token)
            .output()
            .expect("the command runs")
    };
    let done = tokio::task::spawn_blocking(move || (run(TOKEN), run("wrong"))).await.unwrap();
    assert!(done.0.status.success(), "{}", String::from_utf8_lossy(&done.0.stderr));
    assert!(!done.1.status.success(), "a bad token fails the command");
    assert!(String::from_utf8_lossy(&done.1.stderr).contains("401"), "{}", String::from_utf8_lossy(&done.1.stderr));
    let url = server.http("");
    let untokened = tokio::task::spawn_blocking(move || {
        flightdeck().args(["notify", "codex", "{}"]).env("FLIGHTDECK_URL", url).env_remove("FLIGHTDECK_TOKEN").output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!untokened.status.success());
    assert!(String::from_utf8_lossy(&untokened.stderr).contains("FLIGHTDECK_TOKEN"), "it says what is missing");

    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].agent.as_deref(), Some("codex:billing"));
    assert_eq!(sessions[0].message.as_deref(), Some("Renamed invoice.rs to billing.rs and updated the imports."));
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&sessions[0].id))).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].category, "turn");
    assert_eq!(entries[0].metadata.as_ref().unwrap()["input-messages"][0], "Rename the invoice module");
    let agents: Vec<Agent> = server.rows(Query::all::<Agent>()).await;
    assert_eq!((agents[0].id.as_str(), agents[0].status), ("codex:billing", AgentState::Idle));
}

#[tokio::test]
async fn the_printed_hooks_work_as_claude_code_runs_them() {
    let server = TestServer::start().await;
    let printed = flightdeck().args(["hooks", "claude-code", "--url", &server.http("")]).output().unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let settings: Value = serde_json::from_slice(&printed.stdout).expect("JSON settings");

    // SessionStart runs a command with the hook input on stdin, which must print nothing.
    let command = settings["hooks"]["SessionStart"][0]["hooks"][0]["command"].as_str().unwrap().to_string();
    let start = r#"{"session_id": "cmd-1", "cwd": "/w/site", "hook_event_name": "SessionStart", "source": "startup"}"#;
    let ran = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("bash")
            .args(["-c", &command])
            .env("FLIGHTDECK_TOKEN", TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(start.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(ran.status.success());
    assert!(ran.stdout.is_empty(), "nothing reaches the model: {:?}", String::from_utf8_lossy(&ran.stdout));

    // Every other event is an http hook; its header is filled from the allowed variable.
    let http = &settings["hooks"]["Stop"][0]["hooks"][0];
    assert_eq!(http["allowedEnvVars"], json!(["FLIGHTDECK_TOKEN"]));
    let header = http["headers"]["Authorization"].as_str().unwrap().replace("$FLIGHTDECK_TOKEN", TOKEN);
    let stop = r#"{"session_id": "cmd-1", "cwd": "/w/site", "hook_event_name": "Stop"}"#;
    let response = crate::common::client()
        .post(http["url"].as_str().unwrap())
        .header("authorization", header)
        .header("content-type", "application/json")
        .body(stop)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);

    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!((sessions.len(), sessions[0].agent.as_deref()), (1, Some("claude-code:site")));
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent("cmd-1"))).await;
    assert_eq!(entries.len(), 2, "{entries:#?}");

    // --install merges into a settings file and keeps what the user had.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".claude/settings.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, r#"{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}}"#).unwrap();
    for _ in 0..2 {
        let out = flightdeck()
            .args(["hooks", "claude-code", "--url", "http://10.0.0.5:3000", "--install"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let stop = merged["hooks"]["Stop"].as_array().unwrap();
    assert_eq!(stop.len(), 2, "the user's hook and ours, once: {stop:?}");
    assert_eq!(stop[0]["hooks"][0]["command"], "say done");
    assert_eq!(stop[1]["hooks"][0]["url"], "http://10.0.0.5:3000/api/feeds/claude-code");
}

#[tokio::test]
async fn a_stop_with_a_transcript_past_the_body_limit_still_lands() {
    let server = TestServer::start().await;
    let path = format!("/api/feeds/observability?token={TOKEN}");
    let start = json!({"source_app": "shop", "session_id": "long-1", "hook_event_type": "UserPromptSubmit",
        "payload": {"session_id": "long-1", "hook_event_name": "UserPromptSubmit", "prompt": "Refactor the cart", "cwd": "/w/shop"}});
    assert_eq!(hook(&server, &path, &start.to_string(), None).await.0, 200);
    // `--add-chat` sends the whole transcript with the Stop: here 3 MiB of it.
    let turn = json!({"role": "assistant", "content": "x".repeat(2_000)});
    let chat: Vec<Value> = std::iter::repeat_n(turn, 1_600).collect();
    let stop = json!({"source_app": "shop", "session_id": "long-1", "hook_event_type": "Stop",
        "payload": {"session_id": "long-1", "hook_event_name": "Stop", "cwd": "/w/shop"}, "chat": chat});
    let body = stop.to_string();
    assert!(body.len() > 3 << 20, "{}", body.len());
    let (status, answer) = hook(&server, &path, &body, None).await;
    assert_eq!(status, 200, "{answer}");
    let agents: Vec<Agent> = server.rows(Query::all::<Agent>()).await;
    let shop = agents.iter().find(|a| a.id == "shop").expect("the agent");
    assert_eq!(shop.status, AgentState::Idle, "the Stop landed: no longer working");
    let (_, history) = server.get("/api/events?limit=1000").await;
    assert!(!history.to_string().contains(&"x".repeat(2_000)), "the transcript is not kept");
    // Past the feeds' own limit it is a 413, and nothing of it is stored.
    let huge = json!({"hook_event_type": "Stop", "payload": {}, "chat": "y".repeat(40 << 20)}).to_string();
    let before = server.head().await;
    assert_eq!(hook(&server, &path, &huge, None).await.0, 413);
    assert_eq!(server.head().await, before);
}

#[tokio::test]
async fn an_agent_whose_first_hook_starts_its_session_lists_that_session() {
    let server = TestServer::start().await;
    let first =
        json!({"hook_event_name": "SessionStart", "session_id": "first-1", "source": "startup", "cwd": "/w/billing"});
    assert_eq!(hook(&server, "/api/feeds/claude-code", &first.to_string(), Some(TOKEN)).await.0, 204);
    let agents: Vec<Agent> = server.rows(Query::all::<Agent>()).await;
    let agent = agents.iter().find(|a| a.id == "claude-code:billing").expect("the agent");
    assert_eq!(agent.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["first-1"], "Sessions (1)");
}
