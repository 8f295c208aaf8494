//! Facts that time produces. Each job enters what it concludes through the writer, like any event,
//! so it is pushed, replayed and still true after a restart. Each runs once at start (catching up
//! on whatever came due while the server was down) and then on a fixed tick, until shutdown.

pub mod approvals;
pub mod health;
pub mod prune;
pub mod snapshots;

use std::{future::Future, time::Duration};

use tokio::time::{interval, MissedTickBehavior};

use crate::{hub::Hub, store::StoreError};

/// Runs `job` now and then every `every`, until the hub shuts down.
pub fn every<F, Fut>(hub: &Hub, every: Duration, name: &'static str, mut job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<usize, StoreError>> + Send,
{
    let mut shutdown = hub.shutdown_signal();
    tokio::spawn(async move {
        let mut ticks = interval(every.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    if let Err(e) = job().await {
                        tracing::warn!(job = name, error = %e, "a job failed; it runs again at the next tick");
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}
