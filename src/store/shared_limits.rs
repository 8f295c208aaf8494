//! Counters kept where every instance on one database sees them: what a store that instances
//! share provides, so that a token's limits (`crate::limits`) hold across all of them.

use std::time::Duration;

use super::StoreError;

/// An instance that has not said it is alive for this long no longer counts: its connections
/// were dropped with it.
pub const INSTANCE_STALE_AFTER: Duration = Duration::from_secs(10);

/// Counters kept where every instance sees them. Each call is atomic across instances.
#[async_trait::async_trait]
pub trait SharedLimits: Send + Sync {
    /// Takes `events` from the bucket `key` (full at `burst`, refilled at `rate` a second), or
    /// says in how many seconds enough will be there. Same rules as `crate::limits::RateLimiter::take`.
    async fn take(&self, key: &str, events: u32, rate: u32, burst: u32) -> Result<Result<(), u64>, StoreError>;
    /// Counts up to `want` connection slots of `token_id` for `instance`, as many as the slots
    /// counted on every live instance leave below `limit`; says how many it counted.
    async fn lease(&self, instance: &str, token_id: &str, limit: u32, want: u32) -> Result<u32, StoreError>;
    /// Uncounts `slots` slots of `token_id` on `instance`.
    async fn release(&self, instance: &str, token_id: &str, slots: u32) -> Result<(), StoreError>;
    /// Says `instance` is alive, and forgets instances silent for long (with their connections).
    async fn beat(&self, instance: &str) -> Result<(), StoreError>;
}
