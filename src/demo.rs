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
/// Failures, each with the kind the errors summary groups by.
const FAILURES: &[(&str, &str)] = &[
    ("tests failed: 3 assertions in auth::session", "test_failure"),
    ("build timed out after 20 minutes", "timeout"),
    ("merge conflict in src/lib.rs", "merge_conflict"),
    ("test suite timed out on CI", "timeout"),
];
/// Tasks in flight at once.
const OPEN_TASKS: usize = 4;
/// The agent that goes silent for a while (stale, then crashed, then back), so health shows.
const FLAKY: &str = "ken";
const SILENT: std::ops::Range<u64> = 30..330;

/// Where a task is in its life, as the demo drives it.
struct Flight {
    id: String,
    title: String,
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
    let (mut created, mut finished, mut tick, mut spent) = (0u64, 0u64, 0u64, 0f64);
    let mut events = vec![];
    for agent in AGENTS {
        events.push(json!({"type": "agent:status", "payload": {"id": agent, "status": "idle", "name": agent}}));
    }
    post(events).await?;
    loop {
        tick += 1;
        let mut events = Vec::new();
        if flights.len() < OPEN_TASKS {
            created += 1;
            let id = format!("demo-{run_id}-{created}");
            let (title, label, agent) = {
                let mut rng = rand::rng();
                let busy: Vec<&str> = flights.iter().map(|f| f.agent.as_str()).collect();
                let free: Vec<&&str> = AGENTS.iter().filter(|a| !busy.contains(*a)).collect();
                (
                    TITLES.choose(&mut rng).unwrap_or(&"Task").to_string(),
                    *LABELS.choose(&mut rng).unwrap_or(&"feature"),
                    free.choose(&mut rng).map_or("ada", |a| **a).to_string(),
                )
            };
            events.push(json!({"type": "task:created", "payload": {"id": id, "title": title, "labels": [label]}}));
            flights.push(Flight { id, title, agent, stage: 0, subagent: None });
        } else {
            let index = rand::rng().random_range(0..flights.len());
            let flight = &mut flights[index];
            // The silent agent does nothing while it is silent: its task looks stuck on the board.
            if !(flight.agent == FLAKY && SILENT.contains(&tick)) {
                spent += 0.05 + rand::rng().random_range(0.0..0.25);
                if advance(flight, &mut events, tick, spent) {
                    flights.remove(index);
                    finished += 1;
                }
            }
        }
        if tick.is_multiple_of(5) {
            for agent in AGENTS.iter().filter(|a| !(**a == FLAKY && SILENT.contains(&tick))) {
                let task = flights.iter().find(|f| f.agent == *agent).map(|f| f.id.clone());
                events.push(json!({"type": "agent:heartbeat", "payload": {"id": agent, "task_id": task}}));
            }
        }
        if tick.is_multiple_of(7) {
            let message = format!("scheduler: {} tasks in flight, {finished} finished", flights.len());
            events.push(
                json!({"type": "observability:event", "payload": {"message": message, "source": "orchestrator"}}),
            );
        }
        if !events.is_empty() {
            post(events).await?;
        }
        if config.tasks > 0 && finished >= config.tasks {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(config.pace_ms)).await;
    }
}

/// Moves one task a step forward; returns true once it has finished.
fn advance(flight: &mut Flight, events: &mut Vec<Value>, tick: u64, spent: f64) -> bool {
    let id = flight.id.clone();
    let agent = flight.agent.clone();
    let activity = |category: &str, message: String, actor: &str| json!({"type": "activity:logged", "payload": {"task_id": id, "category": category, "message": message, "actor": actor}});
    flight.stage += 1;
    match flight.stage {
        1 => {
            events.push(json!({"type": "task:assigned", "payload": {"id": id, "agent": agent}}));
            events.push(json!({"type": "agent:status", "payload": {"id": agent, "status": "working", "task_id": id}}));
            events.push(activity("execution", format!("Execution started by {agent}"), "orchestrator"));
        }
        2 => {
            let vm = format!("vm-{}", 100 + tick % 900);
            let session = format!("{id}-sub{tick}");
            events.push(json!({"type": "task:progress",
                "payload": {"id": id, "progress": 20, "phase": "vm_assigned", "message": format!("VM {vm} assigned"), "vm_id": vm}}));
            events.push(json!({"type": "session:started",
                "payload": {"id": session, "kind": "subagent", "task_id": id, "agent": agent}}));
            events.push(activity("spawned", "Spawned sub-agent for task execution".into(), &agent));
            flight.subagent = Some(session);
        }
        3 => {
            events.push(json!({"type": "task:progress",
                "payload": {"id": id, "progress": 45, "phase": "executing", "message": "Agent generating code…"}}));
            if let Some(session) = &flight.subagent {
                events.push(json!({"type": "session:iteration", "payload": {"id": session, "iteration": 1, "message": "first draft"}}));
            }
            events.push(json!({"type": "test:started", "payload": {"id": format!("{id}-tests"), "name": "unit tests", "task_id": id}}));
        }
        4 => {
            let failed = u32::from(rand::rng().random_bool(0.3));
            events.push(json!({"type": "test:completed", "payload": {"id": format!("{id}-tests"), "passed": 42 - failed, "failed": failed}}));
            events
                .push(json!({"type": "task:progress", "payload": {"id": id, "progress": 70, "message": "Tests run"}}));
            events.push(activity("agent", "Code generation completed".into(), &agent));
            let file = format!("{}.md", flight.title.to_lowercase().replace(' ', "-"));
            events.push(
                json!({"type": "deliverable:added", "payload": {"task_id": id, "kind": "file", "title": flight.title,
                "path": format!("/workspace/out/{file}"), "description": "What the agent wrote"}}),
            );
            let tokens = 2_000 + tick * 37 % 9_000;
            events.push(json!({"type": "budget:updated", "payload": {"id": "workspace", "spent_usd": (spent * 100.0).round() / 100.0,
                "limit_usd": 50.0}}));
            events.push(json!({"type": "task:updated", "payload": {"id": id,
                "usage": {"input_tokens": tokens, "output_tokens": tokens / 4, "cost_usd": (tokens as f64) / 50_000.0}}}));
        }
        5 => {
            // Some sessions crash: their agent shows as crashed until it starts again.
            let crashed = rand::rng().random_bool(0.15);
            if let Some(session) = flight.subagent.take() {
                let outcome = if crashed { "failed" } else { "completed" };
                events.push(json!({"type": "session:ended", "payload": {"id": session, "outcome": outcome,
                    "summary": if crashed { "sub-agent process exited with code 137" } else { "finished" }}}));
            }
            let pr = format!("https://git.example.test/flightdeck/demo/pull/{tick}");
            events.push(json!({"type": "task:updated",
                "payload": {"id": id, "status": "review", "progress": 90, "pr_url": pr, "branch": format!("agent/{id}")}}));
            events.push(activity("git", format!("PR created: {pr}"), "system"));
            events.push(activity("review", "Submitted for review".into(), "system"));
        }
        _ => {
            if rand::rng().random_bool(0.2) {
                let (message, kind) = *FAILURES.choose(&mut rand::rng()).unwrap_or(&("failed", "unclassified"));
                events.push(json!({"type": "task:failed", "payload": {"id": id,
                    "error": {"message": message, "kind": kind, "context": {"agent": agent, "tick": tick}}}}));
            } else {
                events.push(json!({"type": "task:completed", "payload": {"id": id, "summary": "merged"}}));
            }
            events.push(json!({"type": "agent:status", "payload": {"id": agent, "status": "idle"}}));
            return true;
        }
    }
    false
}

/// Runs the demo inside the server process. It posts with `token` when one is given (the server's
/// configured token), else with a token of its own kept in `token_file`, created once and reused
/// on every start for as long as it is live.
pub async fn spawn_in_process(
    running: &Running,
    pace_ms: u64,
    token: Option<String>,
    token_file: &std::path::Path,
) -> anyhow::Result<()> {
    let token = match token {
        Some(token) => token,
        None => own_token(running, token_file).await?,
    };
    let config = DemoConfig { url: format!("http://{}", running.addr), token, pace_ms, tasks: 0 };
    tokio::spawn(async move {
        if let Err(e) = run(config).await {
            tracing::error!(error = %e, "the demo stopped");
        }
    });
    Ok(())
}

async fn own_token(running: &Running, file: &std::path::Path) -> anyhow::Result<String> {
    let store = &running.state.store;
    if let Ok(saved) = std::fs::read_to_string(file) {
        let saved = saved.trim().to_string();
        if store.find_token(&auth::hash_token(&saved)).await?.is_some() {
            return Ok(saved);
        }
    }
    let token = auth::generate_token();
    let record = TokenRecord {
        id: uuid::Uuid::new_v4().to_string(),
        workspace: app::DEFAULT_WORKSPACE.to_string(),
        role: Role::Ingest,
        name: "demo".into(),
    };
    store.create_token(&record, &auth::hash_token(&token)).await?;
    write_private(file, &token).with_context(|| format!("keeping the demo token in {}", file.display()))?;
    Ok(token)
}

/// Writes a secret readable by its owner only.
fn write_private(file: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file)?.write_all(secret.as_bytes())
}
