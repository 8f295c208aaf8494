//! The log's head as this instance's last commit left it, and the rows as they are at that head,
//! for commits that skip the head's lock and the reads of rows they have seen.
//!
//! While no other instance commits, the head is where this instance's last commit put it, and a
//! commit can build on it without first locking and reading it; no commit changes a row without
//! moving the head, so the rows this instance read or wrote are still the database's too. Once
//! another instance is seen to commit, the rows are forgotten and every commit takes the lock for
//! a while: building on a head that is not there any more wastes a commit's work.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use app::domain::Seq;

use crate::store::{
    cache::{RowCache, ROW_CACHE_BYTES},
    project::Writes,
};

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

pub struct KnownHead {
    known: Mutex<Known>,
    /// Rows as they are at `known.head` (nothing while it is unknown).
    rows: RowCache,
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

impl Default for KnownHead {
    fn default() -> Self {
        KnownHead {
            known: Mutex::default(),
            rows: RowCache::new(ROW_CACHE_BYTES),
            unlocked: AtomicU64::new(0),
            locked: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        }
    }
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

    /// The rows as they are at the head: a commit may read them from here.
    pub fn rows(&self) -> &RowCache {
        &self.rows
    }

    /// A commit under the lock found the head at `head`: the rows are forgotten unless that is
    /// the head they were known at.
    pub fn found(&self, head: Seq) {
        let mut known = self.lock();
        if known.head != Some(head) {
            known.head = None;
            self.rows.clear();
        }
    }

    /// This instance's commit, which wrote `writes`, left the head at `head`.
    pub fn committed(&self, head: Seq, writes: &Writes, path: Path) {
        let mut known = self.lock();
        for ((workspace, kind, id), row) in &writes.rows {
            self.rows.put(workspace, kind, id, Some(row.data.clone()));
        }
        known.head = Some(head);
        match path {
            Path::Unlocked => &self.unlocked,
            Path::Locked => &self.locked,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Another instance had moved the head: forget the rows, and lock for a while.
    pub fn moved(&self) {
        *self.lock() = Known { head: None, locked_until: Some(Instant::now() + LOCKED_AFTER_MOVE) };
        self.rows.clear();
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// A commit failed, and whether it was written is not known: forget the head and the rows.
    pub fn forget(&self) {
        self.lock().head = None;
        self.rows.clear();
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
    use crate::store::project::Writes;

    #[test]
    fn a_head_is_trusted_once_committed_and_not_for_a_while_after_another_instance_moved_it() {
        let known = KnownHead::default();
        let none = Writes::default();
        assert_eq!(known.unlocked(), None, "nothing committed yet");
        known.committed(7, &none, Path::Locked);
        assert_eq!(known.unlocked(), Some(7));
        known.moved();
        known.committed(9, &none, Path::Locked);
        assert_eq!(known.unlocked(), None, "locked for a while after a move");
        assert_eq!(known.counts(), vec![("unlocked", 0), ("locked", 2), ("retried", 1)]);
    }

    #[test]
    fn rows_are_kept_while_the_head_is_this_instances_and_forgotten_when_it_is_not() {
        let known = KnownHead::default();
        known.found(0);
        known.rows().put("w", "task", "t", Some("read".into()));
        known.committed(1, &Writes::default(), Path::Locked);
        known.found(1);
        assert_eq!(known.rows().get("w", "task", "t"), Some(Some("read".into())), "the head is the one left");
        known.found(2);
        assert_eq!(known.rows().get("w", "task", "t"), None, "another instance committed");
        known.rows().put("w", "task", "t", Some("read".into()));
        known.forget();
        assert_eq!(known.rows().get("w", "task", "t"), None, "a commit of unknown outcome");
        assert_eq!(known.unlocked(), None);
    }
}
