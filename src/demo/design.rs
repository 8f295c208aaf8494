//! A design session with a human in the loop, replayed every few minutes: clarifying questions and
//! answers, a spec, tickets generated onto the board, one approval that a person grants and one
//! that nobody answers, so it times out.

use serde_json::{json, Value};

/// Ticks between two design sessions.
const EVERY: u64 = 160;
const AGENT: &str = "clarifier";
const PERSON: &str = "Dana (product)";

/// What the design session posts at `tick`.
pub fn step(run_id: u32, tick: u64) -> Vec<Value> {
    let (round, phase) = (tick / EVERY, tick % EVERY);
    let id = format!("design-{run_id}-{round}");
    let event = |kind: &str, payload: Value| json!({"type": kind, "payload": payload});
    let say = |role: &str, author: &str, text: &str| {
        event("session:message", json!({"id": id, "role": role, "author": author, "text": text}))
    };
    match phase {
        1 => vec![event(
            "session:started",
            json!({"id": id, "kind": "design", "title": "Billing v2: monthly invoices", "agent": AGENT}),
        )],
        2 => vec![
            event("session:updated", json!({"id": id, "state": "clarifying", "progress": 10})),
            say("agent", AGENT, "Which currencies must invoices support?"),
        ],
        5 => vec![say("human", PERSON, "EUR and USD for now; GBP next quarter.")],
        8 => vec![say("agent", AGENT, "Should a failed payment be retried, and how often?")],
        11 => vec![say("human", PERSON, "Yes: three retries over a week, then email the account owner.")],
        14 => vec![event("session:updated", json!({"id": id, "state": "generating", "progress": 60}))],
        17 => vec![event(
            "session:spec",
            json!({"id": id, "state": "spec_ready", "spec": {
            "title": "Billing v2", "currencies": ["EUR", "USD"],
            "retries": {"attempts": 3, "over_days": 7, "then": "email the account owner"},
            "stories": ["Invoice generator", "Payment retry scheduler"]}}),
        )],
        18 => vec![event(
            "approval:requested",
            json!({"id": format!("{id}-spec"), "session_id": id,
            "title": "Approve the spec?", "description": "Two stories, EUR and USD, three retries.", "requested_by": AGENT,
            "ttl_ms": 120_000}),
        )],
        20 => vec![
            event(
                "task:created",
                json!({"id": format!("{id}-t1"), "title": "Invoice generator", "session_id": id, "labels": ["billing"]}),
            ),
            event(
                "task:created",
                json!({"id": format!("{id}-t2"), "title": "Payment retry scheduler", "session_id": id, "labels": ["billing"]}),
            ),
        ],
        24 => vec![event(
            "approval:requested",
            json!({"id": format!("{id}-email"), "session_id": id,
            "title": "Let the agent email customers directly?", "requested_by": AGENT, "ttl_ms": 20_000}),
        )],
        30 => vec![event(
            "approval:resolved",
            json!({"id": format!("{id}-spec"), "status": "approved", "by": PERSON,
            "comment": "Ship it"}),
        )],
        33 => vec![
            event("session:updated", json!({"id": id, "state": "approved", "progress": 100})),
            say("system", "flightdeck", "Spec approved; two tickets are on the board."),
        ],
        60 => vec![event(
            "session:ended",
            json!({"id": id, "outcome": "completed", "summary": "Spec approved, 2 tickets"}),
        )],
        _ => vec![],
    }
}
