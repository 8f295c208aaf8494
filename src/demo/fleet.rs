//! The task fleet: each task goes inbox → assigned → in progress (VM, sub-agent, tests, a
//! deliverable, budget) → review with a pull request → done, or failed with an error kind.

use rand::{seq::IndexedRandom, Rng};
use serde_json::{json, Value};

/// Failures, each with the kind the errors summary groups by.
const FAILURES: &[(&str, &str)] = &[
    ("tests failed: 3 assertions in auth::session", "test_failure"),
    ("build timed out after 20 minutes", "timeout"),
    ("merge conflict in src/lib.rs", "merge_conflict"),
    ("test suite timed out on CI", "timeout"),
];
/// Where a task is in its life, as the demo drives it.
pub struct Flight {
    pub id: String,
    pub title: String,
    pub agent: String,
    pub stage: u8,
    pub subagent: Option<String>,
}

/// Moves one task a step forward; returns true once it has finished.
pub fn advance(flight: &mut Flight, events: &mut Vec<Value>, tick: u64, spent: f64) -> bool {
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
