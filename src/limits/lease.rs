//! Ingest-rate credit an instance takes from the shared bucket ahead of need, so that most of a
//! busy token's requests are counted in memory rather than with a statement each.
//!
//! Credit is taken from the one bucket every instance counts in, so the sustained rate holds
//! exactly across instances. What an instance holds unused escapes the bucket's cap: a burst may
//! pass the configured one by one lease per instance (20 ms of the rate, at most a tenth of the
//! burst). Nothing is taken ahead for a rate too low to spare a whole event.

use std::{collections::HashMap, sync::Mutex};

pub struct Leases {
    /// Events taken ahead, per token.
    held: Mutex<HashMap<String, u32>>,
    /// How many events a lease takes beyond the request that asks for it.
    spare: u32,
}

impl Leases {
    pub fn new(rate: u32, burst: u32) -> Leases {
        Leases { held: Mutex::new(HashMap::new()), spare: (rate / 50).min(burst / 10) }
    }

    /// Events to take from the shared bucket beyond `events`: none when that would pass the burst
    /// (an oversized batch must not leave the bucket deeper in debt than without a lease).
    pub fn spare_for(&self, events: u32, burst: u32) -> u32 {
        if events.saturating_add(self.spare) <= burst {
            self.spare
        } else {
            0
        }
    }

    /// Takes `events` from what this instance holds for `key`, if it holds enough.
    pub fn take(&self, key: &str, events: u32) -> bool {
        let mut held = self.lock();
        match held.get_mut(key) {
            Some(credit) if *credit >= events => {
                *credit -= events;
                true
            }
            _ => false,
        }
    }

    /// Keeps `credit` taken for `key`, in place of what was held (two requests that both found
    /// too little may both take a lease: the second one replaces the first, which errs on the
    /// side of the limit).
    pub fn hold(&self, key: &str, credit: u32) {
        self.lock().insert(key.to_string(), credit);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Leases;

    #[test]
    fn a_lease_is_spent_before_the_bucket_is_asked_again() {
        let leases = Leases::new(500, 5_000);
        assert_eq!(leases.spare_for(1, 5_000), 10, "20 ms of 500 events/s");
        assert!(!leases.take("t", 1), "nothing held yet");
        leases.hold("t", 10);
        assert!(leases.take("t", 4));
        assert!(leases.take("t", 6));
        assert!(!leases.take("t", 1), "spent");
        assert!(!leases.take("u", 1), "each token has its own");
    }

    #[test]
    fn no_lease_for_low_rates_nor_past_the_burst() {
        assert_eq!(Leases::new(1, 10).spare_for(1, 10), 0, "a rate of 1/s spares nothing in 20 ms");
        assert_eq!(Leases::new(10_000, 50).spare_for(1, 50), 5, "at most a tenth of the burst");
        assert_eq!(Leases::new(10_000, 50).spare_for(46, 50), 0, "46 + 5 would pass the burst");
    }
}
