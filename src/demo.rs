//! A simulated orchestrator: creates tasks, assigns agents, reports progress, spawns sub-agents,
//! opens pull requests, completes most tasks and fails some — at a pace a person can follow — all
//! through the public ingest API, exactly as a real orchestrator would.

use std::time::Duration;

use anyhow::Context;
use rand::{seq::IndexedRandom, Rng};
use serde_json::{json, Value};

use crate::{
    auth,
    config::DemoConfig,
    server::Running,
    store::{Role, TokenRecord},
};

const AGENTS: &[&str] = &["ada", "grace", "linus", "margaret", "ken"];
const TITLES: &[&str] = &[
    "Fix flaky login test",
    "Add CSV export to reports",
    "Upgrade the HTTP client",
    "Write onboarding guide",
    "Speed up search indexing",
    "Triage open bug reports",
    "Refactor billing module",
    "Add dark mode to settings",
    "Investigate memory spike",
    "Translate error messages",
    "Harden file upload checks",
    "Draft Q3 release notes",
];
const LABELS: &[&str] = &["backend", "frontend", "docs", "infra", "bug", "feature"];
const FAILURES: &[&str] = &[
    "tests failed: 3 assertions in auth::session",
    "build timed out after 20 minutes",
    "merge conflict in src/lib.rs",
];
/// Tasks in flight at once.
const OPEN_TASKS: usize = 4;

/// Where a task is in its life, as the demo drives it.
struct Flight {
    id: String,
    agent: String,
    stage: u8,
    subagent: Option<String>,
}

/// Runs the demo against `config.url` until stopped (or until `config.tasks` tasks have finished).
pub async fn run(config: DemoConfig) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/events", config.url.trim_end_matches('/'));
    let post = |events: Vec<Value>| {
        let request = client.post(&url).bearer_auth(&config.token).json(&events);
        async move {
            let response = request.send().await.context("posting demo events")?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                anyhow::bail!("the server refused demo events ({status}): {body}");
            }
            Ok(())
        }
    };

    let run_id: u32 = rand::rng().random_range(1000..9999);
    let mut flights: Vec<Flight> = Vec::new();
    let mut created = 0u64;
    let mut finished = 0u64;
    let mut tick = 0u64;
    loop {
        tick += 1;
        let mut events = Vec::new();
        if flights.len() < OPEN_TASKS {
            created += 1;
            let id = format!("demo-{run_id}-{created}");
            let (title, label, agent) = {
                let mut rng = rand::rng();
                (
                    *TITLES.choose(&mut rng).unwrap_or(&"Task"),
                    *LABELS.choose(&mut rng).unwrap_or(&"feature"),
                    AGENTS.choose(&mut rng).unwrap_or(&"ada").to_string(),
                )
            };
            events.push(json!({"type": "task:created", "payload": {"id": id, "title": title, "labels": [label]}}));
            flights.push(Flight { id, agent, stage: 0, subagent: None });
        } else {
            let index = rand::rng().random_range(0..flights.len());
            let done = advance(&mut flights[index], &mut events, tick);
            if done {
                flights.remove(index);
                finished += 1;
            }
        }
        if tick.is_multiple_of(5) {
            for agent in AGENTS {
                events.push(json!({"type": "agent:heartbeat", "payload": {"id": agent}}));
            }
        }
        post(events).await?;
        if config.tasks > 0 && finished >= config.tasks {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(config.pace_ms)).await;
    }
}

/// Moves one task a step forward; returns true once it has finished.
fn advance(flight: &mut Flight, events: &mut Vec<Value>, tick: u64) -> bool {
    let id = flight.id.clone();
    let agent = flight.agent.clone();
    flight.stage += 1;
    match flight.stage {
        1 => {
            events.push(json!({"type": "task:assigned", "payload": {"id": id, "agent": agent}}));
            events.push(json!({"type": "agent:status", "payload": {"id": agent, "status": "working", "task_id": id}}));
        }
        2 => {
            let session = format!("{id}-sub{tick}");
            events.push(json!({"type": "task:progress", "payload": {"id": id, "progress": 20, "message": "planning"}}));
            events.push(json!({"type": "session:started",
                "payload": {"id": session, "kind": "subagent", "task_id": id, "agent": format!("{agent}-helper")}}));
            flight.subagent = Some(session);
        }
        3 | 4 => {
            let progress = if flight.stage == 3 { 45 } else { 70 };
            events.push(json!({"type": "task:progress", "payload": {"id": id, "progress": progress}}));
        }
        5 => {
            if let Some(session) = flight.subagent.take() {
                events.push(json!({"type": "session:ended", "payload": {"id": session, "outcome": "completed"}}));
            }
            let pr = format!("https://git.example.test/flightdeck/demo/pull/{}", tick);
            events.push(json!({"type": "task:updated",
                "payload": {"id": id, "status": "review", "progress": 90, "pr_url": pr}}));
        }
        _ => {
            if rand::rng().random_bool(0.2) {
                let error = *FAILURES.choose(&mut rand::rng()).unwrap_or(&"failed");
                events.push(json!({"type": "task:failed", "payload": {"id": id, "error": error}}));
            } else {
                events.push(json!({"type": "task:completed", "payload": {"id": id, "summary": "merged"}}));
            }
            events.push(json!({"type": "agent:status", "payload": {"id": agent, "status": "idle"}}));
            return true;
        }
    }
    false
}

/// Runs the demo inside the server process, with a token of its own.
pub async fn spawn_in_process(running: &Running, pace_ms: u64) -> anyhow::Result<()> {
    let token = auth::generate_token();
    let record = TokenRecord {
        id: uuid::Uuid::new_v4().to_string(),
        workspace: app::DEFAULT_WORKSPACE.to_string(),
        role: Role::Ingest,
        name: "demo".into(),
    };
    running.state.store.create_token(&record, &auth::hash_token(&token)).await?;
    let config = DemoConfig { url: format!("http://{}", running.addr), token, pace_ms, tasks: 0 };
    tokio::spawn(async move {
        if let Err(e) = run(config).await {
            tracing::error!(error = %e, "the demo stopped");
        }
    });
    Ok(())
}
