//! A task card on the board.

use leptos::prelude::*;

use super::safe_http_url;
use crate::model::{Task, TaskStatus};

#[component]
pub fn Card(task: Task) -> impl IntoView {
    let progress = task.progress.min(100);
    let pr = task.pr_url.clone().map(|url| match safe_http_url(&url) {
        Some(href) => {
            view! { <a class="pr" href=href.to_string() rel="noopener noreferrer" target="_blank">"Pull request"</a> }
                .into_any()
        }
        None => view! { <span class="pr pr-unsafe" title="Not an http(s) link">{url}</span> }.into_any(),
    });
    let error = (task.status == TaskStatus::Failed).then(|| task.error.clone()).flatten();
    view! {
        <li class="card" data-task-id=task.id.clone() data-status=task.status.as_str()>
            <h3 class="card-title">{task.title.clone()}</h3>
            <p class="card-meta">
                <span class="assignee">{task.assignee.clone().unwrap_or_else(|| "unassigned".into())}</span>
                {pr}
            </p>
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
            {error.map(|e| view! { <p class="card-error">{e}</p> })}
        </li>
    }
}
