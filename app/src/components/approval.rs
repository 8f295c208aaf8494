//! An approval: what is asked, a countdown to its expiry that ticks, and Approve / Reject for those
//! allowed to decide (disabled, with the reason, for the rest). Shared by the session and task pages.

use leptos::prelude::*;

use super::clock::Now;
use crate::{
    domain::{
        approval::{Approval, ApprovalStatus},
        time,
    },
    server_fns::Me,
};

#[component]
pub fn ApprovalCard(approval: Approval, me: Me) -> impl IntoView {
    let now = expect_context::<Now>().0;
    let id = approval.id.clone();
    let status = approval.status;
    let expires = approval.expires_at.clone();
    let countdown = move || {
        let at = expires.as_deref().and_then(time::millis)?;
        Some(match now.get() {
            Some(now) if at > now => format!("expires in {}", time::duration(at - now + 999)),
            Some(_) => "expired — timing out…".to_string(),
            None => format!("expires at {} UTC", expires.as_deref().and_then(|e| e.get(11..19)).unwrap_or("?")),
        })
    };
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let reason = me.why_not();
    let disabled = reason.is_some();
    let decide = move |approve: bool| {
        let id = id.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = crate::server_fns::sessions::decide(id, approve).await;
            error.set(
                result.err().map(|e| e.to_string().trim_start_matches("error running server function: ").to_string()),
            );
            busy.set(false);
        });
    };
    let (approve, reject) = (decide.clone(), decide);
    let hint = format!("why-{}", approval.id);
    let resolution = match status {
        ApprovalStatus::Pending => None,
        _ => Some(format!(
            "{}{}",
            status.as_str(),
            approval.resolved_by.as_deref().map_or(String::new(), |by| format!(" by {by}"))
        )),
    };
    view! {
        <li class="approval" data-approval=approval.id.clone() data-status=status.as_str()>
            <div class="approval-head">
                <strong>{approval.title.clone()}</strong>
                <span class="approval-status" data-testid="approval-status">{status.as_str()}</span>
            </div>
            {approval.description.clone().map(|d| view! { <p class="approval-description">{d}</p> })}
            {match resolution {
                Some(text) => view! {
                    <p class="resolution">{text} {approval.comment.clone().map(|c| format!(" — {c}"))}</p>
                }.into_any(),
                None => view! {
                    <p class="countdown" data-testid="countdown">{countdown}</p>
                    <div class="decide">
                        <button type="button" class="approve" disabled=move || disabled || busy.get()
                            aria-describedby=hint.clone() on:click=move |_| approve(true)>"Approve"</button>
                        <button type="button" class="reject" disabled=move || disabled || busy.get()
                            aria-describedby=hint.clone() on:click=move |_| reject(false)>"Reject"</button>
                    </div>
                    {reason.clone().map(|r| view! { <p class="why-not" id=hint.clone()>{r}</p> })}
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
}
