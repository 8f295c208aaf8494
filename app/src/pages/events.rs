//! The events page: the last 50 events, live, filtered by type and topic, with pause and resume,
//! and the errors summary beside them.

use leptos::prelude::*;

use super::{live_page, loaded};
use crate::{
    components::header::Header,
    domain::EVENT_TYPES,
    server_fns::{
        events::{get_events, EventLog},
        Page,
    },
    topics,
};

#[component]
pub fn EventsPage() -> impl IntoView {
    loaded("Loading events…", "the events", get_events, |page| view! { <LiveEvents page/> }.into_any())
}

#[component]
fn LiveEvents(page: Page<EventLog>) -> impl IntoView {
    let log = live_page(page, vec![topics::EVENTS.into()], get_events, |l: &mut EventLog, e| l.apply(e));
    let kind = RwSignal::new(String::new());
    let topic = RwSignal::new(String::new());
    let shown = move || {
        let (kind, topic) = (kind.get(), topic.get());
        log.with(|l| {
            l.events
                .iter()
                .filter(|e| kind.is_empty() || e.body.kind() == kind)
                .filter(|e| topic.trim().is_empty() || e.topics.iter().any(|t| t == topic.trim()))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let paused = move || log.with(|l| l.paused);
    let held = move || log.with(|l| l.held.len());
    let any_held = move || paused() && held() > 0;
    view! {
        <Header/>
        <main class="page events-page">
            <h1>"Events"</h1>
            <div class="events-layout">
                <section class="stream" aria-label="Event stream">
                    <form class="filters" role="search" aria-label="Filter events" on:submit=|ev| ev.prevent_default()>
                        <label>
                            "Type"
                            <select name="type" on:change=move |ev| kind.set(event_target_value(&ev))>
                                <option value="">"All types"</option>
                                {EVENT_TYPES.iter().map(|t| view! { <option value=*t>{*t}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>
                            "Topic"
                            <input type="text" name="topic" placeholder="task:t1, agents…" on:input=move |ev| topic.set(event_target_value(&ev))/>
                        </label>
                        <button type="button" class="pause" aria-pressed=move || paused().to_string()
                            on:click=move |_| log.update(|l| l.set_paused(!l.paused))>
                            {move || if paused() { "Resume" } else { "Pause" }}
                        </button>
                        <Show when=any_held>
                            <span class="held" data-testid="held" role="status">{move || format!("{} new", held())}</span>
                        </Show>
                    </form>
                    <ol class="event-list" data-testid="event-list">
                        <For
                            each=shown
                            key=|e| e.seq
                            children=|e| {
                                let payload = serde_json::to_value(&e.body).ok().and_then(|v| v.get("payload").map(|p| p.to_string())).unwrap_or_default();
                                view! {
                                    <li class="event" data-type=e.body.kind()>
                                        <span class="seq">{format!("#{}", e.seq)}</span>
                                        <span class="type">{e.body.kind()}</span>
                                        <span class="topics">{e.topics.join(" ")}</span>
                                        <code class="payload">{payload}</code>
                                    </li>
                                }
                            }
                        />
                    </ol>
                </section>
                <aside class="errors" aria-label="Errors summary">
                    <h2>"Errors"</h2>
                    <Show when=move || log.with(|l| l.failed.is_empty())>
                        <p class="empty">"No failed tasks."</p>
                    </Show>
                    <ul>
                        {move || log.with(|l| l.errors()).into_iter().map(|g| view! {
                            <li class="error-group" data-kind=g.kind.clone()>
                                <strong>{g.kind.clone()}</strong>
                                <span class="count">{g.count}</span>
                                <ul>
                                    {g.tasks.into_iter().map(|t| view! {
                                        <li><a href=format!("/tasks/{}", t.id)>{t.title}</a>" — "{t.message}</li>
                                    }).collect_view()}
                                </ul>
                            </li>
                        }).collect_view()}
                    </ul>
                </aside>
            </div>
        </main>
    }
}
