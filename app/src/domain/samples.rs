//! One valid event of every type, all about the same task, agent and session: for tests that must
//! cover every type, such as what a page may leave undecoded (`kinds::Reads`).

use serde_json::{json, Value};

use super::{Event, EventBody, EVENT_TYPES};

/// `(type, payload)` for every event type, in an order a log could hold them.
fn bodies() -> Vec<(&'static str, Value)> {
    vec![
        ("task:created", json!({"id": "t1", "title": "Ship it", "labels": ["ui"]})),
        ("agent:status", json!({"id": "a1", "status": "working", "task_id": "t1"})),
        ("agent:heartbeat", json!({"id": "a1"})),
        ("agent:health", json!({"id": "a1", "health": "stuck", "reason": "quiet", "as_of": 2})),
        ("task:assigned", json!({"id": "t1", "agent": "a1"})),
        ("task:progress", json!({"id": "t1", "progress": 40, "phase": "build"})),
        ("task:updated", json!({"id": "t1", "title": "Ship it now", "pr_url": "https://example.com/pr/1"})),
        ("session:started", json!({"id": "s1", "task_id": "t1", "agent": "a1", "kind": "subagent"})),
        ("session:updated", json!({"id": "s1", "state": "running", "progress": 10})),
        ("session:iteration", json!({"id": "s1", "iteration": 1})),
        ("session:heartbeat", json!({"id": "s1"})),
        ("session:message", json!({"id": "s1", "role": "agent", "text": "hi"})),
        ("session:message", json!({"id": "s1", "message_id": "m2", "role": "human", "text": "go on"})),
        ("session:delivered", json!({"id": "s1", "message_id": "m2", "via": "Stop"})),
        ("session:spec", json!({"id": "s1", "spec": "do it"})),
        ("activity:logged", json!({"id": "act1", "task_id": "t1", "category": "git", "message": "pushed"})),
        ("activity:updated", json!({"id": "act1", "task_id": "t1", "status": "succeeded"})),
        ("session:attributed", json!({"id": "s1", "title": "Planner", "task_id": "t1"})),
        ("activity:moved", json!({"id": "act1", "session_id": "s1", "task_id": "t1"})),
        (
            "deliverable:added",
            json!({"task_id": "t1", "kind": "url", "title": "PR", "path": "https://example.com/pr/1"}),
        ),
        ("approval:requested", json!({"id": "ap1", "task_id": "t1", "title": "Deploy?"})),
        ("approval:resolved", json!({"id": "ap1", "status": "approved"})),
        ("policy:updated", json!({"rules": [{"tool": "Read", "action": "allow"}]})),
        ("test:started", json!({"id": "tr1", "name": "unit", "task_id": "t1"})),
        ("test:completed", json!({"id": "tr1", "task_id": "t1", "passed": 3, "failed": 0})),
        ("budget:updated", json!({"task_id": "t1", "spent_usd": 1.5})),
        ("usage:reported", json!({"task_id": "t1", "input_tokens": 10, "output_tokens": 5})),
        ("observability:event", json!({"message": "m", "task_id": "t1"})),
        ("batch:start", json!({"batch_id": 1, "max_cycles": 2})),
        ("cycle:start", json!({"cycle_number": 1, "story_keys": ["st1"]})),
        ("story:status", json!({"story_key": "st1", "old_status": "todo", "new_status": "doing"})),
        ("context:create", json!({"story_key": "st1"})),
        ("context:refresh", json!({"story_key": "st1"})),
        ("context:complete", json!({"story_key": "st1"})),
        ("command:start", json!({"story_key": "st1", "command": "dev-story", "task_id": "t1"})),
        ("command:progress", json!({"story_key": "st1", "command": "dev-story", "task_id": "t1", "message": "m"})),
        ("command:end", json!({"story_key": "st1", "command": "dev-story", "task_id": "t1", "status": "success"})),
        ("run:error", json!({"type": "x", "message": "m"})),
        ("cycle:end", json!({"cycle_number": 1, "completed_stories": ["st1"]})),
        ("batch:end", json!({"batch_id": 1, "cycles_completed": 1, "status": "completed"})),
        ("session:ended", json!({"id": "s1", "outcome": "completed"})),
        ("task:completed", json!({"id": "t1", "pr_url": "https://example.com/pr/1"})),
        ("task:failed", json!({"id": "t1", "error": "boom"})),
        ("task:retried", json!({"id": "t1"})),
        ("task:cancelled", json!({"id": "t1", "reason": "wrong approach"})),
    ]
}

/// Every type once, as stored events from seq 1, a second apart.
pub fn events() -> Vec<Event> {
    let bodies = bodies();
    let mut types: Vec<&str> = bodies.iter().map(|(kind, _)| *kind).collect();
    types.sort();
    types.dedup();
    let mut all = EVENT_TYPES.to_vec();
    all.sort();
    assert_eq!(types, all, "one sample of every event type");
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, (kind, payload))| {
            let body = EventBody::from_json(json!({"type": kind, "payload": payload}))
                .unwrap_or_else(|e| panic!("the sample of {kind}: {e}"));
            let seq = i as u64 + 1;
            let ts = format!("2026-01-01T00:{:02}:{:02}Z", seq / 60, seq % 60);
            // What people do from a page is about tasks, and says who did it.
            let by = kind.starts_with("task:").then(|| "Dana".to_string());
            Event { seq, ts, topics: body.topics(), by, body }
        })
        .collect()
}
