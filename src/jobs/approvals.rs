//! Approvals that expire: every pending approval whose `expires_at` has passed is resolved as
//! `timeout` through the writer, so every open page sees it at once and a restart keeps it. One
//! that expired while the server was down is timed out at start.

use std::time::Duration;

use app::domain::{
    approval::{Approval, ApprovalResolved, ApprovalStatus, SERVER},
    entity::Entity,
    EventBody,
};

use crate::{
    clock::Clock,
    state::AppState,
    store::{Batch, Store, StoreError},
    writer::Writer,
};

pub fn spawn(state: &AppState, every: Duration) {
    let (store, writer, clock) = (state.store.clone(), state.writer.clone(), state.clock.clone());
    super::every(&state.hub, every, "approval expiry", move || {
        let (store, writer, clock) = (store.clone(), writer.clone(), clock.clone());
        async move { expire(&*store, &writer, &*clock).await }
    });
}

/// Times out every pending approval that is due; returns how many it timed out.
pub async fn expire(store: &dyn Store, writer: &Writer, clock: &dyn Clock) -> Result<usize, StoreError> {
    let now = clock.now_millis();
    let mut timed_out = 0;
    for (workspace, data) in store.scan(Approval::KIND, Some(ApprovalStatus::Pending.as_str())).await? {
        let Ok(approval) = serde_json::from_str::<Approval>(&data) else {
            tracing::warn!(%workspace, "an unreadable approval row");
            continue;
        };
        if !approval.expired(now) {
            continue;
        }
        let comment = approval.expires_at.map(|at| format!("nobody decided before {at}"));
        let resolution = ApprovalResolved {
            id: approval.id,
            status: ApprovalStatus::Timeout,
            by: Some(SERVER.into()),
            comment,
            ..ApprovalResolved::default()
        };
        match writer.submit(Batch::new(workspace, vec![EventBody::ApprovalResolved(resolution)])).await {
            Ok(_) => timed_out += 1,
            // Somebody decided just before the deadline: theirs is the one resolution.
            Err(e) if e.is_rejection() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(timed_out)
}
