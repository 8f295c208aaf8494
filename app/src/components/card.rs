//! A task card on the board, and the pull-request link it shares with the task page.

use leptos::prelude::*;

use super::{
    safe_http_url,
    task_actions::{CardMenu, Controls},
};
use crate::{
    domain::task::{Task, TaskStatus},
    server_fns::board::HealthBadge,
};

/// Whether a card drawn now arrived while its page was open, and slides in, or came with the page
/// and is simply there: a hundred cards animating at once is work the browser would do while the
/// page loads.
#[derive(Clone, Copy)]
pub struct Arrivals(RwSignal<bool>);

impl Arrivals {
    /// For a page of cards: those drawn after the page's first render (or hydration) slide in.
    pub fn provide() {
        let after_first = RwSignal::new(false);
        Effect::new(move |_| after_first.set(true));
        provide_context(Arrivals(after_first));
    }
}

/// A card; with `controls` (the live board), one that can be selected, dragged and acted on.
#[component]
pub fn Card(task: Task, badge: Option<HealthBadge>, #[prop(optional)] controls: Option<Controls>) -> impl IntoView {
    let arrived = use_context::<Arrivals>().is_some_and(|a| a.0.get_untracked());
    let progress = task.progress.min(100);
    let cancelled = task.cancelled.clone().map(|c| {
        let who = c.by.map(|by| format!(" by {by}")).unwrap_or_default();
        let why = c.reason.map(|r| format!(": {r}")).unwrap_or_default();
        view! { <p class="card-cancelled">{format!("Cancelled{who}{why}")}</p> }
    });
    let attempt =
        (task.attempt > 1).then(|| view! { <span class="attempt">{format!("attempt {}", task.attempt)}</span> });
    let select = controls.map(|c| {
        let id = task.id.clone();
        let checked = {
            let id = id.clone();
            move || c.selected.with(|s| s.contains(&id))
        };
        let label = format!("Select {}", task.title);
        view! {
            <input type="checkbox" class="select" aria-label=label prop:checked=checked disabled=c.disabled()
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    c.selected.update(|s| { if on { s.insert(id.clone()); } else { s.remove(&id); } });
                }/>
        }
    });
    let drag = controls.filter(|c| !c.disabled()).map(|c| (c, task.id.clone(), task.last_seq, task.status));
    let draggable = drag.is_some().then_some("true");
    let on_drag = move |ev: leptos::ev::DragEvent| {
        if let Some((c, id, seq, status)) = &drag {
            #[cfg(feature = "hydrate")]
            if let Some(data) = ev.data_transfer() {
                let _ = data.set_data("text/plain", id);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &ev;
            c.dragging.set(Some((id.clone(), *seq, *status)));
        }
    };
    let menu = controls.map(|controls| view! { <CardMenu task=task.clone() controls/> });
    let error = (task.status == TaskStatus::Failed).then(|| task.error.clone()).flatten();
    let href = format!("/tasks/{}", task.id);
    let badge = badge.map(|b| {
        let health = b.health.as_str();
        let reason = b.reason.unwrap_or_default();
        let label = format!("Agent {health}: {reason}");
        let title = reason.clone();
        view! {
            <p class="card-health" data-health=health title=title aria-label=label>
                {format!("⚠ agent {health}")}
                <span class="reason">{reason}</span>
            </p>
        }
    });
    view! {
        <li class="card" class:arrived=arrived data-task-id=task.id.clone() data-status=task.status.as_str() data-seq=task.last_seq
            draggable=draggable on:dragstart=on_drag>
            <div class="card-head">
                {select}
                <h3 class="card-title">
                    <a href=href>{task.title.clone()}</a>
                </h3>
            </div>
            {menu}
            <p class="card-meta">
                <span class="assignee">{task.assignee.clone().unwrap_or_else(|| "unassigned".into())}</span>
                {attempt}
                {task.pr_url.clone().map(|url| view! { <PrLink url/> })}
            </p>
            {cancelled}
            {badge}
            <div
                class="progress"
                role="progressbar"
                aria-label="Progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=progress
            >
                <div class="progress-fill" style:width=format!("{progress}%")></div>
            </div>
            {task.message.clone().filter(|_| !task.status.finished()).map(|m| view! { <p class="card-message">{m}</p> })}
            {error.map(|e| view! { <p class="card-error">{e.message}</p> })}
        </li>
    }
}

/// A pull-request link, only for http(s) URLs: anything else is shown as inert text.
#[component]
pub fn PrLink(url: String) -> impl IntoView {
    match safe_http_url(&url) {
        Some(href) => {
            view! { <a class="pr" href=href.to_string() rel="noopener noreferrer" target="_blank">"Pull request"</a> }
                .into_any()
        }
        None => view! { <span class="pr pr-unsafe" title="Not an http(s) link">{url}</span> }.into_any(),
    }
}
