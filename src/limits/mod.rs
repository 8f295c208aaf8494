//! Per-token limits: the ingest rate and the connections open at once.
//!
//! One process counts in memory. Instances that share a database count there too (through
//! [`SharedLimits`], which such a store provides), so a token's limits hold across all of them
//! rather than once per instance.

mod lease;
mod rate;
mod slots;

use std::sync::Arc;

pub use rate::RateLimiter;

use crate::store::StoreError;
pub use crate::store::{SharedLimits, INSTANCE_STALE_AFTER};

/// Gives back what a connection held of the shared count, when it closes.
pub type Release = Box<dyn FnOnce() + Send + Sync>;

pub struct Limits {
    local: RateLimiter,
    rate: u32,
    burst: u32,
    max_connections: u32,
    shared: Option<Arc<dyn SharedLimits>>,
    /// Ingest credit taken from the shared bucket ahead of need.
    leases: lease::Leases,
    /// Connection slots taken from the shared count ahead of need.
    slots: Arc<slots::Slots>,
    /// Held while a block of slots is asked for, so that only one connect asks at a time.
    leasing: tokio::sync::Mutex<()>,
    /// This process among the instances: made at start, so a restarted one is a new instance and
    /// what its predecessor held expires with it.
    instance: Arc<str>,
}

/// Why a connection was not opened.
pub enum Refused {
    /// The token has its limit open already.
    Full(u32),
    Store(StoreError),
}

impl Limits {
    pub fn new(rate: u32, burst: u32, max_connections: usize, shared: Option<Arc<dyn SharedLimits>>) -> Limits {
        let max_connections = max_connections.min(u32::MAX as usize) as u32;
        Limits {
            local: RateLimiter::new(rate, burst),
            rate,
            burst,
            max_connections,
            shared,
            leases: lease::Leases::new(rate, burst),
            slots: Arc::new(slots::Slots::new(max_connections)),
            leasing: tokio::sync::Mutex::new(()),
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
        }
    }

    /// Takes `events` from the token's ingest rate, or says in how many seconds to retry.
    pub async fn take_ingest(&self, token_id: &str, events: usize) -> Result<Result<(), u64>, StoreError> {
        match &self.shared {
            None => Ok(self.local.take(token_id, events)),
            Some(shared) => {
                let events = events.min(u32::MAX as usize) as u32;
                if self.leases.take(token_id, events) {
                    return Ok(Ok(()));
                }
                let key = format!("ingest:{token_id}");
                let spare = self.leases.spare_for(events, self.burst);
                if spare > 0 && shared.take(&key, events + spare, self.rate, self.burst).await?.is_ok() {
                    self.leases.hold(token_id, spare);
                    return Ok(Ok(()));
                }
                shared.take(&key, events, self.rate, self.burst).await
            }
        }
    }

    /// The connection limit of a token, as refusals name it.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Takes a connection slot of `token_id` from the count instances share, once this process
    /// has counted the connection itself (the hub's count, which revocation closes and which costs
    /// nothing). Returns what gives the slot back when the connection closes; nothing to give back
    /// for a single process.
    pub async fn lease_connection(&self, token_id: &str) -> Result<Option<Release>, Refused> {
        let Some(shared) = &self.shared else { return Ok(None) };
        if !self.slots.take(token_id) {
            // One lease at a time: connects that come meanwhile wait for it, and then most of them
            // find a slot it took.
            let _leasing = self.leasing.lock().await;
            if !self.slots.take(token_id) {
                match shared.lease(&self.instance, token_id, self.max_connections, self.slots.block()).await {
                    Ok(0) => return Err(Refused::Full(self.max_connections)),
                    Ok(granted) => self.slots.leased(token_id, granted),
                    Err(e) => return Err(Refused::Store(e)),
                }
            }
        }
        let (shared, slots, instance, token_id) =
            (shared.clone(), self.slots.clone(), self.instance.clone(), token_id.to_string());
        Ok(Some(Box::new(move || {
            let back = slots.closed(&token_id);
            // Dropped outside a runtime only at exit, when the instance expires anyway.
            if let (1.., Ok(runtime)) = (back, tokio::runtime::Handle::try_current()) {
                runtime.spawn(async move { release(&*shared, &instance, &token_id, back).await });
            }
        })))
    }

    /// Keeps this instance counted among the live ones; a no-op for a single process.
    pub async fn beat(&self) -> Result<usize, StoreError> {
        if let Some(shared) = &self.shared {
            shared.beat(&self.instance).await?;
            // Spare slots go back, so that other instances can have them.
            for (token_id, spare) in self.slots.spares() {
                release(&**shared, &self.instance, &token_id, spare).await;
            }
        }
        Ok(0)
    }
}

async fn release(shared: &dyn SharedLimits, instance: &str, token_id: &str, slots: u32) {
    if let Err(e) = shared.release(instance, token_id, slots).await {
        tracing::warn!(error = %e, slots, "connection slots could not be uncounted; they expire with this instance");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Limits, RateLimiter, SharedLimits};
    use crate::store::StoreError;

    /// A bucket with the shared one's rules (`RateLimiter::take`), kept in memory: what is under
    /// test here is how the leases use it; the database's own bucket is tested in `tests/it/scale.rs`.
    struct Bucket(RateLimiter);

    #[async_trait::async_trait]
    impl SharedLimits for Bucket {
        async fn take(&self, key: &str, events: u32, _: u32, _: u32) -> Result<Result<(), u64>, StoreError> {
            Ok(self.0.take(key, events as usize))
        }
        async fn lease(&self, _: &str, _: &str, _: u32, want: u32) -> Result<u32, StoreError> {
            Ok(want)
        }
        async fn release(&self, _: &str, _: &str, _: u32) -> Result<(), StoreError> {
            Ok(())
        }
        async fn beat(&self, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_request_the_bucket_can_pay_passes_even_when_it_cannot_pay_a_lease_too() {
        // 50 events/s with a burst of 100: a lease is one event (20 ms of the rate).
        let limits = Limits::new(50, 100, 1, Some(Arc::new(Bucket(RateLimiter::new(50, 100)))));
        assert!(limits.take_ingest("t", 98).await.unwrap().is_ok(), "98 and a lease of 1: one left");
        assert!(limits.take_ingest("t", 1).await.unwrap().is_ok(), "from the lease");
        assert!(limits.take_ingest("t", 1).await.unwrap().is_ok(), "the last one, without a lease");
        assert!(limits.take_ingest("t", 1).await.unwrap().is_err(), "the bucket is empty");
    }
}
