//! A simulated fleet, at a pace a person can follow, all through the public ingest API exactly as
//! real orchestrators would post: tasks worked by agents ([`fleet`]), a design session with a human
//! in the loop ([`design`]) and sprint batches ([`sprint`]).

mod design;
mod fleet;
mod sprint;

use fleet::{advance, Flight};

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
/// Tasks in flight at once.
const OPEN_TASKS: usize = 4;
/// The agent that goes silent for a while (stale, then crashed, then back), so health shows.
const FLAKY: &str = "ken";
const SILENT: std::ops::Range<u64> = 30..330;

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
        events.extend(design::step(run_id, tick));
        events.extend(sprint::step(run_id, tick));
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
