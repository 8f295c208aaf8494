//! Live tokens kept in memory, so a request's authentication is a hash and a lookup instead of a
//! query. A query costs a hop to the driver's worker thread and back, and that hop was a third of
//! the cost of ingesting a single event. Revocation must still count at the very next request,
//! also when `flightdeck token revoke` runs in another process on the same file. So every
//! revocation first commits to the database, then bumps a counter in a small file beside it
//! (`<database>-revocations`). Each lookup reads that counter (one `pread`) and forgets every
//! token it knows when the counter has moved.
//!
//! Only tokens found live are kept. An unknown or revoked hash always asks the database, so a
//! token created by the command line works at once.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    os::unix::fs::FileExt,
    sync::Mutex,
};

use crate::store::{StoreError, TokenRecord};

/// Most tokens kept; past it the cache starts over (a workspace has a handful).
const MAX_KNOWN: usize = 10_000;

pub struct TokenCache {
    /// The revocation counter's file; `None` for a database with no file (in memory), which no
    /// other process can reach.
    counter: Option<File>,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The counter when `known` was last valid.
    seen: u64,
    known: HashMap<String, TokenRecord>,
}

impl TokenCache {
    /// The cache for the database file at `path`; `None` (no file) for an in-memory database.
    pub fn open(path: Option<&str>) -> Result<TokenCache, StoreError> {
        let counter = path.map(open_counter).transpose()?;
        let seen = counter.as_ref().map_or(Ok(0), read)?;
        Ok(TokenCache { counter, inner: Mutex::new(Inner { seen, known: HashMap::new() }) })
    }

    /// The live token with this hash, if this process knows it and nothing was revoked since.
    pub fn get(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let now = self.counter.as_ref().map_or(Ok(0), read)?;
        let mut inner = self.lock();
        if inner.seen != now {
            inner.known.clear();
            inner.seen = now;
        }
        Ok(inner.known.get(hash).cloned())
    }

    /// Remembers a token the database just said is live.
    pub fn put(&self, hash: &str, record: &TokenRecord) {
        let mut inner = self.lock();
        if inner.known.len() >= MAX_KNOWN {
            inner.known.clear();
        }
        inner.known.insert(hash.to_string(), record.clone());
    }

    /// After a revocation is committed: every process using this file forgets what it knows.
    pub fn revoked(&self) -> Result<(), StoreError> {
        if let Some(file) = &self.counter {
            // Two processes bumping at once may both write the same value: still a change for
            // everyone else, which is all a reader looks for.
            let next = read(file)?.wrapping_add(1);
            file.write_all_at(&next.to_le_bytes(), 0).and_then(|()| file.sync_data()).map_err(counter_error)?;
        }
        self.lock().known.clear();
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn open_counter(database: &str) -> Result<File, StoreError> {
    let path = format!("{database}-revocations");
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(counter_error)
}

/// The counter; an empty (new) file counts 0.
fn read(file: &File) -> Result<u64, StoreError> {
    let mut bytes = [0u8; 8];
    let n = file.read_at(&mut bytes, 0).map_err(counter_error)?;
    Ok(if n == 8 { u64::from_le_bytes(bytes) } else { 0 })
}

fn counter_error(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("the revocation counter beside the database: {e}"))
}

#[cfg(test)]
mod tests {
    use super::TokenCache;
    use crate::store::{Role, TokenRecord};

    #[test]
    fn a_revocation_in_another_process_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db").display().to_string();
        let server = TokenCache::open(Some(&db)).unwrap();
        let record = TokenRecord { id: "t1".into(), workspace: "w".into(), role: Role::Ingest, name: "n".into() };
        assert_eq!(server.get("h").unwrap(), None);
        server.put("h", &record);
        assert_eq!(server.get("h").unwrap(), Some(record.clone()));
        // The command line opens the same file on its own and revokes something.
        TokenCache::open(Some(&db)).unwrap().revoked().unwrap();
        assert_eq!(server.get("h").unwrap(), None, "forgotten after a revocation elsewhere");
        server.put("h", &record);
        assert_eq!(server.get("h").unwrap(), Some(record));
        // With no file, only this process's own revocations count (nobody else can reach it).
        let memory = TokenCache::open(None).unwrap();
        memory.put("h", &TokenRecord { id: "t2".into(), workspace: "w".into(), role: Role::Viewer, name: "m".into() });
        memory.revoked().unwrap();
        assert_eq!(memory.get("h").unwrap(), None);
    }
}
