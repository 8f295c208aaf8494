//! Agent health: judges every agent by its heartbeats, progress and sessions, and logs an
//! `agent:health` event whenever the verdict changes. It runs once at start (so an agent that
//! went silent while the server was down is judged at once) and then on a fixed tick.

use std::time::Duration;

use app::domain::{
    agent::{Agent, AgentHealth, HealthRules},
    entity::Entity,
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
        let verdict =
            AgentHealth { id: agent.id.clone(), health, reason, as_of: agent.last_seq, task_id: agent.task_id };
        match writer.submit(Batch::new(workspace, vec![EventBody::AgentHealth(verdict)])).await {
            Ok(_) => changed += 1,
            // The agent reported again since it was read: the next tick judges it afresh.
            Err(e) if e.is_rejection() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(changed)
}
