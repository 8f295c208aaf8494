//! The agents page: health with the rule that fired, the last heartbeat ticking, current task and
//! session history, all live.

use leptos::prelude::*;

use super::{live_page, loaded};
use crate::{
    components::{clock::Ago, header::Header},
    domain::{agent::Agent, time},
    server_fns::{
        agents::{get_agents, Roster},
        Page,
    },
    topics,
};

#[component]
pub fn AgentsPage() -> impl IntoView {
    loaded("Loading agents…", "the agents", get_agents, |page| view! { <LiveAgents page/> }.into_any())
}

#[component]
fn LiveAgents(page: Page<Roster>) -> impl IntoView {
    let roster = live_page(page, vec![topics::AGENTS.into()], get_agents, |r: &mut Roster, e| r.apply(e));
    let rule = move || {
        let every = roster.with(|r| r.heartbeat_ms);
        format!("Agents heartbeat every {}; two missed make an agent stale.", time::duration(every))
    };
    view! {
        <Header/>
        <main class="page agents-page">
            <h1>"Agents"</h1>
            <p class="hint">{rule}</p>
            <ul class="agents">
                <For
                    each=move || roster.with(|r| r.agents.clone())
                    key=|a| (a.id.clone(), a.last_seq)
                    children=|agent| view! { <AgentRow agent/> }
                />
            </ul>
            <Show when=move || roster.with(|r| r.agents.is_empty())>
                <p class="empty">"No agent has reported yet."</p>
            </Show>
        </main>
    }
}

#[component]
fn AgentRow(agent: Agent) -> impl IntoView {
    let health = agent.health.as_str();
    let reason = agent.health_reason.clone().filter(|_| agent.health.as_str() != "healthy");
    let sessions = agent.sessions.clone();
    view! {
        <li class="agent" data-agent=agent.id.clone() data-health=health>
            <div class="agent-head">
                <h2>{agent.name.clone().unwrap_or_else(|| agent.id.clone())}</h2>
                <span class="health" data-testid="health" data-health=health>{health}</span>
                <span class="state">{agent.status.as_str()}</span>
            </div>
            {reason.map(|r| view! { <p class="rule" data-testid="rule">{r}</p> })}
            <p class="beat">
                "Last heartbeat: " <Ago ts=Signal::stored(agent.last_heartbeat.clone())/>
            </p>
            <p class="current">
                "Current task: "
                {match agent.task_id.clone() {
                    Some(id) => view! { <a href=format!("/tasks/{id}")>{id.clone()}</a> }.into_any(),
                    None => "none".into_any(),
                }}
            </p>
            <details class="history">
                <summary>{format!("Sessions ({})", sessions.len())}</summary>
                <ol>
                    {sessions
                        .into_iter()
                        .map(|s| {
                            let outcome = s.outcome.map_or("active", |o| o.as_str());
                            view! {
                                <li>
                                    <code>{s.id.clone()}</code>
                                    " · " {s.kind.as_str()} " · " {outcome}
                                    {s.task_id.clone().map(|t| view! { " · " <a href=format!("/tasks/{t}")>{t.clone()}</a> })}
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </details>
        </li>
    }
}
