//! The ingest rate of one process: a token bucket per token, counted in events, not requests.

use std::{collections::HashMap, sync::Mutex, time::Instant};

pub struct RateLimiter {
    /// Events per second, sustained.
    rate: f64,
    /// Events that may be posted at once above the sustained rate.
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `events` from `key`'s bucket, or says in how many seconds enough will be there.
    /// A batch larger than the burst passes when the bucket is full and leaves it in debt.
    pub fn take(&self, key: &str, events: usize) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: self.burst, updated: now });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        let needed = (events as f64).min(self.burst);
        if bucket.tokens >= needed {
            bucket.tokens -= events as f64;
            Ok(())
        } else {
            Err(((needed - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn bursts_then_limits_per_key() {
        let limiter = RateLimiter::new(10, 20);
        assert!(limiter.take("a", 15).is_ok());
        assert!(limiter.take("a", 5).is_ok());
        let wait = limiter.take("a", 10).unwrap_err();
        assert!(wait >= 1);
        assert!(limiter.take("b", 20).is_ok(), "each token has its own bucket");
        assert!(limiter.take("c", 100).is_ok(), "an oversized batch passes on a full bucket");
        assert!(limiter.take("c", 1).is_err(), "and leaves the bucket in debt");
    }
}
