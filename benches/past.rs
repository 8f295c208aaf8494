//! Prints what showing a past moment costs on a long log: the board's and a task page's reads
//! answered as they were at seqs spread over a 1,000,000-event log, rebuilt from the nearest
//! snapshot (taken every `PAST_EVERY` events, as the server's job does) plus the events after it,
//! and the worst case: a moment just before a snapshot, with the most events to replay.
//!
//! `cargo bench --bench past` (`PAST_EVENTS=200000` for a shorter log; `PAST_DATABASE=postgres://…`
//! to run on PostgreSQL, in a schema of its own that is dropped afterwards). It asserts nothing.

use std::time::Instant;

use app::domain::{activity::Activity, agent::Agent, entity::Query, task::Task, EventBody};
use flightdeck::store::{self, past, Batch};
use serde_json::json;

/// Tasks the fleet works through over the whole log, and agents working on them.
const TASKS: u64 = 5_000;
const AGENTS: u64 = 50;

/// The `i`-th event: a fleet's mix of heartbeats, tool calls, progress and tasks moving along.
fn event(i: u64, events: u64) -> EventBody {
    let per_task = events / TASKS;
    let task = format!("t{}", i / per_task);
    let agent = format!("agent-{}", i % AGENTS);
    let value = match i % per_task {
        0 => {
            json!({"type": "task:created", "payload": {"id": task, "title": format!("Task {task}"), "labels": ["bench"]}})
        }
        1 => json!({"type": "task:assigned", "payload": {"id": task, "agent": agent}}),
        2 => json!({"type": "task:updated", "payload": {"id": task, "status": "in_progress"}}),
        n if n == per_task - 1 => json!({"type": "task:completed", "payload": {"id": task}}),
        n => match n % 10 {
            0..=3 => json!({"type": "agent:heartbeat", "payload": {"id": agent}}),
            4..=7 => {
                json!({"type": "activity:logged", "payload": {"task_id": task, "category": "tool", "message": format!("step {n}"), "actor": agent}})
            }
            _ => json!({"type": "task:progress", "payload": {"id": task, "progress": (n * 100 / per_task) as u8}}),
        },
    };
    EventBody::from_json(value).expect("a valid event")
}

#[tokio::main]
async fn main() {
    let events: u64 = std::env::var("PAST_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let every: u64 = std::env::var("PAST_EVERY").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    let (url, schema) = match std::env::var("PAST_DATABASE") {
        Ok(base) if !base.is_empty() => {
            let name = format!("fd_bench_past_{}", std::process::id());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.unwrap();
            let join = if base.contains('?') { '&' } else { '?' };
            (format!("{base}{join}options=-c%20search_path%3D{name}"), Some((base, name)))
        }
        _ => (format!("sqlite://{}", dir.path().join("past.db").display()), None),
    };
    let store = store::open(&url).await.unwrap();
    let started = Instant::now();
    let mut written = 0;
    while written < events {
        let batch: Vec<EventBody> = (written..(written + 1_000).min(events)).map(|i| event(i, events)).collect();
        written += batch.len() as u64;
        let ts = app::domain::time::format(1_780_000_000_000 + written as i64 * 10);
        let results = store.commit(vec![Batch::new("w".into(), batch)], &ts).await.unwrap();
        results.into_iter().next().unwrap().unwrap();
        store.take_snapshot(every).await.unwrap();
    }
    let head = store.head().await.unwrap();
    println!(
        "log: {head} events ({TASKS} tasks, {AGENTS} agents) written with a snapshot every {every} in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let board = vec![Query::all::<Task>(), Query::all::<Agent>()];
    let mut moments: Vec<(String, u64, Vec<Query>)> = Vec::new();
    for tenth in 1..=10 {
        moments.push((format!("board at {tenth}/10 of the log"), head * tenth / 10, board.clone()));
    }
    // Just before a snapshot: the most events to replay on top of the one before.
    let (below, _) = store.snapshots_around(head / 2, 0).await.unwrap();
    moments.push(("board just before a snapshot".into(), below + every - 1, board.clone()));
    let task = format!("t{}", TASKS / 2);
    let task_page =
        vec![Query::one::<Task>(&task), Query::children::<Activity>(&task).newest(200), Query::all::<Agent>()];
    moments.push((format!("task page of {task} at its midpoint"), head / 2 + events / TASKS / 2, task_page.clone()));
    moments.push(("task page just before a snapshot".into(), below + every - 1, task_page));

    println!("{:<40} {:>10} {:>10} {:>12} {:>10}", "moment", "seq", "replayed", "rows", "ms");
    let mut worst: f64 = 0.0;
    for (name, at, queries) in &moments {
        let runs = 5;
        let mut times = Vec::with_capacity(runs);
        let mut shape = (0, 0);
        for _ in 0..runs {
            let start = Instant::now();
            let rebuilt = past::rebuild(&*store, "w", *at, queries).await.unwrap();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            if let past::Rebuilt::Rows { rows, replayed, .. } = rebuilt {
                shape = (replayed, rows.iter().map(Vec::len).sum::<usize>());
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[runs / 2];
        worst = worst.max(median);
        println!("{name:<40} {at:>10} {:>10} {:>12} {median:>10.1}", shape.0, shape.1);
    }
    println!("slowest moment (median of 5): {worst:.1} ms");

    if let Some((base, name)) = schema {
        drop(store);
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {name} CASCADE")).execute(&mut conn).await.unwrap();
    }
}
