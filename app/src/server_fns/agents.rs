//! The agents page: every agent with its health, last heartbeat, current task and sessions.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::domain::{agent::Agent, Event, EventBody, Seq};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    pub seq: Seq,
    pub agents: Vec<Agent>,
    /// Two missed heartbeats make an agent stale: shown beside the last one.
    pub heartbeat_ms: i64,
}

/// An agent moves with any event that names it.
impl crate::wire::Reads for Roster {
    const READS: u64 = crate::domain::ALL_EVENTS;
}

impl Roster {
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        let named = match &event.body {
            EventBody::AgentStatus(e) => Some(e.id.clone()),
            EventBody::AgentHeartbeat(e) => Some(e.id.clone()),
            // An agent that starts a session is listed with it (the store does the same).
            EventBody::SessionStarted(e) => e.agent.clone(),
            _ => None,
        };
        if let Some(id) = named.filter(|id| !self.agents.iter().any(|a| &a.id == id)) {
            self.agents.push(Agent { last_heartbeat: Some(at.ts.clone()), ..Agent::new(&id) });
            self.agents.sort_by(|a, b| a.id.cmp(&b.id));
        }
        for agent in &mut self.agents {
            agent.apply(&event.body, &at);
        }
    }
}

#[server(output = super::JsonAnswer)]
pub async fn get_agents() -> Result<Page<Roster>, ServerFnError> {
    use crate::domain::entity::{decode_rows, Query};
    let read = super::ssr::read_page(vec![Query::all::<Agent>()]).await?;
    let agents = decode_rows::<Agent>(&read.snapshot.rows[0]).map_err(ServerFnError::new)?;
    let heartbeat_ms = use_context::<super::ssr::HealthSettings>().map_or(30_000, |h| h.heartbeat_ms);
    let seq = read.snapshot.seq;
    Ok(read.page(Roster { seq, agents, heartbeat_ms }))
}
