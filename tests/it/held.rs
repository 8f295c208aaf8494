//! Approvals that gate real agents: a Claude Code permission hook held open until an operator
//! decides, the workspace policy deciding first, expiry answered as the policy says, the long-poll
//! any agent can use, and messages that reach a running agent once. (A thousand held at once: `bounds`.)

use std::time::Duration;

use app::domain::{
    activity::{session_parent, Activity, ActivityStatus},
    approval::Approval,
    entity::Query,
    session::Message,
};
use flightdeck::{clock::ManualClock, store::Role};
use serde_json::{json, Value};

use crate::common::{client, TestServer, WsClient, TOKEN};

const FEED: &str = "/api/feeds/claude-code";

fn hook(event: &str, extra: Value) -> Value {
    let mut body = json!({"hook_event_name": event, "session_id": "cc-1", "cwd": "/w/shop",
                          "transcript_path": "/tmp/t.jsonl", "permission_mode": "default"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

fn bash(command: &str) -> Value {
    json!({"tool_name": "Bash", "tool_input": {"command": command, "description": "a command"}})
}

/// Posts to `path` with `token`; the status and the answer as JSON (a string when it is not).
async fn call(server: &TestServer, method: &str, path: &str, body: Option<&Value>, token: &str) -> (u16, Value) {
    let mut request = client().request(method.parse().unwrap(), server.http(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn decide(server: &TestServer, id: &str, decision: Value) -> (u16, Value) {
    call(server, "POST", &format!("/api/approvals/{id}/decision"), Some(&decision), TOKEN).await
}

async fn answer_of(held: tokio::task::JoinHandle<(u16, String)>) -> (u16, Value) {
    let (status, text) = tokio::time::timeout(Duration::from_secs(10), held).await.expect("answered").unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn session_log(server: &TestServer) -> Vec<String> {
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent("cc-1")).newest(200)).await;
    entries.into_iter().map(|a| a.message).collect()
}

#[tokio::test]
async fn a_held_permission_request_is_answered_with_what_the_operator_decided() {
    let server = TestServer::start().await;
    let (mut client, _) = WsClient::connect(&server).await;
    client.subscribe(&["approvals"], None).await;

    // Allowed.
    let (id, held) = server.held_hook(&hook("PermissionRequest", bash("rm -rf dist"))).await;
    let asked = client.next_json().await;
    assert_eq!(
        (asked["type"].as_str(), asked["payload"]["held"].as_str()),
        (Some("approval:requested"), Some("claude-code"))
    );
    assert_eq!(asked["payload"]["tool"]["input"]["command"], "rm -rf dist", "the command in full: {asked}");
    assert!(!held.is_finished(), "nobody decided yet");
    let (status, decided) = decide(&server, &id, json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "{decided}");
    let (status, answer) = answer_of(held).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}})
    );
    let resolved = client.next_json().await;
    assert_eq!(resolved["type"], "approval:resolved");
    assert!(
        resolved["topics"].as_array().unwrap().contains(&json!("session:cc-1")),
        "on the session's topic: {resolved}"
    );

    // Decided once: a second decision names the first.
    let (status, again) = decide(&server, &id, json!({"decision": "reject"})).await;
    assert_eq!(status, 409, "{again}");
    assert!(again["message"].as_str().unwrap().contains("already resolved: approved by configured"), "{again}");

    // Denied, with the reason Claude reads; the call (announced by its PreToolUse) never runs, and
    // its activity says so.
    let mut pre = bash("git push --force");
    pre["tool_use_id"] = json!("tu-push");
    assert_eq!(call(&server, "POST", FEED, Some(&hook("PreToolUse", pre)), TOKEN).await.0, 204);
    let (id, held) = server.held_hook(&hook("PermissionRequest", bash("git push --force"))).await;
    decide(&server, &id, json!({"decision": "reject", "reason": "not on main"})).await;
    let (_, answer) = answer_of(held).await;
    let decision = &answer["hookSpecificOutput"]["decision"];
    assert_eq!(decision["behavior"], "deny");
    assert_eq!(decision["message"], "Denied by configured in Flightdeck: not on main");
    let push: Vec<Activity> = server.rows(Query::one::<Activity>("tool-tu-push")).await;
    assert_eq!(push[0].status, Some(ActivityStatus::Failed), "{push:?}");
    assert_eq!(push[0].metadata.as_ref().unwrap()["denied"], "Denied by configured in Flightdeck: not on main");

    // Allowed with an edited input.
    let (id, held) = server.held_hook(&hook("PermissionRequest", bash("rm -rf /"))).await;
    let edited = json!({"command": "rm -rf ./build", "description": "a command"});
    decide(&server, &id, json!({"decision": "approve", "updated_input": edited})).await;
    let (_, answer) = answer_of(held).await;
    assert_eq!(answer["hookSpecificOutput"]["decision"], json!({"behavior": "allow", "updatedInput": edited}));

    // Allowed for the rest of the session: what Claude Code offered to remember goes back to it.
    let offered = json!([{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "npm test:*"}],
                          "behavior": "allow", "destination": "session"}]);
    let mut asking = bash("npm test");
    asking["permission_suggestions"] = offered.clone();
    let (id, held) = server.held_hook(&hook("PermissionRequest", asking)).await;
    decide(&server, &id, json!({"decision": "approve", "for_session": true})).await;
    let (_, answer) = answer_of(held).await;
    assert_eq!(answer["hookSpecificOutput"]["decision"], json!({"behavior": "allow", "updatedPermissions": offered}));

    // Without an offer, a session-wide approval is refused, and the approval stays pending.
    let (id, held) = server.held_hook(&hook("PermissionRequest", bash("make"))).await;
    let (status, refused) = decide(&server, &id, json!({"decision": "approve", "for_session": true})).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("offered nothing to remember"), "{refused}");
    decide(&server, &id, json!({"decision": "approve"})).await;
    answer_of(held).await;

    let log = session_log(&server).await;
    for told in [
        "Answered Claude Code: allow, as configured approved after",
        "Answered Claude Code: deny, as configured rejected after",
        "Answered Claude Code: allow, with an edited input",
        "Answered Claude Code: allow, for the rest of the session",
    ] {
        assert!(log.iter().any(|m| m.starts_with(told)), "`{told}` in {log:#?}");
    }
}

#[tokio::test]
async fn at_expiry_the_workspace_policy_answers_and_the_approval_shows_timeout() {
    let clock = ManualClock::starting_now();
    let server = TestServer::start_with_clock(|c| c.approval_check_ms = 20, clock.clone()).await;
    for (on_timeout, expected) in [("no_decision", None), ("deny", Some("deny"))] {
        let policy = json!({"on_timeout": on_timeout, "ttl_seconds": 60});
        assert_eq!(call(&server, "PUT", "/api/policy", Some(&policy), TOKEN).await.0, 200);
        let (id, held) = server.held_hook(&hook("PermissionRequest", bash("deploy"))).await;
        clock.advance(Duration::from_secs(59));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!held.is_finished(), "not yet");
        clock.advance(Duration::from_secs(1));
        let (status, answer) = answer_of(held).await;
        match expected {
            None => assert_eq!((status, answer), (204, json!("")), "no decision: Claude asks in its terminal"),
            Some(_) => {
                let decision = &answer["hookSpecificOutput"]["decision"];
                assert_eq!(decision["behavior"], "deny", "{answer}");
                assert!(decision["message"].as_str().unwrap().contains("Nobody decided"), "{answer}");
            }
        }
        let (_, approval) = call(&server, "GET", &format!("/api/approvals/{id}"), None, TOKEN).await;
        assert_eq!(approval["status"], "timeout", "{approval}");
    }
}

#[tokio::test]
async fn policy_rules_decide_in_order_before_anyone_is_asked_and_only_an_admin_sets_them() {
    let server = TestServer::start().await;
    let policy = json!({"rules": [
        {"tool": "Read|Grep|Glob", "action": "allow"},
        {"tool": "Bash", "input": "re:git push|rm ", "action": "ask"},
        {"tool": "Edit|Write", "unless": "{cwd}/*", "action": "deny", "reason": "outside the project"},
        {"tool": "Bash", "input": "npm *", "action": "allow"},
    ]});
    let agent = server.token("default", Role::Ingest).await;
    let (status, refused) = call(&server, "PUT", "/api/policy", Some(&policy), &agent).await;
    assert_eq!(status, 403, "an agent cannot allow itself everything: {refused}");
    let (status, bad) = call(
        &server,
        "PUT",
        "/api/policy",
        Some(&json!({"rules": [{"tool": "Bash", "input": "re:(", "action": "ask"}]})),
        TOKEN,
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("rule 1"), "{bad}");
    assert_eq!(call(&server, "PUT", "/api/policy", Some(&policy), TOKEN).await.0, 200);
    let (_, stored) = call(&server, "GET", "/api/policy", None, &agent).await;
    assert_eq!(stored["rules"].as_array().unwrap().len(), 4, "{stored}");

    let pre = |tool: &str, input: Value, id: &str| {
        hook("PreToolUse", json!({"tool_name": tool, "tool_input": input, "tool_use_id": id}))
    };
    let s = &server;
    let post = |body: Value| async move { call(s, "POST", FEED, Some(&body), TOKEN).await };
    let (status, read) = post(pre("Read", json!({"file_path": "/w/shop/a.rs"}), "t1")).await;
    assert_eq!(status, 200);
    assert_eq!(read["hookSpecificOutput"]["permissionDecision"], "allow");
    let (_, write) = post(pre("Write", json!({"file_path": "/etc/hosts", "content": "x"}), "t2")).await;
    assert_eq!(write["hookSpecificOutput"]["permissionDecision"], "deny");
    let reason = write["hookSpecificOutput"]["permissionDecisionReason"].as_str().unwrap();
    assert!(reason.contains("rule 3") && reason.contains("outside the project"), "{reason}");
    let (_, inside) = post(pre("Write", json!({"file_path": "/w/shop/b.rs", "content": "x"}), "t3")).await;
    assert_eq!(inside, json!(""), "inside the project no rule matches: no decision");
    let (_, npm) = post(pre("Bash", json!({"command": "npm test"}), "t4")).await;
    assert_eq!(npm["hookSpecificOutput"]["permissionDecision"], "allow");
    assert_eq!(post(pre("Bash", json!({"command": "make"}), "t5")).await.1, json!(""));

    // `ask` holds even a PreToolUse, and the answer there is a permissionDecision.
    let (id, held) = server.held_hook(&pre("Bash", json!({"command": "git push origin main"}), "t6")).await;
    assert_eq!(id, "perm-tool-t6");
    decide(&server, &id, json!({"decision": "approve"})).await;
    let (_, answer) = answer_of(held).await;
    assert_eq!(answer, json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}));

    // A rule decides a PermissionRequest too, without an approval.
    let (_, grep) = post(hook("PermissionRequest", json!({"tool_name": "Grep", "tool_input": {"pattern": "x"}}))).await;
    assert_eq!(grep["hookSpecificOutput"]["decision"]["behavior"], "allow");
    let approvals: Vec<Approval> = server.rows(Query::all::<Approval>()).await;
    assert_eq!(approvals.len(), 1, "only the `ask` became an approval: {approvals:#?}");

    let log = session_log(&server).await;
    assert!(
        log.iter().any(|m| m == "Allowed Read: /w/shop/a.rs by the workspace policy, rule 1 (allow Read|Grep|Glob)"),
        "{log:#?}"
    );
    assert!(log.iter().any(|m| m.starts_with("Denied Write: /etc/hosts by the workspace policy, rule 3")), "{log:#?}");
}

#[tokio::test]
async fn any_agent_asks_over_http_and_long_polls_for_the_decision() {
    let server = TestServer::start().await;
    let agent = server.token("default", Role::Ingest).await;
    let ask = json!({"title": "Drop the staging database?", "details": "It holds last week's data", "ttl_ms": 600_000});
    let (status, asked) = call(&server, "POST", "/api/approvals", Some(&ask), &agent).await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().unwrap().to_string();
    assert_eq!(
        (asked["status"].as_str(), asked["description"].as_str()),
        (Some("pending"), Some("It holds last week's data"))
    );

    let (status, still) = call(&server, "GET", &format!("/api/approvals/{id}?wait=1"), None, &agent).await;
    assert_eq!((status, still["status"].as_str()), (200, Some("pending")), "a poll that ends undecided: {still}");

    let url = server.http(&format!("/api/approvals/{id}?wait=30"));
    let poll = tokio::spawn(async move {
        client().get(url).bearer_auth(agent).send().await.unwrap().json::<Value>().await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!poll.is_finished(), "held while pending");
    decide(&server, &id, json!({"decision": "approve", "comment": "fine, it is a copy"})).await;
    let decided = tokio::time::timeout(Duration::from_secs(5), poll).await.expect("the poll answered").unwrap();
    assert_eq!(
        (decided["status"].as_str(), decided["comment"].as_str()),
        (Some("approved"), Some("fine, it is a copy"))
    );

    let (status, _) = call(&server, "GET", &format!("/api/approvals/{id}?wait=500"), None, TOKEN).await;
    assert_eq!(status, 422, "a wait beyond the limit");
    assert_eq!(call(&server, "GET", "/api/approvals/nope?wait=5", None, TOKEN).await.0, 404);
    let viewer = server.token("default", Role::Viewer).await;
    assert_eq!(call(&server, "POST", "/api/approvals", Some(&ask), &viewer).await.0, 403);
    let (status, _) =
        call(&server, "POST", &format!("/api/approvals/{id}/decision"), Some(&json!({"decision": "maybe"})), TOKEN)
            .await;
    assert_eq!(status, 422, "an unknown decision");
}

#[tokio::test]
async fn a_message_reaches_the_agent_at_its_next_hook_exactly_once_and_stop_denies_its_next_call() {
    let server = TestServer::start().await;
    let s = &server;
    let feed = |body: Value| async move { call(s, "POST", FEED, Some(&body), TOKEN).await };
    assert_eq!(feed(hook("UserPromptSubmit", json!({"prompt": "fix the build"}))).await.0, 204);
    let say = |text: &str, stop: bool| json!({"type": "session:message", "payload": {"id": "cc-1", "role": "human", "author": "dana", "text": text, "stop": stop}});
    assert_eq!(server.post(&say("use pnpm, not npm", false)).await.0, 201);

    let tool = json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t1", "tool_response": {}});
    let (status, carried) = feed(hook("PostToolUse", tool.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(carried["hookSpecificOutput"]["hookEventName"], "PostToolUse");
    assert_eq!(
        carried["hookSpecificOutput"]["additionalContext"],
        "Message from dana (via Flightdeck): use pnpm, not npm"
    );
    assert_eq!(feed(hook("PostToolUse", tool)).await.1, json!(""), "delivered once");
    let messages: Vec<Message> = server.rows(Query::children::<Message>("cc-1")).await;
    let said = messages.iter().find(|m| m.text == "use pnpm, not npm").unwrap();
    assert_eq!(said.delivered_via.as_deref(), Some("PostToolUse"), "{said:?}");

    // At the end of a turn, a message makes the agent go on with it.
    server.post(&say("also update the lockfile", false)).await;
    let (_, stop) = feed(hook("Stop", json!({"stop_hook_active": false}))).await;
    assert_eq!(
        stop,
        json!({"decision": "block", "reason": "Message from dana (via Flightdeck): also update the lockfile"})
    );

    // Stop this agent: its next tool call is denied with the operator's words.
    server.post(&say("wrong branch, stop", true)).await;
    let (_, denied) = feed(hook(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "git commit"}, "tool_use_id": "t2"}),
    ))
    .await;
    assert_eq!(denied["hookSpecificOutput"]["permissionDecision"], "deny");
    assert_eq!(
        denied["hookSpecificOutput"]["permissionDecisionReason"],
        "dana asked you to stop, through Flightdeck: wrong branch, stop"
    );
    let stopped: Vec<Activity> = server.rows(Query::one::<Activity>("tool-t2")).await;
    assert_eq!(stopped[0].status, Some(ActivityStatus::Failed), "the stopped call never runs: {stopped:?}");
    let (_, next) =
        feed(hook("PreToolUse", json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t3"})))
            .await;
    assert_eq!(next, json!(""), "the stop was delivered once");

    let (status, refused) = server
        .post(&json!({"type": "session:delivered", "payload": {"id": "cc-1", "message_id": said.id, "via": "Stop"}}))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("delivered already"), "{refused}");
}

#[tokio::test]
async fn the_policy_command_adds_shows_and_removes_rules_through_the_server() {
    let server = TestServer::start().await;
    let agent = server.token("default", Role::Ingest).await;
    let url = server.http("");
    let policy = move |token: String, args: Vec<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
                .args(["policy", "--url", &url, "--token", &token])
                .args(args)
                .output()
                .expect("the binary runs");
            let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
            (output.status.success(), text)
        })
    };
    let admin = || TOKEN.to_string();
    let (ok, shown) = policy(admin(), vec!["add", "--tool", "Read|Grep", "--action", "allow"]).await.unwrap();
    assert!(ok && shown.contains("1. allow Read|Grep"), "{shown}");
    let (ok, shown) = policy(
        admin(),
        vec!["add", "--tool", "Bash", "--input", "re:rm ", "--action", "deny", "--reason", "no", "--at", "1"],
    )
    .await
    .unwrap();
    assert!(
        ok && shown.contains("1. deny Bash matching `re:rm ` — no") && shown.contains("2. allow Read|Grep"),
        "{shown}"
    );
    let (ok, shown) = policy(admin(), vec!["set", "--ttl-seconds", "90", "--on-timeout", "deny"]).await.unwrap();
    assert!(ok && shown.contains("waits 90 s for a person; then: deny"), "{shown}");
    let (ok, refused) = policy(agent.clone(), vec!["remove", "1"]).await.unwrap();
    assert!(!ok && refused.contains("403") && refused.contains("needs an admin"), "{refused}");
    let (ok, shown) = policy(admin(), vec!["remove", "1"]).await.unwrap();
    assert!(ok && shown.contains("1. allow Read|Grep") && !shown.contains("deny Bash"), "{shown}");
    let (ok, refused) =
        policy(admin(), vec!["add", "--tool", "Bash", "--input", "re:(", "--action", "ask"]).await.unwrap();
    assert!(!ok && refused.contains("422") && refused.contains("rule 2"), "{refused}");
    let (ok, shown) = policy(agent, vec!["show"]).await.unwrap();
    assert!(ok && shown.contains("1. allow Read|Grep"), "anyone of the workspace reads it: {shown}");
}

#[tokio::test]
async fn a_restart_releases_held_requests_and_their_approvals_still_time_out() {
    let clock = ManualClock::starting_now();
    let server = TestServer::start_with_clock(|c| c.approval_check_ms = 20, clock.clone()).await;
    let (id, held) = server.held_hook(&hook("PermissionRequest", bash("deploy"))).await;
    let started = std::time::Instant::now();
    let server = server.restart().await;
    // A graceful stop answers at once with no decision (a kill would close the connection:
    // Claude Code takes either as no decision and asks in its terminal).
    let (status, answer) = answer_of(held).await;
    assert_eq!((status, answer), (204, json!("")), "released with no decision");
    assert!(started.elapsed() < Duration::from_secs(5), "the stop did not wait for the decision");
    let (_, approval) = call(&server, "GET", &format!("/api/approvals/{id}"), None, TOKEN).await;
    assert_eq!(approval["status"], "pending", "the approval stays in the log: {approval}");
    clock.advance(Duration::from_secs(301));
    let url = format!("/api/approvals/{id}?wait=5");
    let (_, approval) = call(&server, "GET", &url, None, TOKEN).await;
    assert_eq!(approval["status"], "timeout", "and times out as usual: {approval}");
}

#[tokio::test]
async fn what_a_decision_or_a_message_cannot_say_is_refused_and_a_full_line_answers_at_once() {
    let server = TestServer::start_with(|c| c.max_held = 0).await;
    // No room to hold: the request is answered at once with no decision, its approval still asked.
    let (status, answer) = call(&server, "POST", FEED, Some(&hook("PermissionRequest", bash("make"))), TOKEN).await;
    assert_eq!((status, answer), (204, json!("")), "answered at once");
    let asked: Vec<Approval> = server.rows(Query::all::<Approval>()).await;
    assert_eq!((asked.len(), asked[0].held.as_deref()), (1, None), "asked, not held: {asked:?}");
    let tool_call = asked[0].id.clone();
    let said = json!({"type": "session:message", "payload": {"id": "cc-1", "message_id": "m-agent", "role": "agent", "text": "hi"}});
    assert_eq!(server.post(&said).await.0, 201);
    let (_, plain) =
        call(&server, "POST", "/api/approvals", Some(&json!({"title": "Ship?", "ttl_ms": 60_000})), TOKEN).await;
    let plain = plain["id"].as_str().unwrap().to_string();
    let head = server.head().await;

    let (status, refused) =
        decide(&server, &plain, json!({"decision": "approve", "updated_input": {"command": "ls"}})).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("not about a tool call"), "{refused}");
    let cases = [
        (
            json!({"type": "approval:resolved", "payload": {"id": tool_call, "status": "rejected", "updated_input": {"command": "ls"}}}),
            "must be `approved`",
        ),
        (
            json!({"type": "approval:resolved", "payload": {"id": tool_call, "status": "approved", "updated_input": "ls"}}),
            "updated_input",
        ),
        (
            json!({"type": "session:message", "payload": {"id": "cc-1", "role": "agent", "text": "stop", "stop": true}}),
            "only a person's message",
        ),
        (
            json!({"type": "session:delivered", "payload": {"id": "cc-1", "message_id": "m-agent", "via": "Stop"}}),
            "no message `m-agent` from a person",
        ),
    ];
    for (event, reason) in cases {
        let (status, refused) = server.post(&event).await;
        assert_eq!(status, 422, "{event}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains(reason), "{event}: {refused}");
    }
    assert_eq!(server.head().await, head, "nothing was stored");
}
