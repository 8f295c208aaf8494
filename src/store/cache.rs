//! The rows commits read, kept in memory: a commit asks the database only for rows it has not
//! seen. Each backend says when what it holds is the database's: on SQLite always (this process's
//! writer is the only one that writes the file), on PostgreSQL while the head is the one this
//! instance's last commit left. Either way the cache learns a commit's rows only once that commit
//! is durable.

use std::sync::Mutex;

use hashlink::LruCache;

use super::StoreError;

/// Bytes of entity rows a store keeps in memory.
pub const ROW_CACHE_BYTES: usize = 8 << 20;

/// A row by `(workspace, kind, id)`; `None` when the database has no such row.
type Key = (String, &'static str, String);

pub struct RowCache {
    inner: Mutex<Inner>,
}

struct Inner {
    rows: LruCache<Key, Option<String>>,
    bytes: usize,
    budget: usize,
}

impl RowCache {
    /// A cache that holds at most about `budget` bytes of rows, dropping the least recently used.
    pub fn new(budget: usize) -> RowCache {
        RowCache { inner: Mutex::new(Inner { rows: LruCache::new_unbounded(), bytes: 0, budget }) }
    }

    /// What the database holds for the row, when known: `Some(None)` means it has none.
    pub fn get(&self, workspace: &str, kind: &'static str, id: &str) -> Option<Option<String>> {
        let mut inner = self.lock();
        inner.rows.get(&(workspace.to_string(), kind, id.to_string())).cloned()
    }

    /// The row from memory, or else from `read` (the database), remembered.
    pub async fn through<F>(
        &self,
        workspace: &str,
        kind: &'static str,
        id: &str,
        read: F,
    ) -> Result<Option<String>, StoreError>
    where
        F: std::future::Future<Output = Result<Option<String>, sqlx::Error>>,
    {
        if let Some(known) = self.get(workspace, kind, id) {
            return Ok(known);
        }
        let data = read.await?;
        self.put(workspace, kind, id, data.clone());
        Ok(data)
    }

    /// Remembers what the database holds for a row (read from it, or written by a durable commit).
    pub fn put(&self, workspace: &str, kind: &'static str, id: &str, data: Option<String>) {
        let mut inner = self.lock();
        let key = (workspace.to_string(), kind, id.to_string());
        let size = cost(&key, &data);
        if size > inner.budget {
            // Larger than the whole cache: forget any older copy rather than keep a stale one.
            if let Some(old) = inner.rows.remove(&key) {
                inner.bytes -= cost(&key, &old);
            }
            return;
        }
        if let Some(old) = inner.rows.insert(key.clone(), data) {
            inner.bytes -= cost(&key, &old);
        }
        inner.bytes += size;
        while inner.bytes > inner.budget {
            let Some((key, old)) = inner.rows.remove_lru() else { break };
            inner.bytes -= cost(&key, &old);
        }
    }

    /// Forgets everything: after a commit whose outcome is unknown, or once the rows may have
    /// changed under it.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.rows.clear();
        inner.bytes = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Roughly what an entry holds in memory.
fn cost(key: &Key, data: &Option<String>) -> usize {
    64 + key.0.len() + key.2.len() + data.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use super::RowCache;

    #[test]
    fn rows_are_kept_within_the_budget_least_recently_used_first() {
        let cache = RowCache::new(3 * (64 + 2 + 100));
        let row = |c: char| Some(c.to_string().repeat(99));
        cache.put("w", "task", "a", row('a'));
        cache.put("w", "task", "b", row('b'));
        cache.put("w", "task", "c", None);
        assert_eq!(cache.get("w", "task", "c"), Some(None), "a missing row is known to be missing");
        assert_eq!(cache.get("w", "task", "a"), Some(row('a')));
        // Over budget: `b`, the least recently used, goes.
        cache.put("w", "task", "d", row('d'));
        cache.put("w", "task", "e", row('e'));
        assert_eq!(cache.get("w", "task", "b"), None);
        assert_eq!(cache.get("w", "task", "e"), Some(row('e')));
        assert_eq!(cache.get("w", "agent", "e"), None, "kinds are apart");
        // A row larger than the whole budget is not kept, nor is its older copy.
        cache.put("w", "task", "e", Some("x".repeat(1_000)));
        assert_eq!(cache.get("w", "task", "e"), None);
        cache.clear();
        assert_eq!(cache.get("w", "task", "a"), None);
    }
}
