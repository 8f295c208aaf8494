//! Agent health: judges every agent by its heartbeats, progress and sessions, and logs an
//! `agent:health` event whenever the verdict changes. It runs once at start (so an agent that
//! went silent while the server was down is judged at once) and then on a fixed tick.
//!
//! An agent judged crashed or offline no longer runs anything: its running sessions end with the
//! verdict (failed when it crashed, cancelled when it went offline). Sessions made from telemetry
//! alone (OTLP logs) have no other end.

use std::time::Duration;

use app::domain::{
    agent::{Agent, AgentHealth, Health, HealthRules},
    entity::Entity,
    session::{SessionEnded, SessionOutcome},
    EventBody,
};

use crate::{
    clock::Clock,
    state::AppState,
    store::{Batch, Store, StoreError},
    writer::Writer,
};

pub fn spawn(state: &AppState, every: Duration) {
    let (store, writer, clock, rules) =
        (state.store.clone(), state.writer.clone(), state.clock.clone(), state.health.clone());
    super::every(&state.hub, every, "agent health", move || {
        let (store, writer, clock, rules) = (store.clone(), writer.clone(), clock.clone(), rules.clone());
        async move { judge(&*store, &writer, &*clock, &rules).await }
    });
}

/// Judges every agent once; returns how many changed health.
pub async fn judge(
    store: &dyn Store,
    writer: &Writer,
    clock: &dyn Clock,
    rules: &HealthRules,
) -> Result<usize, StoreError> {
    let now = clock.now_millis();
    let mut changed = 0;
    for (workspace, data) in store.scan(Agent::KIND, None).await? {
        let agent: Agent = match serde_json::from_str(&data) {
            Ok(agent) => agent,
            Err(e) => {
                tracing::warn!(%workspace, error = %e, "an unreadable agent row");
                continue;
            }
        };
        let (health, reason) = agent.assess(now, rules);
        // Only a change of verdict is news; the reason was worded when it changed.
        if health == agent.health {
            continue;
        }
        let ended = ended_sessions(&agent, health, reason.as_deref());
        let verdict =
            AgentHealth { id: agent.id.clone(), health, reason, as_of: agent.last_seq, task_id: agent.task_id };
        let events = std::iter::once(EventBody::AgentHealth(verdict)).chain(ended).collect();
        match writer.submit(Batch::new(workspace, events)).await {
            Ok(_) => changed += 1,
            // The agent reported again since it was read: the next tick judges it afresh.
            Err(e) if e.is_rejection() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(changed)
}

/// The sessions an agent judged crashed or offline leaves running, ended with the verdict.
fn ended_sessions(agent: &Agent, health: Health, reason: Option<&str>) -> Vec<EventBody> {
    let (outcome, what) = match health {
        Health::Crashed => (SessionOutcome::Failed, "crashed"),
        Health::Offline => (SessionOutcome::Cancelled, "went offline"),
        _ => return Vec::new(),
    };
    let summary = match reason {
        Some(reason) => format!("ended by Flightdeck: its agent {what} ({reason})"),
        None => format!("ended by Flightdeck: its agent {what}"),
    };
    agent
        .sessions
        .iter()
        .filter(|s| s.ended_at.is_none())
        .map(|s| {
            EventBody::SessionEnded(SessionEnded {
                id: s.id.clone(),
                outcome,
                summary: Some(summary.clone()),
                ..Default::default()
            })
        })
        .collect()
}
