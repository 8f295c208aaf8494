//! A task card on the board, and the pull-request link it shares with the task page.

use leptos::prelude::*;

use super::safe_http_url;
use crate::{
    domain::task::{Task, TaskStatus},
    server_fns::board::HealthBadge,
};

#[component]
pub fn Card(task: Task, badge: Option<HealthBadge>) -> impl IntoView {
    let progress = task.progress.min(100);
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
        <li class="card" data-task-id=task.id.clone() data-status=task.status.as_str()>
            <h3 class="card-title">
                <a href=href>{task.title.clone()}</a>
            </h3>
            <p class="card-meta">
                <span class="assignee">{task.assignee.clone().unwrap_or_else(|| "unassigned".into())}</span>
                {task.pr_url.clone().map(|url| view! { <PrLink url/> })}
            </p>
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
