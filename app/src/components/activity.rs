//! A timeline of activities, newest first: a task's or a session's. An entry that takes time
//! shows whether it is still running, and how long it took once it is done.

use leptos::prelude::*;

use super::clock::Ago;
use crate::domain::{activity::Activity, time};

#[component]
pub fn ActivityList(#[prop(into)] entries: Signal<Vec<Activity>>, #[prop(into)] empty: String) -> impl IntoView {
    view! {
        <ol class="timeline" aria-label="Activity" data-testid="timeline">
            <For
                each=move || entries.get()
                key=|a| (a.id.clone(), a.last_seq)
                children=|a| {
                    let status = a.status.map(|s| s.as_str());
                    let took = a.duration_ms.map(|ms| if ms < 1_000 { format!("{ms} ms") } else { time::duration(ms as i64) });
                    view! {
                        <li class="entry" data-category=a.category.clone() data-status=status>
                            <span class="category">{a.category.clone()}</span>
                            <span class="message">
                                {a.message.clone()}
                                {status.map(|s| view! { <span class="entry-status">{s}</span> })}
                                {took.map(|t| view! { <span class="entry-took">{t}</span> })}
                            </span>
                            <span class="actor">{a.actor.clone().unwrap_or_default()}</span>
                            <Ago ts=Signal::stored(Some(a.created_at.clone()))/>
                        </li>
                    }
                }
            />
        </ol>
        <Show when=move || entries.with(Vec::is_empty)>
            <p class="empty">{empty.clone()}</p>
        </Show>
    }
}
