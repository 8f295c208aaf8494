//! An approval: what is asked (an agent's tool call in full: the tool, its command or input, where
//! it runs), a countdown to its expiry that ticks, and the decision for those allowed to make it —
//! Approve, Approve for the session (where the agent offered it), Deny, with a reason the agent
//! reads and, for a tool call, the input edited before approving. Disabled, with the reason, for
//! the rest. Shared by the session and task pages and the approvals inbox.

use leptos::prelude::*;

use super::clock::Now;
use crate::{
    domain::{
        approval::{Approval, ApprovalStatus, ToolCall},
        time,
    },
    server_fns::Me,
};

/// How a decision was asked for.
#[derive(Clone, Copy, PartialEq)]
pub enum Verdict {
    Approve,
    ApproveForSession,
    Deny,
}

/// Posts a decision; the refusal in the words the page shows.
pub async fn send(id: String, verdict: Verdict, reason: String, edited: Option<String>) -> Result<(), String> {
    let approve = verdict != Verdict::Deny;
    let for_session = Some(verdict == Verdict::ApproveForSession);
    let result = crate::server_fns::sessions::decide(id, approve, Some(reason), edited, for_session).await;
    result.map_err(|e| e.to_string().trim_start_matches("error running server function: ").to_string())
}

#[component]
pub fn ApprovalCard(approval: Approval, me: Me, #[prop(optional)] link: bool) -> impl IntoView {
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
    let reason_text = RwSignal::new(String::new());
    let original = approval.tool.as_ref().and_then(|t| t.input.as_ref()).map(pretty).unwrap_or_default();
    let edited = RwSignal::new(original.clone());
    let editable = !original.is_empty() && status == ApprovalStatus::Pending;
    let why_not = me.why_not();
    let disabled = why_not.is_some();
    let decide = move |verdict: Verdict| {
        let id = id.clone();
        let edit = Some(edited.get_untracked()).filter(|e| *e != original && verdict != Verdict::Deny);
        busy.set(true);
        leptos::task::spawn_local(async move {
            error.set(send(id, verdict, reason_text.get_untracked(), edit).await.err());
            busy.set(false);
        });
    };
    let (approve, for_session, deny) = (decide.clone(), decide.clone(), decide);
    let offers_session = approval.tool.as_ref().is_some_and(|t| t.suggestions.is_some());
    let hint = format!("why-{}", approval.id);
    let reason_id = format!("reason-{}", approval.id);
    let edit_id = format!("edit-{}", approval.id);
    let resolution = match status {
        ApprovalStatus::Pending => None,
        _ => Some(resolution(&approval)),
    };
    let place = link.then(|| match (&approval.session_id, &approval.task_id) {
        (Some(session), _) => (format!("/sessions/{session}"), format!("session {session}")),
        (None, Some(task)) => (format!("/tasks/{task}?tab=approvals"), format!("task {task}")),
        (None, None) => (String::new(), String::new()),
    });
    let by = approval.requested_by.clone();
    view! {
        <li class="approval" data-approval=approval.id.clone() data-status=status.as_str()>
            <div class="approval-head">
                <strong>{approval.title.clone()}</strong>
                <span class="approval-status" data-testid="approval-status">{status.as_str()}</span>
            </div>
            {place.filter(|(href, _)| !href.is_empty()).map(|(href, name)| view! {
                <p class="approval-where">
                    {by.map(|b| format!("{b} · "))}
                    <a href=href>{name}</a>
                </p>
            })}
            {match approval.tool.clone() {
                Some(tool) => view! { <ToolCallView tool/> }.into_any(),
                None => approval.description.clone().map(|d| view! { <p class="approval-description">{d}</p> }).into_any(),
            }}
            {match resolution {
                Some(text) => view! { <p class="resolution">{text}</p> }.into_any(),
                None => view! {
                    <p class="countdown" data-testid="countdown">{countdown}</p>
                    <label class="reason" for=reason_id.clone()>"Reason (the agent reads it)"</label>
                    <input id=reason_id class="reason-input" type="text" disabled=disabled
                        prop:value=move || reason_text.get() on:input=move |ev| reason_text.set(event_target_value(&ev))/>
                    {editable.then(|| view! {
                        <details class="edit-input">
                            <summary>"Edit the input before approving"</summary>
                            <label for=edit_id.clone()>"Input (JSON)"</label>
                            <textarea id=edit_id.clone() rows="4" disabled=disabled
                                prop:value=move || edited.get() on:input=move |ev| edited.set(event_target_value(&ev))></textarea>
                        </details>
                    })}
                    <div class="decide">
                        <button type="button" class="approve" disabled=move || disabled || busy.get()
                            aria-describedby=hint.clone() on:click=move |_| approve(Verdict::Approve)>"Approve"</button>
                        {offers_session.then(|| view! {
                            <button type="button" class="approve-session" disabled=move || disabled || busy.get()
                                on:click=move |_| for_session(Verdict::ApproveForSession)>"Approve for this session"</button>
                        })}
                        <button type="button" class="reject" disabled=move || disabled || busy.get()
                            aria-describedby=hint.clone() on:click=move |_| deny(Verdict::Deny)>"Deny"</button>
                    </div>
                    {why_not.clone().map(|r| view! { <p class="why-not" id=hint.clone()>{r}</p> })}
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
}

/// The tool call in full: what a person must read before saying yes.
#[component]
fn ToolCallView(tool: ToolCall) -> impl IntoView {
    let subject = tool.subject();
    view! {
        <p class="approval-tool">
            <code class="tool-name">{tool.name.clone()}</code>
            {tool.cwd.clone().map(|cwd| view! { " in " <code>{cwd}</code> })}
        </p>
        <pre class="approval-command" data-testid="approval-command">{subject}</pre>
    }
}

/// How it was resolved, by whom, with what.
fn resolution(approval: &Approval) -> String {
    let by = approval.resolved_by.as_deref().map_or(String::new(), |by| format!(" by {by}"));
    let how = match (&approval.updated_input, approval.for_session) {
        (Some(_), _) => " with an edited input",
        (None, true) => " for the rest of the session",
        (None, false) => "",
    };
    let comment = approval.comment.as_deref().map_or(String::new(), |c| format!(" — {c}"));
    format!("{}{how}{by}{comment}", approval.status.as_str())
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
