//! Keeps the log within its retention, beside the writer rather than inside it: each workspace's
//! log keeps its newest `keep` events (a noisy workspace never prunes a quiet one's history), and
//! idempotency keys are forgotten once past their window. Both go in slices of one short
//! transaction each, so a commit waits at most one slice, never a whole backlog.
//!
//! Unlike the other jobs this one posts no event: what it drops is history, and a client resuming
//! from before it is told so (`reset`) from the workspace's pruned-up-to mark.

use std::{sync::Arc, time::Duration};

use crate::{
    clock::Clock,
    state::AppState,
    store::{Store, StoreError},
};

/// Events (or keys) one transaction drops at most.
pub const SLICE: u64 = 10_000;

pub fn spawn(state: &AppState, every: Duration, keep: u64) {
    let (store, clock, window) = (state.store.clone(), state.clock.clone(), state.idempotency_window);
    super::every(&state.hub, every, "pruning", move || {
        let (store, clock) = (store.clone(), clock.clone());
        async move { prune(store, &*clock, keep, window).await }
    });
}

/// One round: slices until every workspace is within `keep` and no key is past `window`. Returns
/// how many events and keys were dropped.
pub async fn prune(store: Arc<dyn Store>, clock: &dyn Clock, keep: u64, window: Duration) -> Result<usize, StoreError> {
    let mut dropped = 0;
    loop {
        let n = store.prune(keep, SLICE).await?;
        dropped += n;
        if n == 0 {
            break;
        }
        // Let the writer's next commit in between two slices.
        tokio::task::yield_now().await;
    }
    let before = app::domain::time::format(clock.now_millis() - window.as_millis() as i64);
    loop {
        let n = store.forget_keys(&before, SLICE).await?;
        dropped += n;
        if n < SLICE {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(dropped as usize)
}
