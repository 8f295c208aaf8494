//! Connection slots an instance takes from the shared count a block at a time, so that most
//! sockets and streams open and close without a statement.
//!
//! The shared count is of the slots each instance holds: its open connections and the spare slots
//! it took with them. An instance asks for a block only when it has no spare slot; when one of its
//! connections closes it gives back what it holds beyond a block less one, and at each heartbeat
//! every spare slot. So connections never pass the limit across instances. A connect may be
//! refused while another instance holds spare slots: by at most a block less one per instance,
//! and until that instance's next heartbeat. Below a limit of 128 a block is one slot, and the
//! count is exact, as with a statement per connection.
//!
//! Why: when hundreds of dashboards connect at once (an instance restarted, a network came back),
//! each upgrade waited for its statement while holding its HTTP connection's buffers, and the
//! process kept that memory: 1.2 KiB per socket at 10,000 sockets on PostgreSQL
//! (`docs/performance.md`).

use std::{collections::HashMap, sync::Mutex};

/// The largest block: spare slots an instance may hold of one token.
const MOST: u32 = 256;

pub struct Slots {
    held: Mutex<HashMap<String, Held>>,
    block: u32,
}

#[derive(Default)]
struct Held {
    /// Slots counted for this instance in the shared count.
    slots: u32,
    /// Of those, slots a connection is using.
    used: u32,
}

impl Slots {
    /// Slots of a token allowed `limit` connections in all.
    pub fn new(limit: u32) -> Slots {
        Slots { held: Mutex::new(HashMap::new()), block: (limit / 64).clamp(1, MOST) }
    }

    /// How many slots to ask for when none is spare.
    pub fn block(&self) -> u32 {
        self.block
    }

    /// Uses a spare slot of `token`, if this instance holds one.
    pub fn take(&self, token: &str) -> bool {
        let mut held = self.lock();
        match held.get_mut(token) {
            Some(h) if h.used < h.slots => {
                h.used += 1;
                true
            }
            _ => false,
        }
    }

    /// `granted` (at least one) slots were counted for `token`: one for the connection that asked.
    pub fn leased(&self, token: &str, granted: u32) {
        let mut held = self.lock();
        let h = held.entry(token.to_string()).or_default();
        h.slots += granted;
        h.used += 1;
    }

    /// A connection of `token` closed: how many slots to give back now.
    pub fn closed(&self, token: &str) -> u32 {
        let mut held = self.lock();
        let Some(h) = held.get_mut(token) else { return 0 };
        h.used = h.used.saturating_sub(1);
        let back = (h.slots - h.used).saturating_sub(self.block - 1);
        h.slots -= back;
        if h.slots == 0 {
            held.remove(token);
        }
        back
    }

    /// Every spare slot, per token, now given back.
    pub fn spares(&self) -> Vec<(String, u32)> {
        let mut held = self.lock();
        let spares = held.iter_mut().filter(|(_, h)| h.slots > h.used).map(|(token, h)| {
            let spare = h.slots - h.used;
            h.slots = h.used;
            (token.clone(), spare)
        });
        let spares: Vec<_> = spares.collect();
        held.retain(|_, h| h.slots > 0);
        spares
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn a_small_limit_counts_every_connection() {
        let slots = Slots::new(64);
        assert_eq!(slots.block(), 1);
        assert!(!slots.take("t"), "nothing held yet");
        slots.leased("t", 1);
        assert!(!slots.take("t"), "the one slot is in use");
        assert_eq!(slots.closed("t"), 1, "given back at once");
        assert!(slots.spares().is_empty());
    }

    #[test]
    fn a_block_serves_connections_until_it_is_used_up() {
        let slots = Slots::new(10_000);
        assert_eq!(slots.block(), 156);
        slots.leased("t", 156);
        for _ in 1..156 {
            assert!(slots.take("t"));
        }
        assert!(!slots.take("t"), "all 156 in use");
        assert!(!slots.take("u"), "each token has its own");
        // Closing keeps up to a block less one spare, and gives back the rest.
        for _ in 0..155 {
            assert_eq!(slots.closed("t"), 0);
        }
        assert_eq!(slots.closed("t"), 1, "a whole block spare: one goes back");
        assert_eq!(slots.spares(), vec![("t".to_string(), 155)], "the heartbeat gives back the rest");
        assert!(!slots.take("t"));
    }

    #[test]
    fn the_heartbeat_leaves_slots_in_use() {
        let slots = Slots::new(1_000_000);
        assert_eq!(slots.block(), 256, "at most 256 at a time");
        slots.leased("t", 10);
        assert!(slots.take("t"));
        assert_eq!(slots.spares(), vec![("t".to_string(), 8)]);
        assert!(!slots.take("t"), "no spare left");
        assert_eq!(slots.closed("t"), 0, "a block less one may stay spare");
        assert_eq!(slots.closed("t"), 0);
        assert_eq!(slots.spares(), vec![("t".to_string(), 2)], "spare until the heartbeat");
        assert!(slots.spares().is_empty());
        assert!(!slots.take("t"));
    }
}
