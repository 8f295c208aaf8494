//! Snapshots of every workspace's rows, taken whenever `every` events have been committed since the
//! last one, so a past moment is rebuilt from the nearest snapshot plus at most about `every`
//! events (`store::past`). Like pruning, it posts no event: a snapshot is a copy of state the log
//! already holds, not a fact. Each instance on a shared database tries; one takes each snapshot.

use std::time::Duration;

use crate::state::AppState;

/// How often the head is looked at: a snapshot is due at most this late.
const LOOK_EVERY: Duration = Duration::from_millis(250);

pub fn spawn(state: &AppState, every: u64) {
    let store = state.store.clone();
    super::every(&state.hub, LOOK_EVERY, "snapshots", move || {
        let store = store.clone();
        async move {
            let taken = store.take_snapshot(every).await?;
            if let Some(seq) = taken {
                tracing::debug!(seq, "snapshot taken");
                metrics::counter!("flightdeck_snapshots_total").increment(1);
            }
            Ok(usize::from(taken.is_some()))
        }
    });
}
