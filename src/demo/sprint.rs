//! Sprint batches in the sprint runner's own event names: a batch of two cycles, each running
//! create → dev → review commands on its stories, with story status changes, a context event and,
//! now and then, a failed review.

use serde_json::{json, Value};

/// Ticks between two batches.
const EVERY: u64 = 120;
const COMMANDS: &[&str] = &["create-story", "dev-story", "code-review"];

/// What the sprint runner posts at `tick`.
pub fn step(run_id: u32, tick: u64) -> Vec<Value> {
    // Batch ids of this run of the demo: a restarted demo never repeats one.
    let (batch, phase) = (u64::from(run_id) * 1000 + tick / EVERY + 1, tick % EVERY);
    let event = |kind: &str, payload: Value| json!({"type": kind, "payload": payload});
    let stories = |cycle: u64| -> Vec<String> { (1..=3).map(|s| format!("{batch}-S{cycle}{s}")).collect() };
    match phase {
        2 => vec![event("batch:start", json!({"batch_id": batch, "max_cycles": 2}))],
        100 => vec![event("batch:end", json!({"batch_id": batch, "cycles_completed": 2, "status": "completed"}))],
        _ => {
            // Each cycle: 4 ticks to start, 3 stories × 3 commands × 4 ticks, 2 ticks to end.
            let (cycle, at) = if (4..50).contains(&phase) {
                (1, phase - 4)
            } else if (52..98).contains(&phase) {
                (2, phase - 52)
            } else {
                return vec![];
            };
            let keys = stories(cycle);
            match at {
                0 => vec![event("cycle:start", json!({"cycle_number": cycle, "story_keys": keys}))],
                1 => vec![event("context:create", json!({"story_key": keys[0], "message": "building context"}))],
                44 => vec![event("cycle:end", json!({"cycle_number": cycle, "completed_stories": keys}))],
                at if (2..38).contains(&at) => {
                    let n = (at - 2) / 4;
                    let (story, command) = (&keys[(n / 3) as usize], COMMANDS[(n % 3) as usize]);
                    let task = format!("{story}-{command}");
                    let ids = json!({"story_key": story, "command": command, "task_id": task});
                    let with = |extra: Value| {
                        let mut payload = ids.clone();
                        payload
                            .as_object_mut()
                            .into_iter()
                            .for_each(|p| p.extend(extra.as_object().cloned().unwrap_or_default()));
                        payload
                    };
                    match (at - 2) % 4 {
                        0 => vec![event("command:start", ids.clone())],
                        1 => vec![event("command:progress", with(json!({"message": format!("{command} running")})))],
                        3 => {
                            let failed = command == "code-review" && (batch + cycle) % 3 == 0 && story.ends_with('2');
                            let status = if failed { "error" } else { "success" };
                            let mut events = vec![event(
                                "command:end",
                                with(json!({"status": status,
                                "metrics": {"duration_ms": 4_000 + n * 700, "tokens": 1_500 + n * 300}})),
                            )];
                            if failed {
                                events.push(event("error", json!({"type": "review_failed", "message": format!("{story}: 2 review comments unresolved")})));
                            } else if command == "code-review" {
                                events.push(event(
                                    "story:status",
                                    json!({"story_key": story, "old_status": "review", "new_status": "done"}),
                                ));
                            }
                            events
                        }
                        _ => vec![],
                    }
                }
                _ => vec![],
            }
        }
    }
}
