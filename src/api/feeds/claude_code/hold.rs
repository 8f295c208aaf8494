//! A held hook: it waits for its approval to be resolved, is answered with what was decided, and
//! the answer is logged on the session, so the timeline tells who decided and how long it waited.

use app::domain::{
    activity::ActivityLogged,
    approval::{Approval, ApprovalStatus},
    check,
    policy::{OnTimeout, Policy},
    time, EventBody,
};
use serde_json::Value;

use super::{clip, gate, Hook};
use crate::{
    api::{error::ApiError, ingest::accept},
    held::Outcome,
    state::AppState,
    store::TokenRecord,
};

/// Waits for approval `id` and returns the hook's answer (`None`: no decision).
pub async fn answer(
    state: &AppState,
    caller: &TokenRecord,
    hook: &Hook,
    id: &str,
    policy: &Policy,
) -> Result<Option<Value>, ApiError> {
    let Some(waiter) = state.held.enter(&caller.workspace, id) else {
        tracing::warn!(approval = id, "too many held requests: this one is answered with no decision");
        return Ok(None);
    };
    let outcome = waiter.until_resolved(&*state.store, &state.hub, None).await?;
    let (answer, story) = match &outcome {
        Outcome::Resolved(approval) => {
            let answer = hook.decided(approval, policy);
            (answer.clone(), story(approval, answer.as_ref(), policy))
        }
        Outcome::Pending(_) | Outcome::Released => {
            (None, "Released with no decision: the server is stopping, so Claude Code asks in its terminal".into())
        }
    };
    let session = hook.subagent().map_or_else(|| hook.session.clone(), |(id, _)| id);
    let mut notes = vec![EventBody::ActivityLogged(ActivityLogged {
        session_id: Some(session),
        category: "approval".into(),
        message: clip(&story, check::MAX_TEXT / 2),
        actor: Some("flightdeck".into()),
        ..ActivityLogged::default()
    })];
    // A denied call never runs, so no later hook ends its activity: the answer does.
    let denial = answer.as_ref().and_then(|a| denial_reason(a));
    if let (Some(reason), Outcome::Resolved(approval)) = (denial, &outcome) {
        let activity = approval.tool.as_ref().and_then(|t| t.activity_id.clone());
        notes.extend(hook.denied(activity, &reason));
    }
    if let Err(e) = accept(state, caller, notes).await {
        tracing::warn!(approval = id, error = %e, "the answer to a held hook was not logged");
    }
    Ok(answer)
}

/// The reason a deny answer gives, if the answer denies.
fn denial_reason(answer: &Value) -> Option<String> {
    let out = &answer["hookSpecificOutput"];
    let reason = match out["permissionDecision"].as_str() {
        Some("deny") => &out["permissionDecisionReason"],
        Some(_) => return None,
        None if out["decision"]["behavior"] == "deny" => &out["decision"]["message"],
        None => return None,
    };
    Some(reason.as_str().unwrap_or("denied").to_string())
}

/// The answer in a sentence, for the session's timeline.
fn story(approval: &Approval, answer: Option<&Value>, policy: &Policy) -> String {
    let waited = approval
        .resolved_at
        .as_deref()
        .and_then(|at| time::between(&approval.created_at, at))
        .map_or(String::new(), |ms| format!(" after {}", time::duration(ms.max(0))));
    let by = approval.resolved_by.as_deref().unwrap_or("an operator");
    let said = |what: &str| match answer {
        Some(_) => format!("Answered Claude Code: {what}"),
        None => "Answered Claude Code with no decision".to_string(),
    };
    let reason = approval.comment.as_deref().map_or(String::new(), |c| format!(": {c}"));
    match approval.status {
        _ if by == gate::TERMINAL => format!("The terminal answered first{waited}; the held request was released"),
        ApprovalStatus::Approved => {
            let how = match (&approval.updated_input, approval.for_session) {
                (Some(_), _) => "allow, with an edited input",
                (None, true) => "allow, for the rest of the session",
                (None, false) => "allow",
            };
            format!("{}, as {by} approved{waited}", said(how))
        }
        ApprovalStatus::Rejected => format!("{}, as {by} rejected{waited}{reason}", said("deny")),
        ApprovalStatus::Timeout => {
            let then = match policy.on_timeout {
                OnTimeout::Deny => "deny",
                OnTimeout::NoDecision => "no decision, so it asks in its terminal",
            };
            format!("{}: nobody decided{waited}", said(then))
        }
        ApprovalStatus::Pending => said("no decision"),
    }
}
