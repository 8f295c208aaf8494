//! Snapshots and past moments: the rows rebuilt at any seq, from the nearest snapshot plus the
//! events after it, are exactly the rows the store held right after that seq was committed.

use std::time::Duration;

use app::domain::{
    activity::Activity,
    agent::Agent,
    approval::Approval,
    entity::Query,
    session::{Message, Session},
    task::Task,
};
use flightdeck::store::{past, Role};
use serde_json::{json, Value};

use crate::common::{task_created, TestServer};

/// What the pages read: every kind of row, lists by parent, status, and newest first.
fn queries() -> Vec<Query> {
    vec![
        Query::all::<Task>(),
        Query::all::<Agent>(),
        Query::all::<Session>().newest(5),
        Query::children::<Activity>("t1").newest(3),
        Query::children::<Message>("d1"),
        Query::all::<Approval>(),
        Query::all::<Task>().with_status(&["in_progress", "review"]),
        Query::one::<Task>("t2"),
    ]
}

/// The `i`-th event of a busy little workspace: tasks moving, agents beating, sessions, chat,
/// approvals, activity entries updated after they were logged.
fn event(i: usize) -> Value {
    let task = format!("t{}", i % 4 + 1);
    if i < 4 {
        return task_created(&task, "First tasks");
    }
    match i % 11 {
        0 => task_created(&format!("t{}", i / 11 + 5), &format!("Task {i}")),
        1 => json!({"type": "task:assigned", "payload": {"id": task, "agent": format!("agent-{}", i % 3)}}),
        2 => json!({"type": "agent:heartbeat", "payload": {"id": format!("agent-{}", i % 3)}}),
        3 => {
            let status = ["in_progress", "review", "done"][i % 3];
            json!({"type": "task:updated", "payload": {"id": task, "status": status}})
        }
        4 => {
            json!({"type": "activity:logged", "payload": {"id": format!("a{i}"), "task_id": task, "category": "tool", "message": format!("step {i}")}})
        }
        5 => {
            json!({"type": "activity:updated", "payload": {"id": format!("a{}", i - 1), "status": "succeeded", "duration_ms": i}})
        }
        6 => {
            json!({"type": "session:started", "payload": {"id": format!("s{i}"), "kind": "subagent", "task_id": task, "agent": "ada"}})
        }
        7 => json!({"type": "session:ended", "payload": {"id": format!("s{}", i - 1), "outcome": "completed"}}),
        8 => {
            json!({"type": "session:message", "payload": {"id": "d1", "role": "agent", "author": "ada", "text": format!("message {i}")}})
        }
        9 => json!({"type": "task:progress", "payload": {"id": task, "progress": (i % 100) as u8}}),
        _ => {
            json!({"type": "approval:requested", "payload": {"id": format!("ap{i}"), "session_id": "d1", "title": "Go?", "ttl_ms": 3_600_000}})
        }
    }
}

#[tokio::test]
async fn every_moment_rebuilt_from_snapshots_is_what_the_store_held_then() {
    // Snapshots are taken by the test alone, at moments it chooses.
    let server = TestServer::start_with(|c| c.snapshot_every = u64::MAX).await;
    let store = server.running.state.store.clone();
    let other = server.token("acme", Role::Admin).await;
    let design = json!({"type": "session:started", "payload": {"id": "d1", "kind": "design", "title": "Invoices"}});
    assert_eq!(server.post(&design).await.0, 201);
    // The server's own job (every `u64::MAX` events) takes none, not even a first one: it used to,
    // at a moment of its choosing, racing the snapshots this test takes.
    assert_eq!(store.take_snapshot(u64::MAX).await.unwrap(), None, "no first snapshot before `every` events");
    let queries = queries();
    let mut seen = Vec::new();
    for i in 0..120 {
        let (status, body) = server.post(&event(i)).await;
        assert_eq!(status, 201, "event {i}: {body}");
        // Another workspace's events land between, and in every snapshot.
        let (status, _) =
            server.post_raw(task_created(&format!("x{i}"), "Theirs").to_string().into_bytes(), Some(&other)).await;
        assert_eq!(status, 201);
        let now = store.read("default", &queries).await.unwrap();
        seen.push((now.seq, now.rows));
        if i % 17 == 16 {
            assert!(store.take_snapshot(1).await.unwrap().is_some(), "a snapshot is taken when one is due");
        }
    }
    assert_eq!(store.take_snapshot(1_000).await.unwrap(), None, "none is due a few events after the last");
    let mut from_snapshots = 0;
    for (at, then) in &seen {
        match past::rebuild(&*store, "default", *at, &queries).await.unwrap() {
            past::Rebuilt::Rows { rows, base, replayed } => {
                assert_eq!(&rows, then, "the rows at seq {at} (from snapshot {base}, {replayed} events replayed)");
                from_snapshots += usize::from(base > 0);
                assert!(replayed <= 40, "at most the events since the nearest snapshot are replayed, not {replayed}");
            }
            other => panic!("seq {at}: {other:?}"),
        }
    }
    assert!(from_snapshots > 90, "most moments start from a snapshot ({from_snapshots})");
}

#[tokio::test]
async fn the_server_takes_a_snapshot_every_n_events_and_pruned_moments_start_at_one() {
    let server = TestServer::start_with(|c| {
        c.snapshot_every = 5;
        c.retain_events = 10;
        c.prune_every_ms = 20;
    })
    .await;
    let store = server.running.state.store.clone();
    for i in 0..6 {
        server.post(&task_created(&format!("t{i}"), "T")).await;
    }
    // Due once five events are logged: the job may tick between the fifth and the sixth post.
    let first = until_snapshot(&server, 1).await;
    assert!(first >= 5, "no snapshot before the fifth event, not {first}");
    for i in 6..30 {
        server.post(&task_created(&format!("t{i}"), "T")).await;
    }
    server.until_pruned("default", 20).await;
    let latest = until_snapshot(&server, 25).await;
    // Before the cut nothing can be rebuilt; after a snapshot past the cut, everything can.
    match past::rebuild(&*store, "default", 3, &[Query::all::<Task>()]).await.unwrap() {
        past::Rebuilt::Pruned { pruned_upto, earliest } => {
            assert!(pruned_upto >= 20);
            assert!(earliest >= pruned_upto, "the earliest moment shown is at or after the cut");
        }
        other => panic!("{other:?}"),
    }
    let head = server.head().await;
    match past::rebuild(&*store, "default", head, &[Query::all::<Task>()]).await.unwrap() {
        past::Rebuilt::Rows { rows, base, .. } => {
            assert_eq!(rows[0].len(), 30, "every task, rebuilt from snapshot {base}");
            assert!(base >= latest.min(head));
        }
        other => panic!("{other:?}"),
    }
}

/// Waits for a snapshot at or after `seq`; returns the newest.
async fn until_snapshot(server: &TestServer, seq: u64) -> u64 {
    let store = &server.running.state.store;
    for _ in 0..100 {
        let (newest, _) = store.snapshots_around(u64::MAX / 2, 0).await.unwrap();
        if newest >= seq {
            return newest;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no snapshot at or after seq {seq}");
}

#[tokio::test]
async fn a_task_and_a_session_render_as_they_were_with_steps_among_their_own_events() {
    let server = TestServer::start().await;
    let (_, created) = server.post(&task_created("t1", "Ship the feeds")).await;
    let created = created["seqs"][0].as_u64().unwrap();
    server.post(&task_created("t2", "Unrelated")).await;
    // A coding agent's session of no task: its tool calls are its own.
    let started = json!({"type": "session:started", "payload": {"id": "s1", "kind": "subagent", "agent": "ada"}});
    let (_, started) = server.post(&started).await;
    let started = started["seqs"][0].as_u64().unwrap();
    let logged = json!({"type": "activity:logged", "payload": {"session_id": "s1", "category": "tool", "message": "Ran the tests"}});
    let (status, body) = server.post(&logged).await;
    assert_eq!(status, 201, "{body}");
    let moved = json!({"type": "task:updated", "payload": {"id": "t1", "status": "in_progress"}});
    let (_, moved) = server.post(&moved).await;
    let moved = moved["seqs"][0].as_u64().unwrap();
    server.post(&json!({"type": "session:ended", "payload": {"id": "s1", "outcome": "completed"}})).await;

    let then = crate::past::page(&server, &format!("/tasks/t1?at={created}"), crate::common::TOKEN).await;
    assert!(then.contains("data-testid=\"time-control\""), "the task page has the time control");
    assert!(then.contains("data-status=\"inbox\""), "the task as it was: in the inbox");
    assert!(then.contains(&format!("href=\"/tasks/t1?at={moved}\"")), "forward goes to the task's next event");
    let later = crate::past::page(&server, &format!("/tasks/t1?at={moved}"), crate::common::TOKEN).await;
    assert!(later.contains("data-status=\"in_progress\""));
    assert!(later.contains(&format!("?at={moved}&amp;tab=activity")), "the tabs keep the moment");
    let before = crate::past::page(&server, &format!("/tasks/t1?at={}", created - 1), crate::common::TOKEN).await;
    assert!(before.contains("did not exist yet"), "a moment before the task was created says so");

    let running = crate::past::page(&server, &format!("/sessions/s1?at={started}"), crate::common::TOKEN).await;
    assert!(running.contains("data-testid=\"time-control\""));
    assert!(running.contains("No tool call or turn yet."), "the session before its first tool call");
    assert!(!running.contains("data-testid=\"session-ended\""));
    let now = crate::past::page(&server, "/sessions/s1", crate::common::TOKEN).await;
    assert!(
        now.contains("Ran the tests") && now.contains("data-testid=\"session-ended\""),
        "{}",
        &now[now.find("<main").unwrap_or(0)..]
    );
}

#[tokio::test]
async fn a_time_names_the_last_event_at_or_before_it_and_a_bad_one_is_refused() {
    let server = TestServer::start().await;
    let (_, first) = server.post(&task_created("t1", "First")).await;
    let first_seq = first["seqs"][0].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    server.post(&task_created("t2", "Second")).await;
    let query = flightdeck::store::LogQuery {
        workspace: "default".into(),
        after: first_seq - 1,
        upto: first_seq,
        topics: None,
        limit: 1,
        newest: false,
        max_bytes: None,
    };
    let logged = server.running.state.store.read_log(&query).await.unwrap();
    let frame: Value = serde_json::from_str(&logged[0].1).unwrap();
    // The first event's second, as a `datetime-local` field sends it.
    let second = &frame["ts"].as_str().unwrap()[..19];
    let html = crate::past::page(&server, &format!("/?time={second}"), crate::common::TOKEN).await;
    assert!(html.contains(&format!("Seq {first_seq} of")), "{second}");
    assert!(html.contains("First") && !html.contains("Second"));
    let response = crate::common::client()
        .get(server.http("/?time=yesterday"))
        .header(reqwest::header::COOKIE, format!("fd_token={}", crate::common::TOKEN))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains("is not a moment"), "{text}");
}
