//! The log's head as this instance's last commit left it, for commits that skip the head's lock.
//!
//! While no other instance commits, the head is where this instance's last commit put it, and a
//! commit can build on it without first locking and reading it. Once another instance is seen to
//! commit, every commit takes the lock for a while: building on a head that is not there any more
//! wastes a commit's reads.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use app::domain::Seq;

/// How long commits take the lock after another instance was seen to commit.
const LOCKED_AFTER_MOVE: Duration = Duration::from_secs(1);

/// How a commit took its seqs.
#[derive(Clone, Copy)]
pub enum Path {
    /// On the head this instance's last commit left.
    Unlocked,
    /// Under the head's lock.
    Locked,
}

#[derive(Default)]
pub struct KnownHead {
    known: Mutex<Known>,
    unlocked: AtomicU64,
    locked: AtomicU64,
    /// Unlocked commits that found the head moved and were made again under the lock.
    retried: AtomicU64,
}

#[derive(Default)]
struct Known {
    /// Unknown until this instance has committed.
    head: Option<Seq>,
    locked_until: Option<Instant>,
}

impl KnownHead {
    /// The head to build an unlocked commit on, if there is one to trust.
    pub fn unlocked(&self) -> Option<Seq> {
        let known = self.lock();
        match known.locked_until {
            Some(until) if Instant::now() < until => None,
            _ => known.head,
        }
    }

    /// This instance's commit left the head at `head`.
    pub fn committed(&self, head: Seq, path: Path) {
        self.lock().head = Some(head);
        match path {
            Path::Unlocked => &self.unlocked,
            Path::Locked => &self.locked,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Another instance had moved the head: lock for a while.
    pub fn moved(&self) {
        *self.lock() = Known { head: None, locked_until: Some(Instant::now() + LOCKED_AFTER_MOVE) };
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// Commits by path: `unlocked`, `locked` and `retried`.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        [("unlocked", &self.unlocked), ("locked", &self.locked), ("retried", &self.retried)]
            .into_iter()
            .map(|(path, n)| (path, n.load(Ordering::Relaxed)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::{KnownHead, Path};

    #[test]
    fn a_head_is_trusted_once_committed_and_not_for_a_while_after_another_instance_moved_it() {
        let known = KnownHead::default();
        assert_eq!(known.unlocked(), None, "nothing committed yet");
        known.committed(7, Path::Locked);
        assert_eq!(known.unlocked(), Some(7));
        known.moved();
        known.committed(9, Path::Locked);
        assert_eq!(known.unlocked(), None, "locked for a while after a move");
        assert_eq!(known.counts(), vec![("unlocked", 0), ("locked", 2), ("retried", 1)]);
    }
}
